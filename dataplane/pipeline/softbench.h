// The software benchmark (the scenario of Vita's `test.snabb`): one gateway
// whose public output is looped back into its public input, so every packet a
// synthetic source offers on the private side is routed, encrypted, decrypted
// and forwarded back out of the private side, where a sink counts it.
#pragma once

#include <cstdint>
#include <vector>

namespace vitesse {

struct SoftbenchOptions {
  uint32_t packet_size = 60;  // Ethernet frame bytes (without FCS)
  bool imix = false;          // 7:4:1 of 60, 576 and 1500-byte frames
  uint64_t packets = 10'000'000;
  uint32_t routes = 1;
  uint32_t queues = 1;
  bool nat_t = false;  // ESP in UDP (RFC 3948) on port 4500 instead of plain ESP
  // The public side's loop: `loopback` hands frames back by exchanging
  // buffers (io/loopback_link.h, like Vita's test.snabb); `memory` is the
  // memory wire the harness used before 2026-12-07, which copies each frame
  // into a byte ring and out again (kept to compare with older figures).
  enum class PublicLink : uint8_t { loopback, memory } public_link = PublicLink::loopback;
  std::vector<int> cpus;
};

// One worker's share (issue 15 target 6): its packets, its own thread's CPU
// time and its wall time until its last packet came out, so scaling over
// queues can be read per worker and not only through the busiest one.
struct SoftbenchQueue {
  uint64_t packets = 0;
  double cpu_seconds = 0;
  double seconds = 0;
};

struct SoftbenchResult {
  double seconds = 0;
  double cpu_seconds = 0;  // CPU time of the busiest worker thread until the last packet
  uint64_t sent = 0;     // frames the source offered
  uint64_t packets = 0;  // frames that came out of the private side
  uint64_t bytes = 0;    // their bytes (the inner frames, as offered)
  // Wall-clock after the warm-up, as Vita's gauge measures it: from the first
  // time the sink had counted packets (start-up, thread creation and the
  // first batches' page faults excluded) to the last packet.
  double steady_seconds = 0;
  uint64_t steady_packets = 0;
  std::vector<SoftbenchQueue> per_queue;
};

SoftbenchResult run_softbench(const SoftbenchOptions& options);

}  // namespace vitesse
