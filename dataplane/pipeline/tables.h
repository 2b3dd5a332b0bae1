// The forwarding state a worker reads: built by the control thread as an
// immutable snapshot and published with one atomic pointer swap (gateway.h).
// SA objects are shared between consecutive snapshots (their counters and
// replay windows carry on); each belongs to exactly one queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "config_limits.h"
#include "esp/sa.h"
#include "net/headers.h"
#include "pipeline/inbound_policy.h"
#include "pipeline/peer_endpoint.h"
#include "pipeline/route_table.h"

namespace vitesse {

// Outer Ethernet + IP header prepended to every ESP packet of one route on one
// queue, precomputed so the hot path copies it and patches lengths. The
// lengths first, so that in QueueRoute an IPv4 template ends in the first
// cache line.
struct OuterTemplate {
  uint32_t ip_checksum_base;  // IPv4: partial checksum of the header with total length 0
  uint8_t len;    // 34 (IPv4) or 54 (IPv6)
  bool is_v6;
  uint8_t bytes[net::kEthHeaderLen + net::kIpv6HeaderLen];
};

// One route on one queue. Laid out for the packet: everything plain ESP over
// IPv4 reads per packet (the SA, the MTU, the flags and the outer template up
// to the end of its IPv4 header) is in the first cache line, so a packet
// touches one line of this table (two with an IPv6 template); ESP in UDP's
// template and endpoint follow (docs/dataplane.md, "Cache lines per packet").
struct alignas(64) QueueRoute {
  esp::OutboundSa* sa = nullptr;  // null until a key exchange installed one
  uint32_t mtu = 0;   // the largest inner packet: the tables' mtu, less the UDP header for ESP in UDP
  bool has_outer = false;  // the outer templates are valid (the public next hop is known)
  bool udp = false;   // the SA sends ESP in UDP (fixed for an SA's life, so known when the snapshot is built)
  // A route with several peers: 1 + its index in QueueTables::pair_sets (0:
  // one peer, this slot is the route's). This slot is then the first pair's,
  // and pipeline/pair_choice.h picks the packet's. Read per packet before
  // `sa`: in the first line, in what was padding (at most 65535 routes).
  uint16_t pair_set = 0;
  OuterTemplate outer;
  // ESP in UDP (an SA with udp_destination_port): the same header with UDP
  // as the protocol, towards the route's gateway; the peer's learned
  // endpoint, when there is one, replaces the address and port per packet.
  OuterTemplate outer_udp;
  PeerEndpoint* endpoint = nullptr;  // shared by snapshots, written by this queue's worker
};

// The pairs of a route with several peers on one queue (pipeline/pair_choice.h).
inline constexpr uint32_t kPairBuckets = 64;  // a power of two
inline constexpr uint32_t kMaxPairs = kMaxPeersPerRoute;
struct PairSet {
  uint32_t first;                // the route's first pair in QueueTables::pairs
  uint8_t bucket[kPairBuckets];  // flow hash → pair (0..pairs-1), usable ones only while there are any
};
static_assert(offsetof(QueueRoute, pair_set) + sizeof(uint16_t) <= offsetof(QueueRoute, outer), "pair_set sits in the first line's padding");
static_assert(offsetof(QueueRoute, outer) + offsetof(OuterTemplate, bytes) + net::kEthHeaderLen + net::kIpv4HeaderLen <= 64,
              "an IPv4 outer template must end in QueueRoute's first cache line");

// SPI → inbound SA and the index of its route (whose prefixes the inbound
// policy checks; 0: the route is gone, nothing passes), open addressing with
// linear probing. SPI 0 is reserved (RFC 4303 §2.1) and marks an empty slot.
class SpiTable {
 public:
  struct Entry { esp::InboundSa* sa; route::RouteIndex route; };
  void build(const std::vector<Entry>& sas);
  // The slot find() starts at, ahead of the find: a packet's SPI is known
  // before its turn in the batch (pipeline/inbound.cc).
  void prefetch(uint32_t spi) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash(spi) & mask_]);
  }
  esp::InboundSa* find(uint32_t spi, route::RouteIndex* route) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = hash(spi) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.spi == spi) {
        *route = s.route;
        return s.sa;
      }
      if (s.spi == 0) return nullptr;
    }
  }

 private:
  struct Slot { uint32_t spi; route::RouteIndex route; esp::InboundSa* sa; };
  static size_t hash(uint32_t spi) { return (spi * 0x9e3779b1u) >> 7; }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

struct QueueTables {
  net::IpAddr public_address;
  std::vector<QueueRoute> routes;  // indexed by route index (trie leaf value)
  SpiTable inbound;
  // Routes with several peers: each pair's slot, the route's pairs in a row.
  std::vector<PairSet> pair_sets;
  std::vector<QueueRoute> pairs;
};

struct Tables {
  // Interfaces.
  net::Mac private_mac, public_mac;
  net::Mac private_nexthop_mac;
  bool private_nexthop_known = false;
  bool has_private_v4 = false, has_private_v6 = false;
  uint32_t private_v4 = 0;
  net::Ip6 private_v6;
  uint32_t mtu = 1440;     // largest inner IP packet we encapsulate
  uint32_t tfc_pad_to = 0;  // 0: no traffic-flow confidentiality padding
  uint16_t nat_t_port = 0;  // ESP in UDP is received on this UDP port (0: off)

  std::shared_ptr<const RouteTable> routes;
  InboundPolicy inbound_policy;  // each route's prefixes, by route index
  std::vector<QueueTables> queues;
};

}  // namespace vitesse
