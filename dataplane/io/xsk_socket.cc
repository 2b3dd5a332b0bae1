#include "io/xsk_socket.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <new>
#include <type_traits>
#include <stdexcept>

#include "io/interface.h"
#include "packet.h"

namespace {
constexpr int kBusyWaitMs = 2000;
}  // namespace

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9  // Linux 6.17 (include/uapi/linux/if_xdp.h)
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

namespace vitesse {

Umem::Umem(uint32_t frames, uint32_t frame_size)
    : bytes_(static_cast<size_t>(frames) * frame_size), frames_(frames), frame_size_(frame_size) {
  void* m = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  base_ = static_cast<uint8_t*>(m);
}

Umem::~Umem() { munmap(base_, bytes_); }

XskSocket::XskSocket(const Target& at) : at_(at) {
  fd_ = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw error("opening an XDP socket", errno);
}

XskSocket::~XskSocket() {
  if (rx.map) munmap(rx.map, rx.map_len);
  if (tx.map) munmap(tx.map, tx.map_len);
  if (fill.map) munmap(fill.map, fill.map_len);
  if (completion.map) munmap(completion.map, completion.map_len);
  if (fd_ >= 0) close(fd_);
}

std::runtime_error XskSocket::error(const std::string& what, int err) const {
  return io_errno("af-xdp", at_.ifname, "queue " + std::to_string(at_.queue) + ": " + what, err);
}

std::unique_ptr<XskSocket> XskSocket::owner(const Target& at, const Umem& umem, XskRingSizes sizes) {
  std::unique_ptr<XskSocket> s(new XskSocket(at));
  xdp_umem_reg reg{};
  reg.addr = reinterpret_cast<uintptr_t>(umem.base());
  reg.len = umem.bytes();
  reg.chunk_size = umem.frame_size();
  reg.headroom = 0;
  if (setsockopt(s->fd_, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg) != 0) throw s->error("registering the UMEM", errno);
  s->map_rings(sizes);
  // Copy mode sends at most the budget per kick (default 32) and says
  // EAGAIN while more wait: a budget of a few bursts makes one kick per
  // burst enough. The kernel takes 32 up to the TX ring's size.
  if (sizes.tx) {
    uint32_t budget = sizes.tx < 4 * kBatch ? sizes.tx : 4 * kBatch;
    if (setsockopt(s->fd_, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &budget, sizeof budget) == 0) s->tx_budget_ = budget;
  }
  return s;
}

std::unique_ptr<XskSocket> XskSocket::sharing(const Target& at, const XskSocket& owner, uint32_t rx_size) {
  std::unique_ptr<XskSocket> s(new XskSocket(at));
  XskRingSizes sizes;
  sizes.rx = rx_size;
  s->map_rings(sizes);
  sockaddr_xdp sa{};
  sa.sxdp_family = AF_XDP;
  sa.sxdp_ifindex = static_cast<uint32_t>(at.ifindex);
  sa.sxdp_queue_id = at.queue;
  sa.sxdp_flags = XDP_SHARED_UMEM;  // the kernel takes no other flag with it
  sa.sxdp_shared_umem_fd = static_cast<uint32_t>(owner.fd());
  if (::bind(s->fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    throw s->error("binding a socket sharing queue " + std::to_string(at.queue) + "'s UMEM", errno);
  }
  s->zero_copy_ = owner.zero_copy();
  return s;
}

void XskSocket::map_rings(XskRingSizes sizes) {
  auto size_ring = [&](int opt, uint32_t n, const char* what) {
    if (n && setsockopt(fd_, SOL_XDP, opt, &n, sizeof n) != 0) throw error(std::string("sizing the ") + what, errno);
  };
  size_ring(XDP_UMEM_FILL_RING, sizes.fill, "fill ring");
  size_ring(XDP_UMEM_COMPLETION_RING, sizes.completion, "completion ring");
  size_ring(XDP_RX_RING, sizes.rx, "RX ring");
  size_ring(XDP_TX_RING, sizes.tx, "TX ring");

  xdp_mmap_offsets off{};
  socklen_t len = sizeof off;
  if (getsockopt(fd_, SOL_XDP, XDP_MMAP_OFFSETS, &off, &len) != 0) throw error("XDP_MMAP_OFFSETS", errno);

  auto map = [&](auto& ring, const xdp_ring_offset& o, uint32_t n, off_t pgoff, const char* what) {
    if (!n) return;
    using Entry = std::remove_reference_t<decltype(*ring.entries)>;
    ring.map_len = o.desc + n * sizeof(Entry);
    void* m = mmap(nullptr, ring.map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, pgoff);
    if (m == MAP_FAILED) throw error(std::string("mapping the ") + what, errno);
    auto* b = static_cast<uint8_t*>(m);
    ring.map = m;
    ring.producer = reinterpret_cast<uint32_t*>(b + o.producer);
    ring.consumer = reinterpret_cast<uint32_t*>(b + o.consumer);
    ring.flags = reinterpret_cast<uint32_t*>(b + o.flags);
    ring.entries = reinterpret_cast<Entry*>(b + o.desc);
    ring.size = n;
    ring.mask = n - 1;
    ring.cached_prod = *ring.producer;
    ring.cached_cons = *ring.consumer;
  };
  map(fill, off.fr, sizes.fill, XDP_UMEM_PGOFF_FILL_RING, "fill ring");
  map(completion, off.cr, sizes.completion, XDP_UMEM_PGOFF_COMPLETION_RING, "completion ring");
  map(rx, off.rx, sizes.rx, XDP_PGOFF_RX_RING, "RX ring");
  map(tx, off.tx, sizes.tx, XDP_PGOFF_TX_RING, "TX ring");
}

bool XskSocket::prefer_busy_poll() {
  int one = 1, usecs = 20, budget = static_cast<int>(kBatch);
  return setsockopt(fd_, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof one) == 0 &&
         setsockopt(fd_, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof usecs) == 0 &&
         setsockopt(fd_, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof budget) == 0;
}

void XskSocket::bind(XskBind how) {
  sockaddr_xdp sa{};
  sa.sxdp_family = AF_XDP;
  sa.sxdp_ifindex = static_cast<uint32_t>(at_.ifindex);
  sa.sxdp_queue_id = at_.queue;
  // No mode flag: the kernel tries zero-copy and falls back to copy.
  sa.sxdp_flags = XDP_USE_NEED_WAKEUP | (how == XskBind::copy ? XDP_COPY : how == XskBind::zero_copy ? XDP_ZEROCOPY : 0);
  // The kernel lets go of a closed socket's queue in deferred work, so a
  // queue closed a moment ago can still be busy: wait for it a little.
  int rc, e = 0;
  for (int waited_ms = 0; (rc = ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa)) != 0; waited_ms++) {
    e = errno;
    if (e != EBUSY || waited_ms >= kBusyWaitMs) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (rc != 0) {
    std::string what = "binding to queue " + std::to_string(at_.queue);
    if (e == EBUSY) what += " (another XDP socket holds it)";
    if (how == XskBind::zero_copy && (e == EOPNOTSUPP || e == EINVAL)) what += " in zero-copy mode (not supported by the driver; use xdp_bind copy)";
    throw error(what, e);
  }
  xdp_options opts{};
  socklen_t len = sizeof opts;
  if (getsockopt(fd_, SOL_XDP, XDP_OPTIONS, &opts, &len) == 0) zero_copy_ = opts.flags & XDP_OPTIONS_ZEROCOPY;
}

}  // namespace vitesse
