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

// One outcome per packet, like DecapResult: the pipeline counts each under
// its own drop reason (pipeline/counters.h) and the SA counts it too.
enum class EncapResult : uint8_t {
  ok,
  no_room,     // no headroom for the ESP header or tailroom for the trailer (encap_errors)
  exhausted,   // the SA has sent its last number (2^64-1; 2^32-1 without ESN): it must be rekeyed
  unreserved,  // the next number is beyond the SA's limit (not yet reserved on disk)
};

// Encapsulates pkts[i] for sas[i] (SAs may repeat within a batch).
// Before: pkt->data is the inner IPv4/IPv6 packet, pkt->len its length.
// After: pkt->data is the ESP header and pkt->len covers it through the ICV;
// the caller prepends outer IP and Ethernet into the headroom.
// tfc_pad_to > 0 pads inner + TFC padding to that many octets (RFC 4303 §2.7).
// Nothing is written outside the buffer: TFC padding shrinks to the
// tailroom. A packet that cannot be sent comes back unencrypted with len 0
// and results[i] says why, counted on its SA: no room for the ESP header or
// trailer (encap_errors), an SA whose counter is exhausted
// (sequence_exhausted), or one whose next number is beyond its limit
// (sequence_unreserved; no number is used up).
const char* encap_result_name(EncapResult r);

void encapsulate_batch(OutboundSa* const* sas, Packet* const* pkts, uint32_t n, uint32_t tfc_pad_to,
                       EncapResult* results);

}  // namespace vitesse::esp
