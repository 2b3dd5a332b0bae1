#include "crypto/gcm_bench.h"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>

#include "crypto/openssl_gcm.h"

namespace vitesse::crypto {

namespace {

// CPU time of this thread: the machine is shared, and time spent descheduled
// says nothing about the code.
double thread_ms() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// `batch` packets of one size, each in its own buffer with its own IV and
// ESP-sized AAD, encrypted in place over and over. As in ESP, the IVs'
// first four octets (the salt) are the same for all.
struct Packets {
  uint32_t size, count, stride;
  std::unique_ptr<uint8_t[]> bytes;
  std::vector<uint8_t> ivs, aads, tags, alt_tags;

  Packets(uint32_t size_, uint32_t count_, std::mt19937_64& rng)
      : size(size_), count(count_), stride((size_ + 63) / 64 * 64 + 64),
        bytes(new uint8_t[static_cast<size_t>(stride) * count_ + 64]),
        ivs(12 * count_), aads(12 * count_), tags(16 * count_), alt_tags(16 * count_) {
    for (size_t i = 0; i < static_cast<size_t>(stride) * count; ++i) bytes[i] = static_cast<uint8_t>(rng());
    for (auto& b : ivs) b = static_cast<uint8_t>(rng());
    for (size_t i = 1; i < count; ++i) std::memcpy(&ivs[12 * i], &ivs[0], 4);
    for (auto& b : aads) b = static_cast<uint8_t>(rng());
  }
  uint8_t* data(uint32_t i) { return bytes.get() + static_cast<size_t>(stride) * i; }
  const uint8_t* iv(uint32_t i) const { return ivs.data() + 12 * i; }
  const uint8_t* aad(uint32_t i) const { return aads.data() + 12 * i; }
  uint8_t* tag(uint32_t i) { return tags.data() + 16 * i; }
};

// Fastest of `samples` timed runs of pass() (which handles `per_pass`
// packets), each repeated until it lasts at least min_ms.
template <class Pass>
double time_per_packet(const GcmBenchOptions& o, uint32_t per_pass, Pass&& pass) {
  pass();  // warm caches and branch predictors
  uint64_t reps = 1;
  for (;;) {  // calibrate
    const double t0 = thread_ms();
    for (uint64_t r = 0; r < reps; ++r) pass();
    const double ms = thread_ms() - t0;
    if (ms >= o.min_ms / 4) {
      reps = static_cast<uint64_t>(reps * (o.min_ms / ms)) + 1;
      break;
    }
    reps *= 4;
  }
  double best = 1e300;
  for (uint32_t s = 0; s < o.samples; ++s) {
    const double t0 = thread_ms();
    for (uint64_t r = 0; r < reps; ++r) pass();
    const double ns = (thread_ms() - t0) * 1e6;
    best = std::min(best, ns / (static_cast<double>(reps) * per_pass));
  }
  return best;
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("crypto bench: ") + what);
}

GcmBenchRow bench_case(const GcmBenchOptions& o, uint32_t size, uint32_t key_bits, std::mt19937_64& rng) {
  uint8_t key[32];
  for (auto& b : key) b = static_cast<uint8_t>(rng());
  const size_t key_len = key_bits / 8;
  auto ctx = std::make_unique<GcmContext>();
  check(ctx->init(key, key_len, o.path), "cannot key our context");
  OpensslGcm ossl;
  check(ossl.init(key, key_len), "cannot key OpenSSL");
  Packets pk(size, o.batch, rng);

  // Agreement first: a benchmark of a wrong result is worthless.
  {
    std::vector<uint8_t> a(pk.data(0), pk.data(0) + size), b = a;
    uint8_t ta[16], tb[16];
    gcm_seal(*ctx, pk.iv(0), pk.aad(0), 12, a.data(), size, ta);
    check(ossl.seal(pk.iv(0), pk.aad(0), 12, b.data(), size, tb), "OpenSSL seal failed");
    check(a == b && std::memcmp(ta, tb, 16) == 0, "our seal disagrees with OpenSSL");
  }

  GcmBenchRow row;
  row.size = size;
  row.key_bits = key_bits;
  row.path = gcm_path_name(ctx->path);
  const uint32_t n = o.batch;
  std::vector<GcmJob> jobs(n);
  ctx->set_salt(pk.iv(0));
  for (uint32_t i = 0; i < n; ++i) jobs[i] = {ctx.get(), pk.iv(i) + 4, pk.aad(i), pk.data(i), pk.tag(i), size, 12};
  std::unique_ptr<bool[]> opened(new bool[n]);

  row.ours_ns = time_per_packet(o, n, [&] {
    for (uint32_t i = 0; i < n; ++i) gcm_seal(*ctx, pk.iv(i), pk.aad(i), 12, pk.data(i), size, pk.tag(i));
  });
  row.ours_batch_ns = time_per_packet(o, n, [&] { gcm_seal_batch(jobs.data(), n); });
  bool ossl_ok = true;
  row.openssl_ns = time_per_packet(o, n, [&] {
    for (uint32_t i = 0; i < n; ++i) ossl_ok &= ossl.seal(pk.iv(i), pk.aad(i), 12, pk.data(i), size, pk.tag(i));
  });
  check(ossl_ok, "OpenSSL seal failed");
  if (!o.decrypt) return row;

  // CTR is its own inverse, so a packet opened in place is the ciphertext of
  // its previous contents: with the tags of both states every open succeeds
  // and each pass undoes the previous one.
  for (uint32_t i = 0; i < n; ++i) {
    gcm_seal(*ctx, pk.iv(i), pk.aad(i), 12, pk.data(i), size, pk.alt_tags.data() + 16 * i);
    gcm_seal(*ctx, pk.iv(i), pk.aad(i), 12, pk.data(i), size, pk.tag(i));
  }
  bool ok = true, flip = false;
  const auto tag_for = [&](uint32_t i) { return (flip ? pk.alt_tags.data() : pk.tags.data()) + 16 * i; };
  row.ours_open_ns = time_per_packet(o, n, [&] {
    for (uint32_t i = 0; i < n; ++i) ok &= gcm_open(*ctx, pk.iv(i), pk.aad(i), 12, pk.data(i), size, tag_for(i));
    flip = !flip;
  });
  check(ok, "our open rejected a valid packet");
  row.ours_open_batch_ns = time_per_packet(o, n, [&] {
    for (uint32_t i = 0; i < n; ++i) jobs[i].tag = const_cast<uint8_t*>(tag_for(i));
    gcm_open_batch(jobs.data(), n, opened.get());
    for (uint32_t i = 0; i < n; ++i) ok &= opened[i];
    flip = !flip;
  });
  check(ok, "our batch open rejected a valid packet");
  row.openssl_open_ns = time_per_packet(o, n, [&] {
    for (uint32_t i = 0; i < n; ++i) ok &= ossl.open(pk.iv(i), pk.aad(i), 12, pk.data(i), size, tag_for(i));
    flip = !flip;
  });
  check(ok, "OpenSSL open rejected a valid packet");
  return row;
}

}  // namespace

std::vector<GcmBenchRow> run_gcm_bench(const GcmBenchOptions& o) {
  if (!gcm_path_supported(o.path)) throw std::runtime_error("crypto bench: path not supported on this CPU");
  if (o.batch == 0 || o.batch > 4096) throw std::runtime_error("crypto bench: batch must be 1..4096");
  for (uint32_t s : o.sizes) {
    if (s > (1u << 24)) throw std::runtime_error("crypto bench: sizes must be at most 16 MiB");
  }
  for (uint32_t k : o.key_bits) {
    if (k != 128 && k != 256) throw std::runtime_error("crypto bench: key bits must be 128 or 256");
  }
  std::mt19937_64 rng(0x5eed);
  std::vector<GcmBenchRow> rows;
  for (uint32_t size : o.sizes) {
    for (uint32_t bits : o.key_bits) rows.push_back(bench_case(o, size, bits, rng));
  }
  return rows;
}

}  // namespace vitesse::crypto
