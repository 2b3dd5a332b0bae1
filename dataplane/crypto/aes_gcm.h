// AES-GCM (128- and 256-bit keys, 12-byte IV, 16-byte tag) for ESP.
//
// Key-dependent work (round keys, powers of H for GHASH) happens once in
// GcmContext::init; the per-packet calls take only pointers and lengths.
// The implementation (generic, AES-NI+PCLMULQDQ+AVX2, VAES+VPCLMULQDQ on
// AVX-512) is chosen once from CPUID; VITESSE_CRYPTO_PATH=generic|avx2|avx512
// forces one (falling back with a warning if the CPU lacks it).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vitesse::crypto {

enum class GcmPath : uint8_t { generic = 0, avx2 = 1, avx512 = 2 };

const char* gcm_path_name(GcmPath p);
// Best path this CPU supports.
GcmPath gcm_best_path();
// The path in use: gcm_best_path() unless VITESSE_CRYPTO_PATH overrides it.
GcmPath gcm_default_path();
bool gcm_path_supported(GcmPath p);

// Laid out for the packet: the path and rounds, which the batch dispatcher
// reads per job, share the first cache line with the first round keys
// (crypto/gcm_internal.h, FastKey), so AES-128's path, rounds and key
// schedule are three lines and AES-256's four (docs/dataplane.md, "Per-packet
// cost and cache lines").
struct alignas(64) GcmContext {
  GcmPath path;
  uint8_t rounds;  // 10 or 14
  uint8_t reserved_[2];
  // RFC 4106's salt, the nonce's first four octets in the batch calls (a
  // GcmJob names only the other eight, ESP's IV): kept with the key it
  // belongs to, so that a packet needs no nonce assembled in memory.
  uint8_t salt[4];
  uint8_t reserved2_[8];
  // Opaque to callers; layout belongs to the implementation.
  uint8_t state[1008];

  // key_len is 16 or 32. Returns false for any other length, or if this CPU
  // lacks path p; the context is then left as it was.
  bool init(const uint8_t* key, size_t key_len, GcmPath p = gcm_default_path());
  void set_salt(const uint8_t s[4]);
  // Overwrites key material and salt (called before the context is freed).
  void wipe();
};

// The key schedule's fourth line, which only 14 rounds (AES-256) read: the
// data plane prefetches a context's first three lines and its last GHASH
// powers without reading it (pipeline/prefetch_sa.h), and this line once
// `rounds`, in the first of them, is at hand, so that an AES-128 context
// never brings in a line it does not use.
inline void prefetch_key_tail(const GcmContext& ctx) {
  if (ctx.rounds == 14) __builtin_prefetch(reinterpret_cast<const char*>(&ctx) + 192, 0, 2);
}

// Encrypts data[0..len) in place and writes the 16-byte tag.
void gcm_seal(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len,
              uint8_t* data, size_t len, uint8_t tag[16]);
// Verifies the tag in constant time and decrypts in place. On a bad tag it
// returns false and data holds no plaintext (it is zeroed).
bool gcm_open(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len,
              uint8_t* data, size_t len, const uint8_t tag[16]);

// Several packets at once: lets the implementation interleave independent
// packets to keep the AES and carry-less-multiply pipelines full. Results are
// exactly those of one call per job with the nonce ctx->salt ‖ iv; jobs may
// mix contexts, key sizes and paths (neighbours sharing a context are
// cheapest). A job only points: ESP points it at its header's IV and, where
// the AAD lies in the packet, at that (esp/encap.cc, esp/decap.cc), so no
// per-packet copy is made (docs/dataplane.md, "Round six, ESP framing").
struct GcmJob {
  const GcmContext* ctx;  // keyed, with its salt
  const uint8_t* iv;      // 8 bytes: the nonce's last eight (RFC 4106's IV)
  const uint8_t* aad;     // aad_len bytes
  uint8_t* data;          // len bytes, in place
  uint8_t* tag;           // 16 bytes: written by seal, read by open
  uint32_t len;
  uint32_t aad_len;
};
void gcm_seal_batch(const GcmJob* jobs, size_t n);
// ok[i]: whether jobs[i] verified (its data is then the plaintext; else zeros).
void gcm_open_batch(const GcmJob* jobs, size_t n, bool* ok);

}  // namespace vitesse::crypto
