// N-API part "peer": who is at the other end of a Unix socket, for the
// management API's audit log (controlplane/api/peer.ts).
//
//   credentials(fd) -> { pid, uid, gid } | null
//       getsockopt(SO_PEERCRED) on a connected Unix socket: the credentials
//       the kernel recorded when the client called connect(2), which the
//       client cannot forge. null if `fd` is not such a socket.
//
// Node.js has no API for SO_PEERCRED. The alternative, matching the socket's
// inode in /proc/net/unix and every /proc/PID/fd, reads the whole process
// table per connection, races with processes that exit, and sees nothing
// under the unit's ProtectProc=invisible: one system call here does it.
#include <napi.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "napi_registry.h"
#include "util/napi_args.h"

namespace vitesse {
namespace {

Napi::Value credentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = napi_args::int32_value(napi_args::arg(info, 0), "peer: fd", 0);
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

NapiPart part("peer", [](Napi::Env env, Napi::Object exports) {
  exports.Set("credentials", Napi::Function::New(env, credentials, "credentials"));
});

}  // namespace
}  // namespace vitesse
