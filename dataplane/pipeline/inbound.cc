// Public → private, in packet order:
//   parse Ethernet and outer IP → must be for this queue's address →
//   refused headers (net/header_policy.h) dropped →
//   ESP (fragments dropped) / key exchange, ICMP, ARP, ND to the control plane
//   / UDP on the NAT-T port (RFC 3948): checked, keepalives consumed, key
//   exchange (after the non-ESP marker) to the control plane, else ESP
//   → SPI → inbound SA → replay pre-check, authenticated decryption, replay
//   window update, trailer (esp/decap_steps.h: the steps of
//   esp::decapsulate_batch, run in this file's loops) → inbound policy:
//   inner source in the SA's route, no multicast or broadcast (dropped per
//   packet, pipeline/inbound_policy.h) → refused inner headers dropped
//   (net/header_policy.h) → for one of our own addresses: punt
//   (answered back through the tunnel) → inner TTL / hop limit (expired: punt
//   for ICMP time exceeded) → Ethernet header for the private next hop →
//   private link. An ESP-in-UDP packet that authenticated and is the newest
//   its SA has seen moves its route's peer endpoint to where it came from.
#include <algorithm>

#include "esp/decap.h"
#include "esp/decap_steps.h"
#include "net/header_policy.h"
#include "net/udp_encap.h"
#include "pipeline/prefetch_sa.h"
#include "pipeline/worker.h"

namespace vitesse {

namespace {

Counter decap_counter(esp::DecapResult r) {
  switch (r) {
    case esp::DecapResult::truncated: return Counter::public_drop_truncated;
    case esp::DecapResult::replay: return Counter::public_drop_replay;
    case esp::DecapResult::authentication: return Counter::public_drop_authentication;
    case esp::DecapResult::bad_trailer: return Counter::public_drop_bad_trailer;
    case esp::DecapResult::bad_next_header: return Counter::public_drop_bad_next_header;
    case esp::DecapResult::ok: break;
  }
  return Counter::public_drop_bad_header;
}

// A decrypted packet for the gateway itself: its private address, or this
// queue's public one (the slow path answers it back through the tunnel).
// Taken from the tables once per batch: the packets' bytes are uint8_t,
// whose stores may alias anything, so the compiler reloaded every table
// field after each write into a packet.
struct OwnAddresses {
  const Tables& t;
  const QueueTables& qt;
  // IPv4, widened: an address we do not have is 2^32, which no
  // destination equals (two compares, no flags to test).
  uint64_t private_v4, public_v4;
  OwnAddresses(const Tables& t, const QueueTables& qt)
      : t(t),
        qt(qt),
        private_v4(t.has_private_v4 ? uint64_t{t.private_v4} : uint64_t{1} << 32),
        public_v4(qt.public_address.is_v6 ? uint64_t{1} << 32 : uint64_t{qt.public_address.v4}) {}
  bool contains(const uint8_t* ip, bool v6) const {
    if (v6) [[unlikely]] {
      const uint8_t* dst = ip + 24;
      return (t.has_private_v6 && std::memcmp(dst, t.private_v6.b, 16) == 0) ||
             (qt.public_address.is_v6 && std::memcmp(dst, qt.public_address.v6.b, 16) == 0);
    }
    const uint64_t dst = load_be32(ip + 16);
    return (dst == private_v4) | (dst == public_v4);
  }
};

// The private side's Ethernet header, as two overlapping 8-octet words held
// in registers for the batch (destination and the source's first two
// octets; the source and the type, one word per IP version).
struct PrivateEthernet {
  uint64_t head, tail4, tail6;
  explicit PrivateEthernet(const Tables& t) {
    uint8_t h[14];
    net::write_eth_header(h, t.private_nexthop_mac, t.private_mac, net::kEtherTypeIpv4);
    std::memcpy(&head, h, 8);
    std::memcpy(&tail4, h + 6, 8);
    store_be16(h + 12, net::kEtherTypeIpv6);
    std::memcpy(&tail6, h + 6, 8);
  }
  void write(uint8_t* eth, bool v6) const {
    const uint64_t tail = v6 ? tail6 : tail4;
    std::memcpy(eth, &head, 8);
    std::memcpy(eth + 6, &tail, 8);
  }
};

Counter refused(net::HeaderVerdict v) {
  switch (v) {
    case net::HeaderVerdict::source_route: return Counter::public_drop_source_route;
    case net::HeaderVerdict::jumbogram: return Counter::public_drop_jumbogram;
    case net::HeaderVerdict::malformed:
    case net::HeaderVerdict::ok: break;
  }
  return Counter::public_drop_bad_header;
}

// UDP to one of our public addresses: for the NAT-T port, what to do with it.
struct NatTVerdict {
  enum Kind : uint8_t { other_udp, esp, keepalive, key_exchange, drop } kind;
  Counter reason;  // drop
};

// Inlined: as a call it cost 47 instructions per packet (callgrind), more than its work.
[[gnu::always_inline]] inline NatTVerdict nat_t_verdict(const uint8_t* ip, bool v6, uint32_t hdr_len, uint32_t ip_len,
                                                        uint16_t nat_t_port) {
  const uint8_t* udp = ip + hdr_len;
  const uint32_t avail = ip_len - hdr_len;
  if (nat_t_port == 0 || avail < net::kUdpHeaderLen || load_be16(udp + 2) != nat_t_port) return {NatTVerdict::other_udp, {}};
  if (load_be16(udp + 4) != avail) return {NatTVerdict::drop, Counter::public_drop_udp_length};
  // IPv4: 0 means no checksum (RFC 768; RFC 3948 senders use it). IPv6
  // receivers drop a zero checksum (RFC 8200 §8.1).
  const uint16_t sum = load_be16(udp + 6);
  if ((sum != 0 || v6) && !net::udp_checksum_ok(ip, v6, udp, avail)) return {NatTVerdict::drop, Counter::public_drop_udp_checksum};
  switch (net::classify_nat_t(udp + net::kUdpHeaderLen, avail - net::kUdpHeaderLen)) {
    case net::NatTPayload::keepalive: return {NatTVerdict::keepalive, {}};
    case net::NatTPayload::key_exchange: return {NatTVerdict::key_exchange, {}};
    case net::NatTPayload::truncated: return {NatTVerdict::drop, Counter::public_drop_truncated};
    case net::NatTPayload::esp: break;
  }
  return {NatTVerdict::esp, {}};
}

// An ESP-in-UDP packet that authenticated: where it came from (its outer
// source address and UDP source port), copied before the packet is
// forwarded or dropped, and its number, to compare with the window's top
// once the batch is through.
struct EndpointSighting {
  const esp::InboundSa* sa;
  route::RouteIndex route;
  uint32_t seq_low;
  uint16_t port;
  bool v6;
  uint8_t address[16];  // IPv4: the first four, the rest zero
};

// The packet was the newest its SA has seen (its number is the window's top
// after the batch: at most one per SA and batch), so the peer is there now:
// does that move the route's endpoint? An endpoint not learned yet is the
// route's gateway and the SA's port.
bool moves_endpoint(const QueueRoute& qr, const EndpointSighting& s) {
  const PeerEndpoint* ep = qr.endpoint;
  if (!ep) return false;
  if (ep->is_learned()) return !ep->same(s.address, s.port);
  if (!qr.has_outer || !qr.sa || qr.sa->udp_destination_port != s.port) return true;
  const uint8_t* dst = qr.outer_udp.bytes + net::kEthHeaderLen + (s.v6 ? 24 : 16);
  return std::memcmp(dst, s.address, s.v6 ? 16 : 4) != 0;
}

// Endpoint learning over the batch's authenticated ESP-in-UDP packets, in
// packet order; returns how many moved an endpoint.
[[gnu::cold, gnu::noinline]] uint32_t learn_endpoints(const QueueTables& qt, const EndpointSighting* seen, uint32_t n) {
  uint32_t moves = 0;
  for (uint32_t i = 0; i < n; i++) {
    const EndpointSighting& s = seen[i];
    if (static_cast<uint32_t>(s.sa->window.top()) != s.seq_low) continue;
    const QueueRoute& qr = qt.routes[s.route];
    if (!moves_endpoint(qr, s)) continue;
    qr.endpoint->move_to(s.address, s.port);
    moves++;
  }
  return moves;
}

// Records where an authenticated ESP-in-UDP packet came from: `outer` is its
// outer IP header, `p` decapsulated (its ESP header, and the UDP header in
// front of it, are still as they arrived).
[[gnu::cold, gnu::noinline]] void sight(EndpointSighting& s, const esp::InboundSa* sa, route::RouteIndex route,
                                        uint64_t seq, const uint8_t* outer, const Packet* p) {
  s.sa = sa;
  s.route = route;
  s.seq_low = static_cast<uint32_t>(seq);
  s.v6 = (outer[0] >> 4) == 6;
  s.port = load_be16(p->data - esp::kEspHeaderLen - net::kUdpHeaderLen);
  std::memset(s.address, 0, sizeof s.address);
  std::memcpy(s.address, outer + (s.v6 ? 8 : 12), s.v6 ? 16 : 4);
}

}  // namespace

void Worker::inbound(const Tables& t, Packet** pkts, uint32_t n) {
  const QueueTables& qt = t.queues[queue_];
  Packet* esp_pkts[kBatch];
  esp::InboundSa* sas[kBatch];
  route::RouteIndex routes[kBatch];
  // ESP in UDP: which of the batch's packets (a bit each), and their outer
  // IP headers (set for those only).
  uint64_t udp_mask = 0;
  const uint8_t* udp_outer[kBatch];
  uint32_t m = 0;
  uint64_t rx_bytes = 0;
  // Loaded once per batch (see OwnAddresses).
  const bool public_v4 = !qt.public_address.is_v6;
  const uint32_t public_address_v4 = qt.public_address.v4;
  const uint16_t nat_t_port = t.nat_t_port;

  // Three passes: the parse pass below checks each packet and prefetches
  // its SPI table slot; the lookups follow in a second, short pass over what
  // it kept, so they (and the SA prefetches they start) do not wait on the
  // slots one by one; the third queues the decryptions (up to kEspChunk at a
  // time) and then finishes, checks and forwards each packet in one loop.
  // A separate prefetch pass in front, which read every packet's headers
  // once more, cost 29 instructions a packet (docs/dataplane.md, "Round
  // five, passes"); the lookups inside the third pass, without the second,
  // 3 more and no SA prefetched ahead ("Round eight, inbound in fewer
  // passes").
  //
  // A kept packet leaves the parse pass as ESP (its data and length those of
  // the ESP header on), with its SPI beside it; ESP in UDP is marked by a bit.
  Packet* parsed[kBatch];
  uint32_t spi_of[kBatch];
  uint64_t udp_parsed = 0;
  const uint8_t* udp_ip_of[kBatch];  // ESP in UDP: the outer IP header (only those set)
  uint32_t np = 0;

  for (uint32_t i = 0; i < n; i++) {
    Packet* p = pkts[i];
    rx_bytes += p->len;
    if (p->len < net::kEthHeaderLen) { drop(p, Counter::public_drop_bad_header); continue; }
    uint16_t type = load_be16(p->data + 12);
    uint8_t* ip = p->data + net::kEthHeaderLen;
    uint32_t avail = p->len - net::kEthHeaderLen;
    uint32_t hdr_len, ip_len;
    uint32_t esp_off;  // the ESP header, from the IP header
    bool udp = false;

    if (type == net::kEtherTypeIpv4) {
      if (avail < net::kIpv4HeaderLen || (ip[0] >> 4) != 4) { drop(p, Counter::public_drop_bad_header); continue; }
      hdr_len = (ip[0] & 0xfu) * 4u;
      ip_len = load_be16(ip + 2);
      if (hdr_len < net::kIpv4HeaderLen || ip_len < hdr_len || ip_len > avail ||
          !net::ipv4_header_checksum_ok(ip, hdr_len)) {
        drop(p, Counter::public_drop_bad_header);
        continue;
      }
      if (!public_v4 || load_be32(ip + 16) != public_address_v4) {
        drop(p, Counter::public_drop_not_for_us);
        continue;
      }
      if (auto v = net::ipv4_header_verdict(ip, hdr_len); v != net::HeaderVerdict::ok) { drop(p, refused(v)); continue; }
      uint8_t proto = ip[9];
      bool fragment = (load_be16(ip + 6) & 0x3fff) != 0;  // MF set or offset > 0
      esp_off = hdr_len;
      // Plain ESP takes the one compare it always took; ESP in UDP the branch.
      if (proto != net::kProtoEsp) {
        NatTVerdict v{NatTVerdict::other_udp, {}};
        if (proto == net::kProtoUdp && !fragment) v = nat_t_verdict(ip, false, hdr_len, ip_len, nat_t_port);
        if (v.kind == NatTVerdict::drop) { drop(p, v.reason); continue; }
        if (v.kind == NatTVerdict::keepalive) { counters_.add(Counter::nat_keepalives); pool_.free(p); continue; }
        if (v.kind != NatTVerdict::esp) {
          if (proto == net::kProtoUdp || proto == net::kProtoIcmp) punt(p, Side::public_side, PuntReason::control);
          else drop(p, Counter::public_drop_unknown_protocol);
          continue;
        }
        udp = true;
        esp_off = hdr_len + net::kUdpHeaderLen;
      }
      if (fragment) { drop(p, Counter::public_drop_fragment); continue; }
    } else if (type == net::kEtherTypeIpv6) {
      if (avail < net::kIpv6HeaderLen || (ip[0] >> 4) != 6) { drop(p, Counter::public_drop_bad_header); continue; }
      hdr_len = net::kIpv6HeaderLen;
      ip_len = net::kIpv6HeaderLen + load_be16(ip + 4);
      if (ip_len > avail) { drop(p, Counter::public_drop_bad_header); continue; }
      const uint8_t* dst = ip + 24;
      uint8_t next = ip[6];
      if (dst[0] == 0xff) {  // multicast: neighbour discovery
        punt(p, Side::public_side, PuntReason::control);
        continue;
      }
      if (!qt.public_address.is_v6 || std::memcmp(dst, qt.public_address.v6.b, 16) != 0) {
        drop(p, Counter::public_drop_not_for_us);
        continue;
      }
      esp_off = hdr_len;
      if (next != net::kProtoEsp) {
        NatTVerdict v{NatTVerdict::other_udp, {}};
        if (next == net::kProtoUdp) v = nat_t_verdict(ip, true, hdr_len, ip_len, nat_t_port);
        if (v.kind == NatTVerdict::drop) { drop(p, v.reason); continue; }
        if (v.kind == NatTVerdict::keepalive) { counters_.add(Counter::nat_keepalives); pool_.free(p); continue; }
        if (v.kind != NatTVerdict::esp) {
          if (next == net::kProtoIpv6Frag) drop(p, Counter::public_drop_fragment);
          else if (next == net::kProtoUdp || next == net::kProtoIcmpv6) punt(p, Side::public_side, PuntReason::control);
          else drop(p, Counter::public_drop_unknown_protocol);
          continue;
        }
        udp = true;
        esp_off = hdr_len + net::kUdpHeaderLen;
      }
    } else if (type == net::kEtherTypeArp) {
      punt(p, Side::public_side, PuntReason::control);
      continue;
    } else {
      drop(p, Counter::public_drop_unknown_ethertype);
      continue;
    }

    uint32_t esp_len = ip_len - esp_off;
    if (esp_len < 4) { drop(p, Counter::public_drop_truncated); continue; }
    uint8_t* esp = ip + esp_off;
    const uint32_t spi = load_be32(esp);
    qt.inbound.prefetch(spi);
    // The outer headers stay in front of the ESP header, as they arrived
    // (endpoint learning reads them).
    p->data = esp;
    p->len = esp_len;
    parsed[np] = p;
    spi_of[np] = spi;
    if (udp) [[unlikely]] {
      udp_parsed |= uint64_t{1} << np;
      udp_ip_of[np] = ip;
    }
    np++;
  }

  for (uint32_t j = 0; j < np; j++) {
    Packet* p = parsed[j];
    route::RouteIndex route = 0;
    esp::InboundSa* sa = qt.inbound.find(spi_of[j], &route);
    if (!sa) { drop(p, Counter::public_drop_unknown_spi); continue; }
    prefetch_sa(sa);
    esp_pkts[m] = p;
    sas[m] = sa;
    routes[m] = route;
    if (udp_parsed != 0) [[unlikely]] {
      if (udp_parsed >> j & 1) {
        udp_mask |= uint64_t{1} << m;
        udp_outer[m] = udp_ip_of[j];
      }
    }
    m++;
  }
  counters_.add(Counter::public_rx_packets, n);
  counters_.add(Counter::public_rx_bytes, rx_bytes);
  if (m == 0) return;

  const InboundPolicy::View policy = t.inbound_policy.view();
  const OwnAddresses own(t, qt);
  const PrivateEthernet eth(t);
  const bool nexthop_known = t.private_nexthop_known;
  Packet* out[kBatch];
  uint32_t k = 0;
  uint64_t tx_bytes = 0;
  uint32_t decapsulated = 0;
  EndpointSighting seen[kBatch];
  uint32_t nseen = 0;
  // Decapsulation's steps (esp/decap_steps.h) in this function's loops: each
  // packet's verdict is acted on where decryption is finished, not passed
  // through an array to a pass of its own (docs/dataplane.md, "Round eight,
  // inbound in fewer passes").
  esp::OpenBatch batch;
  for (uint32_t i = 0; i < m;) {
    // Queue up to a batch of jobs, or up to a packet that must wait for the
    // ones queued (it is prepared again in the next round).
    for (const uint32_t end = std::min(m, i + esp::kEspChunk); i < end;) {
      bool wait = false;
      const esp::DecapResult r = esp::prepare(*sas[i], *esp_pkts[i], i, batch, &wait);
      if (wait) [[unlikely]] break;
      if (r != esp::DecapResult::ok) [[unlikely]] drop(esp_pkts[i], decap_counter(r));
      i++;
    }
    if (batch.n == 0) continue;
    batch.open();
    for (uint32_t j = 0; j < batch.n; j++) {
      const uint32_t x = batch.packet[j];
      Packet* p = esp_pkts[x];
      esp::InboundSa* sa = sas[x];
      esp::InnerHeader inner;
      const esp::DecapResult r = esp::settle(*sa, *p, batch, j, &inner);
      if (r != esp::DecapResult::ok) [[unlikely]] { drop(p, decap_counter(r)); continue; }
      decapsulated++;
      if (udp_mask != 0) [[unlikely]] {
        if (udp_mask >> x & 1) sight(seen[nseen++], sa, routes[x], batch.seq[j], udp_outer[x], p);
      }
      uint8_t* ip = p->data;
      const bool v6 = inner.v6;
      if (!policy.allows(routes[x], ip, v6)) {
        sa->counters.policy_errors += 1;
        drop(p, Counter::public_drop_inbound_policy);
        continue;
      }
      // Decapsulation checked the inner IPv4 header's length fields.
      auto verdict = v6 ? net::ipv6_header_verdict(ip) : net::ipv4_header_verdict(ip, inner.header_len);
      if (verdict != net::HeaderVerdict::ok) { drop(p, refused(verdict)); continue; }
      bool for_us = own.contains(ip, v6);
      uint8_t ttl = v6 ? ip[7] : ip[8];
      eth.write(p->prepend(net::kEthHeaderLen), v6);
      if (for_us) {
        punt(p, Side::public_side, PuntReason::tunnel);
        continue;
      }
      if (ttl <= 1) {
        counters_.add(Counter::public_ttl_expired);
        punt(p, Side::public_side, PuntReason::ttl_exceeded);
        continue;
      }
      if (!nexthop_known) { drop(p, Counter::public_drop_no_next_hop); continue; }
      if (v6) ip[7] -= 1;
      else net::ipv4_decrement_ttl(ip);
      tx_bytes += p->len;
      out[k++] = p;
    }
    batch.clear();
  }
  if (nseen) [[unlikely]] counters_.add(Counter::endpoint_changes, learn_endpoints(qt, seen, nseen));
  counters_.add(Counter::decapsulated_packets, decapsulated);
  transmit(Side::private_side, out, k, tx_bytes);
}

}  // namespace vitesse
