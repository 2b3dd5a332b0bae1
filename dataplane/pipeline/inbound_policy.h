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
// listeners. The check is a few compares on headers the decryption has just
// brought into cache; the prefixes are packed per IP version (8 octets per
// IPv4 prefix) so that a thousand routes' worth stays in L1 or L2.
#pragma once

#include <cstdint>
#include <vector>

#include "net/headers.h"
#include "route/prefix.h"
#include "route/route_index.h"
#include "util/big_endian.h"

namespace vitesse {

class InboundPolicy {
  // One route's prefixes: its first IPv4 prefix in the range itself (a
  // route has one `net` today: the check is one compare on the line it
  // reads anyway, no loop), widened so that a route without one has a
  // prefix no source matches (bit 32); the others in v4_[begin4, end4) and
  // v6_[begin6, end6).
  struct Range {
    uint64_t first4_addr = uint64_t{1} << 32, first4_mask = uint64_t{1} << 32;
    uint32_t begin4 = 0, end4 = 0, begin6 = 0, end6 = 0;
  };
  struct Net4 { uint32_t addr, mask; };
  struct Net6 { uint64_t addr[2], mask[2]; };

 public:
  // Route indices are assigned in order from 1 (index 0, an SA whose route
  // is gone, admits nothing).
  void add_route(const std::vector<route::Prefix>& nets) {
    if (routes_.empty()) routes_.push_back({});
    Range r;
    r.begin4 = static_cast<uint32_t>(v4_.size());
    r.begin6 = static_cast<uint32_t>(v6_.size());
    bool first4 = true;
    for (const route::Prefix& n : nets) {
      if (n.family == route::Family::ipv6) {
        Net6 p;
        p.mask[0] = mask64(n.length);
        p.mask[1] = n.length > 64 ? mask64(n.length - 64) : 0;
        p.addr[0] = load_be64(n.bytes.data()) & p.mask[0];
        p.addr[1] = load_be64(n.bytes.data() + 8) & p.mask[1];
        v6_.push_back(p);
      } else {
        const uint32_t mask = n.length == 0 ? 0 : ~uint32_t{0} << (32 - n.length);
        const uint32_t addr = load_be32(n.bytes.data()) & mask;
        if (first4) {
          r.first4_addr = addr;
          r.first4_mask = mask;
          first4 = false;
        } else {
          v4_.push_back({addr, mask});
        }
      }
    }
    r.end4 = static_cast<uint32_t>(v4_.size());
    r.end6 = static_cast<uint32_t>(v6_.size());
    routes_.push_back(r);
  }

  // What the per-packet check reads, as plain pointers taken once per batch
  // (stores into packet memory would otherwise make the compiler reload the
  // vectors' pointers for every packet).
  class View {
   public:
    // `ip` is a whole inner IPv4 (20+ octets) or IPv6 (40+ octets) header, as
    // decapsulation leaves it; `route` an index the SPI table gave.
    bool allows(route::RouteIndex route, const uint8_t* ip, bool v6) const {
      if (route >= count_) return false;
      const Range& r = routes_[route];
      if (v6) {
        if (ip[8] == 0xff || ip[24] == 0xff) return false;  // multicast source or destination
        const uint64_t s0 = load_be64(ip + 8), s1 = load_be64(ip + 16);
        for (uint32_t i = r.begin6; i < r.end6; i++) {
          const Net6& n = v6_[i];
          if (((s0 ^ n.addr[0]) & n.mask[0]) == 0 && ((s1 ^ n.addr[1]) & n.mask[1]) == 0) return true;
        }
        return false;
      }
      const uint32_t src = load_be32(ip + 12), dst = load_be32(ip + 16);
      if ((src >= 0xe0000000u) | (dst >= 0xe0000000u)) return false;  // multicast, reserved, broadcast
      if (((uint64_t{src} ^ r.first4_addr) & r.first4_mask) == 0) return true;
      // Pointers, not indices: the index loop spilled its bounds to the stack.
      for (const Net4 *n = v4_ + r.begin4, *end = v4_ + r.end4; n != end; ++n) {
        if (((src ^ n->addr) & n->mask) == 0) return true;
      }
      return false;
    }

   private:
    friend class InboundPolicy;
    const Range* routes_ = nullptr;
    size_t count_ = 0;
    const Net4* v4_ = nullptr;
    const Net6* v6_ = nullptr;
  };
  View view() const {
    View v;
    v.routes_ = routes_.data();
    v.count_ = routes_.size();
    v.v4_ = v4_.data();
    v.v6_ = v6_.data();
    return v;
  }

 private:
  static uint64_t mask64(unsigned len) { return len == 0 ? 0 : ~uint64_t{0} << (64 - (len > 64 ? 64 : len)); }

  std::vector<Range> routes_;  // by route index
  std::vector<Net4> v4_;
  std::vector<Net6> v6_;
};

}  // namespace vitesse
