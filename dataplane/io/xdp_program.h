// The XDP program of the af-xdp driver, written as raw BPF instructions and
// loaded with bpf(2), with its maps:
//   xsks   BPF_MAP_TYPE_XSKMAP, key rx_queue * queues + queue: the socket that
//          takes, for worker queue `queue`, the frames arriving on NIC receive
//          queue `rx_queue` (an XDP socket only ever receives frames from the
//          receive queue it is bound to, so a worker that must see frames
//          arriving on other receive queues has one socket on each);
//   addrs  BPF_MAP_TYPE_HASH, 16-byte address (IPv4 mapped) → owning queue
//          (public side only).
// Steering, for a frame arriving on receive queue r:
//   private side (RSS): queue r — the NIC spread the flows;
//   public side: the queue owning the frame's destination IPv4/IPv6 address;
//          anything else (ARP, neighbour discovery, other addresses, VLAN
//          tagged) goes to queue 0, whose worker punts it to the control plane.
// A frame whose socket slot is empty is passed to the kernel (XDP_PASS).
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <vector>

#include "io/bpf_syscall.h"
#include "io/queue_address.h"

namespace vitesse {

class XdpSteering {
 public:
  // The program's name, by which a program left by a killed process is
  // recognised as ours (and replaced) rather than someone else's (kept).
  static constexpr const char* kProgramName = "vitesse_xsk";

  // Creates the maps and loads the program. `addresses` empty: steer by
  // receive queue; else one address per queue. Throws std::runtime_error.
  XdpSteering(uint32_t queues, const std::vector<QueueAddress>& addresses);

  int prog() const { return prog_.get(); }
  uint32_t slot(uint32_t rx_queue, uint32_t queue) const { return rx_queue * queues_ + queue; }
  // Puts an XDP socket in (or takes it out of) the xsks map; -errno on failure.
  int set_socket(uint32_t slot, int xsk);
  int clear_socket(uint32_t slot);

  // The instructions, given the maps' descriptors (public for tests).
  static std::vector<bpf_insn> program(uint32_t queues, bool by_destination, int xsks, int addrs);

 private:
  uint32_t queues_;
  bpf::Fd xsks_, addrs_, prog_;
};

}  // namespace vitesse
