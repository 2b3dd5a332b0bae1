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
  SyntheticLink(const std::vector<std::vector<uint8_t>>& templates, const std::vector<uint32_t>& destinations,
                uint64_t budget)
      : budget_(budget) {
    for (const auto& t : templates) {
      Template x;
      // Padded to a whole 64 octets: a short frame is one constant-size
      // copy, where a memcpy of its length was a libc call (37 instructions).
      x.bytes.assign((t.size() + 63) / 64 * 64, 0);
      std::memcpy(x.bytes.data(), t.data(), t.size());
      x.len = static_cast<uint32_t>(t.size());
      // The templates' checksums were computed with zero addresses.
      x.checksum_base = static_cast<uint16_t>(~load_be16(t.data() + net::kEthHeaderLen + 10));
      templates_.push_back(std::move(x));
    }
    for (uint32_t dst : destinations) {
      const uint32_t src = dst + 1;
      destinations_.push_back({dst, src, (dst >> 16) + (dst & 0xffff) + (src >> 16) + (src & 0xffff)});
    }
  }

  uint32_t rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) override {
    uint32_t n = 0;
    while (n < max && generated_ < budget_) {
      Packet* p = pool.alloc();
      if (!p) break;
      const Template& t = templates_[next_];
      if (++next_ == templates_.size()) next_ = 0;
      if (t.len <= 64) std::memcpy(p->data, t.bytes.data(), 64);
      else std::memcpy(p->data, t.bytes.data(), t.len);
      p->len = t.len;
      uint8_t* ip = p->data + net::kEthHeaderLen;
      const Destination& d = destinations_[next_dst_];
      if (++next_dst_ == destinations_.size()) next_dst_ = 0;
      store_be32(ip + 12, d.src);
      store_be32(ip + 16, d.dst);
      store_be16(ip + 10, static_cast<uint16_t>(~net::checksum_fold(t.checksum_base + d.checksum_part)));
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
  struct Template {
    std::vector<uint8_t> bytes;  // the frame, zero-padded to a multiple of 64 octets
    uint32_t len = 0;
    uint32_t checksum_base = 0;  // the one's complement sum of the header with zero addresses
  };
  struct Destination {
    uint32_t dst, src;
    uint32_t checksum_part;  // the addresses' 16-bit words, summed
  };
  std::vector<Template> templates_;
  std::vector<Destination> destinations_;
  size_t next_ = 0;
  size_t next_dst_ = 0;
  uint64_t budget_;
  uint64_t generated_ = 0;
  alignas(64) std::atomic<uint64_t> generated_out_{0};
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> received_bytes_{0};
};

}  // namespace vitesse
