// Packet buffers and the per-worker pool they come from.
//
// A worker owns its pool outright: no other thread allocates from it or frees
// into it, so alloc/free are a pointer push/pop with no atomics. Drivers copy
// frames in on rx and out on tx (as a NIC's DMA would), which keeps ownership
// simple when gateways in one process are wired together by memory links.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace vitesse {

// Room in front of a received frame for the outer Ethernet + IPv6 + ESP
// headers, so encapsulation prepends instead of moving the payload.
inline constexpr size_t kPacketHeadroom = 128;
// Jumbo frames (9216 bytes of IP) plus Ethernet, ESP trailer, TFC and ICV.
inline constexpr size_t kPacketBufferSize = 9216 + 512;
inline constexpr size_t kMaxFrame = kPacketBufferSize - kPacketHeadroom - 128;
// Largest batch any stage handles at once.
inline constexpr uint32_t kBatch = 64;

struct Packet {
  uint8_t* data;  // first byte of the frame
  uint32_t len;   // bytes of frame from data
  uint32_t pad_;
  uint8_t* buf;   // start of the backing buffer

  void reset() { data = buf + kPacketHeadroom; len = 0; }
  size_t headroom() const { return static_cast<size_t>(data - buf); }
  size_t tailroom() const { return kPacketBufferSize - headroom() - len; }
  uint8_t* prepend(size_t n) { data -= n; len += static_cast<uint32_t>(n); return data; }
  void pull(size_t n) { data += n; len -= static_cast<uint32_t>(n); }
  uint8_t* append(size_t n) { uint8_t* p = data + len; len += static_cast<uint32_t>(n); return p; }
  void assign(const uint8_t* bytes, size_t n) { reset(); std::memcpy(data, bytes, n); len = static_cast<uint32_t>(n); }
};

class PacketPool {
 public:
  explicit PacketPool(size_t count);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  Packet* alloc() {
    if (nfree_ == 0) return nullptr;
    Packet* p = free_[--nfree_];
    p->reset();
    return p;
  }
  // A plain stack of `capacity` slots: a packet is freed once, so it never
  // overflows, and a free is one store (a vector's push_back put its growth
  // path, with calls to memmove and operator new, into every drop branch of
  // the per-packet loops).
  void free(Packet* p) { free_[nfree_++] = p; }
  void free_burst(Packet* const* p, uint32_t n) {
    Packet** top = free_.get() + nfree_;
    for (uint32_t i = 0; i < n; i++) top[i] = p[i];
    nfree_ += n;
  }
  size_t available() const { return nfree_; }
  size_t capacity() const { return packets_.size(); }

 private:
  uint8_t* memory_ = nullptr;
  size_t bytes_ = 0;
  std::vector<Packet> packets_;
  std::unique_ptr<Packet*[]> free_;
  size_t nfree_ = 0;
};

}  // namespace vitesse
