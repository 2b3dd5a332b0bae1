// Inbound policy (RFC 4301 §5.2, step 4): a packet that came out of an SA must
// be one that SA may carry. An SA belongs to a route; what arrives on it must
// come from that route's site and be meant for one host:
//   - the inner source lies in one of the route's prefixes, of the same IP
//     version (a route has one `net` today; the check takes a list);
//   - the inner source is no multicast or broadcast address (which a route
//     of 0.0.0.0/0 or ::/0 would otherwise admit);
//   - the inner destination is no multicast or broadcast address: IPv4
//     224.0.0.0/4 and everything above it (255.255.255.255 included; 240/4
//     is reserved and never a host), IPv6 ff00::/8.
// A subnet-directed broadcast of the site is not recognisable here: the
// private addresses carry no prefix length (docs/security.md).
//
// Without this, any host behind any peer could pose as any other site, or
// as the gateway's own LAN, and reach our hosts' broadcast and multicast
// listeners. The check costs a few compares on headers the decryption has
// just brought into cache.
#pragma once

#include <cstdint>

#include "net/headers.h"
#include "util/big_endian.h"

namespace vitesse {

// One prefix of a route, as masks over the address in two 64-bit words
// (IPv4: the address in the low 32 bits of the first word, the second zero).
struct InnerNet {
  uint64_t addr[2] = {0, 0};
  uint64_t mask[2] = {0, 0};
  bool is_v6 = false;
};

inline uint64_t prefix_mask64(unsigned len) { return len == 0 ? 0 : ~uint64_t{0} << (64 - (len > 64 ? 64 : len)); }

inline InnerNet make_inner_net(const net::IpAddr& a, uint8_t len) {
  InnerNet n;
  n.is_v6 = a.is_v6;
  if (a.is_v6) {
    n.mask[0] = prefix_mask64(len);
    n.mask[1] = len > 64 ? prefix_mask64(len - 64) : 0;
    n.addr[0] = load_be64(a.v6.b) & n.mask[0];
    n.addr[1] = load_be64(a.v6.b + 8) & n.mask[1];
  } else {
    n.mask[0] = len == 0 ? 0 : (0xffffffffu << (32 - len)) & 0xffffffffu;
    n.addr[0] = a.v4 & n.mask[0];
  }
  return n;
}

// `ip` is a whole inner IPv4 (20+ octets) or IPv6 (40+ octets) header, as
// decapsulation leaves it; nets[0..count) are the SA's route's prefixes.
inline bool inbound_policy_allows(const InnerNet* nets, uint32_t count, const uint8_t* ip, bool v6) {
  if (v6) {
    if (ip[8] == 0xff || ip[24] == 0xff) return false;  // multicast source or destination
    const uint64_t s0 = load_be64(ip + 8), s1 = load_be64(ip + 16);
    for (uint32_t i = 0; i < count; i++) {
      const InnerNet& n = nets[i];
      if (n.is_v6 && ((s0 ^ n.addr[0]) & n.mask[0]) == 0 && ((s1 ^ n.addr[1]) & n.mask[1]) == 0) return true;
    }
    return false;
  }
  const uint32_t src = net::load32(ip + 12), dst = net::load32(ip + 16);
  if (src >= 0xe0000000u || dst >= 0xe0000000u) return false;  // multicast, reserved, broadcast
  for (uint32_t i = 0; i < count; i++) {
    const InnerNet& n = nets[i];
    if (!n.is_v6 && ((src ^ n.addr[0]) & n.mask[0]) == 0) return true;
  }
  return false;
}

}  // namespace vitesse
