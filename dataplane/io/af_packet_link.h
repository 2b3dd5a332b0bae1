// The `af-packet` driver: any Linux interface, through a packet socket.
//
// Receive: a TPACKET_V3 ring (blocks of frames the kernel fills and hands
// over whole, or after a 1 ms timeout when traffic is light); rx_burst copies
// frames out of the current block into pool packets and returns each block
// as soon as it is read. Frames this host sends are ignored
// (PACKET_IGNORE_OUTGOING). Several queues of a private interface share the
// flows through a hash fanout group; on a public interface each queue's
// socket filters for its own address (af_packet_filter.h).
//
// Super-frames: the socket reads a virtio-net header with every frame
// (PACKET_VNET_HDR, when the kernel has it), so TCP/UDP super-frames a local
// stack left to segmentation offload are cut into wire-sized frames here, in
// the worker, before anything else sees them (io/gso.h), and checksums left
// to offload are completed; a super-frame that cannot be cut is dropped and
// counted (rx_gso_unsupported). Every transmitted frame then carries a
// header in front: empty, or, where the interface takes TSO, that of a
// super-frame coalesced from consecutive TCP segments of one flow in a burst
// (io/gso_coalesce.h; counters tx_gso_frames, tx_gso_segments); on the
// public side, where the interface takes tx-udp-segmentation, also that of a
// UDP super-frame coalesced from consecutive ESP-in-UDP datagrams to one peer
// (io/udp_gso_coalesce.h; the same counters).
//
// Transmit: one sendmmsg per burst, or a TPACKET_V3 TX ring filled by
// tx_burst and kicked with one sendto (LinkSpec::tx_method says which and
// why sendmmsg is the default); both skip the qdisc layer unless
// LinkSpec::qdisc_bypass is off.
#pragma once

#include <linux/if_packet.h>
#include <sys/socket.h>

#include <mutex>

#include "io/af_packet_fanout.h"
#include "io/drivers.h"
#include "io/gso.h"
#include "io/gso_coalesce.h"
#include "io/link_counter.h"
#include "io/udp_gso_coalesce.h"

namespace vitesse {

class AfPacketLink final : public Link {
 public:
  // Opens the socket in the calling thread's network namespace.
  explicit AfPacketLink(const LinkSpec& spec);
  ~AfPacketLink() override;
  AfPacketLink(const AfPacketLink&) = delete;
  AfPacketLink& operator=(const AfPacketLink&) = delete;

  uint32_t rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) override;
  uint32_t tx_burst(Packet* const* pkts, uint32_t n) override;
  int wait_fd() const override { return fd_; }
  std::vector<Counter> counters() const override;

 private:
  void setup_rings();
  void release_block();
  // Cuts the super-frame at rx_next_ into pkts (from segment gso_next_ on);
  // true when all its segments are out.
  bool rx_super(PacketPool& pool, Packet** pkts, uint32_t max, uint32_t* n, uint64_t* bytes);
  void next_frame();
  uint32_t tx_ring(Packet* const* pkts, uint32_t n);
  uint32_t tx_mmsg(Packet* const* pkts, uint32_t n);
  // The run of frames from pkts[i] on that coalesce into one super-frame
  // (io/gso_coalesce.h, io/udp_gso_coalesce.h); builds message m's headers
  // when more than one.
  uint32_t tx_run(Packet* const* pkts, uint32_t i, uint32_t n, uint32_t m, iovec* iov);

  std::string ifname_;
  int fd_ = -1;
  bool use_tx_ring_ = false;
  bool vnet_ = false;        // frames carry a virtio-net header (PACKET_VNET_HDR)
  bool tx_gso_ = false;      // coalesce TCP segments on transmit (the interface takes TSO)
  bool tx_udp_gso_ = false;  // coalesce UDP datagrams on transmit (public side, tx-udp-segmentation)
  uint32_t gso_next_ = 0;    // the next segment of the super-frame at rx_next_
  uint32_t max_frame_ = 0;  // the MTU with Ethernet and VLAN headers: longer frames are not sent
  uint8_t* map_ = nullptr;
  size_t map_len_ = 0;

  // Receive ring: blocks the kernel fills; we read block rx_block_.
  uint8_t* rx_ring_ = nullptr;
  uint32_t rx_block_size_ = 0, rx_blocks_ = 0;
  uint32_t rx_block_ = 0;
  uint32_t rx_left_ = 0;        // frames not yet read in the open block (0: none open)
  uint8_t* rx_next_ = nullptr;  // next frame header in the open block

  // Transmit ring: fixed-size slots, used in order.
  uint8_t* tx_ring_ = nullptr;
  uint32_t tx_slot_size_ = 0, tx_slots_ = 0, tx_head_ = 0;

  // sendmmsg: one message per packet of a burst, or per run of packets
  // coalesced into a super-frame, built in place.
  mmsghdr msgs_[kBatch];
  // Per message: the virtio-net header (if vnet_), then the frame; or, for a
  // super-frame, its virtio-net header, its headers and each packet's payload.
  iovec iovs_[3 * kBatch];
  uint32_t msg_packet_[kBatch];  // message j starts with packet msg_packet_[j]
  uint32_t msg_count_[kBatch];   // and carries msg_count_[j] packets
  uint8_t msg_vnet_[kBatch][gso::kVnetHdrLen];
  uint8_t msg_hdr_[kBatch][gso::kMaxCoalesceHdr];
  static_assert(gso::kMaxUdpCoalesceHdr <= gso::kMaxCoalesceHdr);

  FanoutMembership fanout_;

  LinkCounter rx_packets_, rx_bytes_, rx_oversize_, rx_truncated_, rx_csum_partial_, rx_gso_frames_, rx_gso_unsupported_;
  LinkCounter tx_packets_, tx_bytes_, tx_oversize_, tx_ring_full_, tx_errors_, tx_gso_frames_, tx_gso_segments_;
  // PACKET_STATISTICS resets the kernel's counters on every read.
  mutable std::mutex kernel_mu_;
  mutable uint64_t kernel_drops_ = 0, kernel_freezes_ = 0;
};

}  // namespace vitesse
