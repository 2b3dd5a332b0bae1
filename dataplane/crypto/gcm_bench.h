// The timing loop behind `vitesse bench crypto`: our AES-GCM (one packet per
// call, and batches) against OpenSSL EVP, in the same process and run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crypto/aes_gcm.h"

namespace vitesse::crypto {

struct GcmBenchOptions {
  std::vector<uint32_t> sizes{64, 256, 576, 1400, 9000};  // bytes of data per packet
  std::vector<uint32_t> key_bits{128, 256};
  GcmPath path = gcm_default_path();
  uint32_t batch = 32;         // packets per batch call (and per timed pass)
  double min_ms = 10;          // each timed sample takes at least this much CPU time
  uint32_t samples = 9;        // the fastest sample is reported
  bool decrypt = true;         // also time open
};

// Nanoseconds per packet; GB/s follows as size / ns.
struct GcmBenchRow {
  uint32_t size = 0;
  uint32_t key_bits = 0;
  std::string path;
  double ours_ns = 0;
  double ours_batch_ns = 0;
  double openssl_ns = 0;
  double ours_open_ns = 0;      // 0 when not measured
  double ours_open_batch_ns = 0;
  double openssl_open_ns = 0;
};

// Throws std::runtime_error if a result disagrees with OpenSSL (the loop
// checks its own work) or an option is out of range.
std::vector<GcmBenchRow> run_gcm_bench(const GcmBenchOptions& options);

}  // namespace vitesse::crypto
