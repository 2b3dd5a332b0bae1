// Prefetching an SA's hot lines while the rest of a batch is classified, so
// the ESP batch call that follows finds them in cache. With a thousand routes
// the SAs no longer fit in L1 (nor all of them in L2), and without this every
// packet waits for the round keys and GHASH powers it needs.
//
// What one packet reads of its SA (esp/sa.h lays it out for this): one hot
// line (outbound the first: number, limit; inbound the one after the
// window's blocks: window state, SPI; packet and byte counters),
// inbound the window block it sets, the round keys (AES-128: three lines,
// AES-256: four, the fourth prefetched by the ESP batch call), the last
// GHASH powers (a 60-octet frame hashes five blocks, AAD, three of data and
// the lengths, with H^5..H^1: the last two lines). The context's path,
// rounds and salt, which the batch calls read per job, are in its first line.
// Read prefetches only, and locality 2 for the key schedule: with write
// prefetches (prefetchw) of the lines a packet updates and locality 3, 10 000
// routes ran at 2.5 against 4.3 Mpps (docs/dataplane.md, "Per-packet cost
// and cache lines").
#pragma once

#include <cstddef>

#include "esp/sa.h"

namespace vitesse {

// The context's lines prefetch_gcm brings in, as offsets (the SA arena's
// test checks that these lines of consecutive SAs spread over the L1 sets).
inline constexpr size_t kGcmPrefetchOffsets[] = {0, 64, 128, 640, 704};

namespace detail {
inline void prefetch_gcm(const crypto::GcmContext& g) {
  const char* s = reinterpret_cast<const char*>(&g);
  // The wide paths' layout (crypto/aes_gcm.h, crypto/gcm_internal.h
  // FastKey): path, rounds and round keys in the first 256 bytes, then
  // H^32 … H^1, of which a short packet needs the last few, in the last two
  // lines. The fourth key line only for 14 rounds, and not from here
  // (reading `rounds` would wait for its line): the ESP batch calls
  // prefetch it (crypto::prefetch_key_tail) once the first line is in.
  for (size_t off : kGcmPrefetchOffsets) __builtin_prefetch(s + off, 0, 2);
}
}  // namespace detail

inline void prefetch_sa(const esp::OutboundSa* sa) {
  __builtin_prefetch(sa);
  detail::prefetch_gcm(sa->gcm);
}

// The hot line is the one with the window's state and the SPI (esp/sa.h);
// the window block a packet sets is known only from its number (esp/decap.cc).
inline void prefetch_sa(const esp::InboundSa* sa) {
  __builtin_prefetch(&sa->spi);
  detail::prefetch_gcm(sa->gcm);
}

}  // namespace vitesse
