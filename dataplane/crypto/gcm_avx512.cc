// The VAES + VPCLMULQDQ path (AVX-512): four blocks per 512-bit register,
// sixteen blocks per group through AES, and GHASH aggregated over each group
// with a single reduction. Same flow as gcm_avx2.cc, four times as wide:
// E(J0) and the tail's keystream up front; groups of sixteen blocks (CTR with
// keystream computed one group ahead, and the hash of the ciphertext); the
// tail with the length block, in the last group's reduction when the 32
// powers reach. Partial blocks use masked loads and stores, which never
// touch memory outside the buffer.
#include <immintrin.h>

// GCC 12's AVX-512 headers build "undefined" vectors by self-initialisation
// (GCC bug 105593), which -Wall then reports at every inlined call.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstring>

#include "crypto/gcm_esp_aad.h"
#include "crypto/gcm_internal.h"
#include "crypto/gcm_job_j0.h"

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
  return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rk)));
}

// Mask for the first n (≤ 64) bytes of a register.
inline __mmask64 byte_mask(size_t n) { return n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1; }

// J0 = IV ‖ 1, built in a register: assembling it in memory first would make
// the 16-byte load wait for the smaller stores (no store forwarding).
VITESSE_AVX512 inline __m128i make_j0(const uint8_t iv[12]) {
  return _mm_or_si128(_mm_maskz_loadu_epi8(0x0FFF, iv), _mm_set_epi32(0x01000000, 0, 0, 0));
}

// Counter blocks: the 32-bit counter of each lane kept little-endian (lanes
// byte-reversed) so one vpaddd steps it, modulo 2^32 as inc32 requires.
VITESSE_AVX512 inline __m512i lane_counters(__m128i j0, int first) {
  return _mm512_add_epi32(_mm512_broadcast_i32x4(bswap(j0)),
                          _mm512_set_epi32(0, 0, 0, first + 3, 0, 0, 0, first + 2, 0, 0, 0, first + 1, 0, 0, 0, first));
}

VITESSE_AVX512 inline __m512i lanes_step(int n) { return _mm512_broadcast_i32x4(_mm_set_epi32(0, 0, 0, n)); }

// The long path's counters, two ways. Little-endian lanes as above (kBytes
// false), byte-swapped into blocks; or (kBytes true) kept as the blocks
// themselves and stepped by adding to the last octet alone, which is the
// top octet of the lane's last 32-bit word: one vpaddd and no vpshufb per
// register, valid while that octet does not wrap, i.e. for a packet of
// fewer than 255 - J0's last octet blocks (J0 ends in 1 with a 12-octet IV:
// any packet under 4 KB). crypt_any picks.
template <bool kBytes>
VITESSE_AVX512 inline __m512i ctr_first(__m128i j0, int first) {
  if constexpr (kBytes) {
    return _mm512_add_epi32(_mm512_broadcast_i32x4(j0),
                            _mm512_set_epi32((first + 3) << 24, 0, 0, 0, (first + 2) << 24, 0, 0, 0,
                                             (first + 1) << 24, 0, 0, 0, first << 24, 0, 0, 0));
  } else {
    return lane_counters(j0, first);
  }
}

template <bool kBytes>
VITESSE_AVX512 inline __m512i ctr_step(int n) {
  return kBytes ? _mm512_broadcast_i32x4(_mm_set_epi32(n << 24, 0, 0, 0)) : lanes_step(n);
}

template <bool kBytes>
VITESSE_AVX512 inline __m512i ctr_block(__m512i c) {
  if constexpr (kBytes) return c;
  else return bswap(c);
}

// AES on the N registers at b, round by round so they pipeline.
template <int R, int N>
VITESSE_AVX512 inline void aes_zmm(const __m512i (&rk)[R + 1], __m512i* b) {
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

// Keystream for n (≤ 4) registers of counters starting at ctr, all in flight.
template <int R, bool kBytes>
VITESSE_AVX512 inline void keystream(const __m512i (&rk)[R + 1], __m512i ctr, __m512i (&ks)[4], size_t n) {
  for (int i = 0; i < 4; ++i) ks[i] = ctr_block<kBytes>(_mm512_add_epi32(ctr, ctr_step<kBytes>(4 * i)));
  switch (n) {
    case 4: aes_zmm<R, 4>(rk, ks); break;
    case 3: aes_zmm<R, 3>(rk, ks); break;
    case 2: aes_zmm<R, 2>(rk, ks); break;
    case 1: aes_zmm<R, 1>(rk, ks); break;
    default: break;
  }
}

// Unreduced sums of products, four lanes each, and one lane on its own for
// single blocks (a short AAD, the length block): a 512-bit carry-less
// multiplication of one block costs what four do. (No default member
// initialisers: the implicit constructor would lack the target attribute.)
struct Acc {
  __m512i lo, mid, hi;
  __m128i lo1, mid1, hi1;
};

VITESSE_AVX512 inline Acc empty_acc() {
  return {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
          _mm_setzero_si128(),    _mm_setzero_si128(),    _mm_setzero_si128()};
}

VITESSE_AVX512 inline void acc_mul(Acc& a, __m512i x, __m512i h) {
  a.lo = _mm512_xor_si512(a.lo, _mm512_clmulepi64_epi128(x, h, 0x00));
  a.hi = _mm512_xor_si512(a.hi, _mm512_clmulepi64_epi128(x, h, 0x11));
  a.mid = _mm512_ternarylogic_epi64(a.mid, _mm512_clmulepi64_epi128(x, h, 0x01),
                                    _mm512_clmulepi64_epi128(x, h, 0x10), 0x96);  // three-way XOR
}

VITESSE_AVX512 inline void acc_mul1(Acc& a, __m128i x, __m128i h) {
  a.lo1 = _mm_xor_si128(a.lo1, _mm_clmulepi64_si128(x, h, 0x00));
  a.hi1 = _mm_xor_si128(a.hi1, _mm_clmulepi64_si128(x, h, 0x11));
  a.mid1 = _mm_ternarylogic_epi64(a.mid1, _mm_clmulepi64_si128(x, h, 0x01), _mm_clmulepi64_si128(x, h, 0x10), 0x96);
}

VITESSE_AVX512 inline __m128i fold_lanes(__m512i z) {
  const __m256i y = _mm256_xor_si256(_mm512_castsi512_si256(z), _mm512_extracti64x4_epi64(z, 1));
  return _mm_xor_si128(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
}

// Sums the four lanes, then the POLYVAL reduction (see polyval_portable.h).
VITESSE_AVX512 inline __m128i reduce(const Acc& a) {
  const __m128i poly = _mm_set_epi64x(static_cast<int64_t>(0xC200000000000000), 1);
  const __m128i mid = _mm_xor_si128(fold_lanes(a.mid), a.mid1);
  __m128i lo = _mm_ternarylogic_epi64(fold_lanes(a.lo), a.lo1, _mm_slli_si128(mid, 8), 0x96);
  const __m128i hi = _mm_ternarylogic_epi64(fold_lanes(a.hi), a.hi1, _mm_srli_si128(mid, 8), 0x96);
  lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E), _mm_clmulepi64_si128(lo, poly, 0x10));
  lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E), _mm_clmulepi64_si128(lo, poly, 0x10));
  return _mm_xor_si128(hi, lo);
}

// Adds one register of up to four blocks (raw bytes, zero beyond the data)
// whose first block takes the power hpow[index], i.e. is followed by
// kPowers - 1 - index blocks in its reduction group; x (the running hash)
// is added to that first block. Ciphertext is hashed from the registers that
// produced it: reloading it after a masked store would stall on store
// forwarding.
VITESSE_AVX512 inline void acc_reg(const FastKey& k, Acc& a, __m512i d, size_t index, size_t lanes, __m128i x) {
  if (lanes == 1) {
    acc_mul1(a, _mm_xor_si128(bswap(_mm512_castsi512_si128(d)), x),
             _mm_loadu_si128(reinterpret_cast<const __m128i*>(k.hpow[index])));
    return;
  }
  const __m512i hv = _mm512_maskz_loadu_epi64(static_cast<__mmask8>((1u << (2 * lanes)) - 1), k.hpow[index]);
  acc_mul(a, _mm512_xor_si512(bswap(d), _mm512_zextsi128_si512(x)), hv);
}

// An AAD of at most one block, ESP's read in words (crypto/gcm_esp_aad.h).
VITESSE_AVX512 inline __m128i load_aad(const uint8_t* aad, size_t len) {
  if (is_esp_aad_len(len)) return load_esp_aad(aad, len);
  return _mm_maskz_loadu_epi8(static_cast<__mmask16>((1u << len) - 1), aad);
}

// Adds the blocks of p[0..n) (the last zero-padded) to a reduction group in
// which `after` more blocks follow them; x is added to the first block.
// n > 0; the group holds at most kPowers blocks.
VITESSE_AVX512 inline void acc_bytes(const FastKey& k, Acc& a, const uint8_t* p, size_t n, size_t after, __m128i x) {
  const size_t first = kPowers - after - (n + 15) / 16;
  if (n <= 16) {
    acc_reg(k, a, _mm512_zextsi128_si512(load_aad(p, n)), first, 1, x);
    return;
  }
  for (size_t off = 0; off < n; off += 64) {
    const size_t left = n - off;
    acc_reg(k, a, _mm512_maskz_loadu_epi8(byte_mask(left), p + off), first + off / 16,
            left >= 64 ? 4 : (left + 15) / 16, x);
    x = _mm_setzero_si128();
  }
}

// A whole group: sixteen blocks times H^16..H^1.
// Products summed two registers at a time with three-way XORs: fewer
// vector operations, which share the pipes with vaesenc and vpclmulqdq.
VITESSE_AVX512 inline void acc_group(Acc& a, const __m512i (&v)[4], __m128i x, const __m512i (&h)[4]) {
  __m512i d[4];
  d[0] = _mm512_xor_si512(bswap(v[0]), _mm512_zextsi128_si512(x));
  for (int i = 1; i < 4; ++i) d[i] = bswap(v[i]);
  for (int i = 0; i < 4; i += 2) {
    a.lo = _mm512_ternarylogic_epi64(a.lo, _mm512_clmulepi64_epi128(d[i], h[i], 0x00),
                                     _mm512_clmulepi64_epi128(d[i + 1], h[i + 1], 0x00), 0x96);
    a.hi = _mm512_ternarylogic_epi64(a.hi, _mm512_clmulepi64_epi128(d[i], h[i], 0x11),
                                     _mm512_clmulepi64_epi128(d[i + 1], h[i + 1], 0x11), 0x96);
    a.mid = _mm512_ternarylogic_epi64(a.mid, _mm512_clmulepi64_epi128(d[i], h[i], 0x01),
                                      _mm512_clmulepi64_epi128(d[i], h[i], 0x10), 0x96);
    a.mid = _mm512_ternarylogic_epi64(a.mid, _mm512_clmulepi64_epi128(d[i + 1], h[i + 1], 0x01),
                                      _mm512_clmulepi64_epi128(d[i + 1], h[i + 1], 0x10), 0x96);
  }
}

// The length block (last of every message), with x added, times H.
VITESSE_AVX512 inline void acc_lengths(const FastKey& k, Acc& a, size_t aad_len, size_t len, __m128i x) {
  const __m128i lengths = _mm_set_epi64x(static_cast<int64_t>(aad_len * 8), static_cast<int64_t>(len * 8));
  acc_mul1(a, _mm_xor_si128(lengths, x), _mm_loadu_si128(reinterpret_cast<const __m128i*>(k.hpow[kPowers - 1])));
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

// CTR on up to 64 bytes at p (n of them; more are left alone) with the
// keystream register ks, and their hash: the ciphertext (the input when
// decrypting, the output when encrypting) is added with its first block at
// hpow[index].
template <bool kEncrypt>
VITESSE_AVX512 inline void xor_and_hash(const FastKey& k, Acc& a, uint8_t* p, size_t n, __m512i ks, size_t index,
                                        __m128i x) {
  const __mmask64 m = byte_mask(n);
  const __m512i in = _mm512_maskz_loadu_epi8(m, p);
  const __m512i out = _mm512_maskz_mov_epi8(m, _mm512_xor_si512(in, ks));
  _mm512_mask_storeu_epi8(p, m, out);
  acc_reg(k, a, kEncrypt ? out : in, index, n >= 64 ? 4 : (n + 15) / 16, x);
}

template <int R, bool kEncrypt, bool kBytes>
VITESSE_AVX512 void crypt(const FastKey& k, __m128i j0, const uint8_t* aad, size_t aad_len, uint8_t* data,
                          size_t len, uint8_t tag[16]) {
  const __m128i zero = _mm_setzero_si128();
  __m512i rk[R + 1];
  load_round_keys<R>(k, rk);
  const __m128i tag_mask = aes_xmm<R>(rk, j0);
  __m512i ctr = ctr_first<kBytes>(j0, 1);
  const __m512i step4 = ctr_step<kBytes>(4);

  const bool merge_aad = (aad_len + 15) / 16 <= kMergedAadBlocks;
  bool aad_pending = merge_aad && aad_len > 0;
  __m128i x = merge_aad ? zero : hash_long_aad(k, aad, aad_len);

  // The tail's keystream first: it depends on nothing, and computed last it
  // would leave its AES latency exposed at the end of the packet.
  const size_t groups = len / kGroupBytes;
  const size_t rem = len - groups * kGroupBytes;
  __m512i tail_ks[4];
  keystream<R, kBytes>(rk, _mm512_add_epi32(ctr, ctr_step<kBytes>(static_cast<int>(groups * kGroupBlocks))), tail_ks,
                       (rem + 63) / 64);

  // Groups share a reduction as far as the 32 powers reach (a span: two
  // groups, one behind the AAD). The last span is laid out first: the
  // groups that fit beside the tail and the length block (one unless the
  // tail is long), so that the packet ends on one reduction as before.
  const size_t tail_blocks = (rem + 15) / 16;
  const size_t aad_blocks = aad_pending ? (aad_len + 15) / 16 : 0;
  const size_t tail_room = kPowers - 1 - tail_blocks;
  size_t last_count = groups < tail_room / kGroupBlocks ? groups : tail_room / kGroupBlocks;
  if (last_count == groups && aad_blocks + groups * kGroupBlocks > tail_room) --last_count;
  Acc a = empty_acc();
  size_t span_end = 0;     // the group after the current span
  bool span_tail = false;  // whether the tail and the length block close it

  // Whole groups, the keystream computed one group ahead: each group's XOR
  // and hash then never wait for the AES latency of its own counters.
  uint8_t* p = data;
  if (groups > 0) {
    __m512i ks[4];
    for (int i = 0; i < 4; ++i) {
      ks[i] = ctr_block<kBytes>(ctr);
      ctr = _mm512_add_epi32(ctr, step4);
    }
    aes_zmm<R, 4>(rk, ks);
    for (size_t g = 0; g < groups; ++g, p += kGroupBytes) {
      __m512i next[4];
      if (g + 1 < groups) {
        for (int i = 0; i < 4; ++i) {
          next[i] = ctr_block<kBytes>(ctr);
          ctr = _mm512_add_epi32(ctr, step4);
        }
        aes_zmm<R, 4>(rk, next);
      }
      __m512i in[4], out[4];
      for (int i = 0; i < 4; ++i) {
        in[i] = load(p + 64 * i);
        out[i] = _mm512_xor_si512(in[i], ks[i]);
        store(p + 64 * i, out[i]);
      }
      if (g == span_end) {
        span_tail = g + last_count == groups && last_count > 0;
        if (span_tail) {
          span_end = groups;
        } else {
          const size_t room = (kPowers - (aad_pending ? aad_blocks : 0)) / kGroupBlocks;
          const size_t before_last = groups - last_count - g;
          span_end = g + (before_last < room ? before_last : room);
        }
        const size_t count = span_end - g;
        a = empty_acc();
        if (aad_pending) {
          acc_bytes(k, a, aad, aad_len, count * kGroupBlocks + (span_tail ? tail_blocks + 1 : 0), x);
          x = zero;
          aad_pending = false;
        }
      }
      const size_t first = kPowers - kGroupBlocks * (span_end - g) - (span_tail ? tail_blocks + 1 : 0);
      const __m512i h[4] = {load(k.hpow[first]), load(k.hpow[first + 4]), load(k.hpow[first + 8]),
                            load(k.hpow[first + 12])};
      acc_group(a, kEncrypt ? out : in, x, h);
      x = zero;
      if (g + 1 == span_end && !span_tail) x = reduce(a);
      for (int i = 0; i < 4; ++i) ks[i] = next[i];
    }
  }

  // Tail (under a group) and the length block, in one reduction (the last
  // span's, when they fit in it).
  if (!span_tail) a = empty_acc();
  if (aad_pending) {
    acc_bytes(k, a, aad, aad_len, tail_blocks + 1, x);
    x = zero;
  }
  for (size_t off = 0; off < rem; off += 64) {
    xor_and_hash<kEncrypt>(k, a, p + off, rem - off, tail_ks[off / 64], kPowers - 1 - tail_blocks + off / 16, x);
    x = zero;
  }
  acc_lengths(k, a, aad_len, len, x);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(tag), _mm_xor_si128(bswap(reduce(a)), tag_mask));
}

template <bool kEncrypt>
VITESSE_AVX512 void crypt_any(const GcmContext& ctx, __m128i j0, const uint8_t* aad, size_t aad_len,
                              uint8_t* data, size_t len, uint8_t tag[16]) {
  const FastKey& k = key_of<FastKey>(ctx);
  // The last data counter's low octet is J0's plus the number of blocks.
  const bool bytes = static_cast<size_t>(_mm_extract_epi8(j0, 15)) + (len + 15) / 16 <= 255;
  if (ctx.rounds == 14) {
    if (bytes) crypt<14, kEncrypt, true>(k, j0, aad, aad_len, data, len, tag);
    else crypt<14, kEncrypt, false>(k, j0, aad, aad_len, data, len, tag);
  } else {
    if (bytes) crypt<10, kEncrypt, true>(k, j0, aad, aad_len, data, len, tag);
    else crypt<10, kEncrypt, false>(k, j0, aad, aad_len, data, len, tag);
  }
}

// Batches: short packets are interleaved. One packet of a few blocks leaves
// the AES pipeline mostly idle while each round waits for the previous one,
// so the counter blocks of up to kShortJobs packets are laid out side by side
// (J0 first, then the data counters; a packet with a different key starts on
// a register boundary) and go through AES together, four registers at a
// time. Each packet is then XORed and hashed on its own, and four packets'
// sums share one reduction and tag step (reduce4).
constexpr size_t kShortJobs = 8;
constexpr size_t kShortMaxLen = kGroupBytes;               // 16 data blocks...
constexpr size_t kShortMaxAad = 16 * kMergedAadBlocks;     // ...so one reduction covers it all
constexpr size_t kShortMaxItems = kShortJobs * (kGroupBlocks + 1 + 3) / 4 + 1;

inline bool is_short(const GcmJob& j) { return j.len <= kShortMaxLen && j.aad_len <= kShortMaxAad; }

// AES on N registers of four blocks, each register with its own key. A
// register goes through AES as two 256-bit halves that share one round key
// broadcast to 256 bits (vbroadcasti128, a plain load), not one 512-bit
// broadcast per register and round (vbroadcasti32x4 zmm), which on Zen 4
// cost more than the vaesenc work itself. Microbenchmark, AES-128 on eight
// registers with eight keys, TSC cycles: 88 with 512-bit broadcasts eight
// registers at a time, 81 with the keys pre-broadcast in memory, 70 with
// this four at a time (75 eight at a time); one key held in registers: 59.
VITESSE_AVX512 inline __m256i broadcast_key256(const uint8_t* rk) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rk)));
}

template <int R, int N>
VITESSE_AVX512 void aes_items(uint8_t* blocks, const FastKey* const* keys) {
  __m256i lo[N], hi[N];
  for (int i = 0; i < N; ++i) {
    const __m256i k = broadcast_key256(keys[i]->rk[0]);
    lo[i] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks + 64 * i)), k);
    hi[i] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks + 64 * i + 32)), k);
  }
#pragma GCC unroll 16
  for (int r = 1; r < R; ++r) {
    for (int i = 0; i < N; ++i) {
      const __m256i k = broadcast_key256(keys[i]->rk[r]);
      lo[i] = _mm256_aesenc_epi128(lo[i], k);
      hi[i] = _mm256_aesenc_epi128(hi[i], k);
    }
  }
  for (int i = 0; i < N; ++i) {
    const __m256i k = broadcast_key256(keys[i]->rk[R]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blocks + 64 * i), _mm256_aesenclast_epi128(lo[i], k));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blocks + 64 * i + 32), _mm256_aesenclast_epi128(hi[i], k));
  }
}

template <int R>
VITESSE_AVX512 void aes_all_items(uint8_t* blocks, const FastKey* const* keys, size_t n) {
  // Usually every packet of a batch belongs to one SA: then the round keys
  // are broadcast once, not once per register and round.
  bool one_key = true;
  for (size_t i = 1; i < n; ++i) one_key &= keys[i] == keys[0];
  if (one_key) {
    __m512i rk[R + 1];
    load_round_keys<R>(*keys[0], rk);
    for (; n >= 4; n -= 4, blocks += 4 * 64) {
      __m512i b[4];
      for (int i = 0; i < 4; ++i) b[i] = load(blocks + 64 * i);
      aes_zmm<R, 4>(rk, b);
      for (int i = 0; i < 4; ++i) store(blocks + 64 * i, b[i]);
    }
    __m512i ks[4];
    for (size_t i = 0; i < n; ++i) ks[i] = load(blocks + 64 * i);
    switch (n) {
      case 3: aes_zmm<R, 3>(rk, ks); break;
      case 2: aes_zmm<R, 2>(rk, ks); break;
      case 1: aes_zmm<R, 1>(rk, ks); break;
      default: break;
    }
    for (size_t i = 0; i < n; ++i) store(blocks + 64 * i, ks[i]);
    return;
  }
  for (; n >= 4; n -= 4, blocks += 4 * 64, keys += 4) aes_items<R, 4>(blocks, keys);
  switch (n) {
    case 3: aes_items<R, 3>(blocks, keys); break;
    case 2: aes_items<R, 2>(blocks, keys); break;
    case 1: aes_items<R, 1>(blocks, keys); break;
    default: break;
  }
}

// Adds a register of `lanes` (1..4) blocks whose first takes hpow[index],
// in 512-bit products only: a packet's sums then stay in three registers,
// which sum_lanes4 folds four packets at a time.
VITESSE_AVX512 inline void acc_lanes(const FastKey& k, Acc& a, __m512i d, size_t index, size_t lanes) {
  acc_mul(a, bswap(d), _mm512_maskz_loadu_epi64(static_cast<__mmask8>((1u << (2 * lanes)) - 1), k.hpow[index]));
}

// The 128-bit sums into lane 0 of the 512-bit ones.
VITESSE_AVX512 inline void fold_single(Acc& a) {
  a.lo = _mm512_xor_si512(a.lo, _mm512_zextsi128_si512(a.lo1));
  a.mid = _mm512_xor_si512(a.mid, _mm512_zextsi128_si512(a.mid1));
  a.hi = _mm512_xor_si512(a.hi, _mm512_zextsi128_si512(a.hi1));
}

// XOR one short packet with its keystream ks (E(J0) first) and leave its
// hash, without the length block, unreduced in a.lo, a.mid and a.hi (the
// 128-bit sums are folded into them).
template <bool kEncrypt>
VITESSE_AVX512 inline void hash_short(const GcmJob& j, const uint8_t* ks, Acc& a) {
  const FastKey& k = key_of<FastKey>(*j.ctx);
  const size_t nb = (j.len + 15) / 16;
  a = empty_acc();
  if (j.aad_len == 0 || j.aad_len > 16) {
    if (j.aad_len > 0) acc_bytes(k, a, j.aad, j.aad_len, nb + 1, _mm_setzero_si128());
    for (size_t off = 0; off < j.len; off += 64) {
      xor_and_hash<kEncrypt>(k, a, j.data + off, j.len - off, load(ks + 16 + off), kPowers - 1 - nb + off / 16,
                             _mm_setzero_si128());
    }
    fold_single(a);
    return;
  }
  // An AAD of one block (ESP's 8 or 12 octets) is hashed in the data's
  // registers, one lane ahead of the data (valignq with the register
  // before): a 60-octet frame's AAD and three blocks of data take one
  // 512-bit multiplication instead of that and a 128-bit one.
  __m512i prev = _mm512_inserti32x4(_mm512_setzero_si512(),
                                    load_aad(j.aad, j.aad_len), 3);
  size_t index = kPowers - 2 - nb;  // the AAD's power
  size_t left = nb + 1;             // blocks still to hash, the AAD's included
  for (size_t off = 0; off < j.len; off += 64) {
    const __mmask64 m = byte_mask(j.len - off);
    const __m512i in = _mm512_maskz_loadu_epi8(m, j.data + off);
    const __m512i out = _mm512_maskz_mov_epi8(m, _mm512_xor_si512(in, load(ks + 16 + off)));
    _mm512_mask_storeu_epi8(j.data + off, m, out);
    const __m512i cur = kEncrypt ? out : in;
    acc_lanes(k, a, _mm512_alignr_epi64(cur, prev, 6), index, left < 4 ? left : 4);
    prev = cur;
    index += 4;
    left -= left < 4 ? left : 4;
  }
  // The last block when the data fill whole registers (or the AAD alone),
  // in a 128-bit multiplication: a 512-bit one costs twice as much on Zen 4.
  if (left > 0) {
    acc_mul1(a, bswap(_mm512_extracti32x4_epi32(prev, 3)), _mm_loadu_si128(reinterpret_cast<const __m128i*>(k.hpow[index])));
    fold_single(a);
  }
}

// Lane s of the result: the sum of the four lanes of v[s]. Six operations
// for four packets, where folding each packet's register on its own took
// four and putting the four together three more.
VITESSE_AVX512 inline __m512i sum_lanes4(__m512i v0, __m512i v1, __m512i v2, __m512i v3) {
  const __m512i a = _mm512_xor_si512(_mm512_shuffle_i64x2(v0, v1, _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_i64x2(v0, v1, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512i b = _mm512_xor_si512(_mm512_shuffle_i64x2(v2, v3, _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_i64x2(v2, v3, _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_xor_si512(_mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                          _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}

// The reduction of four packets at once: sum_lanes4 gives each packet's
// unreduced product in one lane; reduce4 then multiplies in the length
// blocks, reduces, byte-swaps and XORs with E(J0) in one 512-bit register,
// lane by lane as reduce does: the reduction does not depend on the key.
VITESSE_AVX512 inline __m512i lanes4(const __m128i (&v)[4]) {
  return _mm512_inserti32x4(
      _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(v[0]), v[1], 1), v[2], 2), v[3], 3);
}

// The length blocks (times H, each packet's own) are multiplied here for
// all four packets in one 512-bit multiplication instead of four 128-bit.
VITESSE_AVX512 inline __m512i reduce4(__m512i lo, __m512i hi, __m512i lengths, __m512i h, __m512i tag_masks) {
  const __m512i mid = _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(lengths, h, 0x01),
                                                _mm512_clmulepi64_epi128(lengths, h, 0x10), _mm512_setzero_si512(), 0x96);
  lo = _mm512_ternarylogic_epi64(lo, _mm512_clmulepi64_epi128(lengths, h, 0x00), _mm512_bslli_epi128(mid, 8), 0x96);
  hi = _mm512_ternarylogic_epi64(hi, _mm512_clmulepi64_epi128(lengths, h, 0x11), _mm512_bsrli_epi128(mid, 8), 0x96);
  const __m512i poly = _mm512_broadcast_i32x4(_mm_set_epi64x(static_cast<int64_t>(0xC200000000000000), 1));
  lo = _mm512_xor_si512(_mm512_shuffle_epi32(lo, _MM_PERM_BADC), _mm512_clmulepi64_epi128(lo, poly, 0x10));
  lo = _mm512_xor_si512(_mm512_shuffle_epi32(lo, _MM_PERM_BADC), _mm512_clmulepi64_epi128(lo, poly, 0x10));
  return _mm512_xor_si512(bswap(_mm512_xor_si512(hi, lo)), tag_masks);
}

// What a short packet's tag needs besides its sums: E(J0) to mask it, the
// length block, H, and where it goes.
struct TagSlot {
  __m128i mask, lengths, h;
  uint8_t* out;
};

template <bool kEncrypt>
VITESSE_AVX512 inline TagSlot tag_slot(const GcmJob& j, const FastKey& k, __m128i ej0, uint8_t* tag) {
  return {ej0, _mm_set_epi64x(static_cast<int64_t>(j.aad_len * 8), static_cast<int64_t>(j.len * 8)),
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(k.hpow[kPowers - 1])), kEncrypt ? j.tag : tag};
}

// The tags of up to four packets (n): their sums share one reduction.
// Unused slots have zero sums and store nothing.
VITESSE_AVX512 inline void finish_quad(const Acc (&a)[4], const TagSlot (&t)[4], size_t n) {
  const __m512i mid = sum_lanes4(a[0].mid, a[1].mid, a[2].mid, a[3].mid);
  const __m512i lo = _mm512_xor_si512(sum_lanes4(a[0].lo, a[1].lo, a[2].lo, a[3].lo), _mm512_bslli_epi128(mid, 8));
  const __m512i hi = _mm512_xor_si512(sum_lanes4(a[0].hi, a[1].hi, a[2].hi, a[3].hi), _mm512_bsrli_epi128(mid, 8));
  const __m512i r = reduce4(lo, hi, lanes4({t[0].lengths, t[1].lengths, t[2].lengths, t[3].lengths}),
                            lanes4({t[0].h, t[1].h, t[2].h, t[3].h}), lanes4({t[0].mask, t[1].mask, t[2].mask, t[3].mask}));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(t[0].out), _mm512_castsi512_si128(r));
  if (n > 1) _mm_storeu_si128(reinterpret_cast<__m128i*>(t[1].out), _mm512_extracti32x4_epi32(r, 1));
  if (n > 2) _mm_storeu_si128(reinterpret_cast<__m128i*>(t[2].out), _mm512_extracti32x4_epi32(r, 2));
  if (n > 3) _mm_storeu_si128(reinterpret_cast<__m128i*>(t[3].out), _mm512_extracti32x4_epi32(r, 3));
}

// Hashes packet i < m of a group into a and t with form.hash(i, a, t), four
// packets at a time, each quad's tags finished with one reduction.
template <class Form>
VITESSE_AVX512 inline void in_quads(size_t m, const Form& form) {
  for (size_t i = 0; i < m; i += 4) {
    const size_t n = m - i < 4 ? m - i : 4;
    Acc a[4];
    TagSlot t[4];
#pragma GCC unroll 4
    for (size_t s = 0; s < 4; ++s) {
      a[s] = empty_acc();
      t[s] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(), nullptr};
      if (s < n) form.hash(i + s, a[s], t[s]);
    }
    finish_quad(a, t, n);
  }
}

// ESP's usual shape, a 60-octet frame: every packet of the group has at most
// three blocks of data and one of AAD. Then a packet is one register
// throughout: J0 and its three counters (kept as blocks, stepped in their
// last octet: J0 ends in 1), then its data loaded into lanes 1-3 beside
// their keystream (the bytes outside the data masked off: neither read nor
// written), then the AAD put into the free lane 0 for GHASH. No loop per
// packet and no register carried from one to the next, where short_group's
// general form pays both.
constexpr size_t kOneRegisterLen = 48;

template <int R, bool kEncrypt>
VITESSE_AVX512 void one_register_group(const GcmJob* jobs, const uint32_t* index, size_t m, uint8_t (*tags)[16]) {
  alignas(64) uint8_t blocks[kShortJobs * 64];
  const FastKey* keys[kShortJobs];
  const __m512i steps = _mm512_set_epi32(3 << 24, 0, 0, 0, 2 << 24, 0, 0, 0, 1 << 24, 0, 0, 0, 0, 0, 0, 0);
  for (size_t i = 0; i < m; ++i) {
    const GcmJob& j = jobs[index[i]];
    store(blocks + 64 * i, _mm512_add_epi32(_mm512_broadcast_i32x4(job_j0(j)), steps));
    keys[i] = &key_of<FastKey>(*j.ctx);
  }
  aes_all_items<R>(blocks, keys, m);
  struct {
    const GcmJob* jobs;
    const uint32_t* index;
    uint8_t (*tags)[16];
    const uint8_t* blocks;
    const FastKey* const* keys;
    VITESSE_AVX512 void hash(size_t i, Acc& a, TagSlot& t) const {
      const GcmJob& j = jobs[index[i]];
      const FastKey& k = *keys[i];
      const __m512i ks = load(blocks + 64 * i);
      const __mmask64 dm = byte_mask(j.len);
      const __m512i in = _mm512_maskz_loadu_epi8(dm, j.data);
      const __m512i out = _mm512_maskz_mov_epi8(dm, _mm512_xor_si512(in, _mm512_alignr_epi64(ks, ks, 2)));
      _mm512_mask_storeu_epi8(j.data, dm, out);
      const __m512i aad = _mm512_inserti32x4(_mm512_setzero_si512(), load_aad(j.aad, j.aad_len), 3);
      const size_t nb = (j.len + 15) / 16;
      acc_lanes(k, a, _mm512_alignr_epi64(kEncrypt ? out : in, aad, 6), kPowers - 2 - nb, nb + 1);
      t = tag_slot<kEncrypt>(j, k, _mm512_castsi512_si128(ks), kEncrypt ? nullptr : tags[index[i]]);
    }
  } form{jobs, index, tags, blocks, keys};
  in_quads(m, form);
}

// Up to kShortJobs short packets keyed with the same number of rounds; tags
// go to each job (seal) or to tags[index[i]] (decrypt).
template <int R, bool kEncrypt>
VITESSE_AVX512 void short_group(const GcmJob* jobs, const uint32_t* index, size_t m, uint8_t (*tags)[16]) {
  bool one_register = true;
  for (size_t i = 0; i < m; ++i) {
    const GcmJob& j = jobs[index[i]];
    one_register &= (j.len <= kOneRegisterLen) & (j.aad_len <= 16);
  }
  if (one_register) return one_register_group<R, kEncrypt>(jobs, index, m, tags);
  alignas(64) uint8_t blocks[(kShortMaxItems + 1) * 64];
  const FastKey* keys[kShortMaxItems];
  size_t start[kShortJobs];
  size_t pos = 0;  // in blocks
  for (size_t i = 0; i < m; ++i) {
    const GcmJob& j = jobs[index[i]];
    if (i > 0 && j.ctx != jobs[index[i - 1]].ctx) pos = (pos + 3) & ~size_t{3};
    start[i] = pos;
    const size_t count = (j.len + 15) / 16 + 1;  // J0 and the data counters
    __m512i ctr = lane_counters(job_j0(j), 0);
    for (size_t c = 0; c < count; c += 4) {
      // Whole registers: the spill past this packet is overwritten by the next.
      store(blocks + 16 * (pos + c), bswap(ctr));
      ctr = _mm512_add_epi32(ctr, lanes_step(4));
    }
    for (size_t item = pos / 4; item <= (pos + count - 1) / 4; ++item) keys[item] = &key_of<FastKey>(*j.ctx);
    pos += count;
  }
  aes_all_items<R>(blocks, keys, (pos + 3) / 4);
  // Finished four at a time; a short last quad (the count is the batch's,
  // not data) has zero sums in its unused slots and stores fewer tags.
  struct {
    const GcmJob* jobs;
    const uint32_t* index;
    uint8_t (*tags)[16];
    const uint8_t* blocks;
    const size_t* start;
    VITESSE_AVX512 void hash(size_t i, Acc& a, TagSlot& t) const {
      const GcmJob& j = jobs[index[i]];
      const uint8_t* ks = blocks + 16 * start[i];
      hash_short<kEncrypt>(j, ks, a);
      t = tag_slot<kEncrypt>(j, key_of<FastKey>(*j.ctx), _mm_load_si128(reinterpret_cast<const __m128i*>(ks)),
                             kEncrypt ? nullptr : tags[index[i]]);
    }
  } form{jobs, index, tags, blocks, start};
  in_quads(m, form);
}

}  // namespace

#define VITESSE_PATH_TARGET VITESSE_AVX512
#include "crypto/gcm_path_batch.inc"
#undef VITESSE_PATH_TARGET

#undef VITESSE_AVX512

}  // namespace vitesse::crypto::detail::avx512
