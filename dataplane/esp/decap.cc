// Inbound ESP, top to bottom in packet order:
//   1. length: ESP header, pad length, next header and ICV must be present;
//      SPI must be the SA's
//   2. seq-high inferred from the SA's replay window (without ESN: 0), number
//      pre-checked (no state change). Appendix A infers from the window as
//      the packets before this one left it: where packets queued ahead in the
//      batch could change the inference (ReplayWindow::settled), those are
//      resolved first (steps 3-6), and this packet starts the next run of jobs
//      (a run is at most kEspChunk jobs)
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
// The steps themselves are in esp/decap_steps.h, shared with the pipeline's
// inbound pass (pipeline/inbound.cc), which runs them in its own loops.
#include "esp/decap.h"

#include "esp/decap_steps.h"

namespace vitesse::esp {

namespace {

// Steps 3-6 for the queued jobs.
void resolve(InboundSa* const* sas, Packet* const* pkts, DecapResult* results, OpenBatch& batch) {
  batch.open();
  for (uint32_t j = 0; j < batch.n; ++j) {
    const uint32_t k = batch.packet[j];
    InnerHeader inner;
    results[k] = settle(*sas[k], *pkts[k], batch, j, &inner);
  }
  batch.clear();
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
  for (uint32_t i = 0; i < n;) {
    bool wait = false;
    results[i] = prepare(*sas[i], *pkts[i], i, batch, &wait);
    // Packet i again once the queued ones are settled (so it cannot wait twice).
    if (wait) { resolve(sas, pkts, results, batch); continue; }
    ++i;
    if (batch.full()) resolve(sas, pkts, results, batch);
  }
  resolve(sas, pkts, results, batch);
}

}  // namespace vitesse::esp
