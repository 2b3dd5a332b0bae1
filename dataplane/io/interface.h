// What the socket drivers need to know about a network interface, looked up
// in the calling thread's network namespace (ioctl, not sysfs: /sys shows the
// namespace it was mounted in, not the thread's), and the one way they word
// errors: "<driver>: <interface>: <what>".
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace vitesse {

struct Interface {
  std::string name;
  int index = 0;
  uint32_t mtu = 0;
  uint32_t rx_queues = 1;  // queues in use (ethtool channels); 1 if the driver does not say
  uint32_t tx_queues = 1;
  // The interface takes TCP super-frames to segment itself (ETHTOOL_GTSO:
  // any TSO feature on), so af-packet may hand it coalesced ones.
  bool tso = false;
  // The interface takes UDP super-frames to segment itself (the ethtool
  // feature "tx-udp-segmentation"), so af-packet may hand it coalesced ESP
  // in UDP (io/udp_gso_coalesce.h).
  bool udp_segmentation = false;
};

// Throws "<driver>: interface "<name>" not found" and the like.
Interface find_interface(const std::string& driver, const std::string& ifname);

std::runtime_error io_error(const std::string& driver, const std::string& ifname, const std::string& what);
// The same, with strerror(err) and a hint when err says we lack privileges.
std::runtime_error io_errno(const std::string& driver, const std::string& ifname, const std::string& what, int err);

}  // namespace vitesse
