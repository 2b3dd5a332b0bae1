// The input both coalescing fuzz targets read (gso_coalesce_fuzz,
// udp_gso_coalesce_fuzz): 4 bytes of mutation (a selector byte, a byte
// offset little-endian, what to XOR), then a gso_fuzz input (a virtio-net
// header and a super-frame). A super-frame that plans is cut into its
// segments by io/gso.h, the kernel's segmentation (at most a burst of
// them); one that does not is taken as one frame, three times. Fuzz targets
// only: it allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/gso.h"
#include "packet.h"

namespace vitesse::gso {

struct CoalesceFuzzInput {
  uint8_t which = 0;     // the selector byte: what each target does with it is its own
  uint16_t at = 0;       // the byte to damage, modulo the frame's length
  uint8_t xor_with = 0;  // and what to XOR it with
  uint32_t limit = static_cast<uint32_t>(kMaxFrame) - 4;  // the longest frame (a VLAN tag's room kept)
  Plan plan;             // the input's plan, when `cut`
  bool cut = false;      // the frames are segments of the input
  std::vector<std::vector<uint8_t>> frames;
};

// False for an input to skip (too short or long, or a frame no link sends).
inline bool read_coalesce_fuzz_input(const uint8_t* data, size_t size, CoalesceFuzzInput* in) {
  if (size < 4 + kVnetHdrLen || size > 70000) return false;
  in->which = data[0];
  in->at = static_cast<uint16_t>(data[1] | (data[2] << 8));
  in->xor_with = data[3];
  data += 4;
  size -= 4;
  const VnetHdr h = read_vnet_hdr(data);
  const std::vector<uint8_t> super(data + kVnetHdrLen, data + size);
  const uint32_t len = static_cast<uint32_t>(super.size());
  in->frames.clear();
  in->cut = plan(h, super.data(), len, in->limit, &in->plan);
  if (in->cut) {
    const Plan& p = in->plan;
    const uint32_t n = p.segments < kBatch ? p.segments : kBatch;
    for (uint32_t k = 0; k < n; k++) {
      std::vector<uint8_t> seg(p.hdr_len + p.mss);
      seg.resize(write_segment(p, super.data(), len, k, seg.data()));
      in->frames.push_back(std::move(seg));
    }
    return true;
  }
  if (len == 0 || len > in->limit) return false;
  in->frames.assign(3, super);
  return true;
}

}  // namespace vitesse::gso
