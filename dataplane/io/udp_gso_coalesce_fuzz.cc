// libFuzzer target: the coalescing of UDP datagrams (ESP in UDP on the
// public side) into UDP GSO super-frames on transmit (io/udp_gso_coalesce.h).
//
//   npm run fuzz -- udp_gso_coalesce_fuzz   (fuzz/fuzz.mjs has the compiler line)
//
// The input: 4 bytes of mutation (bit 0 of the first: damage one byte; bit 1:
// send IPv4 datagrams without a UDP checksum, as RFC 3948 allows; the rest:
// which datagram; then the byte offset, little-endian, and what to XOR), then
// a gso_fuzz input (a virtio-net header and a super-frame). A frame that
// plans is cut into its datagrams by io/gso.h (the kernel's segmentation),
// optionally changed as above, and the datagrams (or the input frame,
// repeated, when it does not plan) are coalesced as the driver does over a
// burst. What must hold, besides no sanitizer report: every super-frame,
// with its checksum completed and cut again by io/gso.h as the receiving
// kernel's GSO would, gives back exactly the datagrams it merged, byte for
// byte — except that a datagram sent without a UDP checksum comes back with
// a valid one; runs cover the burst in order.
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "io/coalesce_fuzz_input.h"
#include "io/gso.h"
#include "io/udp_gso_coalesce.h"

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
  if ((which & 2) && in.cut && in.plan.proto == 17 && !in.plan.ipv6) {
    for (std::vector<uint8_t>& seg : frames) seg[in.plan.l4 + 6] = seg[in.plan.l4 + 7] = 0;
  }
  if (which & 1) {
    std::vector<uint8_t>& f = frames[(which >> 2) % frames.size()];
    f[in.at % f.size()] ^= in.xor_with;
  }

  const uint32_t n = static_cast<uint32_t>(frames.size());
  for (uint32_t i = 0; i < n;) {
    const gso::UdpRun r = gso::find_udp_run(n - i, [&](uint32_t j) {
      return std::pair<const uint8_t*, uint32_t>{frames[i + j].data(), static_cast<uint32_t>(frames[i + j].size())};
    });
    check(r.datagrams >= 1 && r.datagrams <= n - i && r.datagrams <= gso::kMaxUdpSegments);
    if (r.datagrams > 1) {
      const uint32_t hdr_len = r.head.l4 + 8;
      uint8_t hdr[gso::kMaxUdpCoalesceHdr], vnet[gso::kVnetHdrLen];
      gso::write_udp_super_headers(frames[i].data(), r.head, r.payload, hdr, vnet);
      std::vector<uint8_t> merged(hdr, hdr + hdr_len);
      for (uint32_t q = 0; q < r.datagrams; q++) {
        const std::vector<uint8_t>& f = frames[i + q];
        merged.insert(merged.end(), f.begin() + hdr_len, f.end());
      }
      // Its IP length fits the field (IPv6's excludes the IPv6 header).
      check(merged.size() == hdr_len + r.payload && merged.size() - (r.head.ipv6 ? r.head.l4 : r.head.l3) <= 65535);
      const gso::VnetHdr mh = gso::read_vnet_hdr(vnet);
      check(mh.gso_type == gso::kGsoUdpL4 && mh.flags == gso::kNeedsCsum);
      // The receiver completes the checksum left to it: as gso::complete_csum does.
      std::vector<uint8_t> full = merged;
      check(gso::complete_csum(mh, full.data(), static_cast<uint32_t>(full.size())));
      gso::Plan mp;
      check(gso::plan(mh, merged.data(), static_cast<uint32_t>(merged.size()), limit, &mp));
      check(mp.segments == r.datagrams);
      std::vector<uint8_t> seg(mp.hdr_len + mp.mss);
      for (uint32_t q = 0; q < r.datagrams; q++) {
        const std::vector<uint8_t>& f = frames[i + q];
        const uint32_t sl = gso::write_segment(mp, merged.data(), static_cast<uint32_t>(merged.size()), q, seg.data());
        check(sl == f.size());
        const uint32_t csum = r.head.l4 + 6;
        if (f[csum] == 0 && f[csum + 1] == 0) {
          // Sent without a checksum: everything else equal, and the one it got is valid.
          check(std::memcmp(seg.data(), f.data(), csum) == 0 && std::memcmp(seg.data() + csum + 2, f.data() + csum + 2, sl - csum - 2) == 0);
          gso::UdpDatagram d;
          check(gso::parse_udp_datagram(seg.data(), sl, &d) && gso::udp_checksum_ok(seg.data(), d));
          check(seg[csum] != 0 || seg[csum + 1] != 0);
        } else {
          check(std::memcmp(seg.data(), f.data(), sl) == 0);
        }
      }
    }
    i += r.datagrams;
  }
  return 0;
}
