// Per-worker counters. Each worker writes only its own block (no atomics on the
// hot path: relaxed loads/stores of a plain 64-bit word compile to a mov), and
// the control plane sums the blocks when it reads them.
//
// Every drop has a counter named for its reason (`*_drop_*`): operators can
// always see why. Frames handed to the control plane are counted by why they
// were punted (`*_ttl_expired`, `private_too_big`) and in `punted_packets`, so
// every received frame is forwarded, punted or dropped — and counted once.
#pragma once

#include <atomic>
#include <cstdint>

namespace vitesse {

#define VITESSE_COUNTERS(X)                                                                   \
  X(private_rx_packets) X(private_rx_bytes) X(private_tx_packets) X(private_tx_bytes)        \
  X(public_rx_packets) X(public_rx_bytes) X(public_tx_packets) X(public_tx_bytes)            \
  X(encapsulated_packets) X(decapsulated_packets)                                            \
  X(punted_packets) X(injected_packets)                                                      \
  /* drops on the way private → public */                                                    \
  X(private_drop_bad_header) X(private_drop_unknown_ethertype) X(private_drop_no_route)     \
  X(private_drop_no_sa) X(private_ttl_expired) X(private_too_big)                  \
  X(private_drop_no_nexthop) X(private_drop_encap) X(private_drop_sequence_unreserved)     \
  X(private_drop_source_route) X(private_drop_jumbogram)                                     \
  /* drops on the way public → private */                                                    \
  X(public_drop_bad_header) X(public_drop_unknown_ethertype) X(public_drop_not_for_us)      \
  X(public_drop_unknown_protocol) X(public_drop_fragment) X(public_drop_unknown_spi)         \
  X(public_drop_truncated) X(public_drop_replay) X(public_drop_authentication)              \
  X(public_drop_bad_trailer) X(public_drop_bad_next_header) X(public_ttl_expired)      \
  X(public_drop_no_nexthop) X(public_drop_inbound_policy)                                   \
  X(public_drop_source_route) X(public_drop_jumbogram)                                       \
  /* resources */                                                                            \
  X(private_tx_drop_full) X(public_tx_drop_full) X(punt_drop_full) X(inject_drop_bad)       \
  X(rx_drop_no_buffer)

enum class Counter : uint16_t {
#define VITESSE_COUNTER_ENUM(name) name,
  VITESSE_COUNTERS(VITESSE_COUNTER_ENUM)
#undef VITESSE_COUNTER_ENUM
  count
};

inline constexpr const char* kCounterNames[] = {
#define VITESSE_COUNTER_NAME(name) #name,
    VITESSE_COUNTERS(VITESSE_COUNTER_NAME)
#undef VITESSE_COUNTER_NAME
};

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
