// The VAES + VPCLMULQDQ path (AVX-512): four blocks per 512-bit register,
// sixteen blocks per group through AES, and GHASH aggregated over each group
// with a single reduction. Same flow as gcm_avx2.cc, four times as wide:
// E(J0); groups of sixteen blocks (CTR, and the hash of the ciphertext);
// the tail with the length block in one reduction. Partial blocks use masked
// loads and stores, which never touch memory outside the buffer.
#include <immintrin.h>

// GCC 12's AVX-512 headers build "undefined" vectors by self-initialisation
// (GCC bug 105593), which -Wall then reports at every inlined call.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cstring>

#include "crypto/gcm_internal.h"

namespace vitesse::crypto::detail::avx512 {

namespace {

#define VITESSE_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,vaes,vpclmulqdq,aes,pclmul,avx2")))

constexpr size_t kGroupBlocks = 16;
constexpr size_t kGroupBytes = 16 * kGroupBlocks;
constexpr size_t kMergedAadBlocks = 15;  // with 16 data blocks and the lengths: 32 powers
constexpr int kPowers = FastKey::kPowers;

VITESSE_AVX512 inline __m128i bswap(__m128i x) {
  return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

// Byte-reverses each 128-bit lane.
VITESSE_AVX512 inline __m512i bswap(__m512i x) {
  return _mm512_shuffle_epi8(
      x, _mm512_broadcast_i32x4(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)));
}

VITESSE_AVX512 inline __m512i load(const uint8_t* p) { return _mm512_loadu_si512(p); }
VITESSE_AVX512 inline void store(uint8_t* p, __m512i v) { _mm512_storeu_si512(p, v); }

VITESSE_AVX512 inline __m512i broadcast_key(const uint8_t* rk) {
  return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(rk)));
}

// Mask for the first n (≤ 64) bytes of a register.
inline __mmask64 byte_mask(size_t n) { return n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1; }

VITESSE_AVX512 inline __m128i make_j0(const uint8_t iv[12]) {
  alignas(16) uint8_t b[16] = {};
  std::memcpy(b, iv, 12);
  b[15] = 1;
  return _mm_load_si128(reinterpret_cast<const __m128i*>(b));
}

// Counter blocks: the 32-bit counter of each lane kept little-endian (lanes
// byte-reversed) so one vpaddd steps it, modulo 2^32 as inc32 requires.
VITESSE_AVX512 inline __m512i lane_counters(__m128i j0, int first) {
  return _mm512_add_epi32(_mm512_broadcast_i32x4(bswap(j0)),
                          _mm512_set_epi32(0, 0, 0, first + 3, 0, 0, 0, first + 2, 0, 0, 0, first + 1, 0, 0, 0, first));
}

VITESSE_AVX512 inline __m512i lanes_step(int n) { return _mm512_broadcast_i32x4(_mm_set_epi32(0, 0, 0, n)); }

template <int R, int N>
VITESSE_AVX512 inline void aes_zmm(const __m512i (&rk)[R + 1], __m512i (&b)[N]) {
  for (int i = 0; i < N; ++i) b[i] = _mm512_xor_si512(b[i], rk[0]);
#pragma GCC unroll 16
  for (int r = 1; r < R; ++r) {
    for (int i = 0; i < N; ++i) b[i] = _mm512_aesenc_epi128(b[i], rk[r]);
  }
  for (int i = 0; i < N; ++i) b[i] = _mm512_aesenclast_epi128(b[i], rk[R]);
}

template <int R>
VITESSE_AVX512 inline __m128i aes_xmm(const __m512i (&rk)[R + 1], __m128i b) {
  b = _mm_xor_si128(b, _mm512_castsi512_si128(rk[0]));
#pragma GCC unroll 16
  for (int r = 1; r < R; ++r) b = _mm_aesenc_si128(b, _mm512_castsi512_si128(rk[r]));
  return _mm_aesenclast_si128(b, _mm512_castsi512_si128(rk[R]));
}

// Unreduced sums of products, four lanes each. (No default member
// initialisers: the implicit constructor would lack the target attribute.)
struct Acc {
  __m512i lo, mid, hi;
};

VITESSE_AVX512 inline Acc empty_acc() {
  return {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
}

VITESSE_AVX512 inline void acc_mul(Acc& a, __m512i x, __m512i h) {
  a.lo = _mm512_xor_si512(a.lo, _mm512_clmulepi64_epi128(x, h, 0x00));
  a.hi = _mm512_xor_si512(a.hi, _mm512_clmulepi64_epi128(x, h, 0x11));
  a.mid = _mm512_ternarylogic_epi64(a.mid, _mm512_clmulepi64_epi128(x, h, 0x01),
                                    _mm512_clmulepi64_epi128(x, h, 0x10), 0x96);  // three-way XOR
}

VITESSE_AVX512 inline __m128i fold_lanes(__m512i z) {
  const __m256i y = _mm256_xor_si256(_mm512_castsi512_si256(z), _mm512_extracti64x4_epi64(z, 1));
  return _mm_xor_si128(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
}

// Sums the four lanes, then the POLYVAL reduction (see polyval_portable.h).
VITESSE_AVX512 inline __m128i reduce(const Acc& a) {
  const __m128i poly = _mm_set_epi64x(static_cast<int64_t>(0xC200000000000000), 1);
  const __m128i mid = fold_lanes(a.mid);
  __m128i lo = _mm_xor_si128(fold_lanes(a.lo), _mm_slli_si128(mid, 8));
  const __m128i hi = _mm_xor_si128(fold_lanes(a.hi), _mm_srli_si128(mid, 8));
  lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E), _mm_clmulepi64_si128(lo, poly, 0x10));
  lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E), _mm_clmulepi64_si128(lo, poly, 0x10));
  return _mm_xor_si128(hi, lo);
}

// Adds the blocks of p[0..n) (the last zero-padded) to a reduction group in
// which `after` more blocks follow them; x (the running hash) is added to the
// first block. n > 0; the group holds at most kPowers blocks.
VITESSE_AVX512 inline void acc_bytes(const FastKey& k, Acc& a, const uint8_t* p, size_t n, size_t after, __m128i x) {
  const size_t nb = (n + 15) / 16;
  const uint8_t* h = k.hpow[kPowers - after - nb];
  __m512i carry = _mm512_zextsi128_si512(x);
  for (size_t off = 0; off < n; off += 64) {
    const size_t left = n - off;
    const size_t lanes = left >= 64 ? 4 : (left + 15) / 16;
    const __m512i d = bswap(_mm512_maskz_loadu_epi8(byte_mask(left), p + off));
    const __m512i hv = _mm512_maskz_loadu_epi64(static_cast<__mmask8>((1u << (2 * lanes)) - 1), h + off);
    acc_mul(a, _mm512_xor_si512(d, carry), hv);
    carry = _mm512_setzero_si512();
  }
}

// A whole group: sixteen blocks times H^16..H^1.
VITESSE_AVX512 inline void acc_group(Acc& a, const uint8_t* p, __m128i x, const __m512i (&h)[4]) {
  acc_mul(a, _mm512_xor_si512(bswap(load(p)), _mm512_zextsi128_si512(x)), h[0]);
  for (int i = 1; i < 4; ++i) acc_mul(a, bswap(load(p + 64 * i)), h[i]);
}

VITESSE_AVX512 __m128i hash_long_aad(const FastKey& k, const uint8_t* aad, size_t n) {
  __m128i x = _mm_setzero_si128();
  for (size_t off = 0; off < n; off += 16 * kPowers) {
    Acc a = empty_acc();
    acc_bytes(k, a, aad + off, n - off < 16 * kPowers ? n - off : 16 * kPowers, 0, x);
    x = reduce(a);
  }
  return x;
}

template <int R>
VITESSE_AVX512 inline void load_round_keys(const FastKey& k, __m512i (&rk)[R + 1]) {
  for (int r = 0; r <= R; ++r) rk[r] = broadcast_key(k.rk[r]);
}

template <int R, bool kEncrypt>
VITESSE_AVX512 void crypt(const FastKey& k, const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data,
                          size_t len, uint8_t tag[16]) {
  const __m128i zero = _mm_setzero_si128();
  __m512i rk[R + 1];
  load_round_keys<R>(k, rk);
  const __m128i j0 = make_j0(iv);
  const __m128i tag_mask = aes_xmm<R>(rk, j0);
  __m512i ctr = lane_counters(j0, 1);
  const __m512i step4 = lanes_step(4);

  const bool merge_aad = (aad_len + 15) / 16 <= kMergedAadBlocks;
  bool aad_pending = merge_aad && aad_len > 0;
  __m128i x = merge_aad ? zero : hash_long_aad(k, aad, aad_len);

  const size_t groups = len / kGroupBytes;
  uint8_t* p = data;
  if (groups > 0) {
    const __m512i h[4] = {load(k.hpow[kPowers - 16]), load(k.hpow[kPowers - 12]), load(k.hpow[kPowers - 8]),
                          load(k.hpow[kPowers - 4])};
    for (size_t g = 0; g < groups; ++g, p += kGroupBytes) {
      __m512i b[4];
      for (int i = 0; i < 4; ++i) {
        b[i] = bswap(ctr);
        ctr = _mm512_add_epi32(ctr, step4);
      }
      Acc a = empty_acc();
      if (aad_pending) {
        acc_bytes(k, a, aad, aad_len, kGroupBlocks, x);
        x = zero;
        aad_pending = false;
      }
      if (!kEncrypt) acc_group(a, p, x, h);
      aes_zmm<R, 4>(rk, b);
      for (int i = 0; i < 4; ++i) store(p + 64 * i, _mm512_xor_si512(load(p + 64 * i), b[i]));
      if (kEncrypt) acc_group(a, p, x, h);
      x = reduce(a);
    }
  }

  // Tail (under a group) and the length block, in one reduction.
  const size_t rem = len - groups * kGroupBytes;
  const size_t tail_blocks = (rem + 15) / 16;
  Acc a = empty_acc();
  if (aad_pending) {
    acc_bytes(k, a, aad, aad_len, tail_blocks + 1, x);
    x = zero;
  }
  if (!kEncrypt && rem > 0) {
    acc_bytes(k, a, p, rem, 1, x);
    x = zero;
  }
  for (size_t off = 0; off < rem; off += 64) {
    __m512i ks[1] = {bswap(ctr)};
    ctr = _mm512_add_epi32(ctr, step4);
    aes_zmm<R, 1>(rk, ks);
    const __mmask64 m = byte_mask(rem - off);
    _mm512_mask_storeu_epi8(p + off, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, p + off), ks[0]));
  }
  if (kEncrypt && rem > 0) {
    acc_bytes(k, a, p, rem, 1, x);
    x = zero;
  }
  const __m128i lengths = _mm_set_epi64x(static_cast<int64_t>(aad_len * 8), static_cast<int64_t>(len * 8));
  acc_mul(a, _mm512_zextsi128_si512(_mm_xor_si128(lengths, x)),
          _mm512_zextsi128_si512(_mm_load_si128(reinterpret_cast<const __m128i*>(k.hpow[kPowers - 1]))));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(tag), _mm_xor_si128(bswap(reduce(a)), tag_mask));
}

template <bool kEncrypt>
VITESSE_AVX512 void crypt_any(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len,
                              uint8_t* data, size_t len, uint8_t tag[16]) {
  const FastKey& k = key_of<FastKey>(ctx);
  if (ctx.rounds == 14) {
    crypt<14, kEncrypt>(k, iv, aad, aad_len, data, len, tag);
  } else {
    crypt<10, kEncrypt>(k, iv, aad, aad_len, data, len, tag);
  }
}

}  // namespace

void init(GcmContext& ctx, const uint8_t rk[15][16]) { init_fast_key(ctx, rk); }

void seal(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data,
          size_t len, uint8_t tag[16]) {
  crypt_any<true>(ctx, iv, aad, aad_len, data, len, tag);
}

void decrypt(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data,
             size_t len, uint8_t tag[16]) {
  crypt_any<false>(ctx, iv, aad, aad_len, data, len, tag);
}

void seal_batch(GcmJob* jobs, size_t n) {
  for (size_t i = 0; i < n; ++i) seal(*jobs[i].ctx, jobs[i].iv, jobs[i].aad, jobs[i].aad_len, jobs[i].data, jobs[i].len, jobs[i].tag);
}

void decrypt_batch(GcmJob* jobs, size_t n, uint8_t (*tags)[16]) {
  for (size_t i = 0; i < n; ++i) decrypt(*jobs[i].ctx, jobs[i].iv, jobs[i].aad, jobs[i].aad_len, jobs[i].data, jobs[i].len, tags[i]);
}

#undef VITESSE_AVX512

}  // namespace vitesse::crypto::detail::avx512
