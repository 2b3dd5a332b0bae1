// The link and IP layer that both coalescers on transmit share (TCP towards
// hosts, io/gso_coalesce.h; ESP in UDP towards a peer, io/udp_gso_coalesce.h):
// which frames may join a run, what must be equal between them, and the IP
// and virtio-net headers of the super-frame. Only the transport differs.
#pragma once

#include <cstdint>
#include <cstring>

namespace vitesse::gso {

// Where a frame's headers are: after Ethernet and at most one VLAN tag, IPv4
// without options or IPv6 without extension headers.
struct IpLayer {
  uint32_t l3 = 0;     // IP header offset
  uint32_t l4 = 0;     // transport header offset
  uint16_t ip_id = 0;  // IPv4 only
  bool ipv6 = false;
};

// Bytes [from, to) of two frames are equal.
inline bool same(const uint8_t* a, const uint8_t* b, uint32_t from, uint32_t to) {
  return std::memcmp(a + from, b + from, to - from) == 0;
}

// True if the frame is IPv4 (version 4, no options, not a fragment, its
// length exactly the frame's, a valid header checksum that is not 0xffff:
// the super-frame's checksum is rewritten, and 0xffff, which verifies like
// 0, would come back as 0) or IPv6 (the next header `proto`, its payload
// length exactly the frame's) carrying `proto`.
bool parse_ip_layer(const uint8_t* f, uint32_t len, uint8_t proto, IpLayer* out);

// True if frame nf, whose IP layer is `next`, may follow the `k` frames of a
// run whose first is hf (`head`): the same link header, the same IP header
// but for the lengths, the IPv4 header checksum and ID, which must be the
// first's + k (the kernel's segmentation numbers them so).
bool same_ip_layer(const uint8_t* hf, const IpLayer& head, const uint8_t* nf, const IpLayer& next, uint32_t k);

// The pseudo header's sum for `l4_len` bytes of `proto` (not folded).
uint32_t pseudo_sum(const uint8_t* f, const IpLayer& ip, uint8_t proto, uint32_t l4_len);

// The super-frame's IP header (at hdr + ip.l3, copied from its first frame)
// for `l4_len` bytes of transport: length, and IPv4's header checksum.
void write_super_ip(uint8_t* hdr, const IpLayer& ip, uint32_t l4_len);

// The virtio-net header (10 bytes) of a super-frame: NEEDS_CSUM at
// csum_start + csum_offset, segmentation `gso_type` into `gso_size` bytes
// of payload after `hdr_len` bytes of headers.
void write_vnet_hdr(uint8_t* vnet, uint8_t gso_type, uint32_t hdr_len, uint32_t gso_size, uint32_t csum_start,
                    uint32_t csum_offset);

}  // namespace vitesse::gso
