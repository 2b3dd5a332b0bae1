// Outbound ESP in tunnel mode (RFC 4303, RFC 4106 AES-GCM, DESIGN.md §4).
#pragma once

#include <cstdint>

#include "esp/sa.h"
#include "packet.h"

namespace vitesse::esp {

// ESP padding after `payload` octets (inner packet + TFC padding) that puts
// pad length and next header at the end of a 4-octet word.
inline constexpr uint32_t esp_padding_len(uint32_t payload) { return (4 - (payload + 2) % 4) % 4; }

// Length of the ESP packet (header through ICV) for an inner packet of
// `inner_len` octets: the pipeline's MTU and headroom/tailroom checks use it.
inline constexpr uint32_t encapsulated_len(uint32_t inner_len, uint32_t tfc_pad_to) {
  const uint32_t payload = inner_len < tfc_pad_to ? tfc_pad_to : inner_len;
  return kEspHeaderLen + payload + esp_padding_len(payload) + 2 + kIcvLen;
}

enum class EncapResult : uint8_t {
  ok,
  failed,      // no room for the ESP header or trailer, or the counter is exhausted
  unreserved,  // the next number is beyond the SA's limit (not yet reserved on disk)
};

// Encapsulates pkts[i] for sas[i] (SAs may repeat within a batch).
// Before: pkt->data is the inner IPv4/IPv6 packet, pkt->len its length.
// After: pkt->data is the ESP header and pkt->len covers it through the ICV;
// the caller prepends outer IP and Ethernet into the headroom.
// tfc_pad_to > 0 pads inner + TFC padding to that many octets (RFC 4303 §2.7).
// Nothing is refused (the caller checked MTU and room), but nothing is written
// outside the buffer either: TFC padding shrinks to the tailroom, and a packet
// with no room for the ESP header or trailer, or an SA whose counter is
// exhausted (2^64-1 sent; 2^32-1 without ESN), comes back with len 0,
// unencrypted, counted in encap_errors; one whose next number is beyond the
// SA's limit likewise, counted in sequence_unreserved (no number is used up).
// results, if not null, gets each packet's outcome.
void encapsulate_batch(OutboundSa* const* sas, Packet* const* pkts, uint32_t n, uint32_t tfc_pad_to,
                       EncapResult* results = nullptr);

}  // namespace vitesse::esp
