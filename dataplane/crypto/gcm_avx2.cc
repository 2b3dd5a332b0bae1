// The AES-NI + PCLMULQDQ path (any x86-64 with AVX2): eight blocks in flight
// through AES and GHASH aggregated over eight blocks with one reduction, using
// the powers of H kept in the context.
//
// Flow of one packet: E(J0) for the tag; then groups of eight blocks, each
// encrypted in CTR mode and hashed (the ciphertext: after encryption, before
// decryption); then the tail, hashed together with the length block. Short
// AAD (ESP's 12 bytes) is hashed in the same reduction as the first group.
#include <immintrin.h>

#include <cstring>

#include "crypto/gcm_internal.h"

namespace vitesse::crypto::detail::avx2 {

namespace {

#define VITESSE_AVX2 __attribute__((target("avx2,aes,pclmul")))

constexpr size_t kGroupBlocks = 8;
constexpr size_t kGroupBytes = 16 * kGroupBlocks;
// AAD of up to this many blocks shares a reduction with data blocks; longer
// AAD (never seen in ESP) is hashed on its own first.
constexpr size_t kMergedAadBlocks = 16;
constexpr int kPowers = FastKey::kPowers;

VITESSE_AVX2 inline __m128i bswap(__m128i x) {
  return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

VITESSE_AVX2 inline __m128i load(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
VITESSE_AVX2 inline void store(uint8_t* p, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }

// The first n (< 16) bytes at p, zero-padded, without reading past p + n.
VITESSE_AVX2 inline __m128i load_partial(const uint8_t* p, size_t n) {
  alignas(16) uint8_t t[16] = {};
  std::memcpy(t, p, n);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(t));
}

VITESSE_AVX2 inline void store_partial(uint8_t* p, __m128i v, size_t n) {
  alignas(16) uint8_t t[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(t), v);
  std::memcpy(p, t, n);
}

// J0 = IV ‖ 1, the first counter block.
VITESSE_AVX2 inline __m128i make_j0(const uint8_t iv[12]) {
  alignas(16) uint8_t b[16] = {};
  std::memcpy(b, iv, 12);
  b[15] = 1;
  return _mm_load_si128(reinterpret_cast<const __m128i*>(b));
}

// AES on N independent blocks, round by round so they pipeline.
template <int R, int N>
VITESSE_AVX2 inline void aes_blocks(const FastKey& k, __m128i (&b)[N]) {
  const __m128i* rk = reinterpret_cast<const __m128i*>(k.rk);
  __m128i key = _mm_load_si128(rk);
  for (int i = 0; i < N; ++i) b[i] = _mm_xor_si128(b[i], key);
#pragma GCC unroll 16
  for (int r = 1; r < R; ++r) {
    key = _mm_load_si128(rk + r);
    for (int i = 0; i < N; ++i) b[i] = _mm_aesenc_si128(b[i], key);
  }
  key = _mm_load_si128(rk + R);
  for (int i = 0; i < N; ++i) b[i] = _mm_aesenclast_si128(b[i], key);
}

// Unreduced sum of products (lo, mid and hi 128-bit parts).
struct Acc {
  __m128i lo = _mm_setzero_si128(), mid = _mm_setzero_si128(), hi = _mm_setzero_si128();
};

VITESSE_AVX2 inline void acc_mul(Acc& a, __m128i x, __m128i h) {
  a.lo = _mm_xor_si128(a.lo, _mm_clmulepi64_si128(x, h, 0x00));
  a.hi = _mm_xor_si128(a.hi, _mm_clmulepi64_si128(x, h, 0x11));
  a.mid = _mm_xor_si128(a.mid, _mm_xor_si128(_mm_clmulepi64_si128(x, h, 0x01), _mm_clmulepi64_si128(x, h, 0x10)));
}

// The POLYVAL reduction of the accumulated product (see polyval_portable.h).
VITESSE_AVX2 inline __m128i reduce(const Acc& a) {
  const __m128i poly = _mm_set_epi64x(static_cast<int64_t>(0xC200000000000000), 1);
  __m128i lo = _mm_xor_si128(a.lo, _mm_slli_si128(a.mid, 8));
  const __m128i hi = _mm_xor_si128(a.hi, _mm_srli_si128(a.mid, 8));
  lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E), _mm_clmulepi64_si128(lo, poly, 0x10));
  lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E), _mm_clmulepi64_si128(lo, poly, 0x10));
  return _mm_xor_si128(hi, lo);
}

// Adds the blocks of p[0..n) (the last zero-padded) to a reduction group in
// which `after` more blocks follow them; `x` (the running hash) is added to
// the first block. n > 0, and the group must hold at most kPowers blocks.
VITESSE_AVX2 inline void acc_bytes(const FastKey& k, Acc& a, const uint8_t* p, size_t n, size_t after, __m128i x) {
  const size_t nb = (n + 15) / 16;
  const uint8_t* h = k.hpow[kPowers - after - nb];
  __m128i blk = bswap(n >= 16 ? load(p) : load_partial(p, n));
  acc_mul(a, _mm_xor_si128(blk, x), _mm_load_si128(reinterpret_cast<const __m128i*>(h)));
  for (size_t i = 1; i < nb; ++i) {
    const size_t left = n - 16 * i;
    blk = bswap(left >= 16 ? load(p + 16 * i) : load_partial(p + 16 * i, left));
    acc_mul(a, blk, _mm_load_si128(reinterpret_cast<const __m128i*>(h + 16 * i)));
  }
}

// GHASH of AAD too long to share a reduction: groups of kPowers blocks.
VITESSE_AVX2 __m128i hash_long_aad(const FastKey& k, const uint8_t* aad, size_t n) {
  __m128i x = _mm_setzero_si128();
  for (size_t off = 0; off < n; off += 16 * kPowers) {
    Acc a;
    acc_bytes(k, a, aad + off, n - off < 16 * kPowers ? n - off : 16 * kPowers, 0, x);
    x = reduce(a);
  }
  return x;
}

template <int R, bool kEncrypt>
VITESSE_AVX2 void crypt(const FastKey& k, const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data,
                        size_t len, uint8_t tag[16]) {
  const __m128i one = _mm_set_epi32(0, 0, 0, 1);
  const __m128i zero = _mm_setzero_si128();
  __m128i tag_mask[1] = {make_j0(iv)};
  __m128i ctr = bswap(tag_mask[0]);  // the 32-bit counter as a little-endian lane
  aes_blocks<R, 1>(k, tag_mask);

  const bool merge_aad = (aad_len + 15) / 16 <= kMergedAadBlocks;
  bool aad_pending = merge_aad && aad_len > 0;
  __m128i x = merge_aad ? zero : hash_long_aad(k, aad, aad_len);

  const size_t groups = len / kGroupBytes;
  uint8_t* p = data;
  for (size_t g = 0; g < groups; ++g, p += kGroupBytes) {
    __m128i b[kGroupBlocks];
    for (size_t i = 0; i < kGroupBlocks; ++i) {
      ctr = _mm_add_epi32(ctr, one);  // inc32: wraps within the lane
      b[i] = bswap(ctr);
    }
    Acc a;
    if (aad_pending) {
      acc_bytes(k, a, aad, aad_len, kGroupBlocks, x);
      x = zero;
      aad_pending = false;
    }
    if (!kEncrypt) acc_bytes(k, a, p, kGroupBytes, 0, x);
    aes_blocks<R, kGroupBlocks>(k, b);
    for (size_t i = 0; i < kGroupBlocks; ++i) store(p + 16 * i, _mm_xor_si128(load(p + 16 * i), b[i]));
    if (kEncrypt) acc_bytes(k, a, p, kGroupBytes, 0, x);
    x = reduce(a);
  }

  // Tail (under a group) and the length block, in one reduction.
  const size_t rem = len - groups * kGroupBytes;
  const size_t tail_blocks = (rem + 15) / 16;
  Acc a;
  if (aad_pending) {
    acc_bytes(k, a, aad, aad_len, tail_blocks + 1, x);
    x = zero;
  }
  if (!kEncrypt && rem > 0) {
    acc_bytes(k, a, p, rem, 1, x);
    x = zero;
  }
  for (size_t i = 0; i < tail_blocks; ++i) {
    ctr = _mm_add_epi32(ctr, one);
    __m128i ks[1] = {bswap(ctr)};
    aes_blocks<R, 1>(k, ks);
    const size_t left = rem - 16 * i;
    if (left >= 16) {
      store(p + 16 * i, _mm_xor_si128(load(p + 16 * i), ks[0]));
    } else {
      store_partial(p + 16 * i, _mm_xor_si128(load_partial(p + 16 * i, left), ks[0]), left);
    }
  }
  if (kEncrypt && rem > 0) {
    acc_bytes(k, a, p, rem, 1, x);
    x = zero;
  }
  const __m128i lengths = _mm_set_epi64x(static_cast<int64_t>(aad_len * 8), static_cast<int64_t>(len * 8));
  acc_mul(a, _mm_xor_si128(lengths, x), _mm_load_si128(reinterpret_cast<const __m128i*>(k.hpow[kPowers - 1])));
  store(tag, _mm_xor_si128(bswap(reduce(a)), tag_mask[0]));
}

template <bool kEncrypt>
VITESSE_AVX2 void crypt_any(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len,
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

#undef VITESSE_AVX2

}  // namespace vitesse::crypto::detail::avx2
