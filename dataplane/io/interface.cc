#include "io/interface.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <vector>

namespace vitesse {

namespace {

// Whether the ethtool feature named `name` is active: its bit is found by
// name (ETHTOOL_GSTRINGS of the feature set), since the numbering of
// NETIF_F_* bits is the kernel's own and changes between versions.
bool feature_active(int fd, ifreq& req, const char* name) {
  alignas(ethtool_sset_info) uint8_t sset_buf[sizeof(ethtool_sset_info) + sizeof(uint32_t)] = {};
  auto* sset = reinterpret_cast<ethtool_sset_info*>(sset_buf);
  sset->cmd = ETHTOOL_GSSET_INFO;
  sset->sset_mask = 1ULL << ETH_SS_FEATURES;
  req.ifr_data = reinterpret_cast<char*>(sset);
  if (ioctl(fd, SIOCETHTOOL, &req) != 0 || !(sset->sset_mask & (1ULL << ETH_SS_FEATURES))) return false;
  const uint32_t n = sset->data[0];
  if (n == 0 || n > 4096) return false;
  std::vector<uint8_t> strings(sizeof(ethtool_gstrings) + static_cast<size_t>(n) * ETH_GSTRING_LEN);
  auto* gs = reinterpret_cast<ethtool_gstrings*>(strings.data());
  gs->cmd = ETHTOOL_GSTRINGS;
  gs->string_set = ETH_SS_FEATURES;
  gs->len = n;
  req.ifr_data = reinterpret_cast<char*>(gs);
  if (ioctl(fd, SIOCETHTOOL, &req) != 0) return false;
  uint32_t bit = n;
  for (uint32_t i = 0; i < n; i++) {
    if (std::strncmp(reinterpret_cast<const char*>(gs->data) + i * ETH_GSTRING_LEN, name, ETH_GSTRING_LEN) == 0) {
      bit = i;
      break;
    }
  }
  if (bit == n) return false;
  const uint32_t blocks = (n + 31) / 32;
  std::vector<uint8_t> feats(sizeof(ethtool_gfeatures) + blocks * sizeof(ethtool_get_features_block));
  auto* gf = reinterpret_cast<ethtool_gfeatures*>(feats.data());
  gf->cmd = ETHTOOL_GFEATURES;
  gf->size = blocks;
  req.ifr_data = reinterpret_cast<char*>(gf);
  if (ioctl(fd, SIOCETHTOOL, &req) != 0) return false;
  return (gf->features[bit / 32].active >> (bit % 32)) & 1;
}

}  // namespace

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
  itf.udp_segmentation = feature_active(fd, req, "tx-udp-segmentation");
  close(fd);
  return itf;
}

}  // namespace vitesse
