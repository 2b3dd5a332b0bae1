// Anti-replay window for ESP with Extended Sequence Numbers (RFC 4303 §3.4.3
// and Appendix A), kept as a ring of 64-bit blocks in the style of RFC 6479.
//
// The receiver sees only the low 32 bits of each 64-bit sequence number; it
// infers the high half from where its window stands (Appendix A2.2). A packet
// is checked before decryption without touching the window, and the window is
// updated only once the packet has authenticated (update() re-checks, so a
// second copy that passed the pre-check alongside the first still fails).
//
// Window size W means: after the highest authenticated number T, a number s is
// acceptable if s > T, or T - W < s <= T and s was not seen yet. The ring has
// twice as many blocks as W needs, a power of two, so the block of s is
// (s / 64) & mask and moving T forward clears whole blocks rather than
// shifting bits. Sequence number 0 is never acceptable (counters start at 1).
//
// Batches: Appendix A infers each packet's number from the window as the
// packets before it left it, but those packets have not authenticated yet
// when the batch is prepared. The window therefore also tracks the highest
// number queued for authentication (the pending top): when inference from it
// and from the committed top agree, every outcome of the queued packets
// gives the same inference (the inferred number is monotonic in the top);
// when they disagree, the caller must first resolve the queued packets
// (authenticate and update) and then infer again (esp/decap.cc).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "config_limits.h"

namespace vitesse::esp {

inline constexpr uint32_t kDefaultReplayWindow = 1024;

class ReplayWindow {
 public:
  // W must be a power of two in [kMinReplayWindow, kMaxReplayWindow]; returns
  // false otherwise and leaves the window unchanged. `top` is the highest
  // number to treat as already received (0 for a new SA): tests and SA
  // migration start a window elsewhere than at 0.
  bool init(uint32_t size = kDefaultReplayWindow, uint64_t top = 0);

  // The full 64-bit sequence number a packet carrying `seq_low` most likely
  // has (RFC 4303 A2.2). Returns false when the inference lands before
  // number 0 (a stale packet while the window is still in the first 2^32).
  bool infer(uint32_t seq_low, uint64_t* seq) const { return infer_from(top_, seq_low, seq); }

  // Batches (see above): begin_batch() before the first packet of a batch
  // and after the queued packets were resolved (esp/decap_steps.h calls it
  // as it settles each queued packet, so that outside a batch the pending
  // top is the top, as init() leaves it); queued(seq) for each packet
  // queued for authentication; settled() says whether what infer() gave for
  // `seq_low` (`inferred`, and then `seq`) is what Appendix A gives once the
  // queued packets are resolved, whatever their outcome.
  void begin_batch() { pending_top_ = top_; }
  void queued(uint64_t seq) { pending_top_ = seq > pending_top_ ? seq : pending_top_; }
  bool settled(uint32_t seq_low, bool inferred, uint64_t seq) const {
    if (pending_top_ == top_) return true;
    // Inference from a top T gives the number of that low half in
    // [T - W + 1, T - W + 1 + 2^32): from the pending top, the same number
    // unless it lies below that range's start.
    // (seq + W > pending top, written so that it cannot wrap near 2^64.)
    if (inferred) return seq > pending_top_ || pending_top_ - seq < size_;
    return settled_slow(seq_low);
  }

  // The usual packet with ESN: the number after every one received or
  // queued in this batch. True (and *seq) when `seq_low` is the low half of
  // pending top + 1 and that lies above the top by less than 2^31: then
  // infer(), settled() and check() give that number, settled, acceptable
  // (inference from any top T in [top, pending top] gives the number in
  // [T - W + 1, T - W + 1 + 2^32), which holds it), so the caller may skip
  // them and queue it. False says nothing: take the general path.
  bool next_in_order(uint32_t seq_low, uint64_t* seq) const {
    const uint64_t next = pending_top_ + 1;
    // Wraps to a huge number if next <= top (refused), unless next is near 0
    // and top near 2^64: pending_top_ >= top_ (decap.cc) keeps that away.
    const uint64_t ahead = next - top_;
    if (static_cast<uint32_t>(next) != seq_low || next == 0 || ahead - 1 >= kInOrderSpan - 1) return false;
    *seq = next;
    return true;
  }

  // Pre-decryption check: would `seq` be accepted now? Changes nothing.
  bool check(uint64_t seq) const;

  // For a packet that failed authentication with the number `seq` guessed by
  // infer(): true if the same low half one subspace back is the likelier
  // story, i.e. a late or replayed packet left of the window, nearer to the
  // top than the guess. A2.2 must guess "next subspace" for a low half left
  // of the window; this lets such packets be counted as replays rather than
  // forgeries, without a second authentication attempt.
  bool likely_stale(uint64_t seq) const;

  // The block update(seq) will set, fetched while the batch is decrypted (a
  // number right of the window is accepted by check() without reading it).
  void prefetch(uint64_t seq) const { __builtin_prefetch(&blocks_[(seq / kBlockBits) & block_mask_]); }

  // Post-authentication check-and-set: records `seq` and returns true, or
  // returns false (a replay) if it is too old or already recorded.
  bool update(uint64_t seq);
  // update() without its fast path for the next number: decap_fuzz checks
  // that both leave the same window.
  bool update_general(uint64_t seq);

  uint64_t top() const { return top_; }
  // For a reader on another thread (read_counter): the worker writes top_.
  const uint64_t& top_word() const { return top_; }
  uint32_t size() const { return size_; }

 private:
  static constexpr uint32_t kBlockBits = 64;
  static constexpr uint32_t kMaxBlocks = 2 * kMaxReplayWindow / kBlockBits;
  static constexpr uint64_t kInOrderSpan = uint64_t{1} << 31;
  static_assert(kInOrderSpan <= (uint64_t{1} << 32) - kMaxReplayWindow, "next_in_order's bound");

  bool infer_from(uint64_t top, uint32_t seq_low, uint64_t* seq) const;
  bool settled_slow(uint32_t seq_low) const;

  bool seen(uint64_t seq) const {
    return (blocks_[(seq / kBlockBits) & block_mask_] >> (seq % kBlockBits)) & 1;
  }

  // The blocks first and the state after them, so that an SA can put its
  // own per-packet fields (esp/sa.h InboundSa) in the state's cache line.
  uint64_t blocks_[kMaxBlocks] = {};
  uint64_t top_ = 0;
  uint64_t pending_top_ = 0;  // >= top_ within a batch
  uint32_t size_ = kDefaultReplayWindow;
  uint32_t block_mask_ = 2 * kDefaultReplayWindow / kBlockBits - 1;

 public:
  // Where the state (top, pending top, size, mask) begins: esp/sa.h checks
  // that it shares a line with the SA's per-packet fields.
  static constexpr size_t state_offset() { return offsetof(ReplayWindow, top_); }
};

// Per packet: inline (as calls they cost more than their work).
inline bool ReplayWindow::infer_from(uint64_t top, uint32_t seq_low, uint64_t* seq) const {
  const uint32_t top_high = static_cast<uint32_t>(top >> 32);
  const uint32_t top_low = static_cast<uint32_t>(top);
  const uint32_t bottom = top_low - size_ + 1;  // modulo 2^32, as in A2.2
  uint32_t high = top_high;
  if (top_low >= size_ - 1) {
    // Case A: the window lies within one 2^32 subspace; a number below it
    // belongs to the next subspace.
    if (seq_low < bottom) {
      if (top_high == UINT32_MAX) return false;
      ++high;
    }
  } else {
    // Case B: the window straddles a subspace boundary; a number at or
    // above its (wrapped) bottom belongs to the previous subspace.
    if (seq_low >= bottom) {
      if (top_high == 0) return false;
      --high;
    }
  }
  *seq = static_cast<uint64_t>(high) << 32 | seq_low;
  return true;
}

inline bool ReplayWindow::check(uint64_t seq) const {
  if (seq == 0) return false;
  if (seq > top_) return true;
  if (top_ - seq >= size_) return false;
  return !seen(seq);
}

inline bool ReplayWindow::update(uint64_t seq) {
  if (seq == top_ + 1 && seq != 0) {
    // The usual packet, the next number: its bit is clear (bits above the
    // top are cleared with the block they enter in, below), and its block
    // is entered now exactly when it is the block's first number.
    uint64_t& block = blocks_[(seq / kBlockBits) & block_mask_];
    block = (seq % kBlockBits == 0 ? 0 : block) | uint64_t{1} << (seq % kBlockBits);
    top_ = seq;
    return true;
  }
  return update_general(seq);
}

inline bool ReplayWindow::update_general(uint64_t seq) {
  if (seq == 0) return false;
  if (seq > top_) {
    // Blocks entering the window may still hold bits from a lap ago.
    const uint64_t old_block = top_ / kBlockBits;
    const uint64_t new_block = seq / kBlockBits;
    const uint64_t clear = std::min<uint64_t>(new_block - old_block, block_mask_ + 1);
    for (uint64_t i = 1; i <= clear; ++i) blocks_[(old_block + i) & block_mask_] = 0;
    top_ = seq;
  } else if (top_ - seq >= size_) {
    return false;
  }
  uint64_t& block = blocks_[(seq / kBlockBits) & block_mask_];
  const uint64_t bit = uint64_t{1} << (seq % kBlockBits);
  if (block & bit) return false;
  block |= bit;
  return true;
}

}  // namespace vitesse::esp
