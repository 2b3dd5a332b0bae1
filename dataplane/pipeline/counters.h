// The data plane's counters: the one declaration of every counter and drop
// reason. Each row gives
//   name    the C++ enum value and the key of Gateway.counters() in TypeScript
//   side    the interface it is counted on ("private", "public" or "")
//   kind    traffic | error (a drop counted in the interface's rx-errors) |
//           answered (handed to the control plane to answer with ICMP) |
//           resource (no room, no buffer, malformed from the control plane) |
//           driver (kept by the interface's driver, not by the worker)
//   metric  the Prometheus metric, vitesse_<metric>_total (controlplane/metrics.ts)
//   label   its distinguishing label's value: the drop reason (drops), the
//           direction (packets, bytes, ESP packets), or "" (none)
//   yang    the leaf under gateway-state (and queue[id], but for the next hops)
//           in yang/vitesse-gateway.yang
//   help    the leaf's description (test/counter-table.test.ts checks it)
// The addon exports the table (gateway.counterTable); the control plane makes
// the metrics, the YANG state and `vitesse status` from it, and tests check the
// YANG model and docs/operations.md against it. Drop names follow one rule:
// <side>_drop_<reason> (or <side>_<reason> when the frame is answered or is
// not the sender's fault), so a drop has one name in C++, TypeScript and
// metrics, and one YANG leaf.
//
// Per-worker counters: each worker writes only its own block (no atomics on
// the hot path: relaxed loads/stores of a plain 64-bit word compile to a mov),
// and the control plane sums the blocks when it reads them. Frames handed to
// the control plane are counted by why they were punted (`*_ttl_expired`,
// `private_too_big`) and in `punted_packets`, so every received frame is
// forwarded, punted or dropped — and counted once. Driver counters are read
// from the links (Link::counters(), under the name after the side), not kept
// in the block.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace vitesse {

// clang-format off
#define VITESSE_COUNTERS(X)                                                                                          \
  X(private_rx_packets, "private", "traffic", "interface_packets", "rx", "private-interface/rx-packets",             \
    "Frames received.")                                                                                              \
  X(private_rx_bytes, "private", "traffic", "interface_bytes", "rx", "private-interface/rx-bytes",                  \
    "Octets received.")                                                                                              \
  X(private_tx_packets, "private", "traffic", "interface_packets", "tx", "private-interface/tx-packets",             \
    "Frames sent.")                                                                                                  \
  X(private_tx_bytes, "private", "traffic", "interface_bytes", "tx", "private-interface/tx-bytes",                  \
    "Octets sent.")                                                                                                  \
  X(public_rx_packets, "public", "traffic", "interface_packets", "rx", "public-interface/rx-packets",                \
    "Frames received.")                                                                                              \
  X(public_rx_bytes, "public", "traffic", "interface_bytes", "rx", "public-interface/rx-bytes",                     \
    "Octets received.")                                                                                              \
  X(public_tx_packets, "public", "traffic", "interface_packets", "tx", "public-interface/tx-packets",                \
    "Frames sent.")                                                                                                  \
  X(public_tx_bytes, "public", "traffic", "interface_bytes", "tx", "public-interface/tx-bytes",                     \
    "Octets sent.")                                                                                                  \
  X(encapsulated_packets, "", "traffic", "esp_packets", "outbound", "workers/encapsulated-packets",                  \
    "Packets encapsulated in ESP.")                                                                                  \
  X(decapsulated_packets, "", "traffic", "esp_packets", "inbound", "workers/decapsulated-packets",                  \
    "ESP packets authenticated and decrypted.")                                                                      \
  X(punted_packets, "", "traffic", "punted_packets", "", "workers/punted-packets",                                  \
    "Frames handed to the control plane (ARP, ND, ICMP, key exchange, ICMP errors to send).")                        \
  X(injected_packets, "", "traffic", "injected_packets", "", "workers/injected-packets",                            \
    "Frames the control plane handed to the data plane.")                                                            \
  X(nat_keepalives, "", "traffic", "nat_keepalives", "", "workers/nat-keepalives",                                  \
    "NAT keepalives (one 0xFF octet on the NAT-T port, RFC 3948) received and consumed.")                           \
  X(endpoint_changes, "", "traffic", "endpoint_changes", "", "workers/endpoint-changes",                            \
    "Times a route's peer endpoint moved to the address and port of an authenticated ESP-in-UDP packet.")           \
  /* drops on the way private → public */                                                                           \
  X(private_drop_bad_header, "private", "error", "drops", "bad_header", "private-router/bad-header-errors",          \
    "Truncated or malformed Ethernet or IP headers, or a wrong IPv4 header checksum.")                               \
  X(private_drop_unknown_ethertype, "private", "error", "drops", "unknown_ethertype",                               \
    "private-router/ethertype-errors", "Neither IPv4, IPv6, ARP nor neighbour discovery.")                           \
  X(private_drop_no_route, "private", "error", "drops", "no_route", "private-router/route-errors",                   \
    "The destination matched no route.")                                                                             \
  X(private_drop_no_sa, "private", "error", "drops", "no_sa", "private-router/no-sa-errors",                        \
    "The route had no outbound SA on this queue (yet).")                                                             \
  X(private_ttl_expired, "private", "answered", "drops", "ttl_expired", "private-router/ttl-errors",                \
    "The TTL or hop limit expired (answered with ICMP time exceeded).")                                              \
  X(private_too_big, "private", "answered", "drops", "too_big", "private-router/mtu-errors",                        \
    "The packet exceeded the MTU (answered with ICMP fragmentation-needed or packet-too-big).")                      \
  X(private_drop_no_next_hop, "private", "error", "drops", "no_next_hop", "public-next-hop/next-hop/drops",          \
    "Packets dropped because the next hop was unresolved.")                                                          \
  X(private_drop_encapsulation_failed, "private", "error", "drops", "encapsulation_failed",                         \
    "private-router/encapsulation-errors",                                                                           \
    "ESP encapsulation failed: no room for the ESP header or trailer in the packet buffer.")                         \
  X(private_drop_sequence_unreserved, "private", "error", "drops", "sequence_unreserved",                           \
    "private-router/sequence-unreserved-errors",                                                                     \
    "The packet's SA (explicit keys) had used every sequence number reserved in its state file, and the next "      \
    "reservation was not yet on disk: dropped rather than sent with a number that may have been sent before a "      \
    "restart.")                                                                                                      \
  X(private_drop_sequence_exhausted, "private", "error", "drops", "sequence_exhausted",                             \
    "private-router/sequence-exhausted-errors",                                                                      \
    "The packet's outbound SA had sent its last sequence number (2^64-1, or 2^32-1 without ESN): dropped rather "   \
    "than sent with a number used before. A negotiated SA is rekeyed at once.")                                      \
  X(private_drop_source_route, "private", "error", "drops", "source_route", "private-router/source-route-errors",   \
    "IPv4 packets with a loose or strict source route option (131, 137), dropped as RFC 7126 recommends.")           \
  X(private_drop_jumbogram, "private", "error", "drops", "jumbogram", "private-router/jumbogram-errors",             \
    "IPv6 packets with payload length 0 (jumbograms, RFC 2675, are not supported).")                                 \
  /* drops on the way public → private */                                                                           \
  X(public_drop_bad_header, "public", "error", "drops", "bad_header", "public-router/bad-header-errors",             \
    "Truncated or malformed Ethernet or IP headers.")                                                                \
  X(public_drop_unknown_ethertype, "public", "error", "drops", "unknown_ethertype", "public-router/ethertype-errors", \
    "Neither IPv4, IPv6, ARP nor neighbour discovery.")                                                              \
  X(public_drop_not_for_us, "public", "error", "drops", "not_for_us", "public-router/not-for-us-errors",             \
    "Addressed to none of our public addresses.")                                                                    \
  X(public_drop_unknown_protocol, "public", "error", "drops", "unknown_protocol", "public-router/protocol-errors",    \
    "Neither ESP, the key exchange nor ICMP.")                                                                       \
  X(public_drop_fragment, "public", "error", "drops", "fragment", "public-router/fragment-errors",                   \
    "Fragmented ESP (not reassembled).")                                                                             \
  X(public_drop_unknown_spi, "public", "error", "drops", "unknown_spi", "public-router/spi-errors",                  \
    "ESP with an SPI of no inbound SA of this queue.")                                                               \
  X(public_drop_truncated, "public", "error", "drops", "truncated", "public-router/truncated-errors",                \
    "ESP too short for its header, IV, trailer and ICV.")                                                                                                         \
  X(public_drop_replay, "public", "error", "drops", "replay", "public-router/replay-errors",                        \
    "ESP rejected by the anti-replay window (a duplicate, or left of the window).")                                  \
  X(public_drop_authentication, "public", "error", "drops", "authentication", "public-router/decrypt-errors",       \
    "ESP that failed to authenticate (altered, forged, or under another key).")                                      \
  X(public_drop_bad_trailer, "public", "error", "drops", "bad_trailer", "public-router/trailer-errors",             \
    "Authenticated ESP whose padding length or inner IP header does not fit the packet.")                                               \
  X(public_drop_bad_next_header, "public", "error", "drops", "bad_next_header", "public-router/next-header-errors", \
    "Authenticated ESP whose next header is neither IPv4 nor IPv6 (not tunnel mode).")                               \
  X(public_ttl_expired, "public", "answered", "drops", "ttl_expired", "public-router/ttl-errors",                   \
    "The inner packet's TTL or hop limit expired.")                                                                  \
  X(public_drop_no_next_hop, "public", "error", "drops", "no_next_hop", "private-next-hop/next-hop/drops",          \
    "Packets dropped because the next hop was unresolved.")                                                          \
  X(public_drop_inbound_policy, "public", "error", "drops", "inbound_policy", "public-router/inbound-policy-errors", \
    "Decrypted packets refused by the inbound policy: the inner source is not in the net of the SA's route (or "    \
    "not of its IP version), or the inner source or destination is a multicast or broadcast address.")              \
  X(public_drop_source_route, "public", "error", "drops", "source_route", "public-router/source-route-errors",      \
    "IPv4 packets with a loose or strict source route option (131, 137), outer or decrypted inner, dropped as RFC "  \
    "7126 recommends.")                                                                                              \
  X(public_drop_jumbogram, "public", "error", "drops", "jumbogram", "public-router/jumbogram-errors",                \
    "Decrypted IPv6 packets with payload length 0 (jumbograms, RFC 2675, are not supported).")                       \
  X(public_drop_udp_length, "public", "error", "drops", "udp_length", "public-router/udp-length-errors",          \
    "UDP on the NAT-T port whose length field disagrees with its IP packet's.")                                      \
  X(public_drop_udp_checksum, "public", "error", "drops", "udp_checksum", "public-router/udp-checksum-errors",      \
    "UDP on the NAT-T port with a wrong checksum, or with none over IPv6.")                                          \
  /* resources */                                                                                                    \
  X(private_tx_ring_full, "private", "resource", "drops", "tx_ring_full", "private-interface/tx-drops",              \
    "Frames dropped because the transmit ring was full.")                                                            \
  X(public_tx_ring_full, "public", "resource", "drops", "tx_ring_full", "public-interface/tx-drops",                 \
    "Frames dropped because the transmit ring was full.")                                                            \
  X(punt_ring_drops, "", "resource", "punt_ring_drops", "", "workers/punt-ring-drops",                              \
    "Frames for the control plane dropped because its ring was full.")                                               \
  X(inject_drops, "", "resource", "inject_drops", "", "workers/inject-drops",                                       \
    "Frames from the control plane dropped as malformed.")                                                           \
  X(rx_buffer_exhausted, "", "resource", "rx_buffer_exhausted", "", "workers/rx-buffer-exhausted",                  \
    "Worker polls that ended with no free packet buffer (reception may have stalled).")                              \
  /* the drivers' counters (Link::counters() names after the side) */                                               \
  X(private_rx_kernel_drops, "private", "driver", "drops", "rx_kernel_drops", "private-interface/rx-drops",          \
    "Received frames the kernel dropped for lack of room in the receive ring (af-packet) or UMEM (af-xdp).")        \
  X(private_rx_oversize, "private", "driver", "drops", "rx_oversize", "private-interface/rx-oversize",              \
    "Received frames longer than the largest frame the gateway takes (typically GRO super-frames), dropped by the "  \
    "driver.")                                                                                                       \
  X(private_tx_oversize, "private", "driver", "drops", "tx_oversize", "private-interface/tx-oversize",              \
    "Frames longer than the interface's MTU plus its link headers, not sent by the driver.")                         \
  X(private_rx_csum_partial, "private", "driver", "interface_rx_csum_partial", "", "private-interface/rx-csum-partial", \
    "Received frames whose TCP or UDP checksum was left to offload; the driver completed it.") \
  X(private_rx_gso_frames, "private", "driver", "interface_rx_gso_frames", "", "private-interface/rx-gso-frames",    \
    "Received TCP/UDP super-frames a local stack left to segmentation offload; the driver cut them into frames.") \
  X(private_rx_gso_unsupported, "private", "driver", "drops", "rx_gso_unsupported",                                 \
    "private-interface/rx-gso-unsupported",                                                                           \
    "Received super-frames the driver cannot segment (not TCP or UDP segmentation, IPv6 extension headers, "        \
    "segments too long or too many), dropped by the driver.") \
  X(private_tx_gso_frames, "private", "driver", "interface_tx_gso_frames", "", "private-interface/tx-gso-frames",    \
    "Super-frames sent, each coalesced by the driver: TCP, from consecutive segments of one flow to a local stack; " \
    "on the public interface, UDP, from consecutive ESP-in-UDP datagrams to one peer (where the interface takes "    \
    "tx-udp-segmentation).") \
  X(private_tx_gso_segments, "private", "driver", "interface_tx_gso_segments", "", "private-interface/tx-gso-segments", \
    "Frames the driver coalesced into TCP or UDP super-frames (counted in tx-gso-frames) instead of sending them one " \
    "by one.")                       \
  X(public_rx_kernel_drops, "public", "driver", "drops", "rx_kernel_drops", "public-interface/rx-drops",             \
    "Received frames the kernel dropped for lack of room in the receive ring (af-packet) or UMEM (af-xdp).")        \
  X(public_rx_oversize, "public", "driver", "drops", "rx_oversize", "public-interface/rx-oversize",                 \
    "Received frames longer than the largest frame the gateway takes (typically GRO super-frames), dropped by the "  \
    "driver.")                                                                                                       \
  X(public_tx_oversize, "public", "driver", "drops", "tx_oversize", "public-interface/tx-oversize",                 \
    "Frames longer than the interface's MTU plus its link headers, not sent by the driver.")                         \
  X(public_rx_csum_partial, "public", "driver", "interface_rx_csum_partial", "", "public-interface/rx-csum-partial", \
    "Received frames whose TCP or UDP checksum was left to offload; the driver completed it.") \
  X(public_rx_gso_frames, "public", "driver", "interface_rx_gso_frames", "", "public-interface/rx-gso-frames",    \
    "Received TCP/UDP super-frames a local stack left to segmentation offload; the driver cut them into frames.") \
  X(public_rx_gso_unsupported, "public", "driver", "drops", "rx_gso_unsupported",                                 \
    "public-interface/rx-gso-unsupported",                                                                           \
    "Received super-frames the driver cannot segment (not TCP or UDP segmentation, IPv6 extension headers, "        \
    "segments too long or too many), dropped by the driver.") \
  X(public_tx_gso_frames, "public", "driver", "interface_tx_gso_frames", "", "public-interface/tx-gso-frames",    \
    "Super-frames sent, each coalesced by the driver: TCP, from consecutive segments of one flow to a local stack; " \
    "on the public interface, UDP, from consecutive ESP-in-UDP datagrams to one peer (where the interface takes "    \
    "tx-udp-segmentation).") \
  X(public_tx_gso_segments, "public", "driver", "interface_tx_gso_segments", "", "public-interface/tx-gso-segments", \
    "Frames the driver coalesced into TCP or UDP super-frames (counted in tx-gso-frames) instead of sending them one " \
    "by one.")
// clang-format on

enum class Counter : uint16_t {
#define VITESSE_COUNTER_ENUM(name, ...) name,
  VITESSE_COUNTERS(VITESSE_COUNTER_ENUM)
#undef VITESSE_COUNTER_ENUM
  count
};

struct CounterInfo {
  const char* name;
  std::string_view side, kind, metric, label, yang, help;
};

inline constexpr CounterInfo kCounterTable[] = {
#define VITESSE_COUNTER_INFO(name, side, kind, metric, label, yang, help) {#name, side, kind, metric, label, yang, help},
    VITESSE_COUNTERS(VITESSE_COUNTER_INFO)
#undef VITESSE_COUNTER_INFO
};
static_assert(std::size(kCounterTable) == static_cast<size_t>(Counter::count));

inline constexpr const CounterInfo& counter_info(Counter c) { return kCounterTable[static_cast<size_t>(c)]; }

// A driver counter's name in Link::counters(): the table's name after the side.
inline std::string_view driver_counter_name(Counter c) {
  const CounterInfo& i = counter_info(c);
  return std::string_view(i.name).substr(i.side.size() + 1);
}

struct alignas(64) Counters {
  std::atomic<uint64_t> v[static_cast<size_t>(Counter::count)] = {};

  void add(Counter c, uint64_t n = 1) {
    auto& x = v[static_cast<size_t>(c)];
    x.store(x.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get(Counter c) const { return v[static_cast<size_t>(c)].load(std::memory_order_relaxed); }
};

// Reads a counter that a worker updates with plain stores (SA counters).
inline uint64_t read_counter(const uint64_t& c) {
  return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(c)).load(std::memory_order_relaxed);
}

}  // namespace vitesse
