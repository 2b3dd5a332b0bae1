// Which pair of a route with several peers carries an outbound packet
// (docs/scale-out.md, "Several peers per route"): a hash of the packet's
// flow picks one of the route's pair-choice buckets, and each bucket names a
// usable pair. The control thread fills the buckets when it builds a
// snapshot (gateway.cc): a bucket keeps its own pair while that one is
// usable, so flows on the pairs that stay never move; the buckets of a pair
// that is taken out (its peer down or draining, its SA gone) are shared
// among the others, and go back to it when it returns.
//
// Kept apart from outbound.cc: one call per packet, no allocation, and only
// for routes with several peers (one compare for the others).
#pragma once

#include <cstdint>
#include <cstring>

#include "net/headers.h"
#include "pipeline/tables.h"

namespace vitesse {

namespace pair_choice_detail {
inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
}  // namespace pair_choice_detail

// The flow of an IP packet the outbound path has checked (IPv4: ihl and
// total length within the frame; IPv6: the fixed header within it): source,
// destination, protocol and, for TCP, UDP, SCTP and UDP-Lite, the ports.
// Fragments of IPv4 (offset or MF set) and IPv6 packets whose next header is
// not one of those (extension headers, fragments) hash without ports, so
// all fragments of a packet take one pair. Reads only the first `ip_len`
// octets. Multiply-xorshift: three multiplications (a murmur-style
// finaliser with two more cost 40 % more per packet for no better spread
// over 64 buckets); the caller uses the low bits of what it returns, the
// high half of the last product.
inline uint32_t flow_hash(const uint8_t* ip, uint32_t ip_len, bool v6) {
  using namespace pair_choice_detail;
  uint64_t x;
  uint8_t proto;
  uint32_t l4 = 0;  // offset of the ports, 0: none
  if (!v6) {
    proto = ip[9];
    x = uint64_t{load32(ip + 12)} << 32 | load32(ip + 16);
    const bool fragment = (load_be16(ip + 6) & 0x3fffu) != 0;
    if (!fragment) l4 = (ip[0] & 0xfu) * 4u;
  } else {
    proto = ip[6];
    x = (load64(ip + 8) ^ load64(ip + 16)) * 0xc4ceb9fe1a85ec53ULL ^ load64(ip + 24) ^ (load64(ip + 32) << 1);
    l4 = net::kIpv6HeaderLen;
  }
  const bool ports = proto == 6 || proto == net::kProtoUdp || proto == 132 || proto == 136;
  if (ports && l4 && l4 + 4 <= ip_len) x ^= uint64_t{load32(ip + l4)} * 0x9e3779b97f4a7c15ULL;
  x ^= proto;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 32;
  x *= 0x9e3779b97f4a7c15ULL;
  return static_cast<uint32_t>(x >> 32);
}

// The route's slot for this packet: `head` itself for a route with one peer.
inline const QueueRoute& choose_pair(const QueueTables& qt, const QueueRoute& head, const uint8_t* ip, uint32_t ip_len,
                                     bool v6) {
  if (__builtin_expect(head.pair_set == 0, 1)) return head;
  const PairSet& s = qt.pair_sets[head.pair_set - 1];
  return qt.pairs[s.first + s.bucket[flow_hash(ip, ip_len, v6) & (kPairBuckets - 1)]];
}

}  // namespace vitesse
