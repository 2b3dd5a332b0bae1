// ESP in UDP (RFC 3948, DESIGN.md §8): the UDP header the data plane writes
// in front of ESP, and how it sorts what arrives on the NAT-T port.
#pragma once

#include <cstdint>

#include "net/headers.h"

namespace vitesse::net {

inline constexpr uint32_t kUdpHeaderLen = 8;
inline constexpr uint16_t kDefaultNatTPort = 4500;
// RFC 3948 §2.2: a key-exchange message follows four zero octets (the
// non-ESP marker: an SPI is never 0); §2.3: a NAT keepalive is one 0xFF.
inline constexpr uint32_t kNonEspMarkerLen = 4;
inline constexpr uint8_t kNatKeepalive = 0xff;

enum class NatTPayload : uint8_t { esp, key_exchange, keepalive, truncated };

// What a UDP payload on the NAT-T port carries (`len` octets at `p`).
inline NatTPayload classify_nat_t(const uint8_t* p, uint32_t len) {
  if (len == 1 && p[0] == kNatKeepalive) return NatTPayload::keepalive;
  if (len < kNonEspMarkerLen) return NatTPayload::truncated;
  if (load_be32(p) == 0) return NatTPayload::key_exchange;
  return NatTPayload::esp;
}

// Sum of the IPv4/IPv6 pseudo-header (RFC 768, RFC 8200 §8.1) for UDP of
// `udp_len` octets; `ip` is the IP header (addresses read from it).
inline uint32_t udp_pseudo_header_sum(const uint8_t* ip, bool v6, uint32_t udp_len) {
  uint32_t sum = v6 ? checksum_partial(ip + 8, 32) : checksum_partial(ip + 12, 8);
  return sum + kProtoUdp + udp_len;
}

// The checksum field for a UDP datagram whose header (checksum 0) and
// payload are at `udp`: 0xffff for a computed 0 (RFC 768).
inline uint16_t udp_checksum(const uint8_t* ip, bool v6, const uint8_t* udp, uint32_t udp_len) {
  const uint16_t c = static_cast<uint16_t>(~checksum_fold(checksum_partial(udp, udp_len, udp_pseudo_header_sum(ip, v6, udp_len))));
  return c == 0 ? 0xffff : c;
}

// A received datagram's checksum is right (summed with it, all ones).
inline bool udp_checksum_ok(const uint8_t* ip, bool v6, const uint8_t* udp, uint32_t udp_len) {
  return checksum_fold(checksum_partial(udp, udp_len, udp_pseudo_header_sum(ip, v6, udp_len))) == 0xffff;
}

}  // namespace vitesse::net
