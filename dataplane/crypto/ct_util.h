// Constant-time helpers for secrets: comparing authentication tags and
// erasing key material or rejected plaintext.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vitesse::crypto {

// True iff a[0..16) == b[0..16). Every byte is read whatever the contents, and
// the barrier keeps the compiler from turning the fold into an early exit.
// Two 64-bit words, not sixteen bytes: the byte loop cost ~50 instructions a
// packet (callgrind); this reads the same bytes, with no branch on them.
inline bool ct_equal16(const uint8_t* a, const uint8_t* b) {
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a, 8);
  std::memcpy(&a1, a + 8, 8);
  std::memcpy(&b0, b, 8);
  std::memcpy(&b1, b + 8, 8);
  uint64_t diff = (a0 ^ b0) | (a1 ^ b1);
  __asm__ volatile("" : "+r"(diff));
  return diff == 0;
}

// Zeroes n bytes in a way the optimiser may not drop as a dead store (the
// memory is usually about to be freed or handed back to the caller): the empty
// asm claims to read the memory through p. A plain memset keeps rejecting a
// flood of forged jumbo packets cheap, unlike a volatile byte loop.
inline void secure_zero(void* p, size_t n) {
  if (n == 0) return;  // p may be null then, which memset does not allow
  std::memset(p, 0, n);
  __asm__ volatile("" : : "r"(p) : "memory");
}

}  // namespace vitesse::crypto
