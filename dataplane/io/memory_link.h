// The `memory` driver: an in-process wire with two ends, each end with one
// receive ring per queue. What one end transmits lands in the other end's
// rings (or its own, for a loopback wire); the receiving end's steering picks
// the ring, as a NIC would: by flow hash (RSS, the private side), by
// destination address (each queue owns a public address), or same-queue.
//
// Wires are named so that the control plane, tests and benchmarks can attach
// to the same wire a gateway uses.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/link.h"
#include "net/headers.h"
#include "util/byte_ring.h"

namespace vitesse {

enum class Steering : uint8_t { same_queue, flow_hash, destination };

class MemoryWire {
 public:
  struct EndConfig {
    uint32_t queues = 1;
    Steering steering = Steering::same_queue;
    std::vector<net::IpAddr> queue_addresses;  // Steering::destination
  };
  MemoryWire(bool loopback, EndConfig a, EndConfig b, size_t ring_bytes);

  // Sends a frame from `from_end` (sender queue `from_queue`); false if the
  // receiving ring is full (the frame is lost, like on a congested wire).
  bool send(int from_end, uint32_t from_queue, const uint8_t* frame, uint32_t len);
  ByteRing& ring(int end, uint32_t queue) { return *rings_[end][queue]; }
  uint32_t queues(int end) const { return config_[end].queues; }
  int peer(int end) const { return loopback_ ? end : 1 - end; }

  // Registry of named wires (control-plane threads only).
  static std::shared_ptr<MemoryWire> create(const std::string& name, bool loopback, EndConfig a, EndConfig b,
                                            size_t ring_bytes);
  static std::shared_ptr<MemoryWire> find(const std::string& name);
  static void destroy(const std::string& name);

 private:
  uint32_t select_queue(int end, uint32_t from_queue, const uint8_t* frame, uint32_t len) const;

  bool loopback_;
  EndConfig config_[2];
  std::vector<std::unique_ptr<ByteRing>> rings_[2];
};

class MemoryLink final : public Link {
 public:
  MemoryLink(std::shared_ptr<MemoryWire> wire, int end, uint32_t queue)
      : wire_(std::move(wire)), end_(end), queue_(queue) {}
  uint32_t rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) override;
  uint32_t tx_burst(Packet* const* pkts, uint32_t n) override;

 private:
  std::shared_ptr<MemoryWire> wire_;
  int end_;
  uint32_t queue_;
};

}  // namespace vitesse
