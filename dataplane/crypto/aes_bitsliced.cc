#include "crypto/aes_bitsliced.h"

#include <cstring>

namespace vitesse::crypto::bitsliced {

namespace {

// Exchanges the bits of a selected by (mask << n) with the bits of b selected
// by mask: one step of a bit-matrix transpose.
inline void swap_move(uint64_t& a, uint64_t& b, uint64_t mask, int n) {
  const uint64_t t = ((a >> n) ^ b) & mask;
  b ^= t;
  a ^= t << n;
}

// Transposes, at every byte position, the 8x8 bit matrix (word j, bit i):
// afterwards bit j of byte k of x[i] is what bit i of byte k of x[j] was.
// It is its own inverse.
void transpose(uint64_t x[8]) {
  constexpr uint64_t m1 = 0x5555555555555555, m2 = 0x3333333333333333, m4 = 0x0F0F0F0F0F0F0F0F;
  for (int j = 0; j < 8; j += 2) swap_move(x[j], x[j + 1], m1, 1);
  for (int j = 0; j < 8; j += 4) {
    swap_move(x[j], x[j + 2], m2, 2);
    swap_move(x[j + 1], x[j + 3], m2, 2);
  }
  for (int j = 0; j < 4; ++j) swap_move(x[j], x[j + 4], m4, 4);
}

// Byte m of a 32-bit value goes to byte 2m of the result (odd bytes zero).
inline uint64_t spread_bytes(uint32_t v) {
  uint64_t x = v;
  x = (x | (x << 16)) & 0x0000FFFF0000FFFF;
  x = (x | (x << 8)) & 0x00FF00FF00FF00FF;
  return x;
}

inline uint32_t gather_bytes(uint64_t x) {
  x &= 0x00FF00FF00FF00FF;
  x = (x | (x >> 8)) & 0x0000FFFF0000FFFF;
  x = (x | (x >> 16)) & 0x00000000FFFFFFFF;
  return static_cast<uint32_t>(x);
}

inline uint32_t load_le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // x86-64 and every target we build for are little-endian
}

inline void store_le32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

inline uint64_t rotr(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

void shift_rows(uint64_t q[8]) {
  for (int i = 0; i < 8; ++i) {
    const uint64_t x = q[i];
    // Row r (bits 16r..16r+15) rotates right by 4r bits: column c takes
    // column c+r.
    q[i] = (x & 0x000000000000FFFF)
         | ((x & 0x00000000FFF00000) >> 4) | ((x & 0x00000000000F0000) << 12)
         | ((x & 0x0000FF0000000000) >> 8) | ((x & 0x000000FF00000000) << 8)
         | ((x & 0xF000000000000000) >> 12) | ((x & 0x0FFF000000000000) << 4);
  }
}

// out[r] = 2·a[r] ^ 3·a[r+1] ^ a[r+2] ^ a[r+3] = 2·(a[r]^a[r+1]) ^ a[r+1] ^ a[r+2] ^ a[r+3],
// where a[r+k] is the word rotated right by 16k.
void mix_columns(uint64_t q[8]) {
  uint64_t s[8], rest[8];
  for (int i = 0; i < 8; ++i) {
    const uint64_t r1 = rotr(q[i], 16);
    s[i] = q[i] ^ r1;
    rest[i] = r1 ^ rotr(s[i], 32);  // a[r+1] ^ a[r+2] ^ a[r+3]
  }
  // Doubling in GF(2^8): shift the slices up, fold bit 7 back with 0x1B.
  const uint64_t top = s[7];
  q[7] = s[6] ^ rest[7];
  q[6] = s[5] ^ rest[6];
  q[5] = s[4] ^ rest[5];
  q[4] = s[3] ^ top ^ rest[4];
  q[3] = s[2] ^ top ^ rest[3];
  q[2] = s[1] ^ rest[2];
  q[1] = s[0] ^ top ^ rest[1];
  q[0] = top ^ rest[0];
}

inline void add_round_key(uint64_t q[8], const uint64_t rk[8]) {
  for (int i = 0; i < 8; ++i) q[i] ^= rk[i];
}

}  // namespace

void pack(uint64_t q[8], const uint8_t in[64]) {
  // Word 4p+b interleaves the bytes of columns p and p+2 of block b, so that
  // after the transpose byte (r, c) of block b lands on bit 16r + 4c + b.
  for (int b = 0; b < 4; ++b) {
    const uint8_t* blk = in + 16 * b;
    for (int p = 0; p < 2; ++p) {
      q[4 * p + b] = spread_bytes(load_le32(blk + 4 * p)) | (spread_bytes(load_le32(blk + 4 * p + 8)) << 8);
    }
  }
  transpose(q);
}

void unpack(uint8_t out[64], const uint64_t q[8]) {
  uint64_t x[8];
  std::memcpy(x, q, sizeof x);
  transpose(x);
  for (int b = 0; b < 4; ++b) {
    uint8_t* blk = out + 16 * b;
    for (int p = 0; p < 2; ++p) {
      store_le32(blk + 4 * p, gather_bytes(x[4 * p + b]));
      store_le32(blk + 4 * p + 8, gather_bytes(x[4 * p + b] >> 8));
    }
  }
}

void sub_bytes(uint64_t q[8]) {
  // Inputs and outputs are numbered from the most significant bit, as in the
  // paper (Boyar & Peralta, "A depth-16 circuit for the AES S-box", 2011).
  const uint64_t u0 = q[7], u1 = q[6], u2 = q[5], u3 = q[4];
  const uint64_t u4 = q[3], u5 = q[2], u6 = q[1], u7 = q[0];

  // Top linear layer.
  const uint64_t t1 = u0 ^ u3, t2 = u0 ^ u5, t3 = u0 ^ u6, t4 = u3 ^ u5;
  const uint64_t t5 = u4 ^ u6, t6 = t1 ^ t5, t7 = u1 ^ u2, t8 = u7 ^ t6;
  const uint64_t t9 = u7 ^ t7, t10 = t6 ^ t7, t11 = u1 ^ u5, t12 = u2 ^ u5;
  const uint64_t t13 = t3 ^ t4, t14 = t6 ^ t11, t15 = t5 ^ t11, t16 = t5 ^ t12;
  const uint64_t t17 = t9 ^ t16, t18 = u3 ^ u7, t19 = t7 ^ t18, t20 = t1 ^ t19;
  const uint64_t t21 = u6 ^ u7, t22 = t7 ^ t21, t23 = t2 ^ t22, t24 = t2 ^ t10;
  const uint64_t t25 = t20 ^ t17, t26 = t3 ^ t16, t27 = t1 ^ t12, d = u7;

  // Shared non-linear middle: inversion in GF(2^8) via GF(2^4).
  const uint64_t m1 = t13 & t6, m2 = t23 & t8, m3 = t14 ^ m1, m4 = t19 & d;
  const uint64_t m5 = m4 ^ m1, m6 = t3 & t16, m7 = t22 & t9, m8 = t26 ^ m6;
  const uint64_t m9 = t20 & t17, m10 = m9 ^ m6, m11 = t1 & t15, m12 = t4 & t27;
  const uint64_t m13 = m12 ^ m11, m14 = t2 & t10, m15 = m14 ^ m11, m16 = m3 ^ m2;
  const uint64_t m17 = m5 ^ t24, m18 = m8 ^ m7, m19 = m10 ^ m15, m20 = m16 ^ m13;
  const uint64_t m21 = m17 ^ m15, m22 = m18 ^ m13, m23 = m19 ^ t25, m24 = m22 ^ m23;
  const uint64_t m25 = m22 & m20, m26 = m21 ^ m25, m27 = m20 ^ m21, m28 = m23 ^ m25;
  const uint64_t m29 = m28 & m27, m30 = m26 & m24, m31 = m20 & m23, m32 = m27 & m31;
  const uint64_t m33 = m27 ^ m25, m34 = m21 & m22, m35 = m24 & m34, m36 = m24 ^ m25;
  const uint64_t m37 = m21 ^ m29, m38 = m32 ^ m33, m39 = m23 ^ m30, m40 = m35 ^ m36;
  const uint64_t m41 = m38 ^ m40, m42 = m37 ^ m39, m43 = m37 ^ m38, m44 = m39 ^ m40;
  const uint64_t m45 = m42 ^ m41, m46 = m44 & t6, m47 = m40 & t8, m48 = m39 & d;
  const uint64_t m49 = m43 & t16, m50 = m38 & t9, m51 = m37 & t17, m52 = m42 & t15;
  const uint64_t m53 = m45 & t27, m54 = m41 & t10, m55 = m44 & t13, m56 = m40 & t23;
  const uint64_t m57 = m39 & t19, m58 = m43 & t3, m59 = m38 & t22, m60 = m37 & t20;
  const uint64_t m61 = m42 & t1, m62 = m45 & t4, m63 = m41 & t2;

  // Bottom linear layer, with the S-box's affine constant 0x63 as the NOTs.
  const uint64_t l0 = m61 ^ m62, l1 = m50 ^ m56, l2 = m46 ^ m48, l3 = m47 ^ m55;
  const uint64_t l4 = m54 ^ m58, l5 = m49 ^ m61, l6 = m62 ^ l5, l7 = m46 ^ l3;
  const uint64_t l8 = m51 ^ m59, l9 = m52 ^ m53, l10 = m53 ^ l4, l11 = m60 ^ l2;
  const uint64_t l12 = m48 ^ m51, l13 = m50 ^ l0, l14 = m52 ^ m61, l15 = m55 ^ l1;
  const uint64_t l16 = m56 ^ l0, l17 = m57 ^ l1, l18 = m58 ^ l8, l19 = m63 ^ l4;
  const uint64_t l20 = l0 ^ l1, l21 = l1 ^ l7, l22 = l3 ^ l12, l23 = l18 ^ l2;
  const uint64_t l24 = l15 ^ l9, l25 = l6 ^ l10, l26 = l7 ^ l9, l27 = l8 ^ l10;
  const uint64_t l28 = l11 ^ l14, l29 = l11 ^ l17;

  q[7] = l6 ^ l24;
  q[6] = ~(l16 ^ l26);
  q[5] = ~(l19 ^ l28);
  q[4] = l6 ^ l21;
  q[3] = l20 ^ l22;
  q[2] = l25 ^ l29;
  q[1] = ~(l13 ^ l27);
  q[0] = ~(l6 ^ l23);
}

void encrypt(const uint64_t (*rk)[8], int rounds, uint64_t q[8]) {
  add_round_key(q, rk[0]);
  for (int r = 1; r < rounds; ++r) {
    sub_bytes(q);
    shift_rows(q);
    mix_columns(q);
    add_round_key(q, rk[r]);
  }
  sub_bytes(q);
  shift_rows(q);
  add_round_key(q, rk[rounds]);
}

}  // namespace vitesse::crypto::bitsliced
