// The `af-xdp` driver: one queue of an interface through XDP sockets, with
// the steering XDP program of xsk_group.h.
//
// rx_burst copies frames out of the home socket's RX ring (frames of our own
// UMEM, whose addresses go straight back to our fill ring) and out of the
// sharing sockets' RX rings (frames of other queues' UMEMs, handed back to
// them through return rings), then restocks the fill ring. tx_burst reclaims
// completed frames, copies the burst into free UMEM frames, queues them on
// the TX ring and kicks the kernel (always in copy mode; in zero-copy mode
// only when the driver asks for a wakeup).
//
// Frames that a local network stack sent over a veth pair may still carry a
// partial TCP/UDP checksum (the stack left it to "hardware"); XDP passes them
// on as they are and, unlike af-packet, says nothing about it. A gateway fed
// that way needs checksum offload off on the sending end (ethtool -K <peer>
// tx off). Frames from a wire always carry complete checksums.
#pragma once

#include <memory>

#include "io/drivers.h"
#include "io/link_counter.h"
#include "io/xsk_group.h"

namespace vitesse {

class AfXdpLink final : public Link {
 public:
  // Opens (or joins) the interface's group in the calling thread's namespace.
  explicit AfXdpLink(const LinkSpec& spec);
  ~AfXdpLink() override;
  AfXdpLink(const AfXdpLink&) = delete;
  AfXdpLink& operator=(const AfXdpLink&) = delete;

  uint32_t rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) override;
  uint32_t tx_burst(Packet* const* pkts, uint32_t n) override;
  int wait_fd() const override { return q_->epoll.get(); }
  std::vector<Counter> counters() const override;

 private:
  uint32_t receive(XskRing<xdp_desc>& rx, const uint8_t* umem, PacketPool& pool, Packet** pkts, uint32_t max,
                   uint64_t* addrs, uint64_t* bytes);
  void restock();
  void reclaim();
  void kick_tx();

  std::shared_ptr<XskGroup> group_;
  uint32_t queue_;
  XskGroup::Queue* q_;
  uint8_t* umem_;
  uint32_t frame_size_;
  uint64_t chunk_mask_;  // a UMEM address → its frame's start
  uint64_t addrs_[kBatch];
  uint32_t first_ = 0;  // the socket rx_burst reads first: 0 home, 1.. guests

  LinkCounter rx_packets_, rx_bytes_, tx_packets_, tx_bytes_, tx_oversize_, tx_no_room_, tx_errors_;
};

}  // namespace vitesse
