// Network byte order on raw packet bytes (no aligned or typed access).
#pragma once

#include <cstdint>

namespace vitesse::esp {

inline uint32_t load16be(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }
inline uint32_t load32be(const uint8_t* p) { return load16be(p) << 16 | load16be(p + 2); }

inline void store32be(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24); p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8); p[3] = static_cast<uint8_t>(v);
}

inline void store64be(uint8_t* p, uint64_t v) {
  store32be(p, static_cast<uint32_t>(v >> 32));
  store32be(p + 4, static_cast<uint32_t>(v));
}

}  // namespace vitesse::esp
