// The public AES-GCM API: picks a path once from CPUID (or the environment),
// keys contexts, and routes each call to the path its context was keyed for.
// Tag comparison and erasing rejected plaintext live here, once for all paths.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "crypto/aes_gcm.h"
#include "crypto/aes_key_schedule.h"
#include "crypto/cpu_features.h"
#include "crypto/ct_util.h"
#include "crypto/gcm_internal.h"

namespace vitesse::crypto {

namespace {

GcmPath choose_default_path() {
  const char* forced = std::getenv("VITESSE_CRYPTO_PATH");
  if (forced == nullptr || *forced == '\0') return gcm_best_path();
  for (GcmPath p : {GcmPath::generic, GcmPath::avx2, GcmPath::avx512}) {
    if (std::strcmp(forced, gcm_path_name(p)) != 0) continue;
    if (gcm_path_supported(p)) return p;
    std::fprintf(stderr, "vitesse: VITESSE_CRYPTO_PATH=%s: this CPU lacks it; using %s\n", forced,
                 gcm_path_name(gcm_best_path()));
    return gcm_best_path();
  }
  std::fprintf(stderr, "vitesse: VITESSE_CRYPTO_PATH=%s: not one of generic, avx2, avx512; using %s\n", forced,
               gcm_path_name(gcm_best_path()));
  return gcm_best_path();
}

// The jobs [0, n) that share jobs[0]'s path.
size_t same_path_run(const GcmJob* jobs, size_t n) {
  size_t k = 1;
  while (k < n && jobs[k].ctx->path == jobs[0].ctx->path) ++k;
  return k;
}

uint16_t path_and_rounds(const GcmContext& ctx) {
  uint16_t w;
  std::memcpy(&w, &ctx.path, sizeof w);
  return w;
}

// One pass, without branches on the jobs: do they all share jobs[0]'s path
// and rounds, and how long are the longest data and AAD (n > 0).
detail::BatchShape shape_of(const GcmJob* jobs, size_t n) {
  const uint16_t first = path_and_rounds(*jobs[0].ctx);
  uint32_t diff = 0, max_len = 0, max_aad = 0;
  for (size_t i = 0; i < n; ++i) {
    diff |= static_cast<uint32_t>(path_and_rounds(*jobs[i].ctx) ^ first);
    max_len = jobs[i].len > max_len ? jobs[i].len : max_len;
    max_aad = jobs[i].aad_len > max_aad ? jobs[i].aad_len : max_aad;
  }
  return {diff == 0, max_len, max_aad};
}

// Runs jobs of one path: all of [0, n) if `shape` says they are uniform, else
// the run sharing jobs[0]'s path. Returns how many it ran.
template <class Run>
size_t run_one_path(const GcmJob* jobs, size_t n, const detail::BatchShape& shape, Run&& run) {
  const size_t k = shape.uniform ? n : same_path_run(jobs, n);
  run(jobs[0].ctx->path, k);
  return k;
}

}  // namespace

const char* gcm_path_name(GcmPath p) {
  switch (p) {
    case GcmPath::generic: return "generic";
    case GcmPath::avx2: return "avx2";
    case GcmPath::avx512: return "avx512";
  }
  return "unknown";
}

bool gcm_path_supported(GcmPath p) {
  const CpuFeatures& f = cpu_features();
  switch (p) {
    case GcmPath::generic: return true;
    case GcmPath::avx2: return f.aesni && f.pclmulqdq && f.avx2;
    case GcmPath::avx512: return f.aesni && f.pclmulqdq && f.avx512 && f.vaes && f.vpclmulqdq;
  }
  return false;
}

GcmPath gcm_best_path() {
  static const GcmPath best = gcm_path_supported(GcmPath::avx512) ? GcmPath::avx512
                              : gcm_path_supported(GcmPath::avx2) ? GcmPath::avx2
                                                                  : GcmPath::generic;
  return best;
}

GcmPath gcm_default_path() {
  static const GcmPath chosen = choose_default_path();
  return chosen;
}

bool GcmContext::init(const uint8_t* key, size_t key_len, GcmPath p) {
  // Refuse before touching anything, so a failed re-key keeps the old key.
  if (key == nullptr || (key_len != 16 && key_len != 32) || !gcm_path_supported(p)) return false;
  uint8_t rk[15][16];
  const int r = aes_expand_key(key, key_len, rk);
  wipe();
  path = p;
  rounds = static_cast<uint8_t>(r);
  switch (p) {
    case GcmPath::generic: detail::generic::init(*this, rk); break;
    case GcmPath::avx2: detail::avx2::init(*this, rk); break;
    case GcmPath::avx512: detail::avx512::init(*this, rk); break;
  }
  secure_zero(rk, sizeof rk);
  return true;
}

void GcmContext::set_salt(const uint8_t s[4]) { std::memcpy(salt, s, sizeof salt); }

void GcmContext::wipe() {
  secure_zero(state, sizeof state);
  secure_zero(salt, sizeof salt);
  rounds = 0;
}

void gcm_seal(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data,
              size_t len, uint8_t tag[16]) {
  switch (ctx.path) {
    case GcmPath::avx512: return detail::avx512::seal(ctx, iv, aad, aad_len, data, len, tag);
    case GcmPath::avx2: return detail::avx2::seal(ctx, iv, aad, aad_len, data, len, tag);
    case GcmPath::generic: return detail::generic::seal(ctx, iv, aad, aad_len, data, len, tag);
  }
}

bool gcm_open(const GcmContext& ctx, const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data,
              size_t len, const uint8_t tag[16]) {
  uint8_t expected[16];
  switch (ctx.path) {
    case GcmPath::avx512: detail::avx512::decrypt(ctx, iv, aad, aad_len, data, len, expected); break;
    case GcmPath::avx2: detail::avx2::decrypt(ctx, iv, aad, aad_len, data, len, expected); break;
    case GcmPath::generic: detail::generic::decrypt(ctx, iv, aad, aad_len, data, len, expected); break;
  }
  const bool ok = ct_equal16(expected, tag);
  if (!ok) secure_zero(data, len);
  secure_zero(expected, sizeof expected);
  return ok;
}

void gcm_seal_batch(const GcmJob* jobs, size_t n) {
  if (n == 0) return;
  const detail::BatchShape shape = shape_of(jobs, n);
  while (n > 0) {
    const size_t k = run_one_path(jobs, n, shape, [&](GcmPath path, size_t count) {
      switch (path) {
        case GcmPath::avx512: detail::avx512::seal_batch(jobs, count, shape); break;
        case GcmPath::avx2: detail::avx2::seal_batch(jobs, count, shape); break;
        case GcmPath::generic: detail::generic::seal_batch(jobs, count, shape); break;
      }
    });
    jobs += k;
    n -= k;
  }
}

void gcm_open_batch(const GcmJob* jobs, size_t n, bool* ok) {
  constexpr size_t kChunk = 64;
  uint8_t expected[kChunk][16];
  while (n > 0) {
    const size_t c = n < kChunk ? n : kChunk;
    const detail::BatchShape shape = shape_of(jobs, c);
    const size_t k = run_one_path(jobs, c, shape, [&](GcmPath path, size_t count) {
      switch (path) {
        case GcmPath::avx512: detail::avx512::decrypt_batch(jobs, count, expected, shape); break;
        case GcmPath::avx2: detail::avx2::decrypt_batch(jobs, count, expected, shape); break;
        case GcmPath::generic: detail::generic::decrypt_batch(jobs, count, expected, shape); break;
      }
    });
    for (size_t i = 0; i < k; ++i) {
      ok[i] = ct_equal16(expected[i], jobs[i].tag);
      if (!ok[i]) secure_zero(jobs[i].data, jobs[i].len);
    }
    secure_zero(expected, k * 16);
    jobs += k;
    ok += k;
    n -= k;
  }
}

}  // namespace vitesse::crypto
