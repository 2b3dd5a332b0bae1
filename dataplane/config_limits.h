// Limits both halves check. The data plane refuses a value outside them (its
// last line of defence); the configuration refuses it first, naming the path:
// controlplane/config/defaults.ts LIMITS and yang/vitesse-gateway.yang carry
// the same numbers, and test/limits.test.ts fails when any of the three differ.
#pragma once

#include <cstdint>

namespace vitesse {

// Tunnel MTU (octets): every IPv4 host must take a 576-octet datagram
// (RFC 791), which the gateway does not fragment; the top is a jumbo frame.
inline constexpr uint32_t kMinMtu = 576;
inline constexpr uint32_t kMaxMtu = 9216;
// Data-plane queues (worker threads).
inline constexpr uint32_t kMaxQueues = 64;
// 0..255 are reserved (RFC 4303 §2.1).
inline constexpr uint32_t kMinSpi = 256;
// Anti-replay window (packets, a power of two).
inline constexpr uint32_t kMinReplayWindow = 32;
inline constexpr uint32_t kMaxReplayWindow = 4096;
// Peers of one route (key-manager mode: one pair of SAs each, flows hashed
// over them; docs/scale-out.md).
inline constexpr uint32_t kMaxPeersPerRoute = 8;

}  // namespace vitesse
