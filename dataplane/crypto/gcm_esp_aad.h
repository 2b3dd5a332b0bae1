// ESP's AAD for the two wide paths (gcm_avx2.cc, gcm_avx512.cc): 8 octets
// (SPI ‖ seq-low), or 12 with ESN (SPI ‖ seq-high ‖ seq-low, from the
// header's fifth octet). esp/encap.cc writes the header just before the
// seal as two 8-octet words; a load across both cannot take them from the
// store buffer and waits until they reach the cache (a third of the seal's
// time in the pipeline, docs/dataplane.md "Round eight, the short path's
// loads"), where loads that each lie within one of them can. SSE2 only, the
// x86-64 baseline, so it inlines into either path's code.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vitesse::crypto {

inline bool is_esp_aad_len(size_t len) { return len == 8 || len == 12; }

// The AAD zero-padded to a block; len is 8 or 12.
inline __m128i load_esp_aad(const uint8_t* aad, size_t len) {
  uint64_t w;
  if (len == 8) {
    std::memcpy(&w, aad, 8);
    return _mm_cvtsi64_si128(static_cast<long long>(w));
  }
  uint32_t first;
  std::memcpy(&first, aad, 4);
  std::memcpy(&w, aad + 4, 8);
  return _mm_or_si128(_mm_cvtsi32_si128(static_cast<int>(first)),
                      _mm_slli_si128(_mm_cvtsi64_si128(static_cast<long long>(w)), 4));
}

}  // namespace vitesse::crypto
