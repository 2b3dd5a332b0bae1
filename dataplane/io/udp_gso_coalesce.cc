#include "io/udp_gso_coalesce.h"

#include <cstring>

#include "io/gso.h"
#include "io/gso_checksum.h"
#include "net/headers.h"

namespace vitesse::gso {

namespace {

constexpr uint32_t kUdpHdr = 8;
constexpr uint32_t kMaxIpLen = 65535;

}  // namespace

bool parse_udp_datagram(const uint8_t* f, uint32_t len, UdpDatagram* out) {
  UdpDatagram d;
  if (!parse_ip_layer(f, len, net::kProtoUdp, &d)) return false;
  if (len <= d.l4 + kUdpHdr) return false;  // no payload
  const uint8_t* udp = f + d.l4;
  if (load_be16(udp + 4) != len - d.l4) return false;
  // IPv6 UDP must carry a checksum; the segmentation always writes one.
  if (d.ipv6 && load_be16(udp + 6) == 0) return false;
  d.payload = len - d.l4 - kUdpHdr;
  *out = d;
  return true;
}

bool udp_checksum_ok(const uint8_t* f, const UdpDatagram& d) {
  if (!d.ipv6 && load_be16(f + d.l4 + 6) == 0) return true;  // sent without one
  const uint32_t l4_len = kUdpHdr + d.payload;
  return net::checksum_fold(sum_words(f + d.l4, l4_len) + pseudo_sum(f, d, net::kProtoUdp, l4_len)) == 0xffff;
}

bool udp_continues(const uint8_t* hf, const UdpDatagram& head, const UdpDatagram& prev, uint32_t datagrams,
                   uint32_t payload, const uint8_t* nf, const UdpDatagram& next) {
  // Only the last datagram may be short.
  if (prev.payload != head.payload || next.payload > head.payload) return false;
  if (kUdpHdr + payload + next.payload + (head.ipv6 ? 0 : net::kIpv4HeaderLen) > kMaxIpLen) return false;
  if (datagrams >= kMaxUdpSegments) return false;
  if (!same_ip_layer(hf, head, nf, next, datagrams)) return false;
  const uint32_t l4 = head.l4;
  // Ports; not the length or checksum.
  return same(hf, nf, l4, l4 + 4);
}

void write_udp_super_headers(const uint8_t* hf, const UdpDatagram& head, uint32_t payload, uint8_t* hdr,
                             uint8_t* vnet) {
  const uint32_t hdr_len = head.l4 + kUdpHdr;
  std::memcpy(hdr, hf, hdr_len);
  uint8_t* udp = hdr + head.l4;
  const uint32_t l4_len = kUdpHdr + payload;
  write_super_ip(hdr, head, l4_len);
  store_be16(udp + 4, static_cast<uint16_t>(l4_len));
  // NEEDS_CSUM: the field holds the pseudo header's sum, the segmentation
  // adjusts it per datagram and adds the rest.
  store_be16(udp + 6, net::checksum_fold(pseudo_sum(hdr, head, net::kProtoUdp, l4_len)));
  write_vnet_hdr(vnet, kGsoUdpL4, hdr_len, head.payload, head.l4, 6);
}

}  // namespace vitesse::gso
