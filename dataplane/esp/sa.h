// Security associations as the data plane sees them (DESIGN.md §4).
//
// Every SA belongs to exactly one worker queue, so its mutable state (the
// outbound counter, the inbound replay window, its counters) is touched by one
// thread only and needs no atomics. The control plane creates SAs, publishes
// them in a table snapshot and frees them only after every worker has passed a
// quiescent point.
#pragma once

#include <cstdint>

#include "crypto/aes_gcm.h"
#include "esp/replay_window.h"

namespace vitesse::esp {

enum class Aead : uint8_t { aes_gcm_16_icv = 0, aes_256_gcm_16_icv = 1 };

inline constexpr uint32_t kEspHeaderLen = 16;  // SPI(4) seq-low(4) IV(8)
inline constexpr uint32_t kIcvLen = 16;
inline constexpr uint32_t kSaltLen = 4;
inline constexpr uint8_t kNextHeaderIpv4 = 4;
inline constexpr uint8_t kNextHeaderIpv6 = 41;

struct SaCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t decrypt_errors = 0;   // inbound: authentication failed
  uint64_t replay_errors = 0;    // inbound: duplicate or left of the window
  uint64_t protocol_errors = 0;  // inbound: bad trailer / next header / truncated
};

struct OutboundSa {
  uint32_t spi = 0;
  uint64_t seq = 0;  // last counter used; the first packet carries 1
  uint8_t salt[kSaltLen] = {};
  crypto::GcmContext gcm;
  SaCounters counters;
};

struct InboundSa {
  uint32_t spi = 0;
  uint8_t salt[kSaltLen] = {};
  crypto::GcmContext gcm;
  ReplayWindow window;
  SaCounters counters;
};

}  // namespace vitesse::esp
