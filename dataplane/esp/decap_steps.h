// Inbound ESP's per-packet steps (esp/decap.cc lists them, 1-6), inline, for
// the two loops that run them: esp::decapsulate_batch and the pipeline's
// inbound pass (pipeline/inbound.cc), which forwards each packet in the same
// loop that finishes its decryption instead of passing verdicts through an
// array to a pass of its own (docs/dataplane.md, "Round eight, inbound in
// fewer passes"). One copy of each step, so both give the same verdicts.
//
// Use: prepare() each packet in order (a packet that does not queue has its
// verdict then); when the batch is full (kEspChunk jobs), when prepare() says
// wait, and at the end: open() the batch, settle() each job in order, clear().
// A round of at most kEspChunk packets started with an empty batch cannot
// fill it past full (one job a packet).
//
// Between batches every window's pending top equals its top (settle() puts
// it back; ReplayWindow::init starts it so), so no pass over the SAs is
// needed before a batch (ReplayWindow::begin_batch).
#pragma once

#include <cstdint>
#include <cstring>

#include "crypto/aes_gcm.h"
#include "esp/decap.h"
#include "util/big_endian.h"

namespace vitesse::esp {

inline constexpr uint32_t kMinEspLen = kEspHeaderLen + 2 + kIcvLen;

// Up to kEspChunk authenticated decryptions, queued in packet order.
struct OpenBatch {
  crypto::GcmJob jobs[kEspChunk];
  bool ok[kEspChunk];
  uint8_t aad[kEspChunk][12];  // with ESN only: seq-high is in no packet
  uint64_t seq[kEspChunk];
  uint32_t packet[kEspChunk];  // the caller's index of jobs[j]'s packet
  uint32_t n = 0;

  bool full() const { return n == kEspChunk; }
  // Step 3: every queued job's one authentication attempt.
  void open() { crypto::gcm_open_batch(jobs, n, ok); }
  void clear() { n = 0; }
};

// An SA's counter for a verdict (ok: the packet and its inner length).
inline void count(SaCounters& c, DecapResult r, uint32_t len) {
  switch (r) {
    case DecapResult::ok: c.packets += 1; c.bytes += len; break;
    case DecapResult::replay: c.replay_errors += 1; break;
    case DecapResult::authentication: c.decrypt_errors += 1; break;
    case DecapResult::truncated: c.truncated_errors += 1; break;
    case DecapResult::bad_trailer: c.trailer_errors += 1; break;
    case DecapResult::bad_next_header: c.next_header_errors += 1; break;
  }
}

// A verdict other than ok, counted on the SA (out of the per-packet loops).
[[gnu::cold, gnu::noinline]] inline DecapResult refuse(InboundSa& sa, DecapResult r) {
  count(sa.counters, r, 0);
  return r;
}

// Steps 1-2: queues the packet's authenticated decryption (returns ok), or
// says why not (counted on the SA), or sets *wait (changing nothing) if the
// queued jobs must be settled first. The batch must not be full. `index` is
// the caller's, returned in batch.packet.
inline DecapResult prepare(InboundSa& sa, Packet& p, uint32_t index, OpenBatch& batch, bool* wait) {
  // In locals: the stores into the batch below are byte stores, which may
  // alias the packet's fields (the compiler reloaded them for every use).
  uint8_t* const esp = p.data;
  const uint32_t len = p.len;
  if (len < kMinEspLen) [[unlikely]] return refuse(sa, DecapResult::truncated);
  // Only the pipeline's SPI lookup should ever pick the SA; a foreign or
  // altered SPI is not authentic for it.
  if (load_be32(esp) != sa.spi) [[unlikely]] return refuse(sa, DecapResult::authentication);
  const bool esn = sa.esn;
  const uint32_t seq_low = load_be32(esp + 4);
  uint64_t seq = seq_low;  // without ESN, the number is its low half
  if (!esn || !sa.window.next_in_order(seq_low, &seq)) {
    const bool inferred = !esn || sa.window.infer(seq_low, &seq);
    // Only a batch that reorders by more than the window or jumps across it
    // (e.g. a fresh SA whose first packets lie just below 2^32) waits.
    if (esn && batch.n != 0 && !sa.window.settled(seq_low, inferred, seq)) {
      *wait = true;
      return DecapResult::ok;
    }
    if (!inferred || !sa.window.check(seq)) return refuse(sa, DecapResult::replay);
  }

  sa.window.queued(seq);
  sa.window.prefetch(seq);
  crypto::prefetch_key_tail(sa.gcm);
  const uint32_t j = batch.n++;
  batch.seq[j] = seq;
  batch.packet[j] = index;
  // AAD: SPI ‖ seq-low as received, or with ESN SPI ‖ inferred seq-high ‖ seq-low.
  const uint8_t* aad = esp;
  if (esn) {
    // seq-high ‖ seq-low is the number itself, big-endian: one 8-octet
    // store, which the AAD's 8-octet load (crypto/gcm_esp_aad.h) can take
    // whole from the store buffer.
    uint8_t* a = batch.aad[j];
    std::memcpy(a, esp, 4);
    store_be64(a + 4, seq);
    aad = a;
  }
  const uint32_t ciphertext_len = len - kEspHeaderLen - kIcvLen;
  batch.jobs[j] = crypto::GcmJob{&sa.gcm, esp + 8, aad, esp + kEspHeaderLen, esp + kEspHeaderLen + ciphertext_len,
                                 ciphertext_len, esn ? 12u : 8u};
  return DecapResult::ok;
}

// What steps 5-6 learned of the inner packet, for a caller that reads its
// header next (the pipeline: policy and header checks) and need not decode
// it again.
struct InnerHeader {
  bool v6;
  uint32_t header_len;  // IPv4: IHL in octets (20-60); IPv6: 40
};

// Steps 5 (the next header) and 6: the inner packet's length by its own
// header, if it fits in the `avail` octets before the ESP padding and is of
// the IP version the next header names.
inline DecapResult inner_length(const uint8_t* ip, uint32_t avail, uint8_t next_header, uint32_t* len,
                                InnerHeader* inner) {
  if (next_header == kNextHeaderIpv4) [[likely]] {
    if (avail < 20) return DecapResult::bad_trailer;
    const uint32_t first = ip[0];
    if ((first >> 4) != 4) return DecapResult::bad_next_header;
    const uint32_t header = (first & 0x0f) * 4u;
    *len = load_be16(ip + 2);
    if (header < 20 || *len < header || *len > avail) return DecapResult::bad_trailer;
    inner->v6 = false;
    inner->header_len = header;
    return DecapResult::ok;
  }
  if (next_header != kNextHeaderIpv6) return DecapResult::bad_next_header;
  if (avail < 40) return DecapResult::bad_trailer;
  if ((ip[0] >> 4) != 6) return DecapResult::bad_next_header;
  *len = 40 + load_be16(ip + 4);
  inner->v6 = true;
  inner->header_len = 40;
  return *len > avail ? DecapResult::bad_trailer : DecapResult::ok;
}

// Steps 4-6 for a packet whose job authenticated (the job names the
// plaintext and its length).
inline DecapResult finish(InboundSa& sa, Packet& p, const crypto::GcmJob& job, uint64_t seq, InnerHeader* inner) {
  if (!sa.window.update(seq)) return DecapResult::replay;
  uint8_t* plaintext = job.data;
  const uint32_t plaintext_len = job.len;
  const uint32_t pad_len = plaintext[plaintext_len - 2];
  const uint8_t next_header = plaintext[plaintext_len - 1];
  if (pad_len + 2 > plaintext_len) return DecapResult::bad_trailer;
  uint32_t len = 0;
  const DecapResult r = inner_length(plaintext, plaintext_len - 2 - pad_len, next_header, &len, inner);
  if (r != DecapResult::ok) return r;
  p.data = plaintext;
  p.len = len;
  return DecapResult::ok;
}

// Steps 4-6 for queued job j of an opened batch, and the SA's counter: its
// packet is pkt and its SA sa (batch.packet[j] names them). Jobs are settled
// in packet order, so window updates happen in arrival order. A packet that
// failed authentication but that the window as the packets before it left
// it refuses (a duplicate of one of them, or now left of the window) is a
// replay, as it would have been one packet at a time. On ok, *inner says
// what the inner header is.
inline DecapResult settle(InboundSa& sa, Packet& p, const OpenBatch& batch, uint32_t j, InnerHeader* inner) {
  ReplayWindow& w = sa.window;
  const uint64_t seq = batch.seq[j];
  DecapResult r;
  if (batch.ok[j]) [[likely]] {
    r = finish(sa, p, batch.jobs[j], seq, inner);
  } else {
    r = !w.check(seq) || w.likely_stale(seq) ? DecapResult::replay : DecapResult::authentication;
  }
  // Every prepare() of this batch is done: the pending top may go back.
  w.begin_batch();
  count(sa.counters, r, p.len);
  return r;
}

}  // namespace vitesse::esp
