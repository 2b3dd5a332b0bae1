// Inbound ESP in tunnel mode (RFC 4303, RFC 4106 AES-GCM, DESIGN.md §4).
#pragma once

#include <cstdint>

#include "esp/sa.h"
#include "packet.h"

namespace vitesse::esp {

enum class DecapResult : uint8_t {
  ok,
  truncated,        // shorter than ESP header + pad length + next header + ICV
  replay,           // duplicate, left of the window, or before sequence number 1
                    // (also a failed authentication whose number, read as
                    // an old one, lies left of the window: RFC 4303 A2.2 had
                    // to try it in the next 2^32 subspace)
  authentication,   // ICV did not verify (with the inferred seq-high), or not the SA's SPI
  bad_trailer,      // pad length or the inner IP length disagree with the payload
  bad_next_header,  // next header not 4/41, or not the inner packet's IP version
};

// "ok", "truncated", "replay", "authentication", "bad_trailer", "bad_next_header".
const char* decap_result_name(DecapResult r);

// Decapsulates pkts[i] with sas[i] (SAs may repeat within a batch) and sets
// results[i]. Before: pkt->data is the ESP header (outer IP and Ethernet
// removed) and the SA was found by its SPI. After ok: pkt->data is the inner
// IP packet and pkt->len its own length (ESP and TFC padding removed).
// Otherwise the packet is to be dropped; its bytes are unspecified.
//
// Exactly one authentication attempt per packet; the window is checked
// before it and updated after it, and a packet that authenticates uses up its
// sequence number even if its trailer is then refused. Each packet's
// seq-high is inferred from the window as the packets before it left it
// (RFC 4303 Appendix A, packet by packet), so a batch gets the verdicts the
// same packets would get one at a time.
void decapsulate_batch(InboundSa* const* sas, Packet* const* pkts, uint32_t n, DecapResult* results);

}  // namespace vitesse::esp
