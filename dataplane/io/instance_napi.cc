// N-API part "instance": what `vitesse run` needs to be the only gateway on
// its name and interfaces (controlplane/instance-lock.ts).
//
//   lock(path, note) -> { fd } | { holder }
//       takes an exclusive flock(2) on `path` (created 0644 if missing) and
//       writes `note` into it; if another process holds it, returns that
//       process's note instead. The lock lives as long as the descriptor:
//       it dies with the process, however it ends (SIGKILL included).
//   unlock(fd)          closes a descriptor lock() returned
//   ifindex(name) -> n  the interface's index in the calling thread's network
//                       namespace (the process's: the main thread never moves)
//   netns() -> n        that namespace's inode number (io/netns.h)
#include <fcntl.h>
#include <napi.h>
#include <net/if.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>

#include "io/netns.h"
#include "napi_registry.h"
#include "util/napi_args.h"

namespace vitesse {
namespace {

std::set<int> held;  // descriptors lock() handed out, so unlock() closes nothing else

std::string errno_text(const std::string& what, const std::string& path, int err) {
  return what + " " + path + ": " + std::strerror(err);
}

std::string read_all(int fd) {
  std::string out;
  char buf[512];
  off_t at = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof buf, at);
    if (n <= 0 || out.size() > 4096) break;
    out.append(buf, static_cast<size_t>(n));
    at += n;
  }
  return out;
}

Napi::Value lock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) throw Napi::TypeError::New(env, "instance: lock(path, note)");
  const std::string path = info[0].As<Napi::String>();
  const std::string note = info[1].As<Napi::String>();
  // O_NOFOLLOW: a symbolic link planted in the lock directory is refused, not followed.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw Napi::Error::New(env, errno_text("cannot open the lock file", path, errno));
  Napi::Object out = Napi::Object::New(env);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK) {
      close(fd);
      throw Napi::Error::New(env, errno_text("cannot lock", path, err));
    }
    out.Set("holder", read_all(fd));
    close(fd);
    return out;
  }
  if (ftruncate(fd, 0) != 0 || pwrite(fd, note.data(), note.size(), 0) != static_cast<ssize_t>(note.size())) {
    int err = errno;
    close(fd);
    throw Napi::Error::New(env, errno_text("cannot write the lock file", path, err));
  }
  held.insert(fd);
  out.Set("fd", fd);
  return out;
}

Napi::Value unlock(const Napi::CallbackInfo& info) {
  int fd = napi_args::int32_value(napi_args::arg(info, 0), "instance: unlock: fd", 0);
  if (held.erase(fd)) close(fd);
  return info.Env().Undefined();
}

Napi::Value ifindex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "instance: ifindex(name)");
  const std::string name = info[0].As<Napi::String>();
  unsigned index = name.size() < IFNAMSIZ ? if_nametoindex(name.c_str()) : 0;
  if (index == 0) throw Napi::Error::New(env, "interface \"" + name + "\" not found");
  return Napi::Number::New(env, index);
}

NapiPart part("instance", [](Napi::Env env, Napi::Object exports) {
  exports.Set("lock", Napi::Function::New(env, lock, "lock"));
  exports.Set("unlock", Napi::Function::New(env, unlock, "unlock"));
  exports.Set("ifindex", Napi::Function::New(env, ifindex, "ifindex"));
  exports.Set("netns", Napi::Function::New(env, [](const Napi::CallbackInfo& i) {
    return Napi::Number::New(i.Env(), static_cast<double>(current_netns_id()));
  }, "netns"));
});

}  // namespace
}  // namespace vitesse
