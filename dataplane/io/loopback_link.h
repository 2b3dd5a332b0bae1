// The `loopback` link, for softbench only: what the worker transmits comes
// back as what it receives, in order, without copying a byte. Vita's
// test.snabb loops its public port back by passing packet pointers; the
// memory wire (io/memory_link.h) copies every frame into a byte ring and out
// again, which cost softbench two copies and a ring per packet that neither
// Vita's harness nor a gateway's real work has (docs/dataplane.md, "Round
// four").
//
// The Link contract (io/link.h) leaves the packets the caller's, so frames
// travel by exchanging buffers instead: tx_burst takes a packet's buffer into
// its ring and gives the packet one of its own spare buffers (same size, the
// frame's offset and length kept, contents unspecified), and rx_burst hands a
// queued buffer to a packet from the worker's pool and keeps that packet's
// buffer as a spare. Every buffer is always in exactly one place: a packet,
// the ring or the spares. Buffers come from whichever side freed them last;
// each side releases only its own allocation, at teardown.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <memory>
#include <new>

#include "io/link.h"

namespace vitesse {

class LoopbackLink final : public Link {
 public:
  // `frames`, a power of two, is both the ring's capacity and the number of
  // spare buffers (a batch or two is all that is ever in flight).
  explicit LoopbackLink(uint32_t frames = 256) : mask_(frames - 1), bytes_(size_t{frames} * kPacketBufferSize) {
    void* m = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    memory_ = static_cast<uint8_t*>(m);
    ring_ = std::make_unique<Slot[]>(frames);
    spares_ = std::make_unique<uint8_t*[]>(frames);
    for (uint32_t i = 0; i < frames; i++) spares_[nspares_++] = memory_ + size_t{i} * kPacketBufferSize;
  }
  ~LoopbackLink() override { munmap(memory_, bytes_); }
  LoopbackLink(const LoopbackLink&) = delete;
  LoopbackLink& operator=(const LoopbackLink&) = delete;

  uint32_t rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) override {
    uint32_t n = 0;
    while (n < max && head_ != tail_) {
      Packet* p = pool.alloc();
      if (!p) break;  // pool exhausted: the frame waits in the ring
      const Slot& s = ring_[head_++ & mask_];
      spares_[nspares_++] = p->buf;
      p->buf = s.buf;
      p->data = s.buf + s.offset;
      p->len = s.len;
      pkts[n++] = p;
    }
    return n;
  }

  // A full ring refuses the rest (counted by the worker as tx-ring-full);
  // ring slots and spares add up to `frames`, so a free slot has a spare.
  uint32_t tx_burst(Packet* const* pkts, uint32_t n) override {
    uint32_t sent = 0;
    for (; sent < n && tail_ - head_ <= mask_; sent++) {
      Packet* p = pkts[sent];
      const uint32_t offset = static_cast<uint32_t>(p->data - p->buf);
      ring_[tail_++ & mask_] = Slot{p->buf, offset, p->len};
      p->buf = spares_[--nspares_];
      p->data = p->buf + offset;
    }
    return sent;
  }

 private:
  struct Slot {
    uint8_t* buf;
    uint32_t offset;  // of the frame in buf
    uint32_t len;
  };
  const uint32_t mask_;
  const size_t bytes_;
  uint8_t* memory_ = nullptr;
  std::unique_ptr<Slot[]> ring_;
  std::unique_ptr<uint8_t*[]> spares_;  // a stack of `frames` at most
  uint32_t nspares_ = 0;
  uint32_t head_ = 0;  // next to receive
  uint32_t tail_ = 0;  // next free slot
};

}  // namespace vitesse
