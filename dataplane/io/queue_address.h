// The addresses the queues of a public interface own (DESIGN.md §2: each
// queue has its own address, so inbound ESP for an SA reaches the queue that
// owns it), in the one form both steering programs (the af-packet socket
// filter and the af-xdp XDP program) compare: 16 bytes, IPv4 mapped into
// IPv6 (::ffff:a.b.c.d).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vitesse {

struct LinkSpec;

struct QueueAddress {
  std::array<uint8_t, 16> bytes{};
  bool v6 = false;
  const uint8_t* v4() const { return bytes.data() + 12; }  // network byte order
};

// spec.queue_addresses, one per queue. Throws std::runtime_error naming the
// bad entry ("af-xdp: eth1: queue_addresses[1]: not an IPv4 or IPv6 address").
std::vector<QueueAddress> parse_queue_addresses(const LinkSpec& spec);

}  // namespace vitesse
