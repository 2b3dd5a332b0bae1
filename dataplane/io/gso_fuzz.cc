// libFuzzer target: the virtio-net header and the segmentation of
// super-frames (io/gso.h), which af-packet applies to whatever a local stack
// (or anyone on a veth's other end) hands the gateway.
//
//   npm run fuzz -- gso_fuzz            (fuzz/fuzz.mjs has the compiler line)
//
// The input is a 10-byte virtio-net header followed by an Ethernet frame.
// What must hold, besides no sanitizer report: a planned frame's segments
// each fit the limit given, carry together exactly the frame's payload in
// order, and have valid IPv4 header and TCP/UDP checksums and consistent
// lengths; TCP sequence numbers advance by the payload sent, FIN/PSH are
// only on the last segment. complete_csum never writes outside the frame.
#include <cstdint>
#include <cstring>
#include <vector>

#include "io/gso.h"
#include "net/headers.h"
#include "packet.h"

using namespace vitesse;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// The ones-complement sum of a segment's L4 part with its pseudo header: a
// correct checksum makes it 0xffff.
uint16_t l4_sum(const gso::Plan& p, const uint8_t* f, uint32_t len) {
  const uint8_t* ip = f + p.l3;
  uint32_t sum = p.ipv6 ? net::checksum_partial(ip + 8, 32) : net::checksum_partial(ip + 12, 8);
  sum += p.proto + (len - p.l4);
  return net::checksum_fold(net::checksum_partial(f + p.l4, len - p.l4, sum));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < gso::kVnetHdrLen || size > 70000) return 0;
  const gso::VnetHdr h = gso::read_vnet_hdr(data);
  std::vector<uint8_t> frame(data + gso::kVnetHdrLen, data + size);
  const uint32_t len = static_cast<uint32_t>(frame.size());

  {  // checksum completion on a copy whose end is fenced by the vector's size (ASan)
    std::vector<uint8_t> copy = frame;
    if (!gso::complete_csum(h, copy.data(), len)) check(copy == frame);
  }

  const uint32_t limit = static_cast<uint32_t>(kMaxFrame) - 4;
  gso::Plan p;
  if (!gso::plan(h, frame.data(), len, limit, &p)) return 0;
  check(p.segments >= 1 && p.segments <= gso::kMaxSegments && p.hdr_len < len && p.hdr_len + p.mss <= limit);
  std::vector<uint8_t> seg(p.hdr_len + p.mss);
  uint32_t payload_at = p.hdr_len;
  const uint32_t seq0 = p.proto == 6 ? load_be32(frame.data() + p.l4 + 4) : 0;
  for (uint32_t k = 0; k < p.segments; k++) {
    const uint32_t n = gso::write_segment(p, frame.data(), len, k, seg.data());
    check(n > p.hdr_len && n <= p.hdr_len + p.mss);
    check(std::memcmp(seg.data() + p.hdr_len, frame.data() + payload_at, n - p.hdr_len) == 0);
    payload_at += n - p.hdr_len;
    const uint8_t* ip = seg.data() + p.l3;
    if (p.ipv6) {
      check(load_be16(ip + 4) == n - p.l3 - 40);
    } else {
      check(load_be16(ip + 2) == n - p.l3);
      check(net::checksum_fold(net::checksum_partial(ip, (ip[0] & 0xfu) * 4u)) == 0xffff);
    }
    check(l4_sum(p, seg.data(), n) == 0xffff);
    const uint8_t* l4 = seg.data() + p.l4;
    if (p.proto == 6) {
      check(load_be32(l4 + 4) == seq0 + k * p.mss);
      if (k + 1 < p.segments) check((l4[13] & 0x09) == 0);
    } else {
      check(load_be16(l4 + 4) == n - p.l4);
    }
  }
  check(payload_at == len);
  return 0;
}
