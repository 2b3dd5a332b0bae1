// A traffic generator and a sink for measuring a driver's raw rate (no
// gateway in between): blast() sends one frame over and over as fast as the
// link takes it, sink() counts what arrives. Each runs on the calling thread
// until `seconds` have passed; benchmarks run them on two threads, on the two
// ends of a veth pair.
#pragma once

#include <cstdint>
#include <vector>

#include "io/link.h"

namespace vitesse {

struct TrafficResult {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  // From the first to the last frame moved (the sink may start before the
  // blaster): the interval a rate is computed over.
  double active_seconds = 0;
  double elapsed_seconds = 0;
  // CPU time of the calling thread over the run, system calls included: the
  // cost per frame, which a machine shared with other work distorts far less
  // than the rate.
  double cpu_seconds = 0;
};

// pps > 0 paces the sending to that many frames per second (on average,
// in bursts); 0 sends as fast as the link takes frames.
TrafficResult blast(Link& link, const std::vector<uint8_t>& frame, double seconds, uint32_t burst, double pps = 0);
// Sleeps on the link's wait_fd when idle unless busy_poll; stops early once
// `idle_stop` seconds pass with nothing received after the first frame
// (0: never).
TrafficResult sink(Link& link, double seconds, bool busy_poll, double idle_stop);

}  // namespace vitesse
