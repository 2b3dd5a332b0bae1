// The peer's endpoint (address and UDP port) of one route on one queue, for
// ESP in UDP (RFC 3948, DESIGN.md §8). The control thread creates one per
// route and queue and frees it like an SA (after the snapshots that name it
// are gone); the queue's worker is its only writer: it moves the endpoint
// when an ESP-in-UDP packet authenticated, passed anti-replay and is the
// newest its SA has seen (inbound.cc), so outbound traffic follows a NAT
// rebinding or a roaming peer on that very packet.
//
// The control thread reads it under a sequence lock (read()): the worker
// makes `version` odd while it writes, even after.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include "net/headers.h"

namespace vitesse {

struct PeerEndpoint {
  std::atomic<uint32_t> version{0};
  std::atomic<uint32_t> learned{0};  // 0 until a packet moved it: the route's gateway and the SA's port are used
  std::atomic<uint64_t> address[2] = {};  // the address in network order (IPv4 in the first 4 octets)
  std::atomic<uint32_t> port{0};
  std::atomic<uint64_t> changes{0};

  struct Value {
    bool learned = false;
    uint8_t address[16] = {};
    uint16_t port = 0;
    uint64_t changes = 0;
  };

  // Worker side (the only writer): relaxed loads of its own stores.
  bool is_learned() const { return learned.load(std::memory_order_relaxed) != 0; }
  uint16_t learned_port() const { return static_cast<uint16_t>(port.load(std::memory_order_relaxed)); }
  void learned_address(uint8_t out[16]) const {
    const uint64_t w[2] = {address[0].load(std::memory_order_relaxed), address[1].load(std::memory_order_relaxed)};
    std::memcpy(out, w, 16);
  }
  bool same(const uint8_t addr[16], uint16_t p) const {
    const uint64_t w[2] = {address[0].load(std::memory_order_relaxed), address[1].load(std::memory_order_relaxed)};
    return learned_port() == p && std::memcmp(w, addr, 16) == 0;
  }
  void move_to(const uint8_t addr[16], uint16_t p) {
    uint64_t w[2];
    std::memcpy(w, addr, 16);
    const uint32_t v = version.load(std::memory_order_relaxed);
    version.store(v + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    address[0].store(w[0], std::memory_order_relaxed);
    address[1].store(w[1], std::memory_order_relaxed);
    port.store(p, std::memory_order_relaxed);
    learned.store(1, std::memory_order_relaxed);
    changes.store(changes.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    version.store(v + 2, std::memory_order_release);
  }

  // Control side: a consistent copy.
  Value read() const {
    Value out;
    for (;;) {
      const uint32_t v1 = version.load(std::memory_order_acquire);
      if (v1 & 1) continue;
      out.learned = learned.load(std::memory_order_relaxed) != 0;
      const uint64_t w[2] = {address[0].load(std::memory_order_relaxed), address[1].load(std::memory_order_relaxed)};
      out.port = static_cast<uint16_t>(port.load(std::memory_order_relaxed));
      out.changes = changes.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (version.load(std::memory_order_relaxed) == v1) {
        std::memcpy(out.address, w, 16);
        return out;
      }
    }
  }
};

}  // namespace vitesse
