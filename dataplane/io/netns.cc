#include "io/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace vitesse {

NetnsScope::NetnsScope(const std::string& name) {
  if (name.empty()) return;
  std::string path = name.find('/') == std::string::npos ? "/run/netns/" + name : name;
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    throw std::runtime_error("netns \"" + name + "\": cannot open " + path + ": " + std::strerror(errno));
  }
  home_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_ < 0) {
    int e = errno;
    close(target);
    throw std::runtime_error(std::string("netns: cannot open /proc/thread-self/ns/net: ") + std::strerror(e));
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int e = errno;
    close(target);
    close(home_);
    home_ = -1;
    throw std::runtime_error("netns \"" + name + "\": cannot enter: " + std::strerror(e) +
                             (e == EPERM ? " (needs CAP_SYS_ADMIN: run as root)" : ""));
  }
  close(target);
}

NetnsScope::~NetnsScope() {
  if (home_ < 0) return;
  // A thread left in the wrong namespace would open every later socket there:
  // better to stop than to carry on.
  if (setns(home_, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "vitesse: cannot return to the original network namespace: %s\n", std::strerror(errno));
    std::abort();
  }
  close(home_);
}

uint64_t current_netns_id() {
  struct stat st;
  if (stat("/proc/thread-self/ns/net", &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace vitesse
