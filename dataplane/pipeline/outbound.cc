// Private → public, in packet order:
//   parse Ethernet and IP → refused headers (net/header_policy.h) dropped →
//   frames for us go to the control plane →
//   TTL / hop limit (expired: punt for ICMP time exceeded) → Poptrie route →
//   (a route with several peers: the flow's pair, pipeline/pair_choice.h) →
//   this queue's outbound SA for the route → MTU (over: punt for ICMP too big)
//   → decrement TTL → ESP framing (esp/encap.h frame()) → for an SA with
//   ESP in UDP, the UDP header towards the route's peer endpoint → outer IP
//   and Ethernet from the route's template → one seal per chunk of
//   esp::kEspChunk (over IPv6, ESP in UDP's checksum after it) → public link.
#include <type_traits>

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
  store_be16(udp + 6, 0);  // over IPv6, seal() puts the checksum in once the payload is sealed
}

// Seals a chunk's jobs (esp/encap.h), then checksums the ESP-in-UDP
// datagrams over IPv6 among them, whose checksum covers the ciphertext.
void seal(const crypto::GcmJob* jobs, uint32_t n, Packet* const* udp6, uint32_t nu) {
  crypto::gcm_seal_batch(jobs, n);
  esp::restore_seq_low(jobs, n);
  for (uint32_t j = 0; j < nu; ++j) {
    uint8_t* ip = udp6[j]->data + net::kEthHeaderLen;
    uint8_t* udp = ip + net::kIpv6HeaderLen;
    const uint32_t udp_len = udp6[j]->len - net::kEthHeaderLen - net::kIpv6HeaderLen;
    store_be16(udp + 6, net::udp_checksum(ip, true, udp, udp_len));
  }
}

}  // namespace

void Worker::outbound(const Tables& t, Packet** pkts, uint32_t n) {
  const QueueTables& qt = t.queues[queue_];
  Packet* out[kBatch];
  // Two passes over the batch, so that no packet waits for its route's line
  // and then its SA's lines one at a time: the first parses, looks the route
  // up and prefetches the route's line (QueueRoute keeps what a packet needs
  // in one); the second reads it, prefetches the SA's key and GHASH lines
  // for the seal at the end of its chunk and frames the packet.
  // One array for what the second pass takes from the first: one base
  // address in the second pass, which is short of registers.
  struct Routed {
    Packet* p;
    uint32_t ip_len;
    uint16_t route;
  };
  Routed routed[kBatch];
  uint32_t r = 0;
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
    routed[r++] = Routed{p, ip_len, route};
  }

  // The second pass frames each packet (esp/encap.h) and writes its outer
  // headers in front (ESP's AAD covers neither), and seals a chunk's jobs
  // once it is full: a packet leaves this loop ready to send but for the
  // seal, so no third pass reads the packets again.
  crypto::GcmJob jobs[esp::kEspChunk];
  uint32_t nj = 0;
  // ESP in UDP over IPv6 checksums the sealed datagram: after the seal.
  Packet* udp6[esp::kEspChunk];
  uint32_t nu = 0;
  const uint32_t tfc_pad_to = t.tfc_pad_to;
  const uint32_t tfc_pad_to_udp = tfc_pad_to ? tfc_pad_to - esp::kUdpEncapOverhead : 0;
  uint32_t k = 0;
  uint64_t tx_bytes = 0;
  uint16_t ip_id = ip_id_;  // a member would be stored and reloaded around each header write
  // Compiled twice: without TFC (the default) frame() has no TFC arithmetic.
  auto second_pass = [&](auto tfc_on) {
    constexpr bool kTfc = decltype(tfc_on)::value;
    for (uint32_t i = 0; i < r; i++) {
      Packet* p = routed[i].p;
      const uint32_t ip_len = routed[i].ip_len;
      uint8_t* ip = p->data + net::kEthHeaderLen;
      const bool v6 = (ip[0] >> 4) == 6;
      const QueueRoute& qr = choose_pair(qt, queue_routes[routed[i].route], ip, ip_len, v6);
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
      if (!v6) net::ipv4_decrement_ttl(ip);
      else ip[7] -= 1;
      // The frame's Ethernet header and padding (of short frames) go; the
      // packet's pointer and length are written once, below.
      const size_t headroom = static_cast<size_t>(ip - p->buf);
      esp::OutboundSa& sa = *qr.sa;
      const esp::Framed f = esp::frame<kTfc>(sa, ip, ip_len, headroom, kPacketBufferSize - headroom - ip_len,
                                             v6 ? esp::kNextHeaderIpv6 : esp::kNextHeaderIpv4,
                                             kTfc && qr.udp ? tfc_pad_to_udp : tfc_pad_to, jobs[nj]);
      if (f.result != esp::EncapResult::ok) { drop(p, encap_drop_reason(f.result)); continue; }
      crypto::prefetch_key_tail(sa.gcm);
      uint8_t* frame;
      uint32_t frame_len;
      if (qr.udp) {
        const uint32_t outer_len = qr.outer_udp.len + net::kUdpHeaderLen;
        frame = ip - esp::kEspHeaderLen - outer_len;
        frame_len = outer_len + f.esp_len;
        write_outer_udp(qr.outer_udp, sa, qr.endpoint, frame, frame_len, ip_id++);
        if (qr.outer_udp.is_v6) udp6[nu++] = p;
      } else {
        frame = ip - esp::kEspHeaderLen - qr.outer.len;
        frame_len = qr.outer.len + f.esp_len;
        write_outer(qr.outer, frame, frame_len, ip_id++);
      }
      p->data = frame;
      p->len = frame_len;
      tx_bytes += frame_len;
      out[k++] = p;
      if (++nj == esp::kEspChunk) {
        seal(jobs, nj, udp6, nu);
        nj = 0;
        nu = 0;
      }
    }
  };
  if (tfc_pad_to) second_pass(std::true_type{});
  else second_pass(std::false_type{});
  counters_.add(Counter::private_rx_packets, n);
  counters_.add(Counter::private_rx_bytes, rx_bytes);
  if (nj) seal(jobs, nj, udp6, nu);
  ip_id_ = ip_id;
  counters_.add(Counter::encapsulated_packets, k);
  transmit(Side::public_side, out, k, tx_bytes);
}

}  // namespace vitesse
