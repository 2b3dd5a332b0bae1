// Wire headers the data plane reads and writes: Ethernet, IPv4, IPv6.
// Accessors work on raw bytes (no struct overlays of unaligned memory), in
// network byte order on the wire.
#pragma once

#include <cstdint>
#include <cstring>

#include "util/big_endian.h"

namespace vitesse::net {

inline constexpr uint32_t kEthHeaderLen = 14;
inline constexpr uint32_t kIpv4HeaderLen = 20;  // without options
inline constexpr uint32_t kIpv6HeaderLen = 40;

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIpv6Frag = 44;
inline constexpr uint8_t kProtoEsp = 50;
inline constexpr uint8_t kProtoIcmpv6 = 58;

struct Mac { uint8_t b[6] = {}; };

struct Ip6 {
  uint8_t b[16] = {};
  bool operator==(const Ip6& o) const { return std::memcmp(b, o.b, 16) == 0; }
};

// An IPv4 or IPv6 address; v4 is stored in host order in `v4`.
struct IpAddr {
  bool is_v6 = false;
  uint32_t v4 = 0;
  Ip6 v6;
  bool operator==(const IpAddr& o) const { return is_v6 == o.is_v6 && (is_v6 ? v6 == o.v6 : v4 == o.v4); }
};

// Internet checksum over a byte range, folded to 16 bits (not complemented).
uint32_t checksum_partial(const uint8_t* p, size_t len, uint32_t sum = 0);
inline uint16_t checksum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}
inline uint16_t ipv4_header_checksum(const uint8_t* ip, size_t ihl_bytes) {
  return static_cast<uint16_t>(~checksum_fold(checksum_partial(ip, ihl_bytes)));
}

// RFC 1812 §5.2.2's check of a received IPv4 header (`ihl_bytes` as its
// IHL says, at least 20): its checksum sums to all ones. Inline, and for the
// usual 20-byte header five 32-bit words in native order (the one's
// complement sum is byte-order independent, RFC 1071 §2(B), and all ones is
// the same either way): the byte-pair loop of checksum_partial cost 75
// instructions a packet on each side of the pipeline.
inline bool ipv4_header_checksum_ok(const uint8_t* ip, size_t ihl_bytes) {
  if (ihl_bytes != 20) [[unlikely]] return checksum_partial(ip, ihl_bytes) == 0xffff;
  // The one's complement sum is all ones exactly when the plain sum of the
  // words is a non-zero multiple of 0xffff (2^16 = 1 modulo 0xffff, so the
  // five 32-bit words in native order give the sixteen-bit words' residue,
  // times 256 if the byte order is swapped, which is a unit): one remainder
  // by a constant (a multiplication) instead of four folds through a stack
  // array, 27 instructions before.
  uint32_t w0, w1, w2, w3, w4;
  std::memcpy(&w0, ip, 4);
  std::memcpy(&w1, ip + 4, 4);
  std::memcpy(&w2, ip + 8, 4);
  std::memcpy(&w3, ip + 12, 4);
  std::memcpy(&w4, ip + 16, 4);
  const uint64_t s = uint64_t{w0} + w1 + w2 + w3 + w4;
  return s != 0 && s % 0xffff == 0;
}

// Decrements an IPv4 TTL and patches the header checksum incrementally
// (RFC 1624, eqn. 3) instead of recomputing it over the whole header. As
// Linux's ip_decrease_ttl: the checksum field in native order, plus the
// TTL's weight (0x0100 in network order, loaded the same way), plus the
// carry; for every one of the 65 536 checksums the same field as
// ~(~HC + ~0x0100) folded (pipeline_fuzz.cc checks all of them at start-up),
// in 8 instructions instead of 14.
inline void ipv4_decrement_ttl(uint8_t* ip) {
  ip[8] -= 1;
  constexpr uint8_t kTtlWeight[2] = {1, 0};
  uint16_t hc, weight;
  std::memcpy(&hc, ip + 10, 2);
  std::memcpy(&weight, kTtlWeight, 2);
  uint32_t check = uint32_t{hc} + weight;
  check += check >= 0xffff;
  const uint16_t out = static_cast<uint16_t>(check);
  std::memcpy(ip + 10, &out, 2);
}

// The same by the RFC's formula, byte by byte: kept as the reference the
// fuzz target compares the fast one with.
inline void ipv4_decrement_ttl_reference(uint8_t* ip) {
  ip[8] -= 1;
  uint32_t sum = static_cast<uint16_t>(~load_be16(ip + 10)) + static_cast<uint32_t>(static_cast<uint16_t>(~0x0100));
  store_be16(ip + 10, static_cast<uint16_t>(~checksum_fold(sum)));
}

// Writes a 20-byte IPv4 header (no options, DF clear, TTL 64).
void write_ipv4_header(uint8_t* ip, uint16_t total_len, uint8_t proto, uint32_t src, uint32_t dst, uint16_t id);
// Writes a 40-byte IPv6 header (hop limit 64).
void write_ipv6_header(uint8_t* ip, uint16_t payload_len, uint8_t next_header, const Ip6& src, const Ip6& dst);
inline void write_eth_header(uint8_t* eth, const Mac& dst, const Mac& src, uint16_t ethertype) {
  std::memcpy(eth, dst.b, 6);
  std::memcpy(eth + 6, src.b, 6);
  store_be16(eth + 12, ethertype);
}

// Fills in the TCP or UDP checksum of a frame that a local stack handed over
// with checksum offload pending (Linux CHECKSUM_PARTIAL: on veth, frames from
// the kernel arrive so). Returns false, changing nothing, for anything else.
bool complete_transport_checksum(uint8_t* frame, size_t len);

// A flow hash over an IP packet's addresses (and ports for TCP/UDP), for
// spreading private-side flows over queues in software (RSS).
uint32_t flow_hash(const uint8_t* frame, size_t len);

}  // namespace vitesse::net
