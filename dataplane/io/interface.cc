#include "io/interface.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vitesse {

std::runtime_error io_error(const std::string& driver, const std::string& ifname, const std::string& what) {
  return std::runtime_error(driver + ": " + (ifname.empty() ? "" : ifname + ": ") + what);
}

std::runtime_error io_errno(const std::string& driver, const std::string& ifname, const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == EPERM || err == EACCES) msg += " (not permitted: run as root, or with CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF)";
  return io_error(driver, ifname, msg);
}

Interface find_interface(const std::string& driver, const std::string& ifname) {
  if (ifname.empty()) throw io_error(driver, "", "no interface named (spec.ifname is empty)");
  if (ifname.size() >= IFNAMSIZ) throw io_error(driver, ifname, "interface name longer than " + std::to_string(IFNAMSIZ - 1) + " characters");
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // any socket reaches the interface ioctls
  if (fd < 0) throw io_errno(driver, ifname, "socket", errno);
  Interface itf;
  itf.name = ifname;
  ifreq req{};
  std::memcpy(req.ifr_name, ifname.data(), ifname.size());
  if (ioctl(fd, SIOCGIFINDEX, &req) != 0) {
    int e = errno;
    close(fd);
    if (e == ENODEV) throw io_error(driver, ifname, "interface \"" + ifname + "\" not found");
    throw io_errno(driver, ifname, "looking up the interface", e);
  }
  itf.index = req.ifr_ifindex;
  if (ioctl(fd, SIOCGIFMTU, &req) == 0) itf.mtu = static_cast<uint32_t>(req.ifr_mtu);
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  req.ifr_data = reinterpret_cast<char*>(&ch);
  if (ioctl(fd, SIOCETHTOOL, &req) == 0) {
    uint32_t rx = ch.combined_count + ch.rx_count, tx = ch.combined_count + ch.tx_count;
    if (rx > 0) itf.rx_queues = rx;
    if (tx > 0) itf.tx_queues = tx;
  }
  ethtool_value tso{};
  tso.cmd = ETHTOOL_GTSO;
  req.ifr_data = reinterpret_cast<char*>(&tso);
  itf.tso = ioctl(fd, SIOCETHTOOL, &req) == 0 && tso.data != 0;
  close(fd);
  return itf;
}

}  // namespace vitesse
