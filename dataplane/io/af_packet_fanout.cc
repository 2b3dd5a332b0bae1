#include "io/af_packet_fanout.h"

#include <linux/if_packet.h>
#include <sys/socket.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <utility>

#include "io/interface.h"

namespace vitesse {

namespace {

struct Group {
  uint16_t id;
  uint32_t members;
};

std::mutex groups_mu;
std::map<std::pair<uint64_t, int>, Group> groups;  // (netns, ifindex) → group

constexpr int kMode = PACKET_FANOUT_HASH;

}  // namespace

void FanoutMembership::join(int fd, uint64_t netns, int ifindex, const std::string& ifname) {
  std::lock_guard lock(groups_mu);
  auto key = std::make_pair(netns, ifindex);
  auto it = groups.find(key);
  if (it != groups.end()) {
    int arg = it->second.id | (kMode << 16);
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0) {
      throw io_errno("af-packet", ifname, "joining fanout group " + std::to_string(it->second.id), errno);
    }
    it->second.members++;
  } else {
    int arg = (kMode | PACKET_FANOUT_FLAG_UNIQUEID) << 16;  // id 0: the kernel picks one
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0) {
      throw io_errno("af-packet", ifname, "creating a fanout group", errno);
    }
    int got = 0;
    socklen_t len = sizeof got;
    if (getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &got, &len) != 0) {
      throw io_errno("af-packet", ifname, "reading the fanout group id", errno);
    }
    groups[key] = Group{static_cast<uint16_t>(got & 0xffff), 1};
  }
  netns_ = netns;
  ifindex_ = ifindex;
  joined_ = true;
}

void FanoutMembership::leave() {
  if (!joined_) return;
  std::lock_guard lock(groups_mu);
  auto it = groups.find({netns_, ifindex_});
  if (it != groups.end() && --it->second.members == 0) groups.erase(it);
  joined_ = false;
}

}  // namespace vitesse
