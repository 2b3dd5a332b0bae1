// One worker per queue: a thread that owns a packet pool, a private and a
// public link, and its counters, and moves batches between them:
//   private rx → outbound (outbound.cc) → public tx
//   public rx  → inbound  (inbound.cc)  → private tx
// Frames for the control plane go to the punt ring; the control plane's own
// frames arrive through the inject ring. Nothing here allocates or locks.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "esp/decap.h"
#include "io/link.h"
#include "packet.h"
#include "pipeline/counters.h"
#include "pipeline/tables.h"
#include "util/byte_ring.h"

namespace vitesse {

enum class Side : uint8_t { private_side = 0, public_side = 1 };

// Why a frame went to the control plane.
enum class PuntReason : uint8_t {
  control = 0,       // ARP, ND, ICMP/UDP for one of our addresses
  ttl_exceeded = 1,  // TTL/hop limit would reach 0: send ICMP time exceeded
  too_big = 2,       // over the tunnel MTU: send fragmentation needed / packet too big
  tunnel = 3,        // out of the tunnel, for one of our addresses: answer it back through the tunnel
};

struct PuntHeader {
  uint8_t side;    // Side the frame arrived on
  uint8_t reason;  // PuntReason
  uint16_t queue;
  uint32_t frame_len;  // original length (the record may be truncated)
};

enum class InjectMode : uint8_t {
  transmit = 0,  // send the frame as is on `side`
  receive = 1,   // process it as if it had arrived on `side`
};

struct InjectHeader {
  uint8_t side;
  uint8_t mode;
  uint16_t reserved;
};

class Worker {
 public:
  Worker(uint32_t queue, std::unique_ptr<Link> private_link, std::unique_ptr<Link> public_link, size_t pool_packets);

  // One pass over both links and the inject ring; returns packets handled.
  uint32_t poll(const Tables& t);

  uint32_t queue() const { return queue_; }
  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }
  ByteRing& punts() { return punts_; }
  ByteRing& injects() { return injects_; }
  Link& link(Side s) { return s == Side::private_side ? *private_ : *public_; }
  const Link& link(Side s) const { return s == Side::private_side ? *private_ : *public_; }
  int wait_fd(Side s) const { return (s == Side::private_side ? private_ : public_)->wait_fd(); }

  // Set when a punt ring went from empty to non-empty and the control plane
  // has not been told yet (gateway.cc wakes it once per transition).
  std::atomic<bool> punt_notified{false};

 private:
  void outbound(const Tables& t, Packet** pkts, uint32_t n);
  void inbound(const Tables& t, Packet** pkts, uint32_t n);
  void drain_injects(const Tables& t);
  // Out of line and cold, so that the per-packet loops keep only a call in
  // their rare branches and the compiler lays those out of the hot path.
  [[gnu::cold, gnu::noinline]] void punt(Packet* p, Side side, PuntReason reason);
  [[gnu::cold, gnu::noinline]] void drop(Packet* p, Counter reason);
  // `bytes`, when known, is the packets' total length: the caller's loop
  // had their lengths at hand, so no second pass reads them (unless the
  // link refuses some, whose lengths are then taken out).
  void transmit(Side side, Packet** pkts, uint32_t n, uint64_t bytes = UINT64_MAX);

  uint32_t queue_;
  std::unique_ptr<Link> private_;
  std::unique_ptr<Link> public_;
  PacketPool pool_;
  Counters counters_;
  ByteRing punts_;
  ByteRing injects_;
  uint16_t ip_id_ = 0;
};

}  // namespace vitesse
