// Inbound ESP, top to bottom in packet order:
//   1. length: ESP header, pad length, next header and ICV must be present;
//      SPI must be the SA's
//   2. seq-high inferred from the SA's replay window (without ESN: 0), number
//      pre-checked (no state change). Appendix A infers from the window as
//      the packets before this one left it: where packets queued ahead in the
//      batch could change the inference (ReplayWindow::settled), those are
//      resolved first (steps 3-6), and this packet starts the next run of jobs
//   3. one gcm_open_batch: AAD SPI ‖ inferred seq-high ‖ seq-low (without
//      ESN: SPI ‖ seq-low, the header's first 8 octets, read where they
//      are), nonce salt (the context's) ‖ IV as received (read where it is); no
//      re-synchronisation search. A failure whose number the window now
//      refuses, or whose low half lies left of the window, counts as a replay
//      (ReplayWindow::likely_stale)
//   4. window update, check-and-set: of two copies in one batch, the second
//      fails here
//   5. trailer: pad length within the payload, next header 4 or 41
//   6. inner IP length from its own header; TFC padding beyond it dropped
#include "esp/decap.h"

#include <algorithm>
#include <cstring>

#include "crypto/aes_gcm.h"
#include "util/big_endian.h"

namespace vitesse::esp {

namespace {

constexpr uint32_t kMinEspLen = kEspHeaderLen + 2 + kIcvLen;
constexpr uint32_t kIpv4MinHeader = 20;
constexpr uint32_t kIpv6Header = 40;

struct OpenBatch {
  crypto::GcmJob jobs[kBatch];
  bool ok[kBatch];
  uint8_t aad[kBatch][12];  // with ESN only: seq-high is in no packet
  uint64_t seq[kBatch];
  uint32_t packet[kBatch];  // index within the chunk of jobs[j]
  uint32_t n = 0;
};

// Steps 1-2: queues the packet's authenticated decryption, or says why not,
// or sets *wait (changing nothing) if the queued jobs must be resolved first.
DecapResult prepare(InboundSa& sa, Packet& p, uint32_t index, OpenBatch& batch, bool* wait) {
  if (p.len < kMinEspLen) return DecapResult::truncated;
  const uint8_t* esp = p.data;
  // Only the pipeline's SPI lookup should ever pick the SA; a foreign or
  // altered SPI is not authentic for it.
  if (load_be32(esp) != sa.spi) return DecapResult::authentication;
  const uint32_t seq_low = load_be32(esp + 4);
  uint64_t seq = seq_low;  // without ESN, the number is its low half
  if (!sa.esn || !sa.window.next_in_order(seq_low, &seq)) {
    const bool inferred = !sa.esn || sa.window.infer(seq_low, &seq);
    // Only a batch that reorders by more than the window or jumps across it
    // (e.g. a fresh SA whose first packets lie just below 2^32) waits.
    if (sa.esn && batch.n != 0 && !sa.window.settled(seq_low, inferred, seq)) {
      *wait = true;
      return DecapResult::ok;
    }
    if (!inferred || !sa.window.check(seq)) return DecapResult::replay;
  }

  sa.window.queued(seq);
  sa.window.prefetch(seq);
  const uint32_t j = batch.n++;
  batch.seq[j] = seq;
  batch.packet[j] = index;
  // AAD: SPI ‖ seq-low as received, or with ESN SPI ‖ inferred seq-high ‖ seq-low.
  const uint8_t* aad = esp;
  if (sa.esn) {
    std::memcpy(batch.aad[j], esp, 4);
    store_be32(batch.aad[j] + 4, static_cast<uint32_t>(seq >> 32));
    std::memcpy(batch.aad[j] + 8, esp + 4, 4);
    aad = batch.aad[j];
  }
  const uint32_t ciphertext_len = p.len - kEspHeaderLen - kIcvLen;
  batch.jobs[j] = crypto::GcmJob{&sa.gcm, esp + 8, aad, p.data + kEspHeaderLen,
                                 p.data + kEspHeaderLen + ciphertext_len, ciphertext_len, sa.esn ? 12u : 8u};
  return DecapResult::ok;
}

// Step 6: the inner packet's length by its own header, if it fits in the
// `avail` octets before the ESP padding and matches the next header.
DecapResult inner_length(const uint8_t* ip, uint32_t avail, uint8_t next_header, uint32_t* len) {
  const uint32_t version = avail > 0 ? ip[0] >> 4 : 0;
  if (next_header == kNextHeaderIpv4) {
    if (avail < kIpv4MinHeader) return DecapResult::bad_trailer;
    if (version != 4) return DecapResult::bad_next_header;
    const uint32_t header = (ip[0] & 0x0f) * 4u;
    *len = load_be16(ip + 2);
    if (header < kIpv4MinHeader || *len < header || *len > avail) return DecapResult::bad_trailer;
    return DecapResult::ok;
  }
  if (avail < kIpv6Header) return DecapResult::bad_trailer;
  if (version != 6) return DecapResult::bad_next_header;
  *len = kIpv6Header + load_be16(ip + 4);
  return *len > avail ? DecapResult::bad_trailer : DecapResult::ok;
}

// Steps 4-6 for a packet that authenticated.
DecapResult finish(InboundSa& sa, Packet& p, uint64_t seq) {
  if (!sa.window.update(seq)) return DecapResult::replay;
  uint8_t* plaintext = p.data + kEspHeaderLen;
  const uint32_t plaintext_len = p.len - kEspHeaderLen - kIcvLen;
  const uint32_t pad_len = plaintext[plaintext_len - 2];
  const uint8_t next_header = plaintext[plaintext_len - 1];
  if (pad_len + 2 > plaintext_len) return DecapResult::bad_trailer;
  if (next_header != kNextHeaderIpv4 && next_header != kNextHeaderIpv6) return DecapResult::bad_next_header;
  uint32_t len = 0;
  const DecapResult r = inner_length(plaintext, plaintext_len - 2 - pad_len, next_header, &len);
  if (r != DecapResult::ok) return r;
  p.data = plaintext;
  p.len = len;
  return DecapResult::ok;
}

void count(SaCounters& c, DecapResult r, const Packet& p) {
  switch (r) {
    case DecapResult::ok: c.packets += 1; c.bytes += p.len; break;
    case DecapResult::replay: c.replay_errors += 1; break;
    case DecapResult::authentication: c.decrypt_errors += 1; break;
    case DecapResult::truncated: c.truncated_errors += 1; break;
    case DecapResult::bad_trailer: c.trailer_errors += 1; break;
    case DecapResult::bad_next_header: c.next_header_errors += 1; break;
  }
}

void begin_batch(InboundSa* const* sas, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) sas[i]->window.begin_batch();
}

// One pass for both: every pass over the batch costs its loop and the SA
// pointers' loads again (docs/dataplane.md, "Round four").
void begin_batch_and_prefetch(InboundSa* const* sas, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    crypto::prefetch_key_tail(sas[i]->gcm);
    sas[i]->window.begin_batch();
  }
}

// Steps 3-6 for the queued jobs. Job order is packet order, so window
// updates happen in arrival order. A packet that failed authentication but
// that the window as the packets before it left it refuses (a duplicate of
// one of them, or now left of the window) is a replay, as it would have been
// one packet at a time.
void resolve(InboundSa* const* sas, Packet* const* pkts, DecapResult* results, OpenBatch& batch) {
  crypto::gcm_open_batch(batch.jobs, batch.n, batch.ok);
  for (uint32_t j = 0; j < batch.n; ++j) {
    const uint32_t k = batch.packet[j];
    const ReplayWindow& w = sas[k]->window;
    if (batch.ok[j]) {
      results[k] = finish(*sas[k], *pkts[k], batch.seq[j]);
    } else {
      results[k] = !w.check(batch.seq[j]) || w.likely_stale(batch.seq[j]) ? DecapResult::replay : DecapResult::authentication;
    }
    count(sas[k]->counters, results[k], *pkts[k]);
  }
  batch.n = 0;
}

}  // namespace

const char* decap_result_name(DecapResult r) {
  switch (r) {
    case DecapResult::ok: return "ok";
    case DecapResult::truncated: return "truncated";
    case DecapResult::replay: return "replay";
    case DecapResult::authentication: return "authentication";
    case DecapResult::bad_trailer: return "bad_trailer";
    case DecapResult::bad_next_header: return "bad_next_header";
  }
  return "unknown";
}

void decapsulate_batch(InboundSa* const* sas, Packet* const* pkts, uint32_t n, DecapResult* results) {
  OpenBatch batch;
  for (uint32_t base = 0; base < n; base += kEspChunk) {
    const uint32_t m = std::min(kEspChunk, n - base);
    InboundSa* const* s = sas + base;
    Packet* const* p = pkts + base;
    DecapResult* r = results + base;
    batch.n = 0;
    begin_batch_and_prefetch(s, m);
    for (uint32_t i = 0; i < m;) {
      bool wait = false;
      r[i] = prepare(*s[i], *p[i], i, batch, &wait);
      if (!wait) {
        // Queued packets are counted when resolved, the others now.
        if (r[i] != DecapResult::ok) count(s[i]->counters, r[i], *p[i]);
        ++i;
        continue;
      }
      // Packet i again, with no job queued (so it cannot wait twice).
      resolve(s, p, r, batch);
      begin_batch(s + i, m - i);
    }
    resolve(s, p, r, batch);
  }
}

}  // namespace vitesse::esp
