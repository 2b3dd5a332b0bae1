#include "io/coalesce_ip.h"

#include "io/gso.h"
#include "net/headers.h"

namespace vitesse::gso {

namespace {

void le16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

}  // namespace

bool parse_ip_layer(const uint8_t* f, uint32_t len, uint8_t proto, IpLayer* out) {
  if (len < net::kEthHeaderLen) return false;
  IpLayer l;
  uint16_t ethertype = load_be16(f + 12);
  l.l3 = net::kEthHeaderLen;
  if (ethertype == 0x8100 || ethertype == 0x88a8) {
    if (len < net::kEthHeaderLen + 4) return false;
    ethertype = load_be16(f + 16);
    l.l3 += 4;
  }
  const uint8_t* ip = f + l.l3;
  if (ethertype == net::kEtherTypeIpv4) {
    if (len < l.l3 + net::kIpv4HeaderLen || ip[0] != 0x45) return false;  // version 4, no options
    if (load_be16(ip + 2) != len - l.l3) return false;                   // no padding, nothing cut
    if (load_be16(ip + 6) & 0x3fff) return false;                        // a fragment
    if (ip[9] != proto || !net::ipv4_header_checksum_ok(ip, net::kIpv4HeaderLen)) return false;
    if (load_be16(ip + 10) == 0xffff) return false;
    l.ip_id = load_be16(ip + 4);
    l.l4 = l.l3 + net::kIpv4HeaderLen;
  } else if (ethertype == net::kEtherTypeIpv6) {
    if (len < l.l3 + net::kIpv6HeaderLen || (ip[0] >> 4) != 6) return false;
    if (ip[6] != proto) return false;  // extension headers (and jumbograms) stay single
    if (load_be16(ip + 4) != len - l.l3 - net::kIpv6HeaderLen) return false;
    l.ipv6 = true;
    l.l4 = l.l3 + net::kIpv6HeaderLen;
  } else {
    return false;
  }
  *out = l;
  return true;
}

bool same_ip_layer(const uint8_t* hf, const IpLayer& head, const uint8_t* nf, const IpLayer& next, uint32_t k) {
  if (next.l3 != head.l3 || next.ipv6 != head.ipv6) return false;
  const uint32_t l3 = head.l3, l4 = head.l4;
  if (!same(hf, nf, 0, l3)) return false;
  if (head.ipv6) return same(hf, nf, l3, l3 + 4) && same(hf, nf, l3 + 6, l4);
  if (!same(hf, nf, l3, l3 + 2) || !same(hf, nf, l3 + 6, l3 + 10) || !same(hf, nf, l3 + 12, l4)) return false;
  return next.ip_id == static_cast<uint16_t>(head.ip_id + k);
}

uint32_t pseudo_sum(const uint8_t* f, const IpLayer& l, uint8_t proto, uint32_t l4_len) {
  const uint8_t* ip = f + l.l3;
  const uint32_t sum = l.ipv6 ? net::checksum_partial(ip + 8, 32) : net::checksum_partial(ip + 12, 8);
  return sum + proto + l4_len;
}

void write_super_ip(uint8_t* hdr, const IpLayer& l, uint32_t l4_len) {
  uint8_t* ip = hdr + l.l3;
  if (l.ipv6) {
    store_be16(ip + 4, static_cast<uint16_t>(l4_len));
  } else {
    store_be16(ip + 2, static_cast<uint16_t>(net::kIpv4HeaderLen + l4_len));
    store_be16(ip + 10, 0);
    store_be16(ip + 10, net::ipv4_header_checksum(ip, net::kIpv4HeaderLen));
  }
}

void write_vnet_hdr(uint8_t* vnet, uint8_t gso_type, uint32_t hdr_len, uint32_t gso_size, uint32_t csum_start,
                    uint32_t csum_offset) {
  vnet[0] = kNeedsCsum;
  vnet[1] = gso_type;
  le16(vnet + 2, hdr_len);
  le16(vnet + 4, gso_size);
  le16(vnet + 6, csum_start);
  le16(vnet + 8, csum_offset);
}

}  // namespace vitesse::gso
