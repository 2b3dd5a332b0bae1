// Outbound ESP in tunnel mode (RFC 4303, RFC 4106 AES-GCM, DESIGN.md §4).
#pragma once

#include <cstdint>
#include <cstring>

#include "crypto/aes_gcm.h"
#include "esp/sa.h"
#include "packet.h"
#include "util/big_endian.h"

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

// The TFC target for an SA: ESP in UDP pads the inner packet 8 octets
// shorter, so that the UDP datagram has the size plain ESP would have.
inline uint32_t tfc_pad_to_for(const OutboundSa& sa, uint32_t tfc_pad_to) {
  return sa.udp_destination_port && tfc_pad_to ? tfc_pad_to - kUdpEncapOverhead : tfc_pad_to;
}

// Counts a packet that frame() refused on its SA (cold: out of the loop).
[[gnu::cold, gnu::noinline]] void count_refused(OutboundSa& sa, EncapResult r);

// One packet's framing, shared by encapsulate_batch and the worker's
// outbound pass (pipeline/outbound.cc), which knows the inner packet's
// version and length already: writes trailer and ESP header around the
// inner packet at inner[0..inner_len) in a buffer with `headroom` octets in
// front of it and `tailroom` behind, queues its seal in `job`, counts it on
// the SA and gives the ESP packet's length (header through ICV; it starts
// kEspHeaderLen octets in front of `inner`). Or writes nothing, counts why
// on the SA and says why (see encapsulate_batch). `next_header` is 4 or 41,
// `tfc_pad_to` the SA's (tfc_pad_to_for); kTfc false: the caller knows it is
// 0, which compiles the TFC arithmetic out. After it the caller may write in
// front of the ESP header (the outer headers, which ESP's AAD does not
// cover), then seals the jobs with crypto::gcm_seal_batch and calls
// restore_seq_low on them. The steps, top to bottom, are in encap.cc's
// opening comment.
//
// Pointers and lengths in and out, not a Packet: every octet written into
// the packet may alias anything, and the compiler loaded and stored a
// Packet's data and len again around each (callgrind: ~20 instructions a
// packet in the worker's pass). The SA's fields are read before the first
// write for the same reason.
struct Framed {
  EncapResult result;
  uint32_t esp_len;
};
template <bool kTfc = true>
inline Framed frame(OutboundSa& sa, uint8_t* inner, uint32_t inner_len, size_t headroom, size_t tailroom,
                    uint8_t next_header, uint32_t tfc_pad_to, crypto::GcmJob& job) {
  constexpr uint32_t kFixedTrailer = 2 + kIcvLen;
  const uint64_t last = sa.seq;
  const uint32_t spi = sa.spi;
  const bool esn = sa.esn;
  uint32_t tfc = kTfc && tfc_pad_to > inner_len ? tfc_pad_to - inner_len : 0;
  // TFC is best effort: never let it run past the buffer (3 = worst padding).
  if (kTfc && tfc > 0 && tfc + 3 + kFixedTrailer > tailroom) {
    tfc = tailroom > 3 + kFixedTrailer ? static_cast<uint32_t>(tailroom - 3 - kFixedTrailer) : 0;
  }
  const uint32_t padding = esp_padding_len(inner_len + tfc);
  EncapResult r = EncapResult::ok;
  if (headroom < kEspHeaderLen || tfc + padding + kFixedTrailer > tailroom) r = EncapResult::no_room;
  // The limit never exceeds the ceiling: beyond it, either the counter is
  // exhausted or the next numbers are not yet reserved.
  else if (last >= limit_of(sa))
    r = last >= sequence_ceiling(esn) ? EncapResult::exhausted : EncapResult::unreserved;
  if (r != EncapResult::ok) {
    count_refused(sa, r);
    return {r, 0};
  }
  const uint64_t seq = last + 1;
  sa.seq = seq;
  sa.counters.packets += 1;
  sa.counters.bytes += inner_len;

  uint8_t* const trailer = inner + inner_len;
  // Without TFC (the usual case) no call to memset at all: a zero-length
  // call cost 19 instructions a packet (callgrind).
  if (kTfc && tfc) std::memset(trailer, 0, tfc);
  for (uint32_t i = 0; i < padding; ++i) trailer[tfc + i] = static_cast<uint8_t>(i + 1);
  trailer[tfc + padding] = static_cast<uint8_t>(padding);
  trailer[tfc + padding + 1] = next_header;
  const uint32_t plaintext_len = inner_len + tfc + padding + 2;

  uint8_t* const esp = inner - kEspHeaderLen;
  // With ESN octets 4..7 hold the SPI until restore_seq_low (encap.cc).
  const uint32_t second = esn ? spi : static_cast<uint32_t>(seq);
  store_be64(esp, static_cast<uint64_t>(spi) << 32 | second);
  store_be64(esp + 8, seq);

  const uint32_t aad_offset = esn ? 4 : 0;
  job = crypto::GcmJob{&sa.gcm, esp + 8, esp + aad_offset, inner, inner + plaintext_len, plaintext_len,
                       8 + aad_offset};
  return {EncapResult::ok, kEspHeaderLen + plaintext_len + kIcvLen};
}

// After the seal: octets 4..7 of each header get seq-low, the IV's last
// four; with ESN they held the SPI for the AAD, without it they already
// hold it.
inline void restore_seq_low(const crypto::GcmJob* jobs, uint32_t n) {
  for (uint32_t j = 0; j < n; ++j) {
    uint8_t* data = jobs[j].data;
    std::memcpy(data - kEspHeaderLen + 4, data - 4, 4);
  }
}

void encapsulate_batch(OutboundSa* const* sas, Packet* const* pkts, uint32_t n, uint32_t tfc_pad_to,
                       EncapResult* results);

}  // namespace vitesse::esp
