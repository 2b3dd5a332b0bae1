#include "io/drivers.h"

#include "io/af_packet_link.h"
#include "io/af_xdp_link.h"
#include "io/interface.h"
#include "io/netns.h"
#include "io/pcap_link.h"

namespace vitesse {

std::unique_ptr<Link> open_link(const LinkSpec& spec) {
  if (spec.driver == "pcap") return std::make_unique<PcapLink>(spec.pcap_in, spec.pcap_out);
  if (spec.driver != "af-packet" && spec.driver != "af-xdp") {
    throw std::runtime_error("unknown driver \"" + spec.driver + "\" (have: af-packet, af-xdp, pcap)");
  }
  if (spec.queues == 0 || spec.queue >= spec.queues) {
    throw io_error(spec.driver, spec.ifname,
                   "queue " + std::to_string(spec.queue) + " out of range (queues = " + std::to_string(spec.queues) + ")");
  }
  // Sockets keep the namespace they are created in: only the opening happens there.
  NetnsScope in(spec.netns);
  if (spec.driver == "af-packet") return std::make_unique<AfPacketLink>(spec);
  return std::make_unique<AfXdpLink>(spec);
}

}  // namespace vitesse
