// Coalescing on transmit for UDP (io/gso_coalesce.h does TCP): consecutive
// datagrams of one UDP flow in a burst — on the public side, the ESP in UDP
// (RFC 3948) that the outbound pipeline just sealed for one peer — go to the
// kernel as one UDP GSO super-frame (virtio-net header GSO_UDP_L4, checksum
// left as NEEDS_CSUM). Plain ESP has no GSO type, so each ESP frame is one
// skb through the send, every forwarding hop on the machine and the peer's
// receive; a UDP GSO skb stays one skb through a veth, IP forwarding and the
// receiving packet socket (which cuts it, io/gso.h), or is cut by a NIC with
// UDP segmentation offload.
//
// Exactness: the super-frame must be what the kernel's UDP segmentation (and
// io/gso.h's write_segment) turns back into the very datagrams merged. So a
// datagram joins a run only if it is IPv4 (no options, not a fragment, valid
// header checksum) or IPv6 (no extension headers) UDP with payload; its link,
// IP and UDP headers equal the run's first datagram's except IP length, IPv4
// ID (the first's + k, as the kernel numbers segments), header checksum, UDP
// length and checksum; every datagram before it carried exactly the first's
// payload size and it carries no more; the run stays within 64 KB of IP and
// kMaxUdpSegments datagrams. A UDP checksum is verified first, so that a
// damaged datagram is never hidden in a super-frame whose checksum the
// receiver trusts. One difference is by design: an IPv4 datagram sent
// without a UDP checksum (0, as RFC 3948 allows for ESP in UDP) comes out of
// the segmentation with one. Nothing here allocates.
#pragma once

#include <cstdint>
#include <utility>

#include "io/coalesce_ip.h"

namespace vitesse::gso {

// The kernel refuses a GSO_UDP_L4 packet-socket frame of more segments than
// UDP_MAX_SEGMENTS (64, more on the newest kernels); a burst is at most 64
// frames anyway.
inline constexpr uint32_t kMaxUdpSegments = 64;

// Room for the headers of a UDP super-frame: Ethernet, a VLAN tag, IPv6 (or
// IPv4 without options), UDP.
inline constexpr uint32_t kMaxUdpCoalesceHdr = 14 + 4 + 40 + 8;

// A datagram's headers (its IP layer, io/coalesce_ip.h: the UDP header at
// l4, the payload at l4 + 8) and payload.
struct UdpDatagram : IpLayer {
  uint32_t payload = 0;  // UDP payload bytes (> 0)
};

// True if the frame may take part in a run (the rules above, except the UDP
// checksum, which udp_checksum_ok checks once a run forms).
bool parse_udp_datagram(const uint8_t* f, uint32_t len, UdpDatagram* d);

// The datagram's UDP checksum is valid, or absent (0, IPv4 only).
bool udp_checksum_ok(const uint8_t* f, const UdpDatagram& d);

// True if `next` (frame nf) continues a run of `datagrams` datagrams carrying
// `payload` bytes, whose first is `head` (frame hf) and whose last so far is
// `prev`.
bool udp_continues(const uint8_t* hf, const UdpDatagram& head, const UdpDatagram& prev, uint32_t datagrams,
                   uint32_t payload, const uint8_t* nf, const UdpDatagram& next);

// Writes the super-frame's headers (head.l4 + 8 bytes, to hdr) and its
// virtio-net header (10 bytes, to vnet) for a run of `payload` bytes: the
// first datagram's headers with the IP and UDP lengths of the whole, a fresh
// IPv4 header checksum, and the UDP checksum field holding the pseudo-header
// sum (NEEDS_CSUM: csum_start at the UDP header, csum_offset 6); gso_size is
// the first datagram's payload size.
void write_udp_super_headers(const uint8_t* hf, const UdpDatagram& head, uint32_t payload, uint8_t* hdr,
                             uint8_t* vnet);

struct UdpRun {
  UdpDatagram head;
  uint32_t datagrams = 1;
  uint32_t payload = 0;
};

// The run of frames 0, 1, … (< n) that coalesce into one UDP super-frame;
// frame(j) gives frame j as {data, length} ({nullptr, 0}: never merge it).
// datagrams == 1: send frame 0 alone.
template <typename FrameAt>
UdpRun find_udp_run(uint32_t n, FrameAt frame) {
  UdpRun r;
  if (n < 2) return r;
  const std::pair<const uint8_t*, uint32_t> h = frame(0);
  if (!h.first || !parse_udp_datagram(h.first, h.second, &r.head)) return r;
  UdpDatagram prev = r.head, next;
  r.payload = r.head.payload;
  for (uint32_t j = 1; j < n; j++) {
    const std::pair<const uint8_t*, uint32_t> f = frame(j);
    if (!f.first || !parse_udp_datagram(f.first, f.second, &next)) break;
    if (!udp_continues(h.first, r.head, prev, r.datagrams, r.payload, f.first, next)) break;
    if (r.datagrams == 1 && !udp_checksum_ok(h.first, r.head)) break;
    if (!udp_checksum_ok(f.first, next)) break;
    prev = next;
    r.payload += next.payload;
    r.datagrams++;
  }
  return r;
}

}  // namespace vitesse::gso
