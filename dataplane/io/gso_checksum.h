// The ones-complement sum of a buffer as net::checksum_partial gives it
// (big-endian 16-bit words, folded to 16 bits), summed 32 bits at a time in
// native order: io/gso.* sum every byte of every TCP/UDP segment they cut or
// coalesce, and checksum_partial's loop over byte pairs costs about a
// microsecond at 1400 bytes. The sum is the same in either byte order up to
// a swap of its two bytes (RFC 1071, 2.B).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace vitesse::gso {

inline uint32_t sum_words(const uint8_t* p, uint32_t len) {
  static_assert(std::endian::native == std::endian::little);
  uint64_t s = 0;
  for (; len >= 8; p += 8, len -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    s += w >> 32;
    s += w & 0xffffffffu;
  }
  if (len >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    s += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    s += w;
    p += 2;
    len -= 2;
  }
  if (len) s += p[0];  // the high byte of a big-endian word: the low one here
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>((s >> 8) | (s << 8));
}

}  // namespace vitesse::gso
