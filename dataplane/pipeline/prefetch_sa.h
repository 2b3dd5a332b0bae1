// Prefetching an SA's hot lines while the rest of a batch is classified, so
// the ESP batch call that follows finds them in cache. With a thousand routes
// the SAs no longer fit in L2, and without this every packet waits on L3 for
// the round keys and GHASH powers it needs.
#pragma once

#include <cstddef>

#include "esp/sa.h"

namespace vitesse {

namespace detail {
inline void prefetch_gcm(const crypto::GcmContext& g) {
  const char* s = reinterpret_cast<const char*>(g.state);
  // The wide paths' layout (crypto/gcm_internal.h, FastKey): round keys in
  // the first 256 bytes, then H^32 … H^1, of which a short packet needs the
  // last few, in the last two lines.
  for (size_t off = 0; off < 256; off += 64) __builtin_prefetch(s + off, 0, 2);
  __builtin_prefetch(s + 640, 0, 2);
  __builtin_prefetch(s + 704, 0, 2);
}
}  // namespace detail

inline void prefetch_sa(const esp::OutboundSa* sa) {
  __builtin_prefetch(sa);
  __builtin_prefetch(&sa->counters);
  detail::prefetch_gcm(sa->gcm);
}

inline void prefetch_sa(const esp::InboundSa* sa) {
  __builtin_prefetch(sa);
  __builtin_prefetch(&sa->counters);
  __builtin_prefetch(&sa->window);
  detail::prefetch_gcm(sa->gcm);
}

}  // namespace vitesse
