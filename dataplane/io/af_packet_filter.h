// Destination steering for af-packet on a public interface: each queue's
// socket carries a classic BPF filter that accepts only the frames its queue
// owns: IPv4/IPv6 to its own address, and for queue 0 also everything that is
// addressed to no queue (ARP, neighbour discovery, multicast), so the control
// plane sees it. The kernel runs every queue's filter on every frame (no
// fanout group), which costs a few instructions per queue but stays right
// whatever order the queues' sockets are opened, closed and reopened in.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

#include "io/queue_address.h"

namespace vitesse {

std::vector<sock_filter> destination_filter(const std::vector<QueueAddress>& addresses, uint32_t queue);

}  // namespace vitesse
