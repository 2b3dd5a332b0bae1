#include "io/queue_address.h"

#include <arpa/inet.h>

#include <algorithm>

#include "io/drivers.h"
#include "io/interface.h"

namespace vitesse {

std::vector<QueueAddress> parse_queue_addresses(const LinkSpec& spec) {
  if (spec.queue_addresses.size() != spec.queues) {
    throw io_error(spec.driver, spec.ifname,
                   "steer_by_destination needs one queue address per queue (" + std::to_string(spec.queues) +
                       " queues, " + std::to_string(spec.queue_addresses.size()) + " addresses)");
  }
  std::vector<QueueAddress> out;
  for (size_t i = 0; i < spec.queue_addresses.size(); i++) {
    const std::string& text = spec.queue_addresses[i];
    QueueAddress a;
    if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) {
      a.v6 = true;
    } else if (inet_pton(AF_INET, text.c_str(), a.bytes.data() + 12) == 1) {
      a.bytes[10] = a.bytes[11] = 0xff;
    } else {
      throw io_error(spec.driver, spec.ifname,
                     "queue_addresses[" + std::to_string(i) + "]: not an IPv4 or IPv6 address: \"" + text + "\"");
    }
    auto same = [&](const QueueAddress& b) { return b.bytes == a.bytes; };
    if (std::any_of(out.begin(), out.end(), same)) {
      throw io_error(spec.driver, spec.ifname,
                     "queue_addresses[" + std::to_string(i) + "]: \"" + text + "\" is owned by another queue already");
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace vitesse
