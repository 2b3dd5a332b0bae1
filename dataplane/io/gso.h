// Super-frames from a local network stack. A host on the other end of a veth
// (or a VM behind virtio) hands the gateway TCP segments of up to 64 KB and
// UDP datagrams to be split ("GSO"), leaving the segmentation and the
// transport checksum to an offload that is not there. af-packet reads them
// with a virtio-net header (PACKET_VNET_HDR) that says so; this file turns
// such a frame into the wire-sized frames the sender's NIC would have sent,
// as wireguard-go does on its TUN device, so that hosts keep their default
// offloads.
//
// Segment k of a frame is computed from the frame and k alone, so a caller
// with room for fewer segments than a frame has resumes at the next k on its
// next burst. Nothing here allocates.
#pragma once

#include <cstdint>

namespace vitesse::gso {

// The virtio-net header as a packet socket writes it (struct virtio_net_hdr,
// little-endian fields on the hosts we run on).
inline constexpr uint32_t kVnetHdrLen = 10;
inline constexpr uint8_t kNeedsCsum = 1;      // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr uint8_t kGsoNone = 0;        // VIRTIO_NET_HDR_GSO_NONE
inline constexpr uint8_t kGsoTcpv4 = 1;       // VIRTIO_NET_HDR_GSO_TCPV4
inline constexpr uint8_t kGsoUdp = 3;         // VIRTIO_NET_HDR_GSO_UDP (IP fragmentation, "UFO")
inline constexpr uint8_t kGsoTcpv6 = 4;       // VIRTIO_NET_HDR_GSO_TCPV6
inline constexpr uint8_t kGsoUdpL4 = 5;       // VIRTIO_NET_HDR_GSO_UDP_L4 (UDP segmentation)
inline constexpr uint8_t kGsoEcn = 0x80;      // VIRTIO_NET_HDR_GSO_ECN
// More segments than this from one frame is not a sender's TCP or UDP GSO
// (64 KB in 64-byte segments) but a way to multiply one frame: refused.
inline constexpr uint32_t kMaxSegments = 1024;

struct VnetHdr {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};
VnetHdr read_vnet_hdr(const uint8_t* p);

// How to cut a super-frame: its headers are frame[0, hdr_len), segment k
// carries payload bytes [hdr_len + k*mss, …) of at most mss bytes.
struct Plan {
  uint32_t l3 = 0;       // IP header offset (after Ethernet and a VLAN tag in the frame)
  uint32_t l4 = 0;       // TCP/UDP header offset
  uint32_t hdr_len = 0;  // all headers, payload starts here
  uint32_t mss = 0;
  uint32_t segments = 0;
  uint8_t proto = 0;  // 6 TCP, 17 UDP
  bool ipv6 = false;
};

// Plans the segmentation of an Ethernet frame of `len` bytes whose header
// says gso_type != NONE; false if it cannot be segmented (a GSO type other
// than TCP or UDP segmentation, headers that do not match the type, IPv6
// extension headers, an IPv4 fragment, no payload, a segment longer than
// `max_segment` or more than kMaxSegments segments).
bool plan(const VnetHdr& h, const uint8_t* frame, uint32_t len, uint32_t max_segment, Plan* out);

// Writes segment k (< p.segments) to `out` (room for hdr_len + mss bytes):
// the headers with lengths, IPv4 ID, TCP sequence number and flags (FIN and
// PSH on the last segment only, CWR on the first only) of that segment, its
// payload, and complete IPv4 header and TCP/UDP checksums. Returns its length.
uint32_t write_segment(const Plan& p, const uint8_t* frame, uint32_t len, uint32_t k, uint8_t* out);

// Completes a checksum left to offload (NEEDS_CSUM) the way a NIC would: the
// 16-bit field at csum_start + csum_offset holds the pseudo-header sum, and
// gets the complemented sum of everything from csum_start on. False (frame
// untouched) if the offsets do not fit the frame.
bool complete_csum(const VnetHdr& h, uint8_t* frame, uint32_t len);

}  // namespace vitesse::gso
