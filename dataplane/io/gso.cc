#include "io/gso.h"

#include <cstring>

#include "io/gso_checksum.h"
#include "net/headers.h"

namespace vitesse::gso {

namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpCwr = 0x80;

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// The L4 checksum of a segment, from scratch: pseudo header + header + payload.
void l4_checksum(const Plan& p, uint8_t* f, uint32_t len) {
  const uint8_t* ip = f + p.l3;
  uint8_t* l4 = f + p.l4;
  const uint32_t l4_len = len - p.l4;
  uint32_t sum = p.ipv6 ? net::checksum_partial(ip + 8, 32) : net::checksum_partial(ip + 12, 8);
  sum += p.proto + l4_len;
  const uint32_t at = p.proto == kProtoTcp ? 16 : 6;
  store_be16(l4 + at, 0);
  uint16_t c = static_cast<uint16_t>(~net::checksum_fold(sum_words(l4, l4_len) + sum));
  if (c == 0 && p.proto == net::kProtoUdp) c = 0xffff;  // 0 means "no checksum" in UDP
  store_be16(l4 + at, c);
}

}  // namespace

VnetHdr read_vnet_hdr(const uint8_t* p) {
  VnetHdr h;
  h.flags = p[0];
  h.gso_type = p[1];
  h.hdr_len = le16(p + 2);
  h.gso_size = le16(p + 4);
  h.csum_start = le16(p + 6);
  h.csum_offset = le16(p + 8);
  return h;
}

bool plan(const VnetHdr& h, const uint8_t* f, uint32_t len, uint32_t max_segment, Plan* out) {
  const uint8_t type = h.gso_type & ~kGsoEcn;
  if (type != kGsoTcpv4 && type != kGsoTcpv6 && type != kGsoUdpL4) return false;  // UFO and unknown types
  if (h.gso_size == 0 || len < net::kEthHeaderLen) return false;
  Plan p;
  uint16_t ethertype = load_be16(f + 12);
  p.l3 = net::kEthHeaderLen;
  if (ethertype == 0x8100 || ethertype == 0x88a8) {  // one tag left in the frame
    if (len < net::kEthHeaderLen + 4) return false;
    ethertype = load_be16(f + 16);
    p.l3 += 4;
  }
  const uint8_t* ip = f + p.l3;
  if (ethertype == net::kEtherTypeIpv4) {
    if (type == kGsoTcpv6 || len < p.l3 + net::kIpv4HeaderLen || (ip[0] >> 4) != 4) return false;
    const uint32_t ihl = (ip[0] & 0xfu) * 4u;
    if (ihl < net::kIpv4HeaderLen || len < p.l3 + ihl) return false;
    if (load_be16(ip + 6) & 0x3fff) return false;  // a fragment (MF or an offset)
    p.proto = ip[9];
    p.l4 = p.l3 + ihl;
  } else if (ethertype == net::kEtherTypeIpv6) {
    if (type == kGsoTcpv4 || len < p.l3 + net::kIpv6HeaderLen || (ip[0] >> 4) != 6) return false;
    p.ipv6 = true;
    p.proto = ip[6];  // extension headers: refused below (not TCP/UDP)
    p.l4 = p.l3 + net::kIpv6HeaderLen;
  } else {
    return false;
  }
  if (p.proto != (type == kGsoUdpL4 ? net::kProtoUdp : kProtoTcp)) return false;
  if (p.proto == kProtoTcp) {
    if (len < p.l4 + 20) return false;
    const uint32_t doff = (f[p.l4 + 12] >> 4) * 4u;
    if (doff < 20) return false;
    p.hdr_len = p.l4 + doff;
  } else {
    p.hdr_len = p.l4 + 8;
  }
  if (len <= p.hdr_len) return false;  // no payload to cut
  p.mss = h.gso_size;
  if (p.hdr_len + p.mss > max_segment) return false;
  const uint32_t payload = len - p.hdr_len;
  p.segments = (payload + p.mss - 1) / p.mss;
  if (p.segments > kMaxSegments) return false;
  *out = p;
  return true;
}

uint32_t write_segment(const Plan& p, const uint8_t* f, uint32_t len, uint32_t k, uint8_t* out) {
  const uint32_t from = p.hdr_len + k * p.mss;
  const uint32_t chunk = len - from < p.mss ? len - from : p.mss;
  const uint32_t seg_len = p.hdr_len + chunk;
  std::memcpy(out, f, p.hdr_len);
  std::memcpy(out + p.hdr_len, f + from, chunk);
  uint8_t* ip = out + p.l3;
  if (p.ipv6) {
    store_be16(ip + 4, static_cast<uint16_t>(seg_len - p.l3 - net::kIpv6HeaderLen));
  } else {
    const uint32_t ihl = (ip[0] & 0xfu) * 4u;
    store_be16(ip + 2, static_cast<uint16_t>(seg_len - p.l3));
    store_be16(ip + 4, static_cast<uint16_t>(load_be16(ip + 4) + k));  // as the kernel numbers segments
    store_be16(ip + 10, 0);
    store_be16(ip + 10, net::ipv4_header_checksum(ip, ihl));
  }
  uint8_t* l4 = out + p.l4;
  if (p.proto == net::kProtoUdp) {
    store_be16(l4 + 4, static_cast<uint16_t>(seg_len - p.l4));
  } else {
    store_be32(l4 + 4, load_be32(l4 + 4) + k * p.mss);
    uint8_t flags = l4[13];
    if (k + 1 < p.segments) flags &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
    if (k > 0) flags &= static_cast<uint8_t>(~kTcpCwr);
    l4[13] = flags;
  }
  l4_checksum(p, out, seg_len);
  return seg_len;
}

bool complete_csum(const VnetHdr& h, uint8_t* f, uint32_t len) {
  const uint32_t start = h.csum_start, at = start + h.csum_offset;
  if (start >= len || at + 2 > len || at < start) return false;
  uint16_t c = static_cast<uint16_t>(~net::checksum_fold(sum_words(f + start, len - start)));
  store_be16(f + at, c ? c : 0xffff);  // as Linux does: 0 is "no checksum" to UDP, the same as 0xffff to TCP
  return true;
}

}  // namespace vitesse::gso
