// The user-space half of an AF_XDP ring: a power-of-two array of entries
// shared with the kernel, with a producer and a consumer index. We produce
// into the fill and TX rings and consume from the RX and completion rings.
// Indices run freely (u32 wrap-around) and are masked on use; each side keeps
// a cached copy of the other side's index so that it reads the shared one
// (a cache miss) only when the cached value says there is no room / nothing.
#pragma once

#include <linux/if_xdp.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace vitesse {

template <typename Entry>
struct XskRing {
  uint32_t* producer = nullptr;
  uint32_t* consumer = nullptr;
  uint32_t* flags = nullptr;
  Entry* entries = nullptr;
  uint32_t size = 0;
  uint32_t mask = 0;
  uint32_t cached_prod = 0;  // ours if we produce, the kernel's (as last read) if we consume
  uint32_t cached_cons = 0;
  void* map = nullptr;
  size_t map_len = 0;

  Entry& at(uint32_t i) { return entries[i & mask]; }

  // Producer side: how many of `want` entries may be written from cached_prod.
  uint32_t free_slots(uint32_t want) {
    uint32_t free = size - (cached_prod - cached_cons);
    if (free < want) {
      cached_cons = std::atomic_ref<uint32_t>(*consumer).load(std::memory_order_acquire);
      free = size - (cached_prod - cached_cons);
    }
    return free < want ? free : want;
  }
  void submit(uint32_t n) {
    cached_prod += n;
    std::atomic_ref<uint32_t>(*producer).store(cached_prod, std::memory_order_release);
  }

  // Consumer side: how many of `want` entries are ready from cached_cons.
  uint32_t ready(uint32_t want) {
    uint32_t avail = cached_prod - cached_cons;
    if (avail < want) {
      cached_prod = std::atomic_ref<uint32_t>(*producer).load(std::memory_order_acquire);
      avail = cached_prod - cached_cons;
    }
    return avail < want ? avail : want;
  }
  // Nothing consumed, nothing written: the consumer index shares a cache
  // line the kernel reads on every frame, and an empty poll must not take
  // that line away from it.
  void release(uint32_t n) {
    if (n == 0) return;
    cached_cons += n;
    std::atomic_ref<uint32_t>(*consumer).store(cached_cons, std::memory_order_release);
  }

  bool needs_wakeup() const {
    return std::atomic_ref<uint32_t>(*flags).load(std::memory_order_relaxed) & XDP_RING_NEED_WAKEUP;
  }
};

}  // namespace vitesse
