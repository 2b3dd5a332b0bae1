// The machine's own scaling ceiling for `vitesse bench scaling` (issue 15
// target 6): plain CPU-bound loops, one thread per CPU, no memory shared
// between them. If two such threads on two CPUs each keep their one-thread
// rate per CPU-second, the CPUs do not slow each other down (they are not
// one core's hyper-threads competing for its ports), and a worker that slows
// down beside another does so for reasons of its own (caches, shared lines).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vitesse {

enum class CeilingLoop : uint8_t {
  aes,      // 8 independent AESENC streams: the AES unit's throughput (what GCM uses)
  alu,      // 8 independent multiply-xorshift chains: integer ports' throughput
  latency,  // one dependent chain: a latency-bound loop (hyper-threads share it well)
};

struct CeilingThread {
  int cpu = -1;
  uint64_t iterations = 0;
  double cpu_seconds = 0;  // the thread's own CPU time
  double seconds = 0;      // its wall time
};

// Runs `cpus.size()` threads at once (each pinned to its CPU, -1 unpinned),
// each `iterations` rounds of `loop`. Throws std::invalid_argument for a loop
// the CPU lacks (aes without AES-NI).
std::vector<CeilingThread> run_cpu_ceiling(CeilingLoop loop, const std::vector<int>& cpus, uint64_t iterations);

bool parse_ceiling_loop(const std::string& name, CeilingLoop& out);

}  // namespace vitesse
