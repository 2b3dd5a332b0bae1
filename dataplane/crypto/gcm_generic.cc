// The generic path: bitsliced AES (four counter blocks per pass) and portable
// POLYVAL, both constant-time. Slow next to AES-NI but correct on any CPU.
#include <cstring>

#include "crypto/aes_bitsliced.h"
#include "crypto/ct_util.h"
#include "crypto/gcm_internal.h"
#include "crypto/polyval_portable.h"

namespace vitesse::crypto::detail::generic {

namespace {

using portable::U128;

// Keystream for counter blocks iv‖(first), iv‖(first+1), ... (four of them).
void keystream4(const GenericKey& k, int rounds, const uint8_t iv[12], uint32_t first, uint8_t out[64]) {
  for (int b = 0; b < 4; ++b) {
    std::memcpy(out + 16 * b, iv, 12);
    const uint32_t ctr = __builtin_bswap32(first + static_cast<uint32_t>(b));  // wraps mod 2^32 (inc32)
    std::memcpy(out + 16 * b + 12, &ctr, 4);
  }
  uint64_t q[8];
  bitsliced::pack(q, out);
  bitsliced::encrypt(k.rk, rounds, q);
  bitsliced::unpack(out, q);
}

struct Ghash {
  U128 h, s{0, 0};
  void block(const uint8_t b[16]) {
    const U128 x = portable::load_be128(b);
    s = portable::polyval_mul({s.lo ^ x.lo, s.hi ^ x.hi}, h);
  }
  // Whole blocks, then the last partial one padded with zeros.
  void bytes(const uint8_t* p, size_t n) {
    for (; n >= 16; p += 16, n -= 16) block(p);
    if (n) {
      uint8_t last[16] = {};
      std::memcpy(last, p, n);
      block(last);
    }
  }
  void lengths(size_t aad_len, size_t len) {
    const U128 l{static_cast<uint64_t>(len) * 8, static_cast<uint64_t>(aad_len) * 8};
    s = portable::polyval_mul({s.lo ^ l.lo, s.hi ^ l.hi}, h);
  }
};

// CTR over data in place; hashes the ciphertext before (decrypt) or after
// (encrypt) the XOR, and returns the tag.
template <bool kEncrypt>
void crypt(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data,
           size_t len, uint8_t tag[16]) {
  const GenericKey& k = key_of<GenericKey>(ctx);
  Ghash g{{k.h_lo, k.h_hi}};
  g.bytes(aad, aad_len);
  uint8_t ks[64];
  // Counter 1 is J0 (its block masks the tag); the data uses 2, 3, ...
  keystream4(k, ctx.rounds, iv, 1, ks);
  uint8_t tag_mask[16];
  std::memcpy(tag_mask, ks, 16);
  size_t ks_off = 16;
  uint32_t next = 5;
  for (size_t done = 0; done < len;) {
    if (ks_off == 64) {
      keystream4(k, ctx.rounds, iv, next, ks);
      next += 4;
      ks_off = 0;
    }
    const size_t n = len - done < 16 ? len - done : 16;
    uint8_t* p = data + done;
    if (!kEncrypt) g.bytes(p, n);
    for (size_t i = 0; i < n; ++i) p[i] ^= ks[ks_off + i];
    if (kEncrypt) g.bytes(p, n);
    ks_off += 16;
    done += n;
  }
  g.lengths(aad_len, len);
  portable::store_be128(tag, g.s);
  for (int i = 0; i < 16; ++i) tag[i] ^= tag_mask[i];
  secure_zero(ks, sizeof ks);
  secure_zero(tag_mask, sizeof tag_mask);
}

// A batch job's 12-byte nonce: its context's salt and its IV.
void job_nonce(const GcmJob& j, uint8_t nonce[12]) {
  std::memcpy(nonce, j.ctx->salt, 4);
  std::memcpy(nonce + 4, j.iv, 8);
}

}  // namespace

void init(GcmContext& ctx, const uint8_t rk[15][16]) {
  GenericKey& k = key_of<GenericKey>(ctx);
  uint8_t four[64];
  for (int r = 0; r <= ctx.rounds; ++r) {
    for (int b = 0; b < 4; ++b) std::memcpy(four + 16 * b, rk[r], 16);
    bitsliced::pack(k.rk[r], four);
  }
  // H = E_K(0^128), then the POLYVAL key H·x.
  uint64_t q[8];
  std::memset(four, 0, sizeof four);
  bitsliced::pack(q, four);
  bitsliced::encrypt(k.rk, ctx.rounds, q);
  bitsliced::unpack(four, q);
  const U128 h = portable::polyval_mulx(portable::load_be128(four));
  k.h_lo = h.lo;
  k.h_hi = h.hi;
  secure_zero(four, sizeof four);
  secure_zero(q, sizeof q);
}

void seal(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data,
          size_t len, uint8_t tag[16]) {
  crypt<true>(ctx, iv, aad, aad_len, data, len, tag);
}

void decrypt(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data,
             size_t len, uint8_t tag[16]) {
  crypt<false>(ctx, iv, aad, aad_len, data, len, tag);
}

// Bitslicing already keeps four blocks in flight; packets gain nothing from
// being interleaved here.
void seal_batch(const GcmJob* jobs, size_t n, const BatchShape&) {
  for (size_t i = 0; i < n; ++i) {
    const GcmJob& j = jobs[i];
    uint8_t nonce[12];
    job_nonce(j, nonce);
    seal(*j.ctx, nonce, j.aad, j.aad_len, j.data, j.len, j.tag);
  }
}

void decrypt_batch(const GcmJob* jobs, size_t n, uint8_t (*tags)[16], const BatchShape&) {
  for (size_t i = 0; i < n; ++i) {
    const GcmJob& j = jobs[i];
    uint8_t nonce[12];
    job_nonce(j, nonce);
    decrypt(*j.ctx, nonce, j.aad, j.aad_len, j.data, j.len, tags[i]);
  }
}

}  // namespace vitesse::crypto::detail::generic
