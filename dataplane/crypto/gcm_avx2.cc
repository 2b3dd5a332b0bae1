// The AES-NI + PCLMULQDQ path (any x86-64 with AVX2): eight blocks in flight
// through AES and GHASH aggregated over eight blocks with one reduction, using
// the powers of H kept in the context.
//
// Flow of one packet: E(J0) for the tag and the tail's keystream, up front
// (nothing depends on them, so their AES latency hides under the rest); then
// groups of eight blocks, each encrypted in CTR mode and its ciphertext
// hashed, up to four groups sharing one reduction; then the tail, hashed
// with the length block (in the last groups' reduction when they fit).
// Short AAD (ESP's 12 bytes) shares the first groups' reduction. Ciphertext is hashed from the
// registers that hold it: reloading what was just stored in pieces would
// stall on store forwarding.
#include <immintrin.h>

#include <cstring>

#include "crypto/gcm_esp_aad.h"
#include "crypto/gcm_internal.h"
#include "crypto/gcm_job_j0.h"

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

// Partial blocks (ESP's 8-octet AAD in every packet, a data tail) are
// assembled in general registers from constant-size pieces chosen by the
// length (public): a libc memcpy of variable length into a stack block
// cost a call per packet and a store-forwarding stall on reloading the block.
// The first n (< 8) bytes at p, little-endian, without reading past p + n.
inline uint64_t load_under8(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  size_t off = 0;
  if (n & 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    v = w;
    off = 4;
  }
  if (n & 2) {
    uint16_t w;
    std::memcpy(&w, p + off, 2);
    v |= static_cast<uint64_t>(w) << (8 * off);
    off += 2;
  }
  if (n & 1) v |= static_cast<uint64_t>(p[off]) << (8 * off);
  return v;
}

inline void store_under8(uint8_t* p, uint64_t v, size_t n) {
  size_t off = 0;
  if (n & 4) {
    const uint32_t w = static_cast<uint32_t>(v);
    std::memcpy(p, &w, 4);
    v >>= 32;
    off = 4;
  }
  if (n & 2) {
    const uint16_t w = static_cast<uint16_t>(v);
    std::memcpy(p + off, &w, 2);
    v >>= 16;
    off += 2;
  }
  if (n & 1) p[off] = static_cast<uint8_t>(v);
}

// The first n (< 16) bytes at p, zero-padded, without reading past p + n.
VITESSE_AVX2 inline __m128i load_partial(const uint8_t* p, size_t n) {
  if (n < 8) return _mm_cvtsi64_si128(static_cast<int64_t>(load_under8(p, n)));
  uint64_t lo;
  std::memcpy(&lo, p, 8);
  return _mm_set_epi64x(static_cast<int64_t>(load_under8(p + 8, n - 8)), static_cast<int64_t>(lo));
}

// The first n (< 16) bytes of v to p, without writing past p + n.
VITESSE_AVX2 inline void store_partial(uint8_t* p, __m128i v, size_t n) {
  const uint64_t lo = static_cast<uint64_t>(_mm_cvtsi128_si64(v));
  if (n < 8) return store_under8(p, lo, n);
  std::memcpy(p, &lo, 8);
  store_under8(p + 8, static_cast<uint64_t>(_mm_extract_epi64(v, 1)), n - 8);
}

// All-ones in the first n (≤ 16) bytes.
VITESSE_AVX2 inline __m128i byte_mask(size_t n) {
  static const uint8_t ones_then_zeros[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                              0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  return load(ones_then_zeros + 16 - n);
}

// J0 = IV ‖ 1, built in a register: assembling it in memory first would make
// the 16-byte load wait for the smaller stores (no store forwarding).
VITESSE_AVX2 inline __m128i make_j0(const uint8_t iv[12]) {
  uint32_t last;
  std::memcpy(&last, iv + 8, 4);
  const __m128i x = _mm_insert_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(iv)), static_cast<int>(last), 2);
  return _mm_insert_epi32(x, 0x01000000, 3);
}

// Counter block i after the one whose byte-reversed form is ctr: the 32-bit
// counter sits little-endian in the low lane, so one add steps it modulo 2^32
// as inc32 requires.
VITESSE_AVX2 inline __m128i counter(__m128i ctr, int i) { return bswap(_mm_add_epi32(ctr, _mm_set_epi32(0, 0, 0, i))); }

// AES on the N independent blocks at b, round by round so they pipeline.
template <int R, int N>
VITESSE_AVX2 inline void aes_blocks(const FastKey& k, __m128i* b) {
  const __m128i* rk = reinterpret_cast<const __m128i*>(k.rk);
  __m128i key = _mm_loadu_si128(rk);
  for (int i = 0; i < N; ++i) b[i] = _mm_xor_si128(b[i], key);
#pragma GCC unroll 16
  for (int r = 1; r < R; ++r) {
    key = _mm_loadu_si128(rk + r);
    for (int i = 0; i < N; ++i) b[i] = _mm_aesenc_si128(b[i], key);
  }
  key = _mm_loadu_si128(rk + R);
  for (int i = 0; i < N; ++i) b[i] = _mm_aesenclast_si128(b[i], key);
}

// Keystream for the n (≤ 8) counter blocks after ctr, all in flight.
template <int R>
VITESSE_AVX2 inline void keystream(const FastKey& k, __m128i ctr, __m128i (&ks)[kGroupBlocks], size_t n) {
  for (int i = 0; i < 8; ++i) ks[i] = counter(ctr, i + 1);
  switch (n) {
    case 8: aes_blocks<R, 8>(k, ks); break;
    case 7: aes_blocks<R, 7>(k, ks); break;
    case 6: aes_blocks<R, 6>(k, ks); break;
    case 5: aes_blocks<R, 5>(k, ks); break;
    case 4: aes_blocks<R, 4>(k, ks); break;
    case 3: aes_blocks<R, 3>(k, ks); break;
    case 2: aes_blocks<R, 2>(k, ks); break;
    case 1: aes_blocks<R, 1>(k, ks); break;
    default: break;
  }
}

// Unreduced sum of products: lo and hi 128-bit parts, and the Karatsuba
// middle products (see acc_mul).
struct Acc {
  __m128i lo = _mm_setzero_si128(), mid = _mm_setzero_si128(), hi = _mm_setzero_si128();
};

// Karatsuba: the two cross products of a 128x128 multiplication come from
// one, (x.lo^x.hi)·(h.lo^h.hi), once the outer two are added back (reduce()
// does that for the whole sum). With 128-bit PCLMULQDQ the multiplier is what
// limits this path, so three multiplications per block instead of four count.
VITESSE_AVX2 inline __m128i fold_halves(__m128i v) { return _mm_xor_si128(v, _mm_shuffle_epi32(v, 0x4E)); }

VITESSE_AVX2 inline void acc_mul(Acc& a, __m128i x, __m128i h) {
  a.lo = _mm_xor_si128(a.lo, _mm_clmulepi64_si128(x, h, 0x00));
  a.hi = _mm_xor_si128(a.hi, _mm_clmulepi64_si128(x, h, 0x11));
  a.mid = _mm_xor_si128(a.mid, _mm_clmulepi64_si128(fold_halves(x), fold_halves(h), 0x00));
}

VITESSE_AVX2 inline __m128i power(const FastKey& k, size_t index) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(k.hpow[index]));
}

// Adds one block (raw bytes, zero-padded) as the block that takes
// hpow[index], with x (the running hash, or zero) added to it.
VITESSE_AVX2 inline void acc_block(const FastKey& k, Acc& a, __m128i block, size_t index, __m128i x) {
  acc_mul(a, _mm_xor_si128(bswap(block), x), power(k, index));
}

// The POLYVAL reduction of the accumulated product (see polyval_portable.h).
VITESSE_AVX2 inline __m128i reduce(const Acc& a) {
  const __m128i poly = _mm_set_epi64x(static_cast<int64_t>(0xC200000000000000), 1);
  const __m128i mid = _mm_xor_si128(a.mid, _mm_xor_si128(a.lo, a.hi));  // Karatsuba's middle term
  __m128i lo = _mm_xor_si128(a.lo, _mm_slli_si128(mid, 8));
  const __m128i hi = _mm_xor_si128(a.hi, _mm_srli_si128(mid, 8));
  lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E), _mm_clmulepi64_si128(lo, poly, 0x10));
  lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E), _mm_clmulepi64_si128(lo, poly, 0x10));
  return _mm_xor_si128(hi, lo);
}

// Adds the blocks of p[0..n) (the last zero-padded) to a reduction group in
// which `after` more blocks follow them; x is added to the first block.
// n > 0, and the group must hold at most kPowers blocks.
VITESSE_AVX2 inline void acc_bytes(const FastKey& k, Acc& a, const uint8_t* p, size_t n, size_t after, __m128i x) {
  const size_t first = kPowers - after - (n + 15) / 16;
  if (is_esp_aad_len(n)) {
    acc_block(k, a, load_esp_aad(p, n), first, x);
    return;
  }
  for (size_t off = 0; off < n; off += 16) {
    acc_block(k, a, n - off >= 16 ? load(p + off) : load_partial(p + off, n - off), first + off / 16, x);
    x = _mm_setzero_si128();
  }
}

// A whole group, its first block taking hpow[first] and carrying x.
VITESSE_AVX2 inline void acc_group(const FastKey& k, Acc& a, const __m128i (&v)[kGroupBlocks], __m128i x,
                                   size_t first) {
  acc_block(k, a, v[0], first, x);
  for (size_t i = 1; i < kGroupBlocks; ++i) acc_block(k, a, v[i], first + i, _mm_setzero_si128());
}

VITESSE_AVX2 inline void acc_lengths(const FastKey& k, Acc& a, size_t aad_len, size_t len, __m128i x) {
  const __m128i lengths = _mm_set_epi64x(static_cast<int64_t>(aad_len * 8), static_cast<int64_t>(len * 8));
  acc_mul(a, _mm_xor_si128(lengths, x), power(k, kPowers - 1));
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

// CTR on up to 16 bytes at p (n of them) with keystream block ks, and their
// hash: the ciphertext (the input when decrypting, the output when
// encrypting) is added as the block that takes hpow[index].
template <bool kEncrypt>
VITESSE_AVX2 inline void xor_and_hash(const FastKey& k, Acc& a, uint8_t* p, size_t n, __m128i ks, size_t index,
                                      __m128i x) {
  if (n >= 16) {
    const __m128i in = load(p), out = _mm_xor_si128(in, ks);
    store(p, out);
    acc_block(k, a, kEncrypt ? out : in, index, x);
  } else {
    const __m128i in = load_partial(p, n), out = _mm_and_si128(_mm_xor_si128(in, ks), byte_mask(n));
    store_partial(p, out, n);
    acc_block(k, a, kEncrypt ? out : in, index, x);
  }
}

template <int R, bool kEncrypt>
VITESSE_AVX2 void crypt(const FastKey& k, __m128i j0, const uint8_t* aad, size_t aad_len, uint8_t* data,
                        size_t len, uint8_t tag[16]) {
  const __m128i zero = _mm_setzero_si128();
  __m128i tag_mask[1] = {j0};
  __m128i ctr = bswap(tag_mask[0]);
  aes_blocks<R, 1>(k, tag_mask);

  const bool merge_aad = (aad_len + 15) / 16 <= kMergedAadBlocks;
  bool aad_pending = merge_aad && aad_len > 0;
  __m128i x = merge_aad ? zero : hash_long_aad(k, aad, aad_len);

  const size_t groups = len / kGroupBytes;
  const size_t rem = len - groups * kGroupBytes;
  const size_t tail_blocks = (rem + 15) / 16;
  __m128i tail_ks[kGroupBlocks];
  keystream<R>(k, _mm_add_epi32(ctr, _mm_set_epi32(0, 0, 0, static_cast<int>(groups * kGroupBlocks))), tail_ks,
               tail_blocks);

  // Groups share a reduction as far as the 32 powers reach (a span: four
  // groups, fewer with the AAD in front), and the last span takes the tail
  // and the length block too when they fit: a 564-octet packet needs two
  // reductions instead of five.
  uint8_t* p = data;
  Acc a;
  size_t span_end = 0;     // the group after the current span
  bool span_tail = false;  // whether the tail and the length block close it
  for (size_t g = 0; g < groups; ++g, p += kGroupBytes) {
    __m128i b[kGroupBlocks], v[kGroupBlocks];
    for (size_t i = 0; i < kGroupBlocks; ++i) {
      b[i] = counter(ctr, static_cast<int>(i + 1));
      v[i] = load(p + 16 * i);
    }
    ctr = _mm_add_epi32(ctr, _mm_set_epi32(0, 0, 0, kGroupBlocks));
    if (g == span_end) {
      const size_t room = kPowers - (aad_pending ? (aad_len + 15) / 16 : 0);
      const size_t count = groups - g < room / kGroupBlocks ? groups - g : room / kGroupBlocks;
      span_end = g + count;
      span_tail = span_end == groups && count * kGroupBlocks + tail_blocks + 1 <= room;
      a = Acc{};
      if (aad_pending) {
        acc_bytes(k, a, aad, aad_len, count * kGroupBlocks + (span_tail ? tail_blocks + 1 : 0), x);
        x = zero;
        aad_pending = false;
      }
    }
    const size_t first = kPowers - kGroupBlocks * (span_end - g) - (span_tail ? tail_blocks + 1 : 0);
    if (!kEncrypt) acc_group(k, a, v, x, first);
    aes_blocks<R, kGroupBlocks>(k, b);
    for (size_t i = 0; i < kGroupBlocks; ++i) {
      v[i] = _mm_xor_si128(v[i], b[i]);
      store(p + 16 * i, v[i]);
    }
    if (kEncrypt) acc_group(k, a, v, x, first);
    x = zero;
    if (g + 1 == span_end && !span_tail) x = reduce(a);
  }

  // Tail (under a group) and the length block, in one reduction (the last
  // span's, when they fit in it).
  if (!span_tail) a = Acc{};
  if (aad_pending) {
    acc_bytes(k, a, aad, aad_len, tail_blocks + 1, x);
    x = zero;
  }
  for (size_t i = 0; i < tail_blocks; ++i) {
    xor_and_hash<kEncrypt>(k, a, p + 16 * i, rem - 16 * i, tail_ks[i], kPowers - 1 - tail_blocks + i, x);
    x = zero;
  }
  acc_lengths(k, a, aad_len, len, x);
  store(tag, _mm_xor_si128(bswap(reduce(a)), tag_mask[0]));
}

template <bool kEncrypt>
VITESSE_AVX2 void crypt_any(const GcmContext& ctx, __m128i j0, const uint8_t* aad, size_t aad_len,
                            uint8_t* data, size_t len, uint8_t tag[16]) {
  const FastKey& k = key_of<FastKey>(ctx);
  if (ctx.rounds == 14) {
    crypt<14, kEncrypt>(k, j0, aad, aad_len, data, len, tag);
  } else {
    crypt<10, kEncrypt>(k, j0, aad, aad_len, data, len, tag);
  }
}

// Batches: short packets are interleaved. One packet of a few blocks leaves
// the AES pipeline mostly idle while each round waits for the previous one,
// so the counter blocks of up to kShortJobs packets (J0 first, then the data
// counters) are laid side by side and go through AES eight at a time, each
// block with its own packet's key. Each packet is then finished on its own:
// XOR, one GHASH reduction over AAD, data and lengths, and the tag.
constexpr size_t kShortJobs = 8;
constexpr size_t kShortMaxLen = kGroupBytes;
constexpr size_t kShortMaxAad = 16 * kMergedAadBlocks;
constexpr size_t kShortMaxBlocks = kShortJobs * (kGroupBlocks + 1);

inline bool is_short(const GcmJob& j) { return j.len <= kShortMaxLen && j.aad_len <= kShortMaxAad; }

VITESSE_AVX2 inline __m128i round_key(const FastKey* k, int r) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(k->rk[r]));
}

// AES on N blocks in place, each with its own key.
template <int R, int N>
VITESSE_AVX2 void aes_keyed_blocks(uint8_t* blocks, const FastKey* const* keys) {
  __m128i b[N];
  for (int i = 0; i < N; ++i) b[i] = _mm_xor_si128(load(blocks + 16 * i), round_key(keys[i], 0));
#pragma GCC unroll 16
  for (int r = 1; r < R; ++r) {
    for (int i = 0; i < N; ++i) b[i] = _mm_aesenc_si128(b[i], round_key(keys[i], r));
  }
  for (int i = 0; i < N; ++i) store(blocks + 16 * i, _mm_aesenclast_si128(b[i], round_key(keys[i], R)));
}

template <int R>
VITESSE_AVX2 void aes_all_blocks(uint8_t* blocks, const FastKey* const* keys, size_t n) {
  for (; n >= 8; n -= 8, blocks += 8 * 16, keys += 8) aes_keyed_blocks<R, 8>(blocks, keys);
  switch (n) {
    case 7: aes_keyed_blocks<R, 7>(blocks, keys); break;
    case 6: aes_keyed_blocks<R, 6>(blocks, keys); break;
    case 5: aes_keyed_blocks<R, 5>(blocks, keys); break;
    case 4: aes_keyed_blocks<R, 4>(blocks, keys); break;
    case 3: aes_keyed_blocks<R, 3>(blocks, keys); break;
    case 2: aes_keyed_blocks<R, 2>(blocks, keys); break;
    case 1: aes_keyed_blocks<R, 1>(blocks, keys); break;
    default: break;
  }
}

// XOR with the keystream ks (E(J0) first), hash and tag one short packet.
template <bool kEncrypt>
VITESSE_AVX2 void finish_short(const GcmJob& j, const uint8_t* ks, uint8_t tag[16]) {
  const FastKey& k = key_of<FastKey>(*j.ctx);
  const size_t nb = (j.len + 15) / 16;
  Acc a;
  if (j.aad_len > 0) acc_bytes(k, a, j.aad, j.aad_len, nb + 1, _mm_setzero_si128());
  for (size_t i = 0; i < nb; ++i) {
    xor_and_hash<kEncrypt>(k, a, j.data + 16 * i, j.len - 16 * i, load(ks + 16 * (i + 1)), kPowers - 1 - nb + i,
                           _mm_setzero_si128());
  }
  acc_lengths(k, a, j.aad_len, j.len, _mm_setzero_si128());
  store(tag, _mm_xor_si128(bswap(reduce(a)), load(ks)));
}

// Up to kShortJobs short packets keyed with the same number of rounds; tags
// go to each job (seal) or to tags[index[i]] (decrypt).
template <int R, bool kEncrypt>
VITESSE_AVX2 void short_group(const GcmJob* jobs, const uint32_t* index, size_t m, uint8_t (*tags)[16]) {
  alignas(64) uint8_t blocks[kShortMaxBlocks * 16];
  const FastKey* keys[kShortMaxBlocks] = {};  // (zeroed only to quiet -Wmaybe-uninitialized)
  size_t start[kShortJobs];
  size_t pos = 0;
  for (size_t i = 0; i < m; ++i) {
    const GcmJob& j = jobs[index[i]];
    const FastKey* key = &key_of<FastKey>(*j.ctx);
    const __m128i ctr = bswap(job_j0(j));
    start[i] = pos;
    for (size_t c = 0; c <= (j.len + 15) / 16; ++c, ++pos) {  // J0 and the data counters
      store(blocks + 16 * pos, counter(ctr, static_cast<int>(c)));
      keys[pos] = key;
    }
  }
  aes_all_blocks<R>(blocks, keys, pos);
  for (size_t i = 0; i < m; ++i) {
    const GcmJob& j = jobs[index[i]];
    finish_short<kEncrypt>(j, blocks + 16 * start[i], kEncrypt ? j.tag : tags[index[i]]);
  }
}

}  // namespace

#define VITESSE_PATH_TARGET VITESSE_AVX2
#include "crypto/gcm_path_batch.inc"
#undef VITESSE_PATH_TARGET

#undef VITESSE_AVX2

}  // namespace vitesse::crypto::detail::avx2
