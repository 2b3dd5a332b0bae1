// What the GCM paths share: the layouts of GcmContext::state and each path's
// entry points. Only dataplane/crypto includes this.
//
// Every path hashes in the POLYVAL domain (see polyval_portable.h): blocks are
// byte-reversed on the way in, the GHASH key is multiplied by x once at init,
// and the result is byte-reversed on the way out.
#pragma once

#include <cstddef>
#include <cstdint>

#include "crypto/aes_gcm.h"

namespace vitesse::crypto::detail {

// Generic path: round keys in bitsliced form (pack() of four copies) and the
// POLYVAL key.
struct GenericKey {
  uint64_t rk[15][8];
  uint64_t h_lo, h_hi;
};

// AES-NI paths (which load these unaligned, so a context that is not
// 64-byte aligned still works): round keys as AES-NI takes them, and powers
// of the POLYVAL key in descending order (hpow[i] = H^(kPowers - i)), so that the last n
// blocks of a run are multiplied by the n powers starting at hpow[kPowers - n]
// and one vector load fetches H^k..H^(k-3) for four consecutive blocks.
// In the context the round keys follow the path and rounds (16 octets), so
// the powers start on a line: a short packet's H^8..H^1 are the context's
// lines 10 and 11 (pipeline/prefetch_sa.h prefetches them).
struct FastKey {
  static constexpr int kPowers = 32;
  alignas(16) uint8_t rk[15][16];
  alignas(16) uint8_t hpow[kPowers][16];
};

static_assert(sizeof(GenericKey) <= sizeof(GcmContext::state));
static_assert(sizeof(FastKey) <= sizeof(GcmContext::state));
static_assert(offsetof(GcmContext, state) == 16 && sizeof(GcmContext) == 1024);
static_assert(offsetof(GcmContext, path) == 0 && offsetof(GcmContext, rounds) == 1,
              "the dispatcher reads path and rounds as one 16-bit word");
static_assert((offsetof(GcmContext, state) + offsetof(FastKey, hpow)) % 64 == 0,
              "the GHASH powers start on a cache line");
static_assert(offsetof(GcmContext, state) + offsetof(FastKey, rk) + 11 * 16 == 3 * 64,
              "AES-128's path, rounds and round keys are the context's first three lines");

// Fills a FastKey (both AES-NI paths share it); needs AES-NI and PCLMULQDQ.
void init_fast_key(GcmContext& ctx, const uint8_t rk[15][16]);

template <class K>
inline K& key_of(GcmContext& ctx) { return *reinterpret_cast<K*>(ctx.state); }
template <class K>
inline const K& key_of(const GcmContext& ctx) { return *reinterpret_cast<const K*>(ctx.state); }

// What the dispatcher learns of a batch in one pass (gcm_dispatch.cc):
// whether every job uses the same path and number of rounds, and the
// longest data and AAD. A path given a uniform batch of short jobs groups
// them in order without looking at each job again.
struct BatchShape {
  bool uniform;
  uint32_t max_len, max_aad;
};

// The entry points of one path. `decrypt` decrypts in place and writes the
// tag the ciphertext should carry; comparing it and erasing the plaintext on
// a mismatch is done once, by the caller (gcm_dispatch.cc). The batch forms
// take jobs whose ctx all use this path.
#define VITESSE_GCM_PATH_ENTRY_POINTS                                                              \
  void init(GcmContext& ctx, const uint8_t rk[15][16]);                                            \
  void seal(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len,       \
            uint8_t* data, size_t len, uint8_t tag[16]);                                            \
  void decrypt(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len,    \
               uint8_t* data, size_t len, uint8_t tag[16]);                                         \
  void seal_batch(const GcmJob* jobs, size_t n, const BatchShape& shape);                          \
  void decrypt_batch(const GcmJob* jobs, size_t n, uint8_t (*tags)[16], const BatchShape& shape);

namespace generic { VITESSE_GCM_PATH_ENTRY_POINTS }
namespace avx2 { VITESSE_GCM_PATH_ENTRY_POINTS }
namespace avx512 { VITESSE_GCM_PATH_ENTRY_POINTS }

#undef VITESSE_GCM_PATH_ENTRY_POINTS

}  // namespace vitesse::crypto::detail
