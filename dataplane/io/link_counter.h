// A driver counter: written by the one worker thread that owns the link and
// read by any thread (the control plane). Relaxed load + store of a 64-bit
// word compiles to plain moves, so the hot path pays no atomic operation, and
// readers still see whole values.
#pragma once

#include <atomic>
#include <cstdint>

namespace vitesse {

class LinkCounter {
 public:
  void add(uint64_t n) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace vitesse
