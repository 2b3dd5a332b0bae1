#include "io/udp_gso_coalesce.h"

#include <cstring>

#include "io/gso.h"
#include "io/gso_checksum.h"
#include "net/headers.h"

namespace vitesse::gso {

namespace {

constexpr uint32_t kUdpHdr = 8;
constexpr uint32_t kMaxIpLen = 65535;

void le16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// The pseudo header's sum for `l4_len` bytes of UDP.
uint32_t pseudo_sum(const uint8_t* f, const UdpDatagram& d, uint32_t l4_len) {
  const uint8_t* ip = f + d.l3;
  uint32_t sum = d.ipv6 ? net::checksum_partial(ip + 8, 32) : net::checksum_partial(ip + 12, 8);
  return sum + net::kProtoUdp + l4_len;
}

bool same(const uint8_t* a, const uint8_t* b, uint32_t from, uint32_t to) {
  return std::memcmp(a + from, b + from, to - from) == 0;
}

}  // namespace

bool parse_udp_datagram(const uint8_t* f, uint32_t len, UdpDatagram* out) {
  if (len < net::kEthHeaderLen) return false;
  UdpDatagram d;
  uint16_t ethertype = load_be16(f + 12);
  d.l3 = net::kEthHeaderLen;
  if (ethertype == 0x8100 || ethertype == 0x88a8) {
    if (len < net::kEthHeaderLen + 4) return false;
    ethertype = load_be16(f + 16);
    d.l3 += 4;
  }
  const uint8_t* ip = f + d.l3;
  if (ethertype == net::kEtherTypeIpv4) {
    if (len < d.l3 + net::kIpv4HeaderLen || ip[0] != 0x45) return false;  // version 4, no options
    if (load_be16(ip + 2) != len - d.l3) return false;                   // no padding, nothing cut
    if (load_be16(ip + 6) & 0x3fff) return false;                        // a fragment
    if (ip[9] != net::kProtoUdp || !net::ipv4_header_checksum_ok(ip, net::kIpv4HeaderLen)) return false;
    d.ip_id = load_be16(ip + 4);
    d.l4 = d.l3 + net::kIpv4HeaderLen;
  } else if (ethertype == net::kEtherTypeIpv6) {
    if (len < d.l3 + net::kIpv6HeaderLen || (ip[0] >> 4) != 6) return false;
    if (ip[6] != net::kProtoUdp) return false;  // extension headers stay single
    if (load_be16(ip + 4) != len - d.l3 - net::kIpv6HeaderLen) return false;
    d.ipv6 = true;
    d.l4 = d.l3 + net::kIpv6HeaderLen;
  } else {
    return false;
  }
  if (len <= d.l4 + kUdpHdr) return false;  // no payload
  const uint8_t* udp = f + d.l4;
  if (load_be16(udp + 4) != len - d.l4) return false;
  // IPv6 UDP must carry a checksum; the segmentation always writes one.
  if (d.ipv6 && load_be16(udp + 6) == 0) return false;
  // The IPv4 header checksum is rewritten for the super-frame and again per
  // segment: 0xffff (which verifies like 0) would come back as 0.
  if (!d.ipv6 && load_be16(ip + 10) == 0xffff) return false;
  d.payload = len - d.l4 - kUdpHdr;
  *out = d;
  return true;
}

bool udp_checksum_ok(const uint8_t* f, const UdpDatagram& d) {
  if (!d.ipv6 && load_be16(f + d.l4 + 6) == 0) return true;  // sent without one
  const uint32_t l4_len = kUdpHdr + d.payload;
  return net::checksum_fold(sum_words(f + d.l4, l4_len) + pseudo_sum(f, d, l4_len)) == 0xffff;
}

bool udp_continues(const uint8_t* hf, const UdpDatagram& head, const UdpDatagram& prev, uint32_t datagrams,
                   uint32_t payload, const uint8_t* nf, const UdpDatagram& next) {
  if (next.l3 != head.l3 || next.ipv6 != head.ipv6) return false;
  // Only the last datagram may be short.
  if (prev.payload != head.payload || next.payload > head.payload) return false;
  if (kUdpHdr + payload + next.payload + (head.ipv6 ? 0 : net::kIpv4HeaderLen) > kMaxIpLen) return false;
  if (datagrams >= kMaxUdpSegments) return false;
  const uint32_t l3 = head.l3, l4 = head.l4;
  if (!same(hf, nf, 0, l3)) return false;
  if (head.ipv6) {
    if (!same(hf, nf, l3, l3 + 4) || !same(hf, nf, l3 + 6, l4)) return false;
  } else {
    if (!same(hf, nf, l3, l3 + 2) || !same(hf, nf, l3 + 6, l3 + 10) || !same(hf, nf, l3 + 12, l4)) return false;
    if (next.ip_id != static_cast<uint16_t>(head.ip_id + datagrams)) return false;
  }
  // Ports; not the length or checksum.
  return same(hf, nf, l4, l4 + 4);
}

void write_udp_super_headers(const uint8_t* hf, const UdpDatagram& head, uint32_t payload, uint8_t* hdr,
                             uint8_t* vnet) {
  const uint32_t hdr_len = head.l4 + kUdpHdr;
  std::memcpy(hdr, hf, hdr_len);
  uint8_t* ip = hdr + head.l3;
  uint8_t* udp = hdr + head.l4;
  const uint32_t l4_len = kUdpHdr + payload;
  if (head.ipv6) {
    store_be16(ip + 4, static_cast<uint16_t>(l4_len));
  } else {
    store_be16(ip + 2, static_cast<uint16_t>(net::kIpv4HeaderLen + l4_len));
    store_be16(ip + 10, 0);
    store_be16(ip + 10, net::ipv4_header_checksum(ip, net::kIpv4HeaderLen));
  }
  store_be16(udp + 4, static_cast<uint16_t>(l4_len));
  // NEEDS_CSUM: the field holds the pseudo header's sum, the segmentation
  // adjusts it per datagram and adds the rest.
  store_be16(udp + 6, net::checksum_fold(pseudo_sum(hdr, head, l4_len)));
  vnet[0] = kNeedsCsum;
  vnet[1] = kGsoUdpL4;
  le16(vnet + 2, hdr_len);
  le16(vnet + 4, head.payload);
  le16(vnet + 6, head.l4);
  le16(vnet + 8, 6);
}

}  // namespace vitesse::gso
