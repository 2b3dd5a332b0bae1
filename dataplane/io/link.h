// The packet I/O driver interface: every driver (memory, pcap, af_packet,
// af_xdp) moves bursts of frames between a medium and a worker's pool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "packet.h"

namespace vitesse {

class Link {
 public:
  virtual ~Link() = default;
  // Receives up to `max` frames into packets allocated from `pool`; returns
  // how many. Never blocks.
  virtual uint32_t rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) = 0;
  // Transmits frames; returns how many the medium accepted. The packets stay
  // the caller's (drivers copy), so the caller frees all n afterwards and
  // counts n - returned as tx drops. Never blocks. A driver may instead
  // exchange an accepted packet's buffer for one of its own of the same size
  // (softbench's loopback, io/loopback_link.h): data and len then keep their
  // offset and length, the contents are unspecified.
  virtual uint32_t tx_burst(Packet* const* pkts, uint32_t n) = 0;
  // A file descriptor that becomes readable when rx_burst would return
  // frames, for idle workers to sleep on; -1 if the driver has none.
  virtual int wait_fd() const { return -1; }
  // Flushes frames queued by tx_burst (drivers that batch kernel calls).
  virtual void flush() {}

  // The driver's own counters (name, value), e.g. kernel-side drops, for the
  // control plane. Not for the hot path: it may allocate and ask the kernel.
  // Any thread may call it while the owning worker runs (drivers keep these
  // counters as relaxed atomics written by that worker only).
  struct Counter { std::string name; uint64_t value; };
  virtual std::vector<Counter> counters() const { return {}; }
};

}  // namespace vitesse
