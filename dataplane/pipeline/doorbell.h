// A sleeping worker's doorbell: an eventfd the worker polls beside its
// links, rung by the control thread when it gives the worker something
// (a frame to inject) or stops it. With it an idle worker can sleep until a
// frame arrives instead of waking every millisecond to look for the control
// plane's frames (issue 15: an idle gateway under 1% of a core).
//
// The worker says it is going to sleep (asleep(true)) and then checks its
// inject ring once more; the control thread pushes and then reads the flag.
// Both are sequentially consistent, so either the worker sees the frame or
// the control thread sees the flag and rings: no frame waits for a timeout.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace vitesse {

class Doorbell {
 public:
  Doorbell() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Doorbell() {
    if (fd_ >= 0) close(fd_);
  }
  Doorbell(const Doorbell&) = delete;
  Doorbell& operator=(const Doorbell&) = delete;

  // -1 if the kernel gave no eventfd: the worker then keeps a short sleep.
  int fd() const { return fd_; }
  // Worker side.
  void asleep(bool yes) { asleep_.store(yes, std::memory_order_seq_cst); }
  void clear() {
    uint64_t v;
    if (fd_ >= 0 && read(fd_, &v, sizeof v) < 0) {}  // EAGAIN: not rung
  }
  // Control side, after publishing the work (or unconditionally, to stop).
  void ring(bool always = false) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (fd_ < 0 || !(always || asleep_.load(std::memory_order_seq_cst))) return;
    uint64_t one = 1;
    if (write(fd_, &one, sizeof one) < 0) {}  // the counter is at its maximum: it is rung anyway
  }

 private:
  int fd_;
  alignas(64) std::atomic<bool> asleep_{false};
};

}  // namespace vitesse
