// libFuzzer target: the coalescing of TCP segments into super-frames on
// transmit (io/gso_coalesce.h), which af-packet applies to whatever the
// pipeline decrypted, i.e. to what the other site's hosts sent.
//
//   npm run fuzz -- gso_coalesce_fuzz   (fuzz/fuzz.mjs has the compiler line)
//
// The input: 4 bytes of mutation (which segment, which byte, what to XOR),
// then a gso_fuzz input (a virtio-net header and a super-frame). A frame that
// plans is cut into its segments by io/gso.h (the kernel's segmentation, as
// the host on the other side's TSO did), one byte of one segment is
// optionally damaged, and the segments (or the input frame, repeated, when it
// does not plan) are coalesced as the driver does over a burst. What must
// hold, besides no sanitizer report: every super-frame, planned and cut again
// by io/gso.h as the receiving kernel's GSO would, gives back exactly the
// frames it merged, byte for byte; runs cover the burst in order.
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "io/coalesce_fuzz_input.h"
#include "io/gso.h"
#include "io/gso_coalesce.h"

using namespace vitesse;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gso::CoalesceFuzzInput in;
  if (!gso::read_coalesce_fuzz_input(data, size, &in)) return 0;
  const uint8_t which = in.which;
  const uint32_t limit = in.limit;
  std::vector<std::vector<uint8_t>>& frames = in.frames;
  if (which & 1) {
    std::vector<uint8_t>& f = frames[(which >> 1) % frames.size()];
    f[in.at % f.size()] ^= in.xor_with;
  }

  const uint32_t n = static_cast<uint32_t>(frames.size());
  for (uint32_t i = 0; i < n;) {
    const gso::Run r = gso::find_run(n - i, [&](uint32_t j) {
      return std::pair<const uint8_t*, uint32_t>{frames[i + j].data(), static_cast<uint32_t>(frames[i + j].size())};
    });
    check(r.segments >= 1 && r.segments <= n - i);
    if (r.segments > 1) {
      uint8_t hdr[gso::kMaxCoalesceHdr], vnet[gso::kVnetHdrLen];
      gso::write_super_headers(frames[i].data(), r.head, r.payload, r.last_flags, hdr, vnet);
      std::vector<uint8_t> merged(hdr, hdr + r.head.hdr_len);
      for (uint32_t q = 0; q < r.segments; q++) {
        const std::vector<uint8_t>& f = frames[i + q];
        merged.insert(merged.end(), f.begin() + r.head.hdr_len, f.end());
      }
      check(merged.size() == r.head.hdr_len + r.payload);
      const gso::VnetHdr mh = gso::read_vnet_hdr(vnet);
      // The receiver completes the checksum left to it: as gso::complete_csum does.
      std::vector<uint8_t> full = merged;
      check(gso::complete_csum(mh, full.data(), static_cast<uint32_t>(full.size())));
      gso::Plan mp;
      check(gso::plan(mh, merged.data(), static_cast<uint32_t>(merged.size()), limit, &mp));
      check(mp.segments == r.segments);
      std::vector<uint8_t> seg(mp.hdr_len + mp.mss);
      for (uint32_t q = 0; q < r.segments; q++) {
        const uint32_t sl = gso::write_segment(mp, merged.data(), static_cast<uint32_t>(merged.size()), q, seg.data());
        check(sl == frames[i + q].size() && std::memcmp(seg.data(), frames[i + q].data(), sl) == 0);
      }
    }
    i += r.segments;
  }
  return 0;
}
