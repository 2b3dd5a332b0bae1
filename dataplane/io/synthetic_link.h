// The `synthetic` driver, for benchmarks: its receive side generates frames
// from a small set of templates (as fast as the worker asks, up to a budget)
// and its transmit side is a sink that only counts. It stands in for a traffic
// generator and a receiver on the private side of a gateway under test, so a
// benchmark measures the gateway and not a wire.
#pragma once

#include <atomic>
#include <vector>

#include "io/link.h"
#include "net/headers.h"

namespace vitesse {

class SyntheticLink final : public Link {
 public:
  // Frames are IPv4 templates sent round-robin, each time with the next
  // destination address of `destinations` (so a few templates cover many
  // routes) and the address after it as the source (a host of the same
  // site, so a gateway tunnelling to itself passes its inbound policy),
  // until `budget` frames went out.
  SyntheticLink(std::vector<std::vector<uint8_t>> templates, std::vector<uint32_t> destinations, uint64_t budget)
      : templates_(std::move(templates)), destinations_(std::move(destinations)), budget_(budget) {}

  uint32_t rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) override {
    uint32_t n = 0;
    while (n < max && generated_ < budget_) {
      Packet* p = pool.alloc();
      if (!p) break;
      const auto& t = templates_[next_];
      if (++next_ == templates_.size()) next_ = 0;
      std::memcpy(p->data, t.data(), t.size());
      p->len = static_cast<uint32_t>(t.size());
      uint8_t* ip = p->data + net::kEthHeaderLen;
      uint32_t dst = destinations_[next_dst_];
      if (++next_dst_ == destinations_.size()) next_dst_ = 0;
      const uint32_t src = dst + 1;
      store_be32(ip + 12, src);
      store_be32(ip + 16, dst);
      // The templates' checksums were computed with zero addresses.
      uint32_t sum = static_cast<uint16_t>(~load_be16(ip + 10)) + (dst >> 16) + (dst & 0xffff) + (src >> 16) + (src & 0xffff);
      store_be16(ip + 10, static_cast<uint16_t>(~net::checksum_fold(sum)));
      pkts[n++] = p;
      generated_++;
    }
    generated_out_.store(generated_, std::memory_order_relaxed);
    return n;
  }

  uint32_t tx_burst(Packet* const* pkts, uint32_t n) override {
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < n; i++) bytes += pkts[i]->len;
    received_.store(received_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    received_bytes_.store(received_bytes_.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
    return n;
  }

  uint64_t generated() const { return generated_out_.load(std::memory_order_relaxed); }
  uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  uint64_t received_bytes() const { return received_bytes_.load(std::memory_order_relaxed); }

 private:
  std::vector<std::vector<uint8_t>> templates_;
  std::vector<uint32_t> destinations_;
  size_t next_ = 0;
  size_t next_dst_ = 0;
  uint64_t budget_;
  uint64_t generated_ = 0;
  alignas(64) std::atomic<uint64_t> generated_out_{0};
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> received_bytes_{0};
};

}  // namespace vitesse
