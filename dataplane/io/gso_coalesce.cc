#include "io/gso_coalesce.h"

#include <cstring>

#include "io/gso.h"
#include "io/gso_checksum.h"
#include "net/headers.h"

namespace vitesse::gso {

namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kTcpPsh = 0x08;
// What a mergeable segment may carry: ACK, PSH, ECE. SYN, FIN, RST, URG and
// CWR (which the kernel's segmentation keeps on the first segment only) end
// a run where they are, so they never join one.
constexpr uint8_t kTcpMergeable = 0x10 | kTcpPsh | 0x40;
constexpr uint32_t kMaxIpLen = 65535;

}  // namespace

bool parse_tcp_segment(const uint8_t* f, uint32_t len, TcpSegment* out) {
  TcpSegment s;
  if (!parse_ip_layer(f, len, kProtoTcp, &s)) return false;
  if (len < s.l4 + 20) return false;
  const uint8_t* tcp = f + s.l4;
  const uint32_t doff = (tcp[12] >> 4) * 4u;
  if (doff < 20 || (tcp[12] & 0x0f) != 0 || len < s.l4 + doff) return false;  // reserved bits (AE) set: alone
  s.flags = tcp[13];
  if (s.flags & ~kTcpMergeable) return false;
  s.hdr_len = s.l4 + doff;
  s.payload = len - s.hdr_len;
  if (s.payload == 0 || s.hdr_len > kMaxCoalesceHdr) return false;
  s.seq = load_be32(tcp + 4);
  // 0xffff in a checksum field verifies like 0 but no stack writes it
  // (RFC 1624): the segmentation of a super-frame would write 0.
  if (load_be16(tcp + 16) == 0xffff) return false;
  *out = s;
  return true;
}

bool tcp_checksum_ok(const uint8_t* f, const TcpSegment& s) {
  const uint32_t l4_len = s.hdr_len - s.l4 + s.payload;
  return net::checksum_fold(sum_words(f + s.l4, l4_len) + pseudo_sum(f, s, kProtoTcp, l4_len)) == 0xffff;
}

bool continues(const uint8_t* hf, const TcpSegment& head, const TcpSegment& prev, uint32_t segments, uint32_t payload,
               const uint8_t* nf, const TcpSegment& next) {
  if (next.hdr_len != head.hdr_len) return false;
  // Only the last segment may be short or pushed.
  if (prev.payload != head.payload || (prev.flags & kTcpPsh) || next.payload > head.payload) return false;
  if (next.seq != prev.seq + prev.payload) return false;
  if (head.hdr_len - head.l4 + payload + next.payload + (head.ipv6 ? 0 : net::kIpv4HeaderLen) > kMaxIpLen) return false;
  if (segments >= kMaxSegments) return false;
  if (!same_ip_layer(hf, head, nf, next, segments)) return false;
  const uint32_t l4 = head.l4;
  // TCP: ports; acknowledgment, data offset; flags but PSH; window;
  // urgent pointer and options. Not the sequence number or checksum.
  if (!same(hf, nf, l4, l4 + 4) || !same(hf, nf, l4 + 8, l4 + 13) || !same(hf, nf, l4 + 14, l4 + 16) ||
      !same(hf, nf, l4 + 18, head.hdr_len)) {
    return false;
  }
  return ((hf[l4 + 13] ^ nf[l4 + 13]) & ~kTcpPsh) == 0;
}

void write_super_headers(const uint8_t* hf, const TcpSegment& head, uint32_t payload, uint8_t last_flags, uint8_t* hdr,
                         uint8_t* vnet) {
  std::memcpy(hdr, hf, head.hdr_len);
  uint8_t* tcp = hdr + head.l4;
  const uint32_t l4_len = head.hdr_len - head.l4 + payload;
  write_super_ip(hdr, head, l4_len);
  tcp[13] = static_cast<uint8_t>((tcp[13] & ~kTcpPsh) | (last_flags & kTcpPsh));
  // NEEDS_CSUM: the field holds the pseudo header's sum, the "hardware" adds the rest.
  store_be16(tcp + 16, net::checksum_fold(pseudo_sum(hdr, head, kProtoTcp, l4_len)));
  write_vnet_hdr(vnet, head.ipv6 ? kGsoTcpv6 : kGsoTcpv4, head.hdr_len, head.payload, head.l4, 16);
}

}  // namespace vitesse::gso
