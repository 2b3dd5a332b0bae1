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

void le16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// The pseudo header's sum for `l4_len` bytes of TCP.
uint32_t pseudo_sum(const uint8_t* f, const TcpSegment& s, uint32_t l4_len) {
  const uint8_t* ip = f + s.l3;
  uint32_t sum = s.ipv6 ? net::checksum_partial(ip + 8, 32) : net::checksum_partial(ip + 12, 8);
  return sum + kProtoTcp + l4_len;
}

bool same(const uint8_t* a, const uint8_t* b, uint32_t from, uint32_t to) {
  return std::memcmp(a + from, b + from, to - from) == 0;
}

}  // namespace

bool parse_tcp_segment(const uint8_t* f, uint32_t len, TcpSegment* out) {
  if (len < net::kEthHeaderLen) return false;
  TcpSegment s;
  uint16_t ethertype = load_be16(f + 12);
  s.l3 = net::kEthHeaderLen;
  if (ethertype == 0x8100 || ethertype == 0x88a8) {
    if (len < net::kEthHeaderLen + 4) return false;
    ethertype = load_be16(f + 16);
    s.l3 += 4;
  }
  const uint8_t* ip = f + s.l3;
  if (ethertype == net::kEtherTypeIpv4) {
    if (len < s.l3 + net::kIpv4HeaderLen || ip[0] != 0x45) return false;  // version 4, no options
    if (load_be16(ip + 2) != len - s.l3) return false;                   // no padding, nothing cut
    if (load_be16(ip + 6) & 0x3fff) return false;                        // a fragment
    if (ip[9] != kProtoTcp || !net::ipv4_header_checksum_ok(ip, net::kIpv4HeaderLen)) return false;
    s.ip_id = load_be16(ip + 4);
    s.l4 = s.l3 + net::kIpv4HeaderLen;
  } else if (ethertype == net::kEtherTypeIpv6) {
    if (len < s.l3 + net::kIpv6HeaderLen || (ip[0] >> 4) != 6) return false;
    if (ip[6] != kProtoTcp) return false;  // extension headers (and jumbograms) stay single
    if (load_be16(ip + 4) != len - s.l3 - net::kIpv6HeaderLen) return false;
    s.ipv6 = true;
    s.l4 = s.l3 + net::kIpv6HeaderLen;
  } else {
    return false;
  }
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
  if (load_be16(tcp + 16) == 0xffff || (!s.ipv6 && load_be16(ip + 10) == 0xffff)) return false;
  *out = s;
  return true;
}

bool tcp_checksum_ok(const uint8_t* f, const TcpSegment& s) {
  const uint32_t l4_len = s.hdr_len - s.l4 + s.payload;
  return net::checksum_fold(sum_words(f + s.l4, l4_len) + pseudo_sum(f, s, l4_len)) == 0xffff;
}

bool continues(const uint8_t* hf, const TcpSegment& head, const TcpSegment& prev, uint32_t segments, uint32_t payload,
               const uint8_t* nf, const TcpSegment& next) {
  if (next.hdr_len != head.hdr_len || next.l3 != head.l3 || next.ipv6 != head.ipv6) return false;
  // Only the last segment may be short or pushed.
  if (prev.payload != head.payload || (prev.flags & kTcpPsh) || next.payload > head.payload) return false;
  if (next.seq != prev.seq + prev.payload) return false;
  if (head.hdr_len - head.l4 + payload + next.payload + (head.ipv6 ? 0 : net::kIpv4HeaderLen) > kMaxIpLen) return false;
  if (segments >= kMaxSegments) return false;
  const uint32_t l3 = head.l3, l4 = head.l4;
  // Link header; then IP: all but the lengths, the IPv4 ID and header checksum.
  if (!same(hf, nf, 0, l3)) return false;
  if (head.ipv6) {
    if (!same(hf, nf, l3, l3 + 4) || !same(hf, nf, l3 + 6, l4)) return false;
  } else {
    if (!same(hf, nf, l3, l3 + 2) || !same(hf, nf, l3 + 6, l3 + 10) || !same(hf, nf, l3 + 12, l4)) return false;
    if (next.ip_id != static_cast<uint16_t>(head.ip_id + segments)) return false;
  }
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
  uint8_t* ip = hdr + head.l3;
  uint8_t* tcp = hdr + head.l4;
  const uint32_t l4_len = head.hdr_len - head.l4 + payload;
  if (head.ipv6) {
    store_be16(ip + 4, static_cast<uint16_t>(l4_len));
  } else {
    store_be16(ip + 2, static_cast<uint16_t>(net::kIpv4HeaderLen + l4_len));
    store_be16(ip + 10, 0);
    store_be16(ip + 10, net::ipv4_header_checksum(ip, net::kIpv4HeaderLen));
  }
  tcp[13] = static_cast<uint8_t>((tcp[13] & ~kTcpPsh) | (last_flags & kTcpPsh));
  // NEEDS_CSUM: the field holds the pseudo header's sum, the "hardware" adds the rest.
  store_be16(tcp + 16, net::checksum_fold(pseudo_sum(hdr, head, l4_len)));
  vnet[0] = kNeedsCsum;
  vnet[1] = head.ipv6 ? kGsoTcpv6 : kGsoTcpv4;
  le16(vnet + 2, head.hdr_len);
  le16(vnet + 4, head.payload);
  le16(vnet + 6, head.l4);
  le16(vnet + 8, 16);
}

}  // namespace vitesse::gso
