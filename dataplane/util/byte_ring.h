// A single-producer single-consumer ring of variable-length records.
//
// Used wherever frames cross between two threads: memory links (worker ↔
// worker or test), the punt ring (worker → control plane) and the inject ring
// (control plane → worker). Records are copied in and out, so neither side
// ever holds a pointer into the other's memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

namespace vitesse {

class ByteRing {
 public:
  // capacity_bytes is rounded up to a power of two.
  explicit ByteRing(size_t capacity_bytes);

  // Appends one record made of a small header and a body; false if full.
  bool push(const void* head, uint32_t head_len, const void* body, uint32_t body_len);
  bool push(const void* body, uint32_t len) { return push(nullptr, 0, body, len); }

  // Returns a pointer to the next record and its length (nullptr if empty).
  // The record stays valid until pop().
  const uint8_t* peek(uint32_t* len);
  void pop();

  bool empty() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }

 private:
  static constexpr uint32_t kWrap = 0xffffffffu;
  static size_t record_size(uint32_t len) { return (4 + static_cast<size_t>(len) + 7) & ~size_t{7}; }

  std::unique_ptr<uint8_t[]> buf_;
  size_t mask_;
  alignas(64) std::atomic<uint64_t> head_{0};  // written by the producer
  uint64_t cached_tail_ = 0;                    // producer's view of tail_
  alignas(64) std::atomic<uint64_t> tail_{0};  // written by the consumer
  uint64_t cached_head_ = 0;                    // consumer's view of head_
  uint64_t pending_ = 0;                        // consumer: size of the peeked record
};

}  // namespace vitesse
