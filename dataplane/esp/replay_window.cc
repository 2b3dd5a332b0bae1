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

// A low half that infer() put before number 0 (the window in the first 2^32).
bool ReplayWindow::settled_slow(uint32_t seq_low) const {
  uint64_t committed = 0, pending = 0;
  const bool a = infer_from(top_, seq_low, &committed);
  const bool b = infer_from(pending_top_, seq_low, &pending);
  return a == b && committed == pending;
}

bool ReplayWindow::likely_stale(uint64_t seq) const {
  constexpr uint64_t kSubspace = uint64_t{1} << 32;
  if (seq <= top_ || seq < kSubspace) return false;
  const uint64_t previous = seq - kSubspace;
  return previous <= top_ && top_ - previous < seq - top_;
}

}  // namespace vitesse::esp
