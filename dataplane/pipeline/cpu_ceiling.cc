#include "pipeline/cpu_ceiling.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <atomic>
#include <stdexcept>
#include <thread>

namespace vitesse {

namespace {

double clock_seconds(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

__attribute__((target("aes,sse4.1"))) uint64_t aes_loop(uint64_t n) {
  const __m128i k = _mm_set1_epi32(0x5a5a5a5a);
  __m128i a[8];
  for (int j = 0; j < 8; j++) a[j] = _mm_set1_epi32(j);
  for (uint64_t i = 0; i < n; i++)
    for (int j = 0; j < 8; j++) a[j] = _mm_aesenc_si128(a[j], k);
  __m128i s = a[0];
  for (int j = 1; j < 8; j++) s = _mm_xor_si128(s, a[j]);
  return static_cast<uint64_t>(_mm_cvtsi128_si64(s));
}

uint64_t alu_loop(uint64_t n) {
  uint64_t x[8];
  for (int j = 0; j < 8; j++) x[j] = static_cast<uint64_t>(j) + 1;
  for (uint64_t i = 0; i < n; i++)
    for (int j = 0; j < 8; j++) {
      x[j] = x[j] * 6364136223846793005ULL + 1442695040888963407ULL;
      x[j] ^= x[j] >> 17;
    }
  uint64_t s = 0;
  for (int j = 0; j < 8; j++) s ^= x[j];
  return s;
}

uint64_t latency_loop(uint64_t n) {
  uint64_t x = 1;
  for (uint64_t i = 0; i < n; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    x ^= x >> 17;
  }
  return x;
}

}  // namespace

bool parse_ceiling_loop(const std::string& name, CeilingLoop& out) {
  if (name == "aes") out = CeilingLoop::aes;
  else if (name == "alu") out = CeilingLoop::alu;
  else if (name == "latency") out = CeilingLoop::latency;
  else return false;
  return true;
}

std::vector<CeilingThread> run_cpu_ceiling(CeilingLoop loop, const std::vector<int>& cpus, uint64_t iterations) {
  if (cpus.empty() || cpus.size() > 64) throw std::invalid_argument("cpu ceiling: 1..64 threads");
  if (loop == CeilingLoop::aes && !__builtin_cpu_supports("aes")) throw std::invalid_argument("cpu ceiling: no AES-NI");
  std::vector<CeilingThread> out(cpus.size());
  std::atomic<uint32_t> ready{0};
  std::atomic<uint64_t> sink{0};  // keeps the loops' results alive
  std::vector<std::thread> threads;
  for (size_t i = 0; i < cpus.size(); i++) {
    threads.emplace_back([&, i] {
      CeilingThread& r = out[i];
      r.cpu = cpus[i];
      if (r.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(r.cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      }
      // All threads start together so that their loops overlap.
      ready.fetch_add(1);
      while (ready.load() < cpus.size()) std::this_thread::yield();
      const double w0 = clock_seconds(CLOCK_MONOTONIC), c0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
      uint64_t x = loop == CeilingLoop::aes ? aes_loop(iterations)
                   : loop == CeilingLoop::alu ? alu_loop(iterations)
                                              : latency_loop(iterations);
      r.cpu_seconds = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
      r.seconds = clock_seconds(CLOCK_MONOTONIC) - w0;
      r.iterations = iterations;
      sink.fetch_xor(x);
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

}  // namespace vitesse
