// Security associations as the data plane sees them (DESIGN.md §4).
//
// Every SA belongs to exactly one worker queue, so its mutable state (the
// outbound counter, the inbound replay window, its counters) is touched by one
// thread only and needs no atomics. The control plane creates SAs, publishes
// them in a table snapshot and frees them only after every worker has passed a
// quiescent point.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "crypto/aes_gcm.h"
#include "esp/replay_window.h"

namespace vitesse::esp {

enum class Aead : uint8_t { aes_gcm_16_icv = 0, aes_256_gcm_16_icv = 1 };

// Key length of an AEAD (its key material is key ‖ salt: this plus kSaltLen).
inline constexpr size_t aead_key_len(Aead a) { return a == Aead::aes_256_gcm_16_icv ? 32 : 16; }

inline constexpr uint32_t kEspHeaderLen = 16;  // SPI(4) seq-low(4) IV(8)
// ESP in UDP (RFC 3948) costs a UDP header: an SA that uses it takes inner
// packets (and pads them for TFC) this much shorter than the MTU.
inline constexpr uint32_t kUdpEncapOverhead = 8;
inline constexpr uint32_t kIcvLen = 16;
// The ESP batch calls (encap.cc, decap.cc) prepare, seal or open and finish
// this many packets at a time: with many SAs a chunk's SA, window, key and
// GHASH lines stay in L1 between its passes (for a worker batch of 64 they
// and the packets are ~38 KiB, more than L1; docs/dataplane.md, "Round four,
// SA lines").
inline constexpr uint32_t kEspChunk = 32;
inline constexpr uint32_t kSaltLen = 4;
inline constexpr uint8_t kNextHeaderIpv4 = 4;
inline constexpr uint8_t kNextHeaderIpv6 = 41;

struct SaCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t decrypt_errors = 0;   // inbound: authentication failed
  uint64_t replay_errors = 0;    // inbound: duplicate or left of the window
  // Inbound drops under the names of the public side's counters
  // (pipeline/counters.h): truncated, bad_trailer, bad_next_header.
  uint64_t truncated_errors = 0;
  uint64_t trailer_errors = 0;
  uint64_t next_header_errors = 0;
  uint64_t policy_errors = 0;    // inbound: decrypted, refused by the inbound policy (pipeline/inbound_policy.h)
  uint64_t encap_errors = 0;     // outbound: not sent, no room for the ESP header or trailer
  uint64_t sequence_exhausted = 0;   // outbound: not sent, every sequence number used (the SA must be rekeyed)
  uint64_t sequence_unreserved = 0;  // outbound: not sent, its number not yet reserved on disk
};

// Without extended sequence numbers (RFC 4303 §2.2.1, a peer without ESN)
// the counter is 32 bits: the AAD is SPI ‖ seq (8 octets) and an outbound SA
// is exhausted once it has sent 2^32-1.
inline constexpr uint64_t sequence_ceiling(bool esn) { return esn ? UINT64_MAX : UINT32_MAX; }

// Both SAs are laid out for the packet (docs/dataplane.md, "Cache lines per
// packet"): what every packet reads or writes outside the key schedule is in
// one cache line (outbound the first: the number and limit; inbound the
// line after the window's blocks: the window's state; both the packet and
// byte counters), then the rarely written error counters, then
// the crypto context (its round keys and GHASH powers, pipeline/prefetch_sa.h).
struct OutboundSa {
  uint32_t spi = 0;
  bool esn = true;
  // ESP in UDP (RFC 3948) when udp_destination_port is not 0: our source
  // port and the peer's port until the route's endpoint was learned
  // (pipeline/peer_endpoint.h); host order.
  uint16_t udp_source_port = 0;
  uint16_t udp_destination_port = 0;
  uint64_t seq = 0;  // last counter used; the first packet carries seq + 1
  // The highest number this SA may send, never above sequence_ceiling(esn)
  // (so one compare on the hot path covers both): the control plane raises
  // it once a reservation up to it is on disk (explicit keys, which outlive
  // a restart; written with a relaxed atomic store from the control thread,
  // read by the worker with a relaxed load). A packet beyond it is dropped,
  // never sent with a number that might have been sent before a restart.
  uint64_t limit = UINT64_MAX;
  SaCounters counters;
  crypto::GcmContext gcm;
};

// Inbound, the window's blocks come first and its state (top, pending top,
// size, mask) at their end, followed by the SPI, ESN flag and the
// packet and byte counters: all a packet reads or writes outside its window
// block and the crypto context is in that one line (docs/dataplane.md,
// "Round four, SA lines"; before, the window's state was in a second line).
struct InboundSa {
  ReplayWindow window;
  uint32_t spi = 0;
  bool esn = true;  // false: seq-high is always 0, nothing is inferred
  SaCounters counters;
  crypto::GcmContext gcm;
};

// The line named above: from the window's state to the byte counter.
inline constexpr size_t kInboundHotLine = (offsetof(InboundSa, window) + ReplayWindow::state_offset()) / 64;
static_assert((offsetof(InboundSa, counters) + offsetof(SaCounters, bytes) + sizeof(uint64_t) - 1) / 64 == kInboundHotLine,
              "an inbound SA's window state, SPI and packet and byte counters share one cache line");
static_assert(offsetof(OutboundSa, counters) + offsetof(SaCounters, bytes) + sizeof(uint64_t) <= 64,
              "an outbound SA's per-packet fields are in its first cache line");

// Key material is key ‖ salt (16+4 octets for aes-gcm-16-icv, 32+4 for
// aes-256-gcm-16-icv); any other length is refused and the SA is left as it
// was. The outbound counter starts at 0 (first packet 1), with no limit; the
// inbound window has `replay_window` entries (see ReplayWindow::init for the
// valid sizes) and accepts numbers from 1 on.
bool init_outbound(OutboundSa& sa, Aead aead, uint32_t spi, const uint8_t* keymat, size_t len);
bool init_inbound(InboundSa& sa, Aead aead, uint32_t spi, const uint8_t* keymat, size_t len,
                  uint32_t replay_window = kDefaultReplayWindow);

// An inbound SA whose peer's counter starts elsewhere (`initial-sequence`):
// every number up to `top` counts as received, so the first accepted is top + 1.
void start_window_at(InboundSa& sa, uint64_t top);

// The outbound limit, across threads (see OutboundSa::limit); capped at the
// SA's ceiling.
inline void set_limit(OutboundSa& sa, uint64_t limit) {
  const uint64_t ceiling = sequence_ceiling(sa.esn);
  std::atomic_ref<uint64_t>(sa.limit).store(limit < ceiling ? limit : ceiling, std::memory_order_relaxed);
}
inline uint64_t limit_of(const OutboundSa& sa) {
  return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(sa.limit)).load(std::memory_order_relaxed);
}

// Zero the key schedule and salt before an SA's memory is released.
void wipe(OutboundSa& sa);
void wipe(InboundSa& sa);

}  // namespace vitesse::esp
