// Byte-order helpers for the ESP code, in terms of util/big_endian.h.
#pragma once

#include "util/big_endian.h"

namespace vitesse::esp {

inline uint32_t load16be(const uint8_t* p) { return load_be16(p); }
inline uint32_t load32be(const uint8_t* p) { return load_be32(p); }
inline void store32be(uint8_t* p, uint32_t v) { store_be32(p, v); }
inline void store64be(uint8_t* p, uint64_t v) { store_be64(p, v); }

}  // namespace vitesse::esp
