// Opening a packet I/O driver by name: the one call the gateway makes to get
// a Link for one queue of one interface (DESIGN.md §3).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/link.h"

namespace vitesse {

struct LinkSpec {
  std::string driver;      // "af-packet" | "af-xdp" | "pcap"
  std::string ifname;      // interface (af-packet/af-xdp)
  uint32_t queue = 0;      // this worker's queue index
  uint32_t queues = 1;     // total queues on this interface
  bool steer_by_destination = false;  // public side: frames go to the queue owning their dst IP
  std::vector<std::string> queue_addresses; // public side: the IPv4/IPv6 address each queue owns
  std::string pcap_in, pcap_out;      // pcap driver: file to read (may be empty) / write (may be empty)

  // The interface's network namespace: a name as `ip netns` knows it, or a
  // path (/proc/<pid>/ns/net); empty for the caller's own.
  std::string netns;
  // af-packet: how tx_burst hands frames to the kernel: "sendmmsg" (one call
  // per burst, the kernel copies from the packets) or "ring" (a TPACKET_V3 TX
  // ring, one sendto per burst). Empty: "sendmmsg". Over veth on our 2-core
  // VM the two were within measurement noise of each other (0.2-0.7 Mpps at
  // 60 bytes either way; interleaved send-only runs favoured sendmmsg in 5 of
  // 6 pairs, by 5-25% CPU per frame), and sendmmsg is the simpler: no ring
  // memory, no slot held while the kernel still owns the frame (`vitesse
  // bench io --tx-method sendmmsg,ring` to measure on your hardware).
  std::string tx_method;
  // af-packet: skip the qdisc layer on transmit (frames go straight to the
  // driver; no traffic shaping, no local taps see them). On by default.
  bool qdisc_bypass = true;
  // af-packet: send consecutive TCP segments of one flow in a burst as one
  // super-frame (io/gso_coalesce.h) when the interface takes TSO. On by
  // default; off to measure without it.
  bool tx_gso = true;
  // af-packet, with tx_gso: also send consecutive datagrams of one UDP flow
  // in a burst as one UDP GSO super-frame (io/udp_gso_coalesce.h) when the
  // interface takes tx-udp-segmentation. Set on the public side (ESP in UDP
  // to a peer); UDP to hosts goes out as it is.
  bool tx_udp_gso = false;
  // af-xdp: where the XDP program runs: "native" (in the driver), "generic"
  // (after the kernel builds an skb: any interface, slower), or "auto" (native,
  // else generic).
  std::string xdp_mode = "auto";
  // af-xdp: "auto" (zero-copy if the driver supports it, else copy), "copy"
  // or "zero-copy".
  std::string xdp_bind = "auto";
  // af-xdp: the worker polls without sleeping (`vitesse run --busywait`):
  // its sockets ask the kernel to let that polling drive the queue
  // (SO_PREFER_BUSY_POLL, where the kernel offers it).
  bool busy_poll = false;
};

// Throws std::runtime_error with a precise message (interface missing, not root,
// XDP not supported, ...).
std::unique_ptr<Link> open_link(const LinkSpec& spec);

}  // namespace vitesse
