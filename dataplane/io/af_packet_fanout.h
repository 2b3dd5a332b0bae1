// Several af-packet queues on one private interface share the received flows
// through a PACKET_FANOUT group in hash mode (the kernel's symmetric flow
// hash, so both directions of a flow land on one queue). The first socket
// asks the kernel for a fresh group id; the other queues of the interface
// join that id. This process-wide table remembers it per (network namespace,
// interface) while any of its sockets is open.
#pragma once

#include <cstdint>
#include <string>

namespace vitesse {

class FanoutMembership {
 public:
  FanoutMembership() = default;
  ~FanoutMembership() { leave(); }
  FanoutMembership(const FanoutMembership&) = delete;
  FanoutMembership& operator=(const FanoutMembership&) = delete;

  // Joins the bound packet socket `fd` to the interface's group. Throws
  // std::runtime_error ("af-packet: eth1: joining the fanout group: ...").
  void join(int fd, uint64_t netns, int ifindex, const std::string& ifname);
  // Forgets this membership (call after closing the socket).
  void leave();

 private:
  uint64_t netns_ = 0;
  int ifindex_ = 0;
  bool joined_ = false;
};

}  // namespace vitesse
