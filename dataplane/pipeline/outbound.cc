// Private → public, in packet order:
//   parse Ethernet and IP → refused headers (net/header_policy.h) dropped →
//   frames for us go to the control plane →
//   TTL / hop limit (expired: punt for ICMP time exceeded) → Poptrie route →
//   (a route with several peers: the flow's pair, pipeline/pair_choice.h) →
//   this queue's outbound SA for the route → MTU (over: punt for ICMP too big)
//   → decrement TTL → ESP encapsulation (one batch call) → for an SA with
//   ESP in UDP, the UDP header towards the route's peer endpoint → outer IP
//   and Ethernet from the route's template → public link.
#include "esp/encap.h"
#include "net/header_policy.h"
#include "net/udp_encap.h"
#include "pipeline/pair_choice.h"
#include "pipeline/prefetch_sa.h"
#include "pipeline/worker.h"

namespace vitesse {

namespace {

bool is_ipv6_multicast(const uint8_t* addr) { return addr[0] == 0xff; }

Counter refused(net::HeaderVerdict v) {
  switch (v) {
    case net::HeaderVerdict::source_route: return Counter::private_drop_source_route;
    case net::HeaderVerdict::jumbogram: return Counter::private_drop_jumbogram;
    case net::HeaderVerdict::malformed:
    case net::HeaderVerdict::ok: break;
  }
  return Counter::private_drop_bad_header;
}

Counter encap_drop_reason(esp::EncapResult r) {
  switch (r) {
    case esp::EncapResult::exhausted: return Counter::private_drop_sequence_exhausted;
    case esp::EncapResult::unreserved: return Counter::private_drop_sequence_unreserved;
    case esp::EncapResult::no_room:
    case esp::EncapResult::ok: break;
  }
  return Counter::private_drop_encapsulation_failed;
}

// Fills in the per-packet fields of the outer header copied from its template.
// Constant-size copies: a variable-length memcpy here compiles to `rep movs`,
// whose start-up cost was a third of this function's time.
inline void write_outer(const OuterTemplate& o, uint8_t* frame, uint32_t frame_len, uint16_t id) {
  uint8_t* ip = frame + net::kEthHeaderLen;
  uint32_t ip_len = frame_len - net::kEthHeaderLen;
  if (o.is_v6) {
    std::memcpy(frame, o.bytes, net::kEthHeaderLen + net::kIpv6HeaderLen);
    store_be16(ip + 4, static_cast<uint16_t>(ip_len - net::kIpv6HeaderLen));
  } else {
    std::memcpy(frame, o.bytes, net::kEthHeaderLen + net::kIpv4HeaderLen);
    store_be16(ip + 2, static_cast<uint16_t>(ip_len));
    store_be16(ip + 4, id);
    store_be16(ip + 10, static_cast<uint16_t>(~net::checksum_fold(o.ip_checksum_base + ip_len + id)));
  }
}

// The outer headers go into the headroom in front of the ESP header.
static_assert(kPacketHeadroom + net::kEthHeaderLen - esp::kEspHeaderLen >=
                  net::kEthHeaderLen + net::kIpv6HeaderLen + net::kUdpHeaderLen,
              "no headroom for Ethernet, IPv6 and UDP in front of ESP");

// ESP in UDP (RFC 3948): the frame is Ethernet ‖ IP ‖ UDP ‖ ESP, the
// template's header (protocol UDP) towards the route's gateway, or the
// address and port the peer's authenticated ESP last came from. The UDP
// checksum is 0 over IPv4 (RFC 3948 §2.1); over IPv6 it is computed (RFC
// 8200 §8.1; the zero-checksum exception of RFC 6935/6936 is for tunnels
// that declare it, and a NAT may not pass it).
inline void write_outer_udp(const OuterTemplate& o, const esp::OutboundSa& sa, const PeerEndpoint* ep, uint8_t* frame,
                            uint32_t frame_len, uint16_t id) {
  uint8_t* ip = frame + net::kEthHeaderLen;
  const uint32_t ip_len = frame_len - net::kEthHeaderLen;
  const bool learned = ep && ep->is_learned();
  uint16_t dst_port = sa.udp_destination_port;
  uint8_t* udp;
  if (o.is_v6) {
    std::memcpy(frame, o.bytes, net::kEthHeaderLen + net::kIpv6HeaderLen);
    store_be16(ip + 4, static_cast<uint16_t>(ip_len - net::kIpv6HeaderLen));
    if (learned) {
      ep->learned_address(ip + 24);
      dst_port = ep->learned_port();
    }
    udp = ip + net::kIpv6HeaderLen;
  } else {
    std::memcpy(frame, o.bytes, net::kEthHeaderLen + net::kIpv4HeaderLen);
    store_be16(ip + 2, static_cast<uint16_t>(ip_len));
    store_be16(ip + 4, id);
    uint32_t sum = o.ip_checksum_base + ip_len + id;
    if (learned) {
      // The template's checksum covers its destination: take it out, put the learned one in.
      uint8_t a[16];
      ep->learned_address(a);
      sum += static_cast<uint16_t>(~load_be16(ip + 16)) + static_cast<uint16_t>(~load_be16(ip + 18));
      std::memcpy(ip + 16, a, 4);
      sum += load_be16(ip + 16) + load_be16(ip + 18);
      dst_port = ep->learned_port();
    }
    store_be16(ip + 10, static_cast<uint16_t>(~net::checksum_fold(sum)));
    udp = ip + net::kIpv4HeaderLen;
  }
  const uint32_t udp_len = frame_len - static_cast<uint32_t>(udp - frame);
  store_be16(udp, sa.udp_source_port);
  store_be16(udp + 2, dst_port);
  store_be16(udp + 4, static_cast<uint16_t>(udp_len));
  store_be16(udp + 6, 0);
  if (o.is_v6) store_be16(udp + 6, net::udp_checksum(ip, true, udp, udp_len));
}

}  // namespace

void Worker::outbound(const Tables& t, Packet** pkts, uint32_t n) {
  const QueueTables& qt = t.queues[queue_];
  Packet* out[kBatch];
  esp::OutboundSa* sas[kBatch];
  const QueueRoute* qrs[kBatch];
  // Two passes over the batch, so that no packet waits for its route's line
  // and then its SA's lines one at a time: the first parses, looks the route
  // up and prefetches the route's line (QueueRoute keeps what a packet needs
  // in one); the second reads it and prefetches the SA for the ESP batch call.
  Packet* routed[kBatch];
  uint16_t route_of[kBatch];
  uint32_t ip_len_of[kBatch];
  uint32_t r = 0;
  bool any_udp = false;
  uint32_t m = 0;
  uint64_t rx_bytes = 0;
  // The tables' fields a packet is compared with, loaded once per batch:
  // the packets' bytes are uint8_t, whose stores may alias anything, so the
  // compiler reloaded them after each write into a packet.
  const bool has_private_v4 = t.has_private_v4;
  const uint32_t private_v4 = t.private_v4;
  const RouteTable* const routes = t.routes.get();
  const QueueRoute* const queue_routes = qt.routes.data();

  for (uint32_t i = 0; i < n; i++) {
    if (i + 2 < n) __builtin_prefetch(pkts[i + 2]->data);
    Packet* p = pkts[i];
    rx_bytes += p->len;
    if (p->len < net::kEthHeaderLen) { drop(p, Counter::private_drop_bad_header); continue; }
    uint16_t type = load_be16(p->data + 12);
    uint8_t* ip = p->data + net::kEthHeaderLen;
    uint32_t avail = p->len - net::kEthHeaderLen;
    uint16_t route;
    uint32_t ip_len;

    if (type == net::kEtherTypeIpv4) {
      if (avail < net::kIpv4HeaderLen || (ip[0] >> 4) != 4) { drop(p, Counter::private_drop_bad_header); continue; }
      uint32_t ihl = (ip[0] & 0xfu) * 4u;
      ip_len = load_be16(ip + 2);
      if (ihl < net::kIpv4HeaderLen || ip_len < ihl || ip_len > avail) { drop(p, Counter::private_drop_bad_header); continue; }
      // RFC 1812 §5.2.2: a router verifies the header checksum.
      if (!net::ipv4_header_checksum_ok(ip, ihl)) { drop(p, Counter::private_drop_bad_header); continue; }
      if (auto v = net::ipv4_header_verdict(ip, ihl); v != net::HeaderVerdict::ok) { drop(p, refused(v)); continue; }
      uint32_t dst = load_be32(ip + 16);
      if (has_private_v4 && dst == private_v4) { punt(p, Side::private_side, PuntReason::control); continue; }
      if (ip[8] <= 1) {
        counters_.add(Counter::private_ttl_expired);
        punt(p, Side::private_side, PuntReason::ttl_exceeded);
        continue;
      }
      route = routes->lookup4(dst);
    } else if (type == net::kEtherTypeIpv6) {
      if (avail < net::kIpv6HeaderLen || (ip[0] >> 4) != 6) { drop(p, Counter::private_drop_bad_header); continue; }
      ip_len = net::kIpv6HeaderLen + load_be16(ip + 4);
      if (ip_len > avail) { drop(p, Counter::private_drop_bad_header); continue; }
      if (auto v = net::ipv6_header_verdict(ip); v != net::HeaderVerdict::ok) { drop(p, refused(v)); continue; }
      const uint8_t* dst = ip + 24;
      if (is_ipv6_multicast(dst) || (t.has_private_v6 && std::memcmp(dst, t.private_v6.b, 16) == 0)) {
        punt(p, Side::private_side, PuntReason::control);
        continue;
      }
      if (ip[7] <= 1) {
        counters_.add(Counter::private_ttl_expired);
        punt(p, Side::private_side, PuntReason::ttl_exceeded);
        continue;
      }
      route = routes->lookup6(dst);
    } else if (type == net::kEtherTypeArp) {
      punt(p, Side::private_side, PuntReason::control);
      continue;
    } else {
      drop(p, Counter::private_drop_unknown_ethertype);
      continue;
    }

    if (route == 0) { drop(p, Counter::private_drop_no_route); continue; }
    __builtin_prefetch(&queue_routes[route]);
    routed[r] = p;
    route_of[r] = route;
    ip_len_of[r++] = ip_len;
  }

  for (uint32_t i = 0; i < r; i++) {
    Packet* p = routed[i];
    const uint32_t ip_len = ip_len_of[i];
    uint8_t* ip = p->data + net::kEthHeaderLen;
    const QueueRoute& qr = choose_pair(qt, queue_routes[route_of[i]], ip, ip_len, (ip[0] >> 4) == 6);
    if (!qr.sa) { drop(p, Counter::private_drop_no_sa); continue; }
    prefetch_sa(qr.sa);
    if (!qr.has_outer) { drop(p, Counter::private_drop_no_next_hop); continue; }
    // ESP in UDP: the route's MTU includes the UDP header (the control
    // plane's ICMP says so, seeing a packet within `mtu` punted as too big).
    if (ip_len > qr.mtu) {
      counters_.add(Counter::private_too_big);
      punt(p, Side::private_side, PuntReason::too_big);
      continue;
    }
    if ((ip[0] >> 4) == 4) net::ipv4_decrement_ttl(ip);
    else ip[7] -= 1;
    p->pull(net::kEthHeaderLen);
    p->len = ip_len;  // drop Ethernet padding of short frames
    out[m] = p;
    sas[m] = qr.sa;
    qrs[m] = &qr;
    any_udp |= qr.udp;
    m++;
  }
  counters_.add(Counter::private_rx_packets, n);
  counters_.add(Counter::private_rx_bytes, rx_bytes);
  if (m == 0) return;

  esp::EncapResult results[kBatch];
  esp::encapsulate_batch(sas, out, m, t.tfc_pad_to, results);
  uint32_t k = 0;
  uint64_t tx_bytes = 0;
  uint16_t ip_id = ip_id_;  // a member would be stored and reloaded around each header write
  // Batches without ESP in UDP take the loop plain ESP always took.
  for (uint32_t i = 0; i < m; i++) {
    // The line the outer header starts in (an IPv4 template's; IPv6's may
    // start one line earlier), for writing, four packets ahead: it is in
    // front of the received frame, which no pass touched, and the same
    // prefetch in the second pass was evicted by the ESP call's SA and key
    // lines (docs/dataplane.md, "Route line").
    if (i + 4 < m) __builtin_prefetch(out[i + 4]->data - (net::kEthHeaderLen + net::kIpv4HeaderLen), 1);
    Packet* p = out[i];
    if (results[i] != esp::EncapResult::ok) {
      drop(p, encap_drop_reason(results[i]));
      continue;
    }
    const QueueRoute& qr = *qrs[i];
    if (any_udp && qr.udp) {
      p->prepend(qr.outer_udp.len + net::kUdpHeaderLen);
      write_outer_udp(qr.outer_udp, *sas[i], qr.endpoint, p->data, p->len, ip_id++);
    } else {
      p->prepend(qr.outer.len);
      write_outer(qr.outer, p->data, p->len, ip_id++);
    }
    tx_bytes += p->len;
    out[k++] = p;
  }
  ip_id_ = ip_id;
  counters_.add(Counter::encapsulated_packets, k);
  transmit(Side::public_side, out, k, tx_bytes);
}

}  // namespace vitesse
