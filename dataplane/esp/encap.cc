// Outbound ESP, top to bottom in packet order:
//   1. next header from the inner IP version nibble (4 or 41)
//   2. trailer: TFC padding up to tfc_pad_to, RFC 4303 default padding 1,2,3…
//      so that payload + trailer is a multiple of 4, pad length, next header
//   3. sequence number: ++sa->seq (64-bit, first packet 1), never beyond the
//      SA's limit (reserved on disk) or its ceiling (32 bits without ESN); it
//      is the IV too
//   4. ESP header SPI ‖ seq-low ‖ IV prepended; AAD SPI ‖ seq-high ‖ seq-low
//      (without ESN: SPI ‖ seq-low); nonce salt ‖ IV
//   5. one gcm_seal_batch per chunk; the ICV follows the trailer
//
// No per-packet copies for the crypto: the job points at the IV and the AAD
// in the packet, the salt is the context's. Without ESN the AAD is the
// header's first 8 octets. With ESN the IV (the number, big-endian) is
// seq-high ‖ seq-low, so the header is first written SPI ‖ SPI ‖ IV, which
// makes octets 4..15 the AAD, and seq-low is put in its place after the
// seal. (Linux's esp_output_set_extra moves the SPI four octets into the
// headroom instead; the IV being the number keeps this inside the header.)
//
// Steps 2 to 4 are frame() in encap.h, which the worker's outbound pass
// calls itself (pipeline/outbound.cc); encapsulate_batch is the batch call
// for the other callers (the testkit's esp_napi.cc, which the ESP tests use).
#include "esp/encap.h"

#include <algorithm>
#include <cstring>

#include "crypto/aes_gcm.h"
#include "util/big_endian.h"

namespace vitesse::esp {

void count_refused(OutboundSa& sa, EncapResult r) {
  switch (r) {
    case EncapResult::no_room: sa.counters.encap_errors += 1; break;
    case EncapResult::exhausted: sa.counters.sequence_exhausted += 1; break;
    case EncapResult::unreserved: sa.counters.sequence_unreserved += 1; break;
    case EncapResult::ok: break;
  }
}

const char* encap_result_name(EncapResult r) {
  switch (r) {
    case EncapResult::ok: return "ok";
    case EncapResult::no_room: return "no_room";
    case EncapResult::exhausted: return "sequence_exhausted";
    case EncapResult::unreserved: return "sequence_unreserved";
  }
  return "unknown";
}

void encapsulate_batch(OutboundSa* const* sas, Packet* const* pkts, uint32_t n, uint32_t tfc_pad_to,
                       EncapResult* results) {
  crypto::GcmJob jobs[kEspChunk];
  for (uint32_t base = 0; base < n; base += kEspChunk) {
    const uint32_t m = std::min(kEspChunk, n - base);
    uint32_t k = 0;
    for (uint32_t i = 0; i < m; ++i) crypto::prefetch_key_tail(sas[base + i]->gcm);
    for (uint32_t i = 0; i < m; ++i) {
      OutboundSa& sa = *sas[base + i];
      Packet& p = *pkts[base + i];
      const uint8_t next_header = p.len > 0 && (p.data[0] >> 4) == 6 ? kNextHeaderIpv6 : kNextHeaderIpv4;
      const Framed f = frame(sa, p.data, p.len, p.headroom(), p.tailroom(), next_header, tfc_pad_to_for(sa, tfc_pad_to),
                             jobs[k]);
      results[base + i] = f.result;
      if (f.result == EncapResult::ok) {
        p.data -= kEspHeaderLen;
        p.len = f.esp_len;
        k++;
      } else {
        p.len = 0;
      }
    }
    crypto::gcm_seal_batch(jobs, k);
    restore_seq_low(jobs, k);
  }
}

}  // namespace vitesse::esp
