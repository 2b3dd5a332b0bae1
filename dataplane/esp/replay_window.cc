#include "esp/replay_window.h"

#include <algorithm>
#include <iterator>

namespace vitesse::esp {

bool ReplayWindow::init(uint32_t size, uint64_t top) {
  if (size < kMinReplayWindow || size > kMaxReplayWindow || (size & (size - 1)) != 0) return false;
  // Numbers T-W+1 .. T touch at most W/64 + 1 blocks; doubling W/64 (and
  // never fewer than 2) gives a power of two with that much room.
  const uint32_t blocks = std::max<uint32_t>(2, 2 * size / kBlockBits);
  size_ = size;
  block_mask_ = blocks - 1;
  top_ = top;
  pending_top_ = top;
  std::fill(std::begin(blocks_), std::end(blocks_), 0);
  return true;
}

bool ReplayWindow::infer_from(uint64_t top, uint32_t seq_low, uint64_t* seq) const {
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

// A low half that infer() put before number 0 (the window in the first 2^32).
bool ReplayWindow::settled_slow(uint32_t seq_low) const {
  uint64_t committed = 0, pending = 0;
  const bool a = infer_from(top_, seq_low, &committed);
  const bool b = infer_from(pending_top_, seq_low, &pending);
  return a == b && committed == pending;
}

bool ReplayWindow::check(uint64_t seq) const {
  if (seq == 0) return false;
  if (seq > top_) return true;
  if (top_ - seq >= size_) return false;
  return !seen(seq);
}

bool ReplayWindow::likely_stale(uint64_t seq) const {
  constexpr uint64_t kSubspace = uint64_t{1} << 32;
  if (seq <= top_ || seq < kSubspace) return false;
  const uint64_t previous = seq - kSubspace;
  return previous <= top_ && top_ - previous < seq - top_;
}

bool ReplayWindow::update(uint64_t seq) {
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
