// Hands UMEM frame addresses back to the worker that owns them.
//
// On a public interface a worker receives, through its sharing sockets,
// frames that live in other workers' UMEMs (xsk_group.h). Only a UMEM's owner
// may put frames into its fill ring, so after copying such a frame out the
// receiving worker pushes its address here and the owner collects it on its
// next rx_burst. One ring per (receiver, owner) pair: single producer, single
// consumer, no locks. Its capacity covers every receive frame of the owner's
// UMEM, so a push can never find it full.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace vitesse {

class FrameReturnRing {
 public:
  explicit FrameReturnRing(uint32_t capacity)  // a power of two
      : slots_(new uint64_t[capacity]), mask_(capacity - 1) {}

  // Producer: appends n addresses (n <= free room, guaranteed by sizing).
  void push(const uint64_t* addrs, uint32_t n) {
    uint32_t head = head_.load(std::memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) slots_[(head + i) & mask_] = addrs[i];
    head_.store(head + n, std::memory_order_release);
  }

  // Consumer: takes up to max addresses.
  uint32_t pop(uint64_t* out, uint32_t max) {
    uint32_t tail = tail_.load(std::memory_order_relaxed);
    uint32_t n = head_.load(std::memory_order_acquire) - tail;
    if (n > max) n = max;
    for (uint32_t i = 0; i < n; i++) out[i] = slots_[(tail + i) & mask_];
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

 private:
  std::unique_ptr<uint64_t[]> slots_;
  uint32_t mask_;
  alignas(64) std::atomic<uint32_t> head_{0};  // written by the receiving worker
  alignas(64) std::atomic<uint32_t> tail_{0};  // written by the owner
};

}  // namespace vitesse
