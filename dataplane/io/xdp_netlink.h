// Attaching an XDP program to an interface, and finding which one is
// attached, over rtnetlink (RTM_SETLINK / RTM_GETLINK with IFLA_XDP). A
// program attached this way stays after its process dies; the af-xdp driver
// detaches its own on close and replaces one a killed process left behind.
//
// The netlink socket is opened once, in the interface's network namespace,
// and kept: whichever thread later detaches the program talks to the right
// namespace.
#pragma once

#include <cstdint>
#include <string>

namespace vitesse {

struct XdpAttached {
  uint32_t prog_id = 0;  // 0: none
  uint32_t mode = 0;     // XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE or XDP_FLAGS_HW_MODE
};

class XdpNetlink {
 public:
  // Opens a route netlink socket in the calling thread's namespace. Throws.
  XdpNetlink();
  ~XdpNetlink();
  XdpNetlink(const XdpNetlink&) = delete;
  XdpNetlink& operator=(const XdpNetlink&) = delete;

  // Throws std::runtime_error if the interface cannot be asked.
  XdpAttached query(int ifindex);

  // Attaches `prog` in `mode` (an XDP_FLAGS_*_MODE flag). If `expected` is a
  // program descriptor, atomically replaces that program and nothing else;
  // otherwise attaches only if no program is attached. Detaches when prog is
  // -1. Returns 0, or -errno with the kernel's explanation in *why when it
  // gave one.
  int set(int ifindex, int prog, uint32_t mode, int expected, std::string* why);

 private:
  struct Request;
  template <typename F>
  int transact(Request& req, std::string* why, F&& on);

  int fd_;
  uint32_t seq_ = 0;
};

}  // namespace vitesse
