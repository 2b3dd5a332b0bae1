// Constant-time portable AES: four blocks at once in bitsliced form.
//
// Table-driven AES leaks key bits through the cache; here every operation is
// plain 64-bit logic with no secret-dependent address or branch, so the
// generic path is safe on any x86-64 (and any other 64-bit CPU).
//
// Layout: eight words q[0..7], q[i] holding bit i of each of the 64 state
// bytes of four blocks; state byte (row r, column c) of block b sits at bit
// 16*r + 4*c + b. Rows are 16-bit fields, so ShiftRows rotates within a field
// and MixColumns reaches the next row with a 16-bit rotation of the word.
#pragma once

#include <cstdint>

namespace vitesse::crypto::bitsliced {

// Loads four 16-byte blocks into bitsliced form, and back.
void pack(uint64_t q[8], const uint8_t in[64]);
void unpack(uint8_t out[64], const uint64_t q[8]);

// The AES S-box on all 64 bytes (Boyar–Peralta depth-16 circuit).
void sub_bytes(uint64_t q[8]);

// Encrypts the four blocks in q. rk holds rounds+1 round keys, each already
// packed with pack() from four copies of the key.
void encrypt(const uint64_t (*rk)[8], int rounds, uint64_t q[8]);

}  // namespace vitesse::crypto::bitsliced
