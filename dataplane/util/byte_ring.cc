#include "util/byte_ring.h"

namespace vitesse {

ByteRing::ByteRing(size_t capacity_bytes) {
  size_t cap = 4096;
  while (cap < capacity_bytes) cap <<= 1;
  buf_.reset(new uint8_t[cap]);
  mask_ = cap - 1;
}

bool ByteRing::push(const void* head, uint32_t head_len, const void* body, uint32_t body_len) {
  uint32_t len = head_len + body_len;
  size_t need = record_size(len);
  uint64_t h = head_.load(std::memory_order_relaxed);
  size_t cap = mask_ + 1;
  size_t off = h & mask_;
  // A record never straddles the end: if it does not fit, a wrap marker
  // takes the rest of the buffer and the record starts at offset 0.
  size_t skip = (off + need > cap) ? cap - off : 0;
  if (h + skip + need - cached_tail_ > cap) {
    cached_tail_ = tail_.load(std::memory_order_acquire);
    if (h + skip + need - cached_tail_ > cap) return false;
  }
  if (skip) {
    std::memcpy(&buf_[off], &kWrap, 4);
    h += skip;
    off = 0;
  }
  std::memcpy(&buf_[off], &len, 4);
  if (head_len) std::memcpy(&buf_[off + 4], head, head_len);
  if (body_len) std::memcpy(&buf_[off + 4 + head_len], body, body_len);
  head_.store(h + need, std::memory_order_release);
  return true;
}

const uint8_t* ByteRing::peek(uint32_t* len) {
  uint64_t t = tail_.load(std::memory_order_relaxed);
  if (t == cached_head_) {
    cached_head_ = head_.load(std::memory_order_acquire);
    if (t == cached_head_) return nullptr;
  }
  size_t off = t & mask_;
  uint32_t l;
  std::memcpy(&l, &buf_[off], 4);
  if (l == kWrap) {
    t += (mask_ + 1) - off;
    tail_.store(t, std::memory_order_release);
    off = 0;
    std::memcpy(&l, &buf_[0], 4);
  }
  pending_ = record_size(l);
  *len = l;
  return &buf_[off + 4];
}

void ByteRing::pop() {
  tail_.store(tail_.load(std::memory_order_relaxed) + pending_, std::memory_order_release);
  pending_ = 0;
}

}  // namespace vitesse
