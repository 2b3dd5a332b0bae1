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
#include "esp/encap.h"

#include <algorithm>
#include <cstring>

#include "crypto/aes_gcm.h"
#include "util/big_endian.h"

namespace vitesse::esp {

namespace {

uint8_t next_header_of(const Packet& p) {
  return p.len > 0 && (p.data[0] >> 4) == 6 ? kNextHeaderIpv6 : kNextHeaderIpv4;
}

struct SealBatch {
  crypto::GcmJob jobs[kBatch];
  uint32_t n = 0;
};

// Writes header and trailer around one packet and queues its seal, or says
// why it cannot be sent (see encap.h).
EncapResult frame(OutboundSa& sa, Packet& p, uint32_t tfc_pad_to, SealBatch& batch) {
  constexpr uint32_t kFixedTrailer = 2 + kIcvLen;
  const uint32_t inner = p.len;
  const size_t tailroom = p.tailroom();
  if (sa.udp_destination_port && tfc_pad_to) tfc_pad_to -= kUdpEncapOverhead;
  uint32_t tfc = tfc_pad_to > inner ? tfc_pad_to - inner : 0;
  // TFC is best effort: never let it run past the buffer (3 = worst padding).
  if (tfc > 0 && tfc + 3 + kFixedTrailer > tailroom) {
    tfc = tailroom > 3 + kFixedTrailer ? static_cast<uint32_t>(tailroom - 3 - kFixedTrailer) : 0;
  }
  const uint32_t padding = esp_padding_len(inner + tfc);
  if (p.headroom() < kEspHeaderLen || tfc + padding + kFixedTrailer > tailroom) return EncapResult::no_room;
  // The limit never exceeds the ceiling: beyond it, either the counter is
  // exhausted or the next numbers are not yet reserved.
  if (sa.seq >= limit_of(sa)) {
    return sa.seq >= sequence_ceiling(sa.esn) ? EncapResult::exhausted : EncapResult::unreserved;
  }
  const uint8_t next_header = next_header_of(p);

  uint8_t* trailer = p.append(tfc + padding + 2);
  // Without TFC (the usual case) no call to memset at all: a zero-length
  // call cost 19 instructions a packet (callgrind).
  if (tfc) std::memset(trailer, 0, tfc);
  for (uint32_t i = 0; i < padding; ++i) trailer[tfc + i] = static_cast<uint8_t>(i + 1);
  trailer[tfc + padding] = static_cast<uint8_t>(padding);
  trailer[tfc + padding + 1] = next_header;
  const uint32_t plaintext_len = p.len;

  const uint64_t seq = ++sa.seq;
  uint8_t* esp = p.prepend(kEspHeaderLen);
  // With ESN octets 4..7 hold the SPI until restore_seq_low (see above).
  const uint32_t second = sa.esn ? sa.spi : static_cast<uint32_t>(seq);
  store_be64(esp, static_cast<uint64_t>(sa.spi) << 32 | second);
  store_be64(esp + 8, seq);

  const uint32_t aad_offset = sa.esn ? 4 : 0;
  batch.jobs[batch.n++] = crypto::GcmJob{&sa.gcm, esp + 8, esp + aad_offset, esp + kEspHeaderLen,
                                         p.append(kIcvLen), plaintext_len, 8 + aad_offset};

  sa.counters.packets += 1;
  sa.counters.bytes += inner;
  return EncapResult::ok;
}

// Octets 4..7 of each sealed header get seq-low, the IV's last four: with
// ESN they held the SPI for the AAD, without it they already hold it.
void restore_seq_low(const SealBatch& batch) {
  for (uint32_t j = 0; j < batch.n; ++j) {
    uint8_t* data = batch.jobs[j].data;
    std::memcpy(data - kEspHeaderLen + 4, data - 4, 4);
  }
}

}  // namespace

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
  SealBatch batch;
  for (uint32_t base = 0; base < n; base += kEspChunk) {
    const uint32_t m = std::min(kEspChunk, n - base);
    batch.n = 0;
    for (uint32_t i = 0; i < m; ++i) crypto::prefetch_key_tail(sas[base + i]->gcm);
    for (uint32_t i = 0; i < m; ++i) {
      OutboundSa& sa = *sas[base + i];
      Packet& p = *pkts[base + i];
      const EncapResult r = frame(sa, p, tfc_pad_to, batch);
      results[base + i] = r;
      if (r == EncapResult::ok) continue;
      p.len = 0;
      switch (r) {
        case EncapResult::no_room: sa.counters.encap_errors += 1; break;
        case EncapResult::exhausted: sa.counters.sequence_exhausted += 1; break;
        case EncapResult::unreserved: sa.counters.sequence_unreserved += 1; break;
        case EncapResult::ok: break;
      }
    }
    crypto::gcm_seal_batch(batch.jobs, batch.n);
    restore_seq_low(batch);
  }
}

}  // namespace vitesse::esp
