#include "io/xdp_netlink.h"

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace vitesse {

namespace {

template <typename F>
void each_attr(const uint8_t* p, const uint8_t* end, F&& f) {
  while (p + NLA_HDRLEN <= end) {
    auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end) break;
    f(static_cast<uint16_t>(a->nla_type & NLA_TYPE_MASK), p + NLA_HDRLEN, static_cast<size_t>(a->nla_len - NLA_HDRLEN));
    p += NLA_ALIGN(a->nla_len);
  }
}

uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The kernel's error string (NLMSGERR_ATTR_MSG), when it sent one.
std::string ext_ack_message(const nlmsghdr* h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  size_t off = sizeof(nlmsgerr);
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len - sizeof(nlmsghdr);
  const uint8_t* p = static_cast<const uint8_t*>(NLMSG_DATA(h)) + NLMSG_ALIGN(off);
  const uint8_t* end = reinterpret_cast<const uint8_t*>(h) + h->nlmsg_len;
  std::string msg;
  each_attr(p, end, [&](uint16_t type, const uint8_t* v, size_t len) {
    if (type == NLMSGERR_ATTR_MSG) msg.assign(reinterpret_cast<const char*>(v), strnlen(reinterpret_cast<const char*>(v), len));
  });
  return msg;
}

}  // namespace

// A request: header, ifinfomsg and a few attributes, built in place.
struct XdpNetlink::Request {
  alignas(NLMSG_ALIGNTO) uint8_t buf[256]{};
  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf); }

  Request(uint16_t type, uint16_t flags, int ifindex) {
    hdr()->nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
    hdr()->nlmsg_type = type;
    hdr()->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
    auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(hdr()));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;
  }
  nlattr* put(uint16_t type, const void* data, uint16_t len) {
    auto* a = reinterpret_cast<nlattr*>(buf + NLMSG_ALIGN(hdr()->nlmsg_len));
    a->nla_type = type;
    a->nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
    if (len) std::memcpy(reinterpret_cast<uint8_t*>(a) + NLA_HDRLEN, data, len);
    hdr()->nlmsg_len = NLMSG_ALIGN(hdr()->nlmsg_len) + NLA_ALIGN(a->nla_len);
    return a;
  }
  void end_nest(nlattr* nest) {
    nest->nla_len = static_cast<uint16_t>(buf + hdr()->nlmsg_len - reinterpret_cast<uint8_t*>(nest));
  }
};

XdpNetlink::XdpNetlink() {
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) throw std::runtime_error(std::string("netlink: socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);  // error strings, where the kernel has them
  setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
}

XdpNetlink::~XdpNetlink() { close(fd_); }

// Sends the request and hands each reply message to `on` until the ack, or
// until `on` returns true. Returns 0 or -errno.
template <typename F>
int XdpNetlink::transact(Request& req, std::string* why, F&& on) {
  req.hdr()->nlmsg_seq = ++seq_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_, req.buf, req.hdr()->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) return -errno;
  std::vector<uint8_t> buf(1 << 16);
  for (;;) {
    ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq_) continue;  // a late answer to an earlier request
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        if (e->error != 0 && why) *why = ext_ack_message(h);
        return e->error;
      }
      if (h->nlmsg_type == NLMSG_DONE || on(h)) return 0;
    }
  }
}

XdpAttached XdpNetlink::query(int ifindex) {
  Request req(RTM_GETLINK, 0, ifindex);
  XdpAttached out;
  int err = transact(req, nullptr, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWLINK) return false;
    const uint8_t* p = static_cast<const uint8_t*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(ifinfomsg));
    const uint8_t* end = reinterpret_cast<const uint8_t*>(h) + h->nlmsg_len;
    each_attr(p, end, [&](uint16_t type, const uint8_t* v, size_t len) {
      if (type != IFLA_XDP) return;
      each_attr(v, v + len, [&](uint16_t t, const uint8_t* x, size_t l) {
        if (l < 4) return;
        if (t == IFLA_XDP_DRV_PROG_ID && u32_at(x)) out = {u32_at(x), XDP_FLAGS_DRV_MODE};
        if (t == IFLA_XDP_SKB_PROG_ID && u32_at(x)) out = {u32_at(x), XDP_FLAGS_SKB_MODE};
        if (t == IFLA_XDP_HW_PROG_ID && u32_at(x)) out = {u32_at(x), XDP_FLAGS_HW_MODE};
      });
    });
    return true;
  });
  if (err < 0) throw std::runtime_error(std::string("netlink: asking which XDP program is attached: ") + std::strerror(-err));
  return out;
}

int XdpNetlink::set(int ifindex, int prog, uint32_t mode, int expected, std::string* why) {
  Request req(RTM_SETLINK, NLM_F_ACK, ifindex);
  nlattr* nest = req.put(IFLA_XDP | NLA_F_NESTED, nullptr, 0);
  int32_t fd = prog;
  uint32_t flags = mode | (expected >= 0 ? XDP_FLAGS_REPLACE : (prog >= 0 ? XDP_FLAGS_UPDATE_IF_NOEXIST : 0));
  req.put(IFLA_XDP_FD, &fd, sizeof fd);
  req.put(IFLA_XDP_FLAGS, &flags, sizeof flags);
  if (expected >= 0) {
    int32_t e = expected;
    req.put(IFLA_XDP_EXPECTED_FD, &e, sizeof e);
  }
  req.end_nest(nest);
  return transact(req, why, [](const nlmsghdr*) { return false; });
}

}  // namespace vitesse
