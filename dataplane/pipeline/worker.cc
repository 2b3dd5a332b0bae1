#include "pipeline/worker.h"

namespace vitesse {

namespace {
// Punt and inject rings: the slow path's frames are few, but a burst of ARP or
// key-exchange traffic must not be lost while the control plane is busy.
constexpr size_t kPuntRingBytes = 4u << 20;
constexpr size_t kInjectRingBytes = 1u << 20;
// The control plane needs at most the headers and the start of the payload of
// a punted frame (ICMP errors quote 576/1280 bytes at most).
constexpr uint32_t kPuntMaxBytes = 2048;
}  // namespace

Worker::Worker(uint32_t queue, std::unique_ptr<Link> private_link, std::unique_ptr<Link> public_link,
               size_t pool_packets)
    : queue_(queue),
      private_(std::move(private_link)),
      public_(std::move(public_link)),
      pool_(pool_packets),
      punts_(kPuntRingBytes),
      injects_(kInjectRingBytes) {}

uint32_t Worker::poll(const Tables& t) {
  Packet* pkts[kBatch];
  uint32_t total = 0;
  uint32_t n = private_->rx_burst(pool_, pkts, kBatch);
  if (n) outbound(t, pkts, n);
  total += n;
  n = public_->rx_burst(pool_, pkts, kBatch);
  if (n) inbound(t, pkts, n);
  total += n;
  if (!injects_.empty()) drain_injects(t);
  // Counted per pass, not per frame: with the pool empty, drivers leave
  // frames in their rings (or the kernel drops them), so this says "the
  // worker is out of buffers", not how many frames it cost.
  if (pool_.available() == 0) counters_.add(Counter::rx_buffer_exhausted);
  return total;
}

void Worker::drop(Packet* p, Counter reason) {
  counters_.add(reason);
  pool_.free(p);
}

void Worker::punt(Packet* p, Side side, PuntReason reason) {
  PuntHeader h{static_cast<uint8_t>(side), static_cast<uint8_t>(reason), static_cast<uint16_t>(queue_), p->len};
  uint32_t len = p->len < kPuntMaxBytes ? p->len : kPuntMaxBytes;
  if (punts_.push(&h, sizeof h, p->data, len)) counters_.add(Counter::punted_packets);
  else counters_.add(Counter::punt_ring_drops);
  pool_.free(p);
}

void Worker::transmit(Side side, Packet** pkts, uint32_t n, uint64_t bytes) {
  if (n == 0) return;
  Link& l = link(side);
  uint32_t sent = l.tx_burst(pkts, n);
  if (bytes == UINT64_MAX) {
    bytes = 0;
    for (uint32_t i = 0; i < sent; i++) bytes += pkts[i]->len;
  } else {
    for (uint32_t i = sent; i < n; i++) bytes -= pkts[i]->len;
  }
  if (side == Side::private_side) {
    counters_.add(Counter::private_tx_packets, sent);
    counters_.add(Counter::private_tx_bytes, bytes);
    if (sent < n) counters_.add(Counter::private_tx_ring_full, n - sent);
  } else {
    counters_.add(Counter::public_tx_packets, sent);
    counters_.add(Counter::public_tx_bytes, bytes);
    if (sent < n) counters_.add(Counter::public_tx_ring_full, n - sent);
  }
  pool_.free_burst(pkts, n);
}

void Worker::drain_injects(const Tables& t) {
  // Frames are grouped by (side, mode) in arrival order; a batch is flushed
  // whenever the group changes so their order on the wire is kept.
  Packet* batch[kBatch];
  uint32_t n = 0;
  InjectHeader group{};
  auto flush = [&] {
    if (n == 0) return;
    Side side = static_cast<Side>(group.side);
    if (group.mode == static_cast<uint8_t>(InjectMode::transmit)) transmit(side, batch, n);
    else if (side == Side::private_side) outbound(t, batch, n);
    else inbound(t, batch, n);
    n = 0;
  };
  for (uint32_t budget = kBatch; budget > 0; budget--) {
    uint32_t len;
    const uint8_t* rec = injects_.peek(&len);
    if (!rec) break;
    InjectHeader h{};
    if (len >= sizeof h) std::memcpy(&h, rec, sizeof h);
    uint32_t frame_len = len >= sizeof h ? len - static_cast<uint32_t>(sizeof h) : 0;
    if (len < sizeof h || frame_len > kMaxFrame || h.side > 1 || h.mode > 1) {
      injects_.pop();
      counters_.add(Counter::inject_drops);
      continue;
    }
    if (n > 0 && (h.side != group.side || h.mode != group.mode)) flush();
    Packet* p = pool_.alloc();
    if (!p) break;  // try again on the next pass
    p->assign(rec + sizeof h, frame_len);
    injects_.pop();
    counters_.add(Counter::injected_packets);
    group = h;
    batch[n++] = p;
  }
  flush();
}

}  // namespace vitesse
