#include "net/headers.h"

namespace vitesse::net {

uint32_t checksum_partial(const uint8_t* p, size_t len, uint32_t sum) {
  uint64_t s = sum;
  for (; len >= 2; p += 2, len -= 2) s += load_be16(p);
  if (len) s += static_cast<uint32_t>(p[0]) << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint32_t>(s);
}

void write_ipv4_header(uint8_t* ip, uint16_t total_len, uint8_t proto, uint32_t src, uint32_t dst, uint16_t id) {
  ip[0] = 0x45;
  ip[1] = 0;
  store_be16(ip + 2, total_len);
  store_be16(ip + 4, id);
  store_be16(ip + 6, 0);
  ip[8] = 64;
  ip[9] = proto;
  store_be16(ip + 10, 0);
  store_be32(ip + 12, src);
  store_be32(ip + 16, dst);
  store_be16(ip + 10, ipv4_header_checksum(ip, kIpv4HeaderLen));
}

void write_ipv6_header(uint8_t* ip, uint16_t payload_len, uint8_t next_header, const Ip6& src, const Ip6& dst) {
  store_be32(ip, 0x60000000u);
  store_be16(ip + 4, payload_len);
  ip[6] = next_header;
  ip[7] = 64;
  std::memcpy(ip + 8, src.b, 16);
  std::memcpy(ip + 24, dst.b, 16);
}

bool complete_transport_checksum(uint8_t* f, size_t len) {
  if (len < kEthHeaderLen) return false;
  uint16_t type = load_be16(f + 12);
  uint8_t* ip = f + kEthHeaderLen;
  size_t avail = len - kEthHeaderLen;
  uint8_t proto;
  uint8_t* l4;
  size_t l4_len;
  uint32_t sum;
  if (type == kEtherTypeIpv4 && avail >= kIpv4HeaderLen) {
    size_t ihl = (ip[0] & 0xfu) * 4u;
    size_t total = load_be16(ip + 2);
    if (ihl < kIpv4HeaderLen || total < ihl || total > avail || (load_be16(ip + 6) & 0x3fff)) return false;
    proto = ip[9];
    l4 = ip + ihl;
    l4_len = total - ihl;
    sum = checksum_partial(ip + 12, 8);
  } else if (type == kEtherTypeIpv6 && avail >= kIpv6HeaderLen) {
    size_t payload = load_be16(ip + 4);
    if (kIpv6HeaderLen + payload > avail) return false;
    proto = ip[6];
    l4 = ip + kIpv6HeaderLen;
    l4_len = payload;
    sum = checksum_partial(ip + 8, 32);
  } else {
    return false;
  }
  size_t at;
  if (proto == 6 && l4_len >= 20) at = 16;
  else if (proto == kProtoUdp && l4_len >= 8) at = 6;
  else return false;
  sum += proto + static_cast<uint32_t>(l4_len);
  store_be16(l4 + at, 0);
  uint16_t c = static_cast<uint16_t>(~checksum_fold(checksum_partial(l4, l4_len, sum)));
  if (c == 0 && proto == kProtoUdp) c = 0xffff;  // 0 means "no checksum" in UDP
  store_be16(l4 + at, c);
  return true;
}

uint32_t flow_hash(const uint8_t* f, size_t len) {
  // FNV-1a over the fields that identify a flow; good enough to spread flows
  // and cheap. Frames too short to parse all hash to queue 0's bucket.
  uint32_t h = 2166136261u;
  auto mix = [&h](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 16777619u; }
  };
  if (len < kEthHeaderLen + 1) return 0;
  uint16_t type = load_be16(f + 12);
  const uint8_t* ip = f + kEthHeaderLen;
  size_t iplen = len - kEthHeaderLen;
  uint8_t proto = 0;
  const uint8_t* l4 = nullptr;
  if (type == kEtherTypeIpv4 && iplen >= kIpv4HeaderLen) {
    mix(ip + 12, 8);
    proto = ip[9];
    size_t ihl = (ip[0] & 0xf) * 4u;
    bool first_fragment = (load_be16(ip + 6) & 0x1fff) == 0;
    if (first_fragment && iplen >= ihl + 4) l4 = ip + ihl;
  } else if (type == kEtherTypeIpv6 && iplen >= kIpv6HeaderLen) {
    mix(ip + 8, 32);
    proto = ip[6];
    if (iplen >= kIpv6HeaderLen + 4) l4 = ip + kIpv6HeaderLen;
  } else {
    return 0;
  }
  if (l4 && (proto == 6 || proto == kProtoUdp)) mix(l4, 4);
  mix(&proto, 1);
  return h;
}

}  // namespace vitesse::net
