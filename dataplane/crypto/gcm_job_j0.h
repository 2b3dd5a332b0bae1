// A batch job's J0 for the two wide paths (gcm_avx2.cc, gcm_avx512.cc).
// SSE2 only, the x86-64 baseline, so it needs no target attribute and
// inlines into either path's code.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "crypto/aes_gcm.h"

namespace vitesse::crypto {

// J0 = salt ‖ IV ‖ 1, from the context's salt and the eight octets of IV
// where they lie (in ESP, the packet's header), built in a register: a nonce
// assembled in memory first would make the load wait for the smaller stores
// (no store forwarding).
inline __m128i job_j0(const GcmJob& j) {
  uint32_t salt;
  uint64_t iv;
  std::memcpy(&salt, j.ctx->salt, 4);
  std::memcpy(&iv, j.iv, 8);
  const __m128i x = _mm_slli_si128(_mm_cvtsi64_si128(static_cast<long long>(iv)), 4);
  return _mm_or_si128(_mm_or_si128(x, _mm_cvtsi32_si128(static_cast<int>(salt))), _mm_set_epi32(0x01000000, 0, 0, 0));
}

}  // namespace vitesse::crypto
