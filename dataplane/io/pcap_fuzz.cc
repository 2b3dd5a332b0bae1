// libFuzzer target: the pcap driver (io/pcap_link.h) reads arbitrary files —
// the capture an operator hands `vitesse replay`, cut short or corrupt.
//
//   npm run fuzz -- pcap_fuzz            (fuzz/fuzz.mjs has the compiler line)
//
// The input is the file. It is read through a packet pool smaller than a
// burst, so the driver also has to stop at an empty pool and resume at the
// same record. What must hold, besides no sanitizer report: a file the
// driver refuses is one the format forbids (too short, wrong magic, pcapng,
// not Ethernet), with a message naming the file; otherwise it delivers
// exactly the complete records a plain reading of the format finds, skips
// (and counts) records longer than a packet buffer, and says the file was
// truncated exactly when it ends inside a record or a record's length
// cannot be one.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/pcap_link.h"
#include "packet.h"

using namespace vitesse;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr uint32_t kPool = 5;          // fewer than a burst
constexpr uint64_t kCorrupt = 1u << 26;  // a longer record is a corrupt length, not a frame

struct Expected {
  bool refused = false;
  std::vector<std::vector<uint8_t>> frames;
  uint64_t oversize = 0;
  bool truncated = false;
  bool cut_oversize = false;  // truncated inside a record longer than a packet buffer
};

uint32_t u32(const uint8_t* p, bool big) {
  return big ? (uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3])
             : (uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0]);
}

// The format as its documentation reads (libpcap's pcap-savefile(5)).
Expected reference(const uint8_t* d, size_t n) {
  Expected e;
  if (n < 24) return e.refused = true, e;
  const uint32_t le = u32(d, false);
  bool big;
  if (le == 0xa1b2c3d4 || le == 0xa1b23c4d) big = false;
  else if (u32(d, true) == 0xa1b2c3d4 || u32(d, true) == 0xa1b23c4d) big = true;
  else return e.refused = true, e;
  if ((u32(d + 20, big) & 0xffff) != 1) return e.refused = true, e;
  size_t at = 24;
  while (at < n) {
    if (n - at < 16) return e.truncated = true, e;
    const uint64_t len = u32(d + at + 8, big);
    at += 16;
    if (len > kCorrupt || len > n - at) {
      e.cut_oversize = len > kMaxFrame && len <= kCorrupt;
      return e.truncated = true, e;
    }
    if (len > kMaxFrame) e.oversize++;
    else e.frames.emplace_back(d + at, d + at + len);
    at += len;
  }
  return e;
}

uint64_t counter(const Link& l, const char* name) {
  for (const Link::Counter& c : l.counters())
    if (c.name == name) return c.value;
  check(false);
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("pcap_fuzz", 0);
  check(fd >= 0);
  for (size_t done = 0; done < size;) {
    const ssize_t w = write(fd, data + done, size - done);
    check(w > 0);
    done += static_cast<size_t>(w);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const Expected want = reference(data, size);

  static PacketPool pool(kPool);
  try {
    PcapLink link(path, "");
    check(!want.refused);
    std::vector<std::vector<uint8_t>> got;
    Packet* pkts[kBatch];
    for (int idle = 0; idle < 2;) {
      const uint32_t n = link.rx_burst(pool, pkts, kBatch);
      idle = n ? 0 : idle + 1;
      for (uint32_t i = 0; i < n; i++) {
        got.emplace_back(pkts[i]->data, pkts[i]->data + pkts[i]->len);
        pool.free(pkts[i]);
      }
    }
    check(got == want.frames);
    // The driver counts a record that is both too long and cut short in both
    // rx_oversize and rx_truncated; either count is fine.
    const uint64_t oversize = counter(link, "rx_oversize");
    check(oversize == want.oversize || (want.cut_oversize && oversize == want.oversize + 1));
    check((counter(link, "rx_truncated") != 0) == want.truncated);
  } catch (const std::runtime_error& e) {
    check(want.refused);
    check(std::strstr(e.what(), path.c_str()) != nullptr);
  }
  check(pool.available() == kPool);
  close(fd);
  return 0;
}
