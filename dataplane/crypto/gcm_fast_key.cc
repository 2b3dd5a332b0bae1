// Key setup for the AES-NI paths: round keys as they are, and H, H^2, ...,
// H^32 in the POLYVAL domain for aggregated GHASH.
#include <immintrin.h>

#include <cstring>

#include "crypto/ct_util.h"
#include "crypto/gcm_internal.h"
#include "crypto/polyval_portable.h"

namespace vitesse::crypto::detail {

namespace {

#define VITESSE_TARGET __attribute__((target("aes,pclmul,ssse3")))

VITESSE_TARGET __m128i polyval_mul(__m128i a, __m128i b) {
  const __m128i poly = _mm_set_epi64x(static_cast<int64_t>(0xC200000000000000), 1);
  __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
  __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
  const __m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));
  lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
  hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
  // Two folds of the low half by x^64·(x^63 + x^62 + x^57) (see polyval_portable.h).
  lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E), _mm_clmulepi64_si128(lo, poly, 0x10));
  lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E), _mm_clmulepi64_si128(lo, poly, 0x10));
  return _mm_xor_si128(hi, lo);
}

}  // namespace

VITESSE_TARGET void init_fast_key(GcmContext& ctx, const uint8_t rk[15][16]) {
  FastKey& k = key_of<FastKey>(ctx);
  std::memcpy(k.rk, rk, 16 * static_cast<size_t>(ctx.rounds + 1));
  __m128i x = _mm_xor_si128(_mm_setzero_si128(), _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk[0])));
  for (int r = 1; r < ctx.rounds; ++r) x = _mm_aesenc_si128(x, _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk[r])));
  x = _mm_aesenclast_si128(x, _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk[ctx.rounds])));
  uint8_t h_bytes[16];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h_bytes), x);
  const portable::U128 hp = portable::polyval_mulx(portable::load_be128(h_bytes));
  secure_zero(h_bytes, sizeof h_bytes);
  const __m128i h = _mm_set_epi64x(static_cast<int64_t>(hp.hi), static_cast<int64_t>(hp.lo));
  __m128i power = h;
  for (int i = FastKey::kPowers - 1; i >= 0; --i) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(k.hpow[i]), power);
    power = polyval_mul(power, h);
  }
}

#undef VITESSE_TARGET

}  // namespace vitesse::crypto::detail
