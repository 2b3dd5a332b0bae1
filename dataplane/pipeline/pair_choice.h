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
inline uint64_t mix(uint64_t h) {  // murmur3's finaliser
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}
}  // namespace pair_choice_detail

// The flow of an IP packet the outbound path has checked (IPv4: ihl and
// total length within the frame; IPv6: the fixed header within it): source,
// destination, protocol and, for TCP, UDP, SCTP and UDP-Lite, the ports.
// Fragments of IPv4 (offset or MF set) and IPv6 packets whose next header is
// not one of those (extension headers, fragments) hash without ports, so
// all fragments of a packet take one pair. Reads only the first `ip_len`
// octets.
inline uint32_t flow_hash(const uint8_t* ip, uint32_t ip_len, bool v6) {
  using namespace pair_choice_detail;
  uint64_t h;
  uint8_t proto;
  uint32_t l4 = 0;  // offset of the ports, 0: none
  if (!v6) {
    const uint32_t ihl = (ip[0] & 0xfu) * 4u;
    proto = ip[9];
    h = (uint64_t{load32(ip + 12)} << 32 | load32(ip + 16)) * 0x9e3779b97f4a7c15ULL;
    const bool fragment = (load_be16(ip + 6) & 0x3fffu) != 0;
    if (!fragment) l4 = ihl;
  } else {
    proto = ip[6];
    h = 0;
    for (uint32_t i = 8; i < 40; i += 8) h = mix(h ^ (uint64_t{load32(ip + i)} << 32 | load32(ip + i + 4)));
    l4 = net::kIpv6HeaderLen;
  }
  const bool ports = proto == 6 || proto == net::kProtoUdp || proto == 132 || proto == 136;
  if (ports && l4 && l4 + 4 <= ip_len) h ^= uint64_t{load32(ip + l4)} << 8;
  return static_cast<uint32_t>(mix(h ^ proto));
}

// The route's slot for this packet: `head` itself for a route with one peer.
inline const QueueRoute& choose_pair(const QueueTables& qt, const QueueRoute& head, const uint8_t* ip, uint32_t ip_len,
                                     bool v6) {
  if (__builtin_expect(head.pair_set == 0, 1)) return head;
  const PairSet& s = qt.pair_sets[head.pair_set - 1];
  return qt.pairs[s.first + s.bucket[flow_hash(ip, ip_len, v6) & (kPairBuckets - 1)]];
}

}  // namespace vitesse
