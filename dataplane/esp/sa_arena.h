// Where a queue's SAs live (issue 15, target 2; docs/dataplane.md, "Round
// five, SA arena").
//
// With a thousand routes every packet of a batch has its own SA, and a chunk
// of 32 packets reads six or seven lines of each (pipeline/prefetch_sa.h).
// Where malloc puts them, how those lines spread over the 64 sets of the
// 32 KiB 8-way L1 depends on the order of the control plane's allocations
// (an even distance between SAs leaves half the sets to each line of them).
// Here the SAs of one kind and queue are slots of one stride, an odd number
// of cache lines: any 64 consecutive slots then put each of their lines in a
// different L1 set (the set is address bits 6..11), and the lines a packet
// touches of consecutive SAs cover all 64 sets evenly.
//
// Slots come from chunks of 2 MiB mapped on their own (backed as they are
// used). The arena grows by a chunk when no slot is free and throws (naming
// what and how much) when the memory cannot be had; it never returns memory
// before it is destroyed. Control thread only: workers read SAs, never
// allocate them.
//
// Lifetime stays the gateway's (pipeline/gateway.cc): an SA removed from a
// snapshot is destroyed only after every worker passed a later generation.
// destroy() wipes the key material before the slot can be reused, and under
// AddressSanitizer a free slot is poisoned, so a worker touching a freed SA is
// still reported (as a use after poison).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "esp/sa.h"

namespace vitesse::esp {

class SlotArena {
 public:
  static constexpr size_t kChunkBytes = size_t{2} << 20;
  static constexpr size_t kLine = 64;
  static constexpr size_t kPage = 4096;  // the L1 set is the line's place in a page

  // `what` names the arena in errors ("inbound SAs of queue 1").
  SlotArena(size_t object_size, std::string what);
  ~SlotArena();
  SlotArena(const SlotArena&) = delete;
  SlotArena& operator=(const SlotArena&) = delete;

  // A slot of at least object_size octets, aligned to a cache line, not
  // poisoned. Throws std::runtime_error when no chunk can be mapped.
  void* allocate();
  // Back to the free list, poisoned under ASan. The caller wiped it.
  void release(void* p);

  // The distance between slots: an odd number of cache lines.
  size_t stride() const { return stride_; }
  // A page less than a chunk: room for the colour offset (sa_arena.cc).
  size_t slots_per_chunk() const { return (kChunkBytes - kPage) / stride_; }
  size_t chunks() const { return chunks_.size(); }
  size_t in_use() const { return in_use_; }

 private:
  void grow();

  size_t object_size_;
  size_t stride_;
  std::string what_;
  std::vector<void*> chunks_;
  std::vector<void*> free_;  // a stack, lowest address on top
  size_t in_use_ = 0;
};

template <class Sa>
class SaArena;

template <class Sa>
struct SaArenaDelete {
  SaArena<Sa>* arena = nullptr;
  void operator()(Sa* sa) const { arena->destroy(sa); }
};
template <class Sa>
using ArenaPtr = std::unique_ptr<Sa, SaArenaDelete<Sa>>;

// OutboundSa or InboundSa slots.
template <class Sa>
class SaArena {
 public:
  explicit SaArena(std::string what) : slots_(sizeof(Sa), std::move(what)) {}
  // A zero-initialized SA, as `new Sa()` gives.
  ArenaPtr<Sa> create() { return ArenaPtr<Sa>(new (slots_.allocate()) Sa(), SaArenaDelete<Sa>{this}); }
  void destroy(Sa* sa) {
    wipe(*sa);
    sa->~Sa();
    slots_.release(sa);
  }
  const SlotArena& slots() const { return slots_; }

 private:
  SlotArena slots_;
};

}  // namespace vitesse::esp
