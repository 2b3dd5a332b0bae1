// Everything the af-xdp queues of one interface share: the XDP program and
// its maps, and every queue's UMEM and sockets. The first queue opened builds
// the whole group (all `queues` queues) and attaches the program; later
// queues take their part; the last one closed detaches the program and frees
// it all.
//
// Queue q's part, touched only by queue q's worker:
//   umem   its packet memory: receive frames (fill ring) and transmit frames;
//   home   its socket on receive queue q: fill, completion, RX and TX rings;
//   guests (public side) one sharing socket on each other receive queue r,
//          bound to r and fed from r's fill ring: frames for q's address that
//          the NIC delivered on queue r reach q's worker through it (an XDP
//          socket only receives from the queue it is bound to, so the XDP
//          program cannot send them to q's home socket). Their frames belong
//          to r's UMEM and go back to r through a FrameReturnRing.
// With a NIC that steers by destination in hardware (ntuple rules), frames
// for q arrive on queue q and the guest sockets stay idle; on a NIC or veth
// without such rules they carry the traffic that lands on the wrong queue.
//
// Workers stay independent: each fill ring has one producer (its owner), each
// return ring one producer and one consumer. The price: receive queue r runs
// on r's fill ring, so while queue r is closed (its worker stopped) frames
// arriving on r stop being received for every queue once that ring drains.
// A gateway opens and closes an interface's queues together.
#pragma once

#include <linux/if_link.h>

#include <memory>
#include <string>
#include <vector>

#include "io/bpf_syscall.h"
#include "io/drivers.h"
#include "io/frame_return_ring.h"
#include "io/interface.h"
#include "io/unique_fd.h"
#include "io/xdp_netlink.h"
#include "io/xdp_program.h"
#include "io/xsk_socket.h"

namespace vitesse {

class XskGroup {
 public:
  // UMEM frames are 2 KiB, or 4 KiB when the MTU needs it (the largest an
  // aligned UMEM takes: frames do not span pages). The kernel puts a received
  // frame 256 bytes (XDP_PACKET_HEADROOM) into its chunk, so 2 KiB frames
  // take frames up to 1792 bytes (MTU 1774 with a VLAN tag), 4 KiB ones up
  // to 3840.
  static constexpr uint32_t kRxHeadroom = 256;
  // Ring sizes (frames). The RX ring absorbs a worker's scheduling hiccups
  // (4096 minimum-size frames: ~4 ms at 1 Mpps); receive frames cover a full
  // fill ring plus a full RX ring, transmit frames the TX ring.
  static constexpr XskRingSizes kHomeRings{.fill = 4096, .completion = 2048, .rx = 4096, .tx = 2048};
  static constexpr uint32_t kGuestRxRing = 2048;
  static constexpr uint32_t kRxFrames = kHomeRings.fill + kHomeRings.rx;
  static constexpr uint32_t kTxFrames = kHomeRings.tx;

  struct Guest {
    std::unique_ptr<XskSocket> socket;
    uint32_t owner;             // the receive queue it is bound to, whose UMEM its frames are in
    const uint8_t* umem;        // that UMEM
    FrameReturnRing* back;      // where those frames go after use
  };
  struct Queue {
    std::unique_ptr<Umem> umem;
    std::unique_ptr<XskSocket> home;
    std::vector<Guest> guests;
    std::vector<FrameReturnRing*> returned;  // our frames coming back from other queues
    std::vector<uint64_t> free_rx, free_tx;  // frames in no ring (stacks, capacity reserved)
    UniqueFd epoll;                          // readable when home or a guest has frames
    bool busy_poll = false;                  // home asks for SO_PREFER_BUSY_POLL (LinkSpec::busy_poll)
    bool open = false;
  };

  // The group for spec's interface (creating it, attaching the program, if this
  // is the first queue) with spec.queue marked open. Call in the interface's
  // network namespace. Throws std::runtime_error.
  static std::shared_ptr<XskGroup> open(const LinkSpec& spec);
  // Marks the queue closed (the group goes when its last holder drops it).
  void close(uint32_t queue);

  Queue& queue(uint32_t q) { return queues_[q]; }
  uint32_t frame_size() const { return frame_size_; }
  uint32_t queues() const { return static_cast<uint32_t>(queues_.size()); }
  bool native() const { return mode_ != XDP_FLAGS_SKB_MODE; }

  ~XskGroup();
  XskGroup(const XskGroup&) = delete;
  XskGroup& operator=(const XskGroup&) = delete;

 private:
  XskGroup(const LinkSpec& spec, const Interface& itf);
  void attach();
  void detach();
  void build_queues(XskBind bind);
  void drain_stale(uint32_t q);
  bool same_setup(const LinkSpec& spec) const;

  LinkSpec spec_;
  Interface itf_;
  XdpNetlink netlink_;
  XdpSteering steering_;
  uint32_t frame_size_;
  uint32_t mode_ = 0;  // XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE, once attached
  std::vector<Queue> queues_;
  std::vector<std::unique_ptr<FrameReturnRing>> return_rings_;  // [receiver * queues + owner]
};

}  // namespace vitesse
