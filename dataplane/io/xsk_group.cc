#include "io/xsk_group.h"

#include <linux/if_link.h>
#include <sys/epoll.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "io/netns.h"
#include "io/queue_address.h"

namespace vitesse {

namespace {

const std::string kDriver = "af-xdp";

// Groups by (network namespace, ifindex). A group being destroyed keeps its
// entry until its sockets are closed and its program detached (its deleter
// erases the entry under the same lock), so a new group for the interface is
// never built while the old one still holds the queues.
std::mutex groups_mu;
std::map<std::pair<uint64_t, int>, std::weak_ptr<XskGroup>> groups;

XskBind parse_bind(const LinkSpec& spec) {
  if (spec.xdp_bind.empty() || spec.xdp_bind == "auto") return XskBind::automatic;
  if (spec.xdp_bind == "copy") return XskBind::copy;
  if (spec.xdp_bind == "zero-copy") return XskBind::zero_copy;
  throw io_error(kDriver, spec.ifname, "xdp_bind \"" + spec.xdp_bind + "\": want \"auto\", \"copy\" or \"zero-copy\"");
}

std::vector<uint32_t> parse_modes(const LinkSpec& spec) {
  if (spec.xdp_mode.empty() || spec.xdp_mode == "auto") return {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
  if (spec.xdp_mode == "native") return {XDP_FLAGS_DRV_MODE};
  if (spec.xdp_mode == "generic") return {XDP_FLAGS_SKB_MODE};
  throw io_error(kDriver, spec.ifname, "xdp_mode \"" + spec.xdp_mode + "\": want \"auto\", \"native\" or \"generic\"");
}

// Ethernet header, a VLAN tag, and the MTU's worth of payload.
uint32_t frame_size_for(const LinkSpec& spec, const Interface& itf) {
  const uint32_t largest = itf.mtu + 18;
  for (uint32_t size : {2048u, 4096u}) {
    if (largest <= size - XskGroup::kRxHeadroom) return size;
  }
  throw io_error(kDriver, spec.ifname,
                 "MTU " + std::to_string(itf.mtu) + " is too large for XDP sockets without multi-buffer frames (at most " +
                     std::to_string(4096 - XskGroup::kRxHeadroom - 18) + "): lower it, or use af-packet");
}

const char* mode_name(uint32_t mode) {
  return mode == XDP_FLAGS_DRV_MODE ? "native" : mode == XDP_FLAGS_SKB_MODE ? "generic" : "offloaded";
}

}  // namespace

std::shared_ptr<XskGroup> XskGroup::open(const LinkSpec& spec) {
  Interface itf = find_interface(kDriver, spec.ifname);
  parse_bind(spec);
  parse_modes(spec);
  if (spec.queues == 0 || spec.queue >= spec.queues) {
    throw io_error(kDriver, spec.ifname, "queue " + std::to_string(spec.queue) + " out of range (queues = " + std::to_string(spec.queues) + ")");
  }
  if (spec.queues > itf.rx_queues || spec.queues > itf.tx_queues) {
    throw io_error(kDriver, spec.ifname,
                   std::to_string(spec.queues) + " queues wanted, but the interface has " + std::to_string(itf.rx_queues) +
                       " receive and " + std::to_string(itf.tx_queues) +
                       " transmit queues (ethtool -L " + spec.ifname + " combined " + std::to_string(spec.queues) +
                       "; for veth, create it with numrxqueues/numtxqueues)");
  }
  auto key = std::make_pair(current_netns_id(), itf.index);
  for (int waited_ms = 0;; waited_ms++) {
    std::unique_lock lock(groups_mu);
    auto it = groups.find(key);
    if (it == groups.end()) {
      std::shared_ptr<XskGroup> g(new XskGroup(spec, itf), [key](XskGroup* p) {
        std::lock_guard l(groups_mu);
        groups.erase(key);
        delete p;
      });
      groups[key] = g;
      g->queues_[spec.queue].open = true;
      return g;
    }
    if (auto g = it->second.lock()) {
      if (!g->same_setup(spec)) {
        throw io_error(kDriver, spec.ifname,
                       "already open with another setup (queues, steering, addresses, xdp_mode and xdp_bind must "
                       "be the same for every queue of an interface)");
      }
      if (g->queues_[spec.queue].open) throw io_error(kDriver, spec.ifname, "queue " + std::to_string(spec.queue) + " is already open");
      g->drain_stale(spec.queue);
      g->queues_[spec.queue].open = true;
      return g;
    }
    lock.unlock();  // its last holder is tearing it down right now
    if (waited_ms > 5000) throw io_error(kDriver, spec.ifname, "timed out waiting for the previous group to close");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void XskGroup::close(uint32_t queue) {
  std::lock_guard lock(groups_mu);
  queues_[queue].open = false;
}

bool XskGroup::same_setup(const LinkSpec& s) const {
  return s.queues == spec_.queues && s.steer_by_destination == spec_.steer_by_destination &&
         (!s.steer_by_destination || s.queue_addresses == spec_.queue_addresses) && s.xdp_mode == spec_.xdp_mode &&
         s.xdp_bind == spec_.xdp_bind;
}

XskGroup::XskGroup(const LinkSpec& spec, const Interface& itf)
    : spec_(spec),
      itf_(itf),
      steering_(spec.queues, spec.steer_by_destination ? parse_queue_addresses(spec) : std::vector<QueueAddress>{}),
      frame_size_(frame_size_for(spec, itf)) {
  attach();
  try {
    build_queues(mode_ == XDP_FLAGS_SKB_MODE ? XskBind::copy : parse_bind(spec));
  } catch (...) {
    detach();
    throw;
  }
}

XskGroup::~XskGroup() { detach(); }

void XskGroup::attach() {
  const int ifindex = itf_.index;
  XdpAttached current = netlink_.query(ifindex);
  bpf::Fd left_over;
  if (current.prog_id) {
    left_over = bpf::prog_by_id(current.prog_id);
    std::string name = left_over.get() >= 0 ? bpf::prog_name(left_over.get()) : "";
    if (left_over.get() >= 0 && name != XdpSteering::kProgramName) {
      throw io_error(kDriver, itf_.name,
                     "another XDP program is attached (id " + std::to_string(current.prog_id) + ", \"" + name +
                         "\"); detach it first (ip link set dev " + itf_.name + " xdp off) or use af-packet");
    }
    // Ours, left by a process that died without detaching it: replace it.
  }
  std::vector<uint32_t> modes = parse_modes(spec_);
  std::string why;
  int err = 0;
  uint32_t tried = 0;
  for (uint32_t mode : modes) {
    tried = mode;
    int expected = -1;
    if (left_over.get() >= 0) {
      if (current.mode == mode) {
        expected = left_over.get();
      } else {
        // Native and generic programs cannot coexist: take the old one off.
        netlink_.set(ifindex, -1, current.mode, left_over.get(), nullptr);
        left_over.reset();
      }
    }
    why.clear();
    err = netlink_.set(ifindex, steering_.prog(), mode, expected, &why);
    if (err == 0) {
      mode_ = mode;
      return;
    }
    bool no_native = mode == XDP_FLAGS_DRV_MODE && (err == -EOPNOTSUPP || err == -EINVAL);
    if (!no_native) break;  // only "the driver has no native XDP" makes auto try generic
  }
  std::string what = std::string("attaching the XDP program in ") + mode_name(tried) + " mode: " + std::strerror(-err);
  if (!why.empty()) what += " (" + why + ")";
  if (tried == XDP_FLAGS_DRV_MODE && err == -EOPNOTSUPP) what += "; the driver has no native XDP: set xdp_mode to generic, or use af-packet";
  if (err == -EPERM) what += " (not permitted: run as root)";
  if (err == -EBUSY || err == -EEXIST) what += "; another program is attached";
  throw io_error(kDriver, itf_.name, what);
}

void XskGroup::detach() {
  if (!mode_) return;
  // Expecting our own program: if someone replaced it since, theirs stays.
  netlink_.set(itf_.index, -1, mode_, steering_.prog(), nullptr);
  mode_ = 0;
}

void XskGroup::build_queues(XskBind bind) {
  const uint32_t n = spec_.queues;
  const bool guests = spec_.steer_by_destination && n > 1;
  queues_.resize(n);
  if (guests) {
    return_rings_.resize(static_cast<size_t>(n) * n);
    for (uint32_t q = 0; q < n; q++) {
      for (uint32_t r = 0; r < n; r++) {
        if (q != r) return_rings_[q * n + r] = std::make_unique<FrameReturnRing>(kRxFrames);
      }
    }
  }
  auto epoll_add = [&](Queue& queue, int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(queue.epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw io_errno(kDriver, itf_.name, "epoll_ctl", errno);
  };
  auto add_socket = [&](uint32_t slot, int fd) {
    int err = steering_.set_socket(slot, fd);
    if (err < 0) throw io_errno(kDriver, itf_.name, "putting a socket in the XSKMAP", -err);
  };

  for (uint32_t q = 0; q < n; q++) {
    Queue& queue = queues_[q];
    queue.umem = std::make_unique<Umem>(kRxFrames + kTxFrames, frame_size_);
    queue.home = XskSocket::owner({itf_.name, itf_.index, q}, *queue.umem, kHomeRings);
    // Stock the fill ring before binding: a zero-copy driver starts receiving
    // into it at once.
    queue.free_rx.reserve(kRxFrames);
    queue.free_tx.reserve(kTxFrames);
    XskRing<uint64_t>& fill = queue.home->fill;
    uint32_t stocked = fill.free_slots(kRxFrames);
    for (uint32_t i = 0; i < kRxFrames; i++) {
      uint64_t addr = static_cast<uint64_t>(i) * frame_size_;
      if (i < stocked) fill.at(fill.cached_prod + i) = addr;
      else queue.free_rx.push_back(addr);
    }
    fill.submit(stocked);
    for (uint32_t i = 0; i < kTxFrames; i++) queue.free_tx.push_back(static_cast<uint64_t>(kRxFrames + i) * frame_size_);
    queue.home->bind(bind);
    if (spec_.busy_poll) queue.busy_poll = queue.home->prefer_busy_poll();
    queue.epoll = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
    if (queue.epoll.get() < 0) throw io_errno(kDriver, itf_.name, "epoll_create1", errno);
    epoll_add(queue, queue.home->fd());
    add_socket(steering_.slot(q, q), queue.home->fd());
  }
  if (!guests) return;
  for (uint32_t q = 0; q < n; q++) {
    Queue& queue = queues_[q];
    for (uint32_t r = 0; r < n; r++) {
      if (r == q) continue;
      auto s = XskSocket::sharing({itf_.name, itf_.index, r}, *queues_[r].home, kGuestRxRing);
      epoll_add(queue, s->fd());
      add_socket(steering_.slot(r, q), s->fd());
      queue.guests.push_back({std::move(s), r, queues_[r].umem->base(), return_rings_[q * n + r].get()});
      queue.returned.push_back(return_rings_[r * n + q].get());
    }
  }
}

void XskGroup::drain_stale(uint32_t q) {
  // Frames that arrived while the queue was closed are not delivered late.
  Queue& queue = queues_[q];
  uint64_t addrs[64];
  auto drain = [&](XskRing<xdp_desc>& rx, auto&& give_back) {
    for (uint32_t k; (k = rx.ready(64)) > 0;) {
      for (uint32_t i = 0; i < k; i++) addrs[i] = rx.at(rx.cached_cons + i).addr & ~uint64_t{frame_size_ - 1};
      rx.release(k);
      give_back(k);
    }
  };
  drain(queue.home->rx, [&](uint32_t k) { queue.free_rx.insert(queue.free_rx.end(), addrs, addrs + k); });
  for (Guest& g : queue.guests) drain(g.socket->rx, [&](uint32_t k) { g.back->push(addrs, k); });
}

}  // namespace vitesse
