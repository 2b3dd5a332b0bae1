#include "io/af_xdp_link.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace vitesse {

namespace {
// Copy mode sends at most the socket's TX budget per kick (32 before Linux
// 6.17, XskSocket::tx_budget) and says EAGAIN while more wait; a burst of
// kBatch may then need a few kicks.
constexpr int kMaxKicks = kBatch / 32 + 2;
// Frames go back to the fill ring in batches of at least this many: one
// producer update (a cache line the kernel reads) per batch, not per burst.
// The ring holds thousands, so holding back fewer than a batch costs nothing.
constexpr size_t kRestockBatch = kBatch;
}  // namespace

AfXdpLink::AfXdpLink(const LinkSpec& spec) : group_(XskGroup::open(spec)), queue_(spec.queue) {
  q_ = &group_->queue(queue_);
  umem_ = q_->umem->base();
  frame_size_ = group_->frame_size();
  chunk_mask_ = ~uint64_t{frame_size_ - 1};
}

AfXdpLink::~AfXdpLink() { group_->close(queue_); }

uint32_t AfXdpLink::receive(XskRing<xdp_desc>& rx, const uint8_t* umem, PacketPool& pool, Packet** pkts, uint32_t max,
                            uint64_t* addrs, uint64_t* bytes) {
  uint32_t k = rx.ready(max);
  if (k > pool.available()) k = static_cast<uint32_t>(pool.available());
  for (uint32_t i = 0; i < k; i++) {
    const xdp_desc& d = rx.at(rx.cached_cons + i);
    Packet* p = pool.alloc();
    std::memcpy(p->data, umem + d.addr, d.len);  // d.len <= frame size < kMaxFrame
    p->len = d.len;
    pkts[i] = p;
    addrs[i] = d.addr & chunk_mask_;
    *bytes += d.len;
  }
  rx.release(k);
  return k;
}

uint32_t AfXdpLink::rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) {
  XskGroup::Queue& q = *q_;
  uint64_t bytes = 0;
  if (max > kBatch) max = kBatch;
  // Home first on one burst, a guest first on the next, and so on: a busy
  // home ring must not starve the guests (whose frames other queues' fill
  // rings wait for).
  const uint32_t sockets = 1 + static_cast<uint32_t>(q.guests.size());
  if (++first_ >= sockets) first_ = 0;
  uint32_t n = 0;
  for (uint32_t i = 0; i < sockets && n < max; i++) {
    uint32_t s = first_ + i < sockets ? first_ + i : first_ + i - sockets;
    if (s == 0) {
      uint32_t k = receive(q.home->rx, umem_, pool, pkts + n, max - n, addrs_, &bytes);
      q.free_rx.insert(q.free_rx.end(), addrs_, addrs_ + k);  // within reserved capacity: no allocation
      n += k;
    } else {
      XskGroup::Guest& g = q.guests[s - 1];
      uint32_t k = receive(g.socket->rx, g.umem, pool, pkts + n, max - n, addrs_, &bytes);
      if (k) g.back->push(addrs_, k);
      n += k;
    }
  }
  restock();
  // Busy polling: with nothing received, a non-blocking receive lets the
  // kernel run the queue's NAPI in this thread (SO_PREFER_BUSY_POLL) rather
  // than in an interrupt.
  if (n == 0 && q.busy_poll) recvfrom(q.home->fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
  rx_packets_.add(n);
  rx_bytes_.add(bytes);
  return n;
}

void AfXdpLink::restock() {
  XskGroup::Queue& q = *q_;
  for (FrameReturnRing* r : q.returned) {
    uint32_t k = r->pop(addrs_, kBatch);
    q.free_rx.insert(q.free_rx.end(), addrs_, addrs_ + k);
  }
  XskRing<uint64_t>& fill = q.home->fill;
  if (q.free_rx.size() < kRestockBatch) return;
  uint32_t k = fill.free_slots(static_cast<uint32_t>(q.free_rx.size()));
  if (k == 0) return;
  for (uint32_t i = 0; i < k; i++) {
    fill.at(fill.cached_prod + i) = q.free_rx.back();
    q.free_rx.pop_back();
  }
  fill.submit(k);
  // The kernel asks for a wake-up when it found the fill ring empty; only
  // frames just given can answer it, so the flag (a line the kernel writes)
  // is read after a restock, not on every poll.
  if (fill.needs_wakeup()) recvfrom(q.home->fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
}

void AfXdpLink::reclaim() {
  XskGroup::Queue& q = *q_;
  XskRing<uint64_t>& c = q.home->completion;
  uint32_t k = c.ready(c.size);
  for (uint32_t i = 0; i < k; i++) q.free_tx.push_back(c.at(c.cached_cons + i) & chunk_mask_);
  c.release(k);
}

void AfXdpLink::kick_tx() {
  XskGroup::Queue& q = *q_;
  XskRing<xdp_desc>& tx = q.home->tx;
  if (q.home->zero_copy() && !tx.needs_wakeup()) return;
  for (int i = 0; i < kMaxKicks; i++) {
    if (sendto(q.home->fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) return;
    if (errno != EAGAIN && errno != EBUSY) {
      tx_errors_.add(1);  // e.g. ENETDOWN, ENXIO: the interface went away
      return;
    }
    reclaim();  // EAGAIN may mean a full completion ring
    if (std::atomic_ref<uint32_t>(*tx.consumer).load(std::memory_order_acquire) == tx.cached_prod) return;
  }
}

uint32_t AfXdpLink::tx_burst(Packet* const* pkts, uint32_t n) {
  XskGroup::Queue& q = *q_;
  reclaim();
  XskRing<xdp_desc>& tx = q.home->tx;
  uint32_t room = tx.free_slots(n);
  if (room > q.free_tx.size()) room = static_cast<uint32_t>(q.free_tx.size());
  uint32_t taken = 0, queued = 0;
  uint64_t bytes = 0;
  for (; taken < n && queued < room; taken++) {
    const Packet* p = pkts[taken];
    if (p->len > frame_size_) {
      tx_oversize_.add(1);  // taken, and dropped with a reason
      continue;
    }
    uint64_t addr = q.free_tx.back();
    q.free_tx.pop_back();
    std::memcpy(umem_ + addr, p->data, p->len);
    xdp_desc& d = tx.at(tx.cached_prod + queued);
    d.addr = addr;
    d.len = p->len;
    d.options = 0;
    queued++;
    bytes += p->len;
  }
  if (taken < n) tx_no_room_.add(n - taken);
  if (queued) {
    tx.submit(queued);
    kick_tx();
  }
  tx_packets_.add(queued);
  tx_bytes_.add(bytes);
  return taken;
}

std::vector<Link::Counter> AfXdpLink::counters() const {
  xdp_statistics sum{};
  auto add = [&](const XskSocket& s) {
    xdp_statistics st{};
    socklen_t len = sizeof st;
    if (getsockopt(s.fd(), SOL_XDP, XDP_STATISTICS, &st, &len) != 0) return;
    sum.rx_dropped += st.rx_dropped;
    sum.rx_invalid_descs += st.rx_invalid_descs;
    sum.tx_invalid_descs += st.tx_invalid_descs;
    sum.rx_ring_full += st.rx_ring_full;
    sum.rx_fill_ring_empty_descs += st.rx_fill_ring_empty_descs;
    sum.tx_ring_empty_descs += st.tx_ring_empty_descs;
  };
  add(*q_->home);
  for (const auto& g : q_->guests) add(*g.socket);
  return {
      {"rx_packets", rx_packets_.get()},
      {"rx_bytes", rx_bytes_.get()},
      {"rx_kernel_drops", sum.rx_dropped},  // e.g. a frame larger than a UMEM frame
      {"rx_ring_full", sum.rx_ring_full},
      {"rx_fill_ring_empty", sum.rx_fill_ring_empty_descs},
      {"rx_invalid_descs", sum.rx_invalid_descs},
      {"tx_packets", tx_packets_.get()},
      {"tx_bytes", tx_bytes_.get()},
      {"tx_oversize", tx_oversize_.get()},
      {"tx_no_room", tx_no_room_.get()},
      {"tx_errors", tx_errors_.get()},
      {"tx_invalid_descs", sum.tx_invalid_descs},
      {"xdp_native", group_->native() ? 1u : 0u},
      {"zero_copy", q_->home->zero_copy() ? 1u : 0u},
      {"tx_budget", q_->home->tx_budget()},
      {"busy_poll", q_->busy_poll ? 1u : 0u},
  };
}

}  // namespace vitesse
