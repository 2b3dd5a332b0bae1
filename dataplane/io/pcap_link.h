// The `pcap` driver: rx_burst replays a classic pcap capture (Ethernet
// linktype, either byte order), tx_burst appends frames to a new capture.
// For tests, replay and debugging; the gateway's queues can run on it as on a
// NIC.
//
// A capture that ends in the middle of a record (a crashed writer, a copy cut
// short) delivers every complete record, then sets the `rx_truncated`
// counter and reads no further. Records longer than a packet buffer are
// skipped and counted.
#pragma once

#include <cstdio>
#include <string>

#include "io/link.h"
#include "io/link_counter.h"

namespace vitesse {

class PcapLink final : public Link {
 public:
  // Either path may be empty: no input (rx_burst returns 0) or no output
  // (tx_burst accepts nothing). Throws std::runtime_error naming the file and
  // what is wrong with it.
  PcapLink(const std::string& in_path, const std::string& out_path);
  ~PcapLink() override;
  PcapLink(const PcapLink&) = delete;
  PcapLink& operator=(const PcapLink&) = delete;

  uint32_t rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) override;
  uint32_t tx_burst(Packet* const* pkts, uint32_t n) override;
  void flush() override;
  std::vector<Counter> counters() const override;

 private:
  void open_input(const std::string& path);
  void open_output(const std::string& path);
  uint32_t field(uint32_t v) const { return swapped_ ? __builtin_bswap32(v) : v; }

  std::FILE* in_ = nullptr;
  std::FILE* out_ = nullptr;
  std::string in_path_, out_path_;
  long in_size_ = -1;       // bytes, when the input is a regular file
  bool swapped_ = false;    // input written on a host of the other byte order
  bool in_done_ = false;    // end of input reached (cleanly or not)

  LinkCounter rx_packets_, rx_bytes_, rx_oversize_, rx_truncated_;
  LinkCounter tx_packets_, tx_bytes_, tx_write_errors_;
};

}  // namespace vitesse
