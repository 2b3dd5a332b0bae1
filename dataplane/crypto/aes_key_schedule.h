// The AES key expansion (FIPS-197 §5.2), shared by every path: it runs once
// per SA, so it is written for clarity and constant time, not speed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vitesse::crypto {

// Expands a 16- or 32-byte key into rounds+1 round keys (11 or 15) in the
// byte order AES-NI uses. Returns the number of rounds (10 or 14), or 0 for
// any other key length (rk untouched).
int aes_expand_key(const uint8_t* key, size_t key_len, uint8_t rk[15][16]);

}  // namespace vitesse::crypto
