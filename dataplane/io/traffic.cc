#include "io/traffic.h"

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <stdexcept>

namespace vitesse {

namespace {

double seconds_of(clockid_t clock) {
  timespec t;
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}
double now() { return seconds_of(CLOCK_MONOTONIC); }
double cpu_now() { return seconds_of(CLOCK_THREAD_CPUTIME_ID); }

// Bursts between two looks at the clock.
constexpr int kBurstsPerCheck = 16;
// A paced generator that is ahead of its rate sleeps this long (the kernel
// rounds it up to its timer slack, ~50 us): short next to the ring sizes'
// worth of frames a link buffers, long enough not to spin.
constexpr long kPaceSleepNs = 20'000;

}  // namespace

TrafficResult blast(Link& link, const std::vector<uint8_t>& frame, double seconds, uint32_t burst, double pps) {
  if (frame.empty() || frame.size() > kMaxFrame) throw std::invalid_argument("blast: frame must be 1.." + std::to_string(kMaxFrame) + " bytes");
  burst = std::clamp<uint32_t>(burst, 1, kBatch);
  PacketPool pool(kBatch);
  Packet* pkts[kBatch];
  for (uint32_t i = 0; i < burst; i++) {
    pkts[i] = pool.alloc();
    pkts[i]->assign(frame.data(), frame.size());
  }
  TrafficResult r;
  const double start = now(), end = start + seconds, cpu_start = cpu_now();
  double t = start;
  while (t < end) {
    if (pps > 0) {
      // Paced: one burst whenever the count falls behind the rate, else a
      // short sleep, which leaves the CPU to what is being measured.
      if (static_cast<double>(r.packets) < (t - start) * pps) {
        r.packets += link.tx_burst(pkts, burst);
        link.flush();
      } else {
        timespec nap{0, kPaceSleepNs};
        nanosleep(&nap, nullptr);
      }
      t = now();
      continue;
    }
    for (int i = 0; i < kBurstsPerCheck; i++) r.packets += link.tx_burst(pkts, burst);
    link.flush();
    t = now();
  }
  r.bytes = r.packets * frame.size();
  r.active_seconds = r.elapsed_seconds = t - start;
  r.cpu_seconds = cpu_now() - cpu_start;
  return r;
}

TrafficResult sink(Link& link, double seconds, bool busy_poll, double idle_stop) {
  PacketPool pool(2 * kBatch);
  Packet* pkts[kBatch];
  TrafficResult r;
  const double start = now(), end = start + seconds, cpu_start = cpu_now();
  double first = 0, last = 0, t = start;
  const int fd = link.wait_fd();
  while (t < end) {
    uint32_t n = link.rx_burst(pool, pkts, kBatch);
    if (n) {
      for (uint32_t i = 0; i < n; i++) r.bytes += pkts[i]->len;
      r.packets += n;
      pool.free_burst(pkts, n);
      t = now();
      if (first == 0) first = t;
      last = t;
      continue;
    }
    if (!busy_poll && fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      poll(&p, 1, 1);
    }
    t = now();
    if (idle_stop > 0 && first != 0 && t - last > idle_stop) break;
  }
  r.active_seconds = first ? last - first : 0;
  r.elapsed_seconds = t - start;
  r.cpu_seconds = cpu_now() - cpu_start;
  return r;
}

}  // namespace vitesse
