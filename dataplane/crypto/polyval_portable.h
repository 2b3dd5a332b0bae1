// GHASH arithmetic in portable, constant-time C++ for the generic path.
//
// Every path computes GHASH as POLYVAL (RFC 8452, Appendix A): with blocks
// read as big-endian 128-bit integers and the key H' = mulX(H read the same
// way), GHASH_H(X1..Xn) = POLYVAL_H'(X1..Xn) written back big-endian.
// POLYVAL multiplies a·b·x^-128 mod x^128 + x^127 + x^126 + x^121 + 1, which
// reduces with two multiplications by a constant and no bit reflection.
#pragma once

#include <cstdint>
#include <cstring>

namespace vitesse::crypto::portable {

struct U128 {
  uint64_t lo, hi;
};

inline U128 load_be128(const uint8_t* p) {
  uint64_t hi, lo;
  std::memcpy(&hi, p, 8);
  std::memcpy(&lo, p + 8, 8);
  return {__builtin_bswap64(lo), __builtin_bswap64(hi)};
}

inline void store_be128(uint8_t* p, U128 v) {
  const uint64_t hi = __builtin_bswap64(v.hi), lo = __builtin_bswap64(v.lo);
  std::memcpy(p, &hi, 8);
  std::memcpy(p + 8, &lo, 8);
}

namespace detail {

// Bits whose index is congruent to r mod 5, in 64 and in 128 bits.
struct FifthMasks {
  uint64_t m64[5];
  unsigned __int128 m128[5];
};
constexpr FifthMasks make_fifth_masks() {
  FifthMasks m{};
  for (int r = 0; r < 5; ++r) {
    for (int i = r; i < 64; i += 5) m.m64[r] |= uint64_t{1} << i;
    for (int i = r; i < 128; i += 5) m.m128[r] |= static_cast<unsigned __int128>(1) << i;
  }
  return m;
}
inline constexpr FifthMasks kFifth = make_fifth_masks();

}  // namespace detail

// Carry-less 64x64 -> 128 multiplication with ordinary integer multiplies,
// which take constant time on x86-64 (a bit-by-bit loop would need masks per
// bit and be slower). Each operand is split into five parts with four-bit
// holes between their bits; in the product of two parts at most 13 ones meet
// at any position, so the count fits in the 5 bits before the next position
// of the same class and its lowest bit is the carry-less (XOR) sum.
inline U128 clmul64(uint64_t x, uint64_t y) {
  using u128 = unsigned __int128;
  uint64_t xs[5], ys[5];
  for (int i = 0; i < 5; ++i) {
    xs[i] = x & detail::kFifth.m64[i];
    ys[i] = y & detail::kFifth.m64[i];
  }
  u128 z = 0;
  for (int r = 0; r < 5; ++r) {
    u128 acc = 0;
    for (int i = 0; i < 5; ++i) acc ^= static_cast<u128>(xs[i]) * ys[(r - i + 5) % 5];
    z |= acc & detail::kFifth.m128[r];
  }
  return {static_cast<uint64_t>(z), static_cast<uint64_t>(z >> 64)};
}

// a·b·x^-128 in the POLYVAL field.
inline U128 polyval_mul(U128 a, U128 b) {
  const U128 lo = clmul64(a.lo, b.lo);
  const U128 hi = clmul64(a.hi, b.hi);
  U128 mid = clmul64(a.lo ^ a.hi, b.lo ^ b.hi);  // Karatsuba
  mid.lo ^= lo.lo ^ hi.lo;
  mid.hi ^= lo.hi ^ hi.hi;
  // The 256-bit product, least significant word first.
  uint64_t t0 = lo.lo, t1 = lo.hi ^ mid.lo, t2 = hi.lo ^ mid.hi, t3 = hi.hi;
  // Montgomery-style reduction: adding t0·P and then t1·x^64·P clears the low
  // 128 bits; P's terms above x^64 are x^64·(x^57 + x^62 + x^63) and x^128.
  const auto times_c = [](uint64_t t) {  // t · (x^63 + x^62 + x^57)
    return U128{(t << 63) ^ (t << 62) ^ (t << 57), (t >> 1) ^ (t >> 2) ^ (t >> 7)};
  };
  const U128 u = times_c(t0);
  t1 ^= u.lo;
  t2 ^= u.hi ^ t0;
  const U128 v = times_c(t1);
  t2 ^= v.lo;
  t3 ^= v.hi ^ t1;
  return {t2, t3};
}

// v·x in the POLYVAL field: turns the GHASH key into the POLYVAL key.
inline U128 polyval_mulx(U128 v) {
  const uint64_t carry = v.hi >> 63;
  U128 r{v.lo << 1, (v.hi << 1) | (v.lo >> 63)};
  r.lo ^= carry;                                // x^128 = 1 + x^121 + x^126 + x^127
  r.hi ^= (0 - carry) & 0xC200000000000000;
  return r;
}

}  // namespace vitesse::crypto::portable
