// The mirror image of gso.h, on transmit: consecutive TCP segments of one
// flow in a burst (typically what the inbound pipeline just decrypted, in
// order) are sent to a local stack as one super-frame with a virtio-net
// header (GSO_TCPV4/TCPV6, checksum left as NEEDS_CSUM), as wireguard-go
// does on its TUN device: the host behind a veth receives one skb instead of
// ~45, and the kernel runs one packet-socket send instead of ~45.
//
// Exactness: the super-frame must be what the kernel's segmentation turns
// back into the very segments merged (gso.h's write_segment is that
// segmentation). So a segment joins a run only if it is an IPv4 (no options,
// not a fragment) or IPv6 (no extension headers) TCP segment with payload
// and a valid checksum; its link, IP and TCP headers equal the run's first
// segment's except IP length, IPv4 ID (which must be the first's + k, as the
// kernel numbers segments), TCP sequence number (contiguous with the
// previous segment's data), checksum and PSH; no SYN, FIN, RST, URG or CWR;
// every segment before it carried exactly the first's payload size and no
// PSH; and the run stays within 64 KB of IP. Nothing here allocates.
#pragma once

#include <cstdint>
#include <utility>

#include "io/coalesce_ip.h"

namespace vitesse::gso {

// What a frame offers to a run: its headers (the IP layer, io/coalesce_ip.h:
// the TCP header at l4), its TCP payload.
struct TcpSegment : IpLayer {
  uint32_t hdr_len = 0;  // all headers: the payload starts here
  uint32_t payload = 0;  // TCP payload bytes (> 0)
  uint32_t seq = 0;
  uint8_t flags = 0;     // TCP flags byte
};

// Room for the headers of a super-frame: Ethernet, a VLAN tag, IPv6 (or IPv4
// without options), TCP with options.
inline constexpr uint32_t kMaxCoalesceHdr = 14 + 4 + 40 + 60;

// True if the frame may take part in a run (the rules above, except the TCP
// checksum, which tcp_checksum_ok checks only once a run forms; a damaged
// IPv4 header checksum keeps a frame out, since the super-frame's is new).
bool parse_tcp_segment(const uint8_t* f, uint32_t len, TcpSegment* s);

// The frame's TCP checksum is valid (pseudo header, header, payload). A
// super-frame leaves its checksum to the receiver's "hardware", which a
// local stack trusts: a segment that arrived damaged must not be merged into
// one that the receiver would accept.
bool tcp_checksum_ok(const uint8_t* f, const TcpSegment& s);

// True if `next` (frame nf) continues a run of `segments` segments carrying
// `payload` bytes, whose first segment is `head` (frame hf) and whose last
// so far is `prev`.
bool continues(const uint8_t* hf, const TcpSegment& head, const TcpSegment& prev, uint32_t segments, uint32_t payload,
               const uint8_t* nf, const TcpSegment& next);

// Writes the super-frame's headers (head.hdr_len bytes, to hdr) and its
// virtio-net header (10 bytes, to vnet) for a run of `payload` bytes whose
// last segment had TCP flags `last_flags`: the first segment's headers with
// the IP length of the whole, its PSH from the last segment, a fresh IPv4
// header checksum, and the TCP checksum field holding the pseudo-header sum
// (NEEDS_CSUM: csum_start at the TCP header, csum_offset 16); gso_size is the
// first segment's payload size.
void write_super_headers(const uint8_t* hf, const TcpSegment& head, uint32_t payload, uint8_t last_flags, uint8_t* hdr,
                         uint8_t* vnet);

// A run found by find_run: its first segment, the payload it carries, the
// last segment's TCP flags.
struct Run {
  TcpSegment head;
  uint32_t segments = 1;
  uint32_t payload = 0;
  uint8_t last_flags = 0;
};

// The run of frames 0, 1, … (< n) that coalesce into one super-frame;
// frame(j) gives frame j as {data, length} ({nullptr, 0}: never merge it,
// e.g. too long to send). segments == 1: send frame 0 alone.
template <typename FrameAt>
Run find_run(uint32_t n, FrameAt frame) {
  Run r;
  if (n < 2) return r;
  const std::pair<const uint8_t*, uint32_t> h = frame(0);
  if (!h.first || !parse_tcp_segment(h.first, h.second, &r.head)) return r;
  TcpSegment prev = r.head, next;
  r.payload = r.head.payload;
  for (uint32_t j = 1; j < n; j++) {
    const std::pair<const uint8_t*, uint32_t> f = frame(j);
    if (!f.first || !parse_tcp_segment(f.first, f.second, &next)) break;
    if (!continues(h.first, r.head, prev, r.segments, r.payload, f.first, next)) break;
    if (r.segments == 1 && !tcp_checksum_ok(h.first, r.head)) break;
    if (!tcp_checksum_ok(f.first, next)) break;
    prev = next;
    r.payload += next.payload;
    r.segments++;
  }
  r.last_flags = prev.flags;
  return r;
}

}  // namespace vitesse::gso
