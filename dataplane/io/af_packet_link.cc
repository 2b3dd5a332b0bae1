#include "io/af_packet_link.h"

#include "net/headers.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>

#include "io/af_packet_filter.h"
#include "io/gso.h"
#include "io/gso_coalesce.h"
#include "io/interface.h"
#include "io/netns.h"
#include "io/queue_address.h"

namespace vitesse {

namespace {

// Receive ring: 32 blocks of 256 KiB (8 MiB): room for ~4000 full-size or
// ~60000 minimum-size frames before the kernel must drop.
constexpr uint32_t kRxBlockSize = 1 << 18;
constexpr uint32_t kRxBlocks = 32;
constexpr uint32_t kRxFrameSize = 2048;  // only for the kernel's consistency check
// A partly filled block is handed over after this long: the latency bound
// at low rates.
constexpr uint32_t kRxBlockTimeoutMs = 1;
// Transmit ring: 512 slots, each big enough for one frame at the interface MTU.
constexpr uint32_t kTxSlots = 512;
constexpr uint32_t kTxBlockSize = 1 << 16;
// Where frame data starts in a V3 TX slot (the kernel's tp_hdrlen minus the
// sockaddr_ll it does not expect for TX).
constexpr uint32_t kTxDataOffset = TPACKET_ALIGN(sizeof(tpacket3_hdr));
constexpr uint32_t kVlanTagLen = 4;
// Send buffer with coalescing on: a few bursts' worth of 64 KB super-frames
// (the kernel doubles it for its overhead).
constexpr uint32_t kTxSndBuf = 16u << 20;
// The header in front of every frame sent while PACKET_VNET_HDR is on: no
// offload asked of the kernel.
const uint8_t kNoOffload[gso::kVnetHdrLen] = {};

template <typename T>
T load_acquire(const T& v) { return std::atomic_ref<const T>(v).load(std::memory_order_acquire); }
template <typename T>
void store_release(T& v, T x) { std::atomic_ref<T>(v).store(x, std::memory_order_release); }

// The NIC took the 802.1Q tag out (tp_status says so); put it back where it
// was. The packet has room: frames longer than kMaxFrame - 4 are not read.
void insert_vlan_tag(Packet* p, const tpacket3_hdr* h) {
  uint16_t tpid = htons((h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : ETH_P_8021Q);
  uint16_t tci = htons(static_cast<uint16_t>(h->hv1.tp_vlan_tci));
  std::memmove(p->data + 16, p->data + 12, p->len - 12);
  std::memcpy(p->data + 12, &tpid, 2);
  std::memcpy(p->data + 14, &tci, 2);
  p->len += kVlanTagLen;
}

tpacket_block_desc* block_at(uint8_t* ring, uint32_t size, uint32_t i) {
  return reinterpret_cast<tpacket_block_desc*>(ring + static_cast<size_t>(i) * size);
}

}  // namespace

AfPacketLink::AfPacketLink(const LinkSpec& spec) : ifname_(spec.ifname) {
  const std::string drv = "af-packet";
  Interface itf = find_interface(drv, spec.ifname);
  max_frame_ = std::max<uint32_t>(itf.mtu, 1500) + ETH_HLEN + kVlanTagLen;
  if (spec.tx_method.empty() || spec.tx_method == "sendmmsg") {
    use_tx_ring_ = false;
  } else if (spec.tx_method == "ring") {
    use_tx_ring_ = true;
  } else {
    throw io_error(drv, spec.ifname, "tx_method \"" + spec.tx_method + "\": want \"ring\" or \"sendmmsg\"");
  }
  std::vector<QueueAddress> addresses;
  if (spec.steer_by_destination) addresses = parse_queue_addresses(spec);

  // Protocol 0: the socket receives nothing until bind(), after the filter and
  // ring are in place.
  fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw io_errno(drv, spec.ifname, "opening a packet socket", errno);
  try {
    auto opt = [&](int level, int name, const void* v, socklen_t len, const char* what) {
      if (setsockopt(fd_, level, name, v, len) != 0) throw io_errno(drv, spec.ifname, what, errno);
    };
    int v3 = TPACKET_V3, one = 1;
    opt(SOL_PACKET, PACKET_VERSION, &v3, sizeof v3, "PACKET_VERSION TPACKET_V3");
    // A malformed frame in the TX ring is skipped instead of stopping the ring.
    opt(SOL_PACKET, PACKET_LOSS, &one, sizeof one, "PACKET_LOSS");
    // Before the rings (the kernel refuses it after): super-frames from local
    // stacks come with their segmentation and checksum instructions.
    vnet_ = setsockopt(fd_, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0;
    setup_rings();
    if (spec.qdisc_bypass) opt(SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one, "PACKET_QDISC_BYPASS");
    // Linux 4.20+; before that rx_burst skips outgoing frames itself.
    setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    if (spec.steer_by_destination) {
      std::vector<sock_filter> code = destination_filter(addresses, spec.queue);
      sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
      opt(SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog, "attaching the destination filter");
    }
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = itf.index;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw io_errno(drv, spec.ifname, "binding the packet socket", errno);
    }
    if (spec.queues > 1 && !spec.steer_by_destination) fanout_.join(fd_, current_netns_id(), itf.index, spec.ifname);
  } catch (...) {
    if (map_) munmap(map_, map_len_);
    close(fd_);
    throw;
  }

  for (uint32_t i = 0; i < kBatch; i++) msgs_[i] = mmsghdr{};
  // The kernel segments what the interface cannot: coalescing for it would
  // only move the work.
  tx_gso_ = vnet_ && spec.tx_gso && itf.tso;
  tx_udp_gso_ = vnet_ && spec.tx_gso && spec.tx_udp_gso && itf.udp_segmentation;
  if (tx_gso_ || tx_udp_gso_) {
    // A sent skb is charged to the socket until the next hop's receive
    // orphans it (on a veth: the peer's IP input, often in a softirq run
    // later); a burst of super-frames is up to 64 x 64 KB, far beyond the
    // default send buffer (net.core.wmem_default), which then refuses
    // messages with EAGAIN: counted, but dropped. Root may exceed
    // net.core.wmem_max (SO_SNDBUFFORCE); otherwise as much as it allows.
    int bytes = static_cast<int>(kTxSndBuf);
    if (setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0) {
      setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    }
  }
}

void AfPacketLink::setup_rings() {
  tpacket_req3 rx{};
  rx.tp_block_size = kRxBlockSize;
  rx.tp_block_nr = kRxBlocks;
  rx.tp_frame_size = kRxFrameSize;
  rx.tp_frame_nr = kRxBlockSize / kRxFrameSize * kRxBlocks;
  rx.tp_retire_blk_tov = kRxBlockTimeoutMs;
  if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &rx, sizeof rx) != 0) {
    throw io_errno("af-packet", ifname_, "PACKET_RX_RING", errno);
  }
  rx_block_size_ = kRxBlockSize;
  rx_blocks_ = kRxBlocks;
  size_t rx_bytes = static_cast<size_t>(kRxBlockSize) * kRxBlocks, tx_bytes = 0;

  if (use_tx_ring_) {
    // One frame at the MTU, with Ethernet and VLAN headers, per slot.
    tx_slot_size_ = std::bit_ceil(kTxDataOffset + gso::kVnetHdrLen + max_frame_);
    uint32_t block = std::max(kTxBlockSize, tx_slot_size_);
    tpacket_req3 tx{};
    tx.tp_block_size = block;
    tx.tp_frame_size = tx_slot_size_;
    tx.tp_block_nr = std::max<uint32_t>(1, kTxSlots / (block / tx_slot_size_));
    tx.tp_frame_nr = tx.tp_block_nr * (block / tx_slot_size_);
    if (setsockopt(fd_, SOL_PACKET, PACKET_TX_RING, &tx, sizeof tx) != 0) {
      throw io_errno("af-packet", ifname_, "PACKET_TX_RING", errno);
    }
    tx_slots_ = tx.tp_frame_nr;
    tx_bytes = static_cast<size_t>(block) * tx.tp_block_nr;
  }

  map_len_ = rx_bytes + tx_bytes;
  void* m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (m == MAP_FAILED) {
    map_ = nullptr;
    throw io_errno("af-packet", ifname_, "mapping the rings", errno);
  }
  map_ = static_cast<uint8_t*>(m);
  rx_ring_ = map_;
  tx_ring_ = use_tx_ring_ ? map_ + rx_bytes : nullptr;
}

AfPacketLink::~AfPacketLink() {
  if (map_) munmap(map_, map_len_);
  if (fd_ >= 0) close(fd_);
  fanout_.leave();
}

void AfPacketLink::release_block() {
  store_release(block_at(rx_ring_, rx_block_size_, rx_block_)->hdr.bh1.block_status, uint32_t{TP_STATUS_KERNEL});
  if (++rx_block_ == rx_blocks_) rx_block_ = 0;
}

void AfPacketLink::next_frame() {
  rx_next_ += reinterpret_cast<tpacket3_hdr*>(rx_next_)->tp_next_offset;
  gso_next_ = 0;
  if (--rx_left_ == 0) release_block();
}

bool AfPacketLink::rx_super(PacketPool& pool, Packet** pkts, uint32_t max, uint32_t* n, uint64_t* bytes) {
  auto* h = reinterpret_cast<tpacket3_hdr*>(rx_next_);
  const uint8_t* frame = rx_next_ + h->tp_mac;
  const uint32_t len = h->tp_snaplen;
  const bool vlan = h->tp_status & TP_STATUS_VLAN_VALID;
  gso::Plan plan;
  if (!gso::plan(gso::read_vnet_hdr(frame - gso::kVnetHdrLen), frame, len, kMaxFrame - kVlanTagLen, &plan)) {
    rx_gso_unsupported_.add(1);
    return true;
  }
  for (; gso_next_ < plan.segments; gso_next_++) {
    if (*n == max) return false;
    Packet* p = pool.alloc();
    if (!p) return false;
    p->len = gso::write_segment(plan, frame, len, gso_next_, p->data);
    if (vlan) insert_vlan_tag(p, h);
    *bytes += p->len;
    pkts[(*n)++] = p;
  }
  rx_gso_frames_.add(1);
  return true;
}

uint32_t AfPacketLink::rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) {
  uint32_t n = 0;
  uint64_t bytes = 0;
  while (n < max) {
    if (rx_left_ == 0) {
      tpacket_block_desc* b = block_at(rx_ring_, rx_block_size_, rx_block_);
      if (!(load_acquire(b->hdr.bh1.block_status) & TP_STATUS_USER)) break;
      rx_left_ = b->hdr.bh1.num_pkts;
      rx_next_ = reinterpret_cast<uint8_t*>(b) + b->hdr.bh1.offset_to_first_pkt;
      if (rx_left_ == 0) {
        release_block();
        continue;
      }
    }
    auto* h = reinterpret_cast<tpacket3_hdr*>(rx_next_);
    const uint8_t* frame = rx_next_ + h->tp_mac;
    uint32_t len = h->tp_snaplen;
    auto* ll = reinterpret_cast<const sockaddr_ll*>(rx_next_ + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
    gso::VnetHdr vh;
    if (vnet_) vh = gso::read_vnet_hdr(frame - gso::kVnetHdrLen);
    if (vh.gso_type != gso::kGsoNone && ll->sll_pkttype != PACKET_OUTGOING && len == h->tp_len) {
      if (!rx_super(pool, pkts, max, &n, &bytes)) break;  // the rest on the next burst
      next_frame();
      continue;
    }
    Packet* p = pool.alloc();
    if (!p) break;  // the frame waits in the ring for the next burst
    bool vlan = h->tp_status & TP_STATUS_VLAN_VALID;
    bool keep = true;
    if (ll->sll_pkttype == PACKET_OUTGOING) {
      keep = false;  // older kernels without PACKET_IGNORE_OUTGOING
    } else if (len != h->tp_len) {
      rx_truncated_.add(1);
      keep = false;
    } else if (len + (vlan ? kVlanTagLen : 0) > kMaxFrame || len < ETH_HLEN) {
      rx_oversize_.add(1);  // e.g. a GRO super-frame: turn GRO off on gateway interfaces
      keep = false;
    }
    if (keep) {
      bool csum_pending = (h->tp_status & TP_STATUS_CSUMNOTREADY) || (vh.flags & gso::kNeedsCsum);
      if (csum_pending) rx_csum_partial_.add(1);
      std::memcpy(p->data, frame, len);
      // The frame leaves this host encrypted: the checksum the sender's
      // stack left to the NIC must be there before it is sealed. The
      // virtio-net header says where it goes (any protocol, IPv6 extension
      // headers too); without one, the headers are parsed.
      if (csum_pending && !(vnet_ && gso::complete_csum(vh, p->data, len))) net::complete_transport_checksum(p->data, len);
      p->len = len;
      if (vlan) insert_vlan_tag(p, h);
      pkts[n++] = p;
      len = p->len;
      bytes += len;
    } else {
      pool.free(p);
    }
    next_frame();
  }
  rx_packets_.add(n);
  rx_bytes_.add(bytes);
  return n;
}

uint32_t AfPacketLink::tx_burst(Packet* const* pkts, uint32_t n) {
  return use_tx_ring_ ? tx_ring(pkts, n) : tx_mmsg(pkts, n);
}

uint32_t AfPacketLink::tx_ring(Packet* const* pkts, uint32_t n) {
  uint32_t taken = 0, queued = 0;
  uint64_t bytes = 0;
  for (; taken < n; taken++) {
    const Packet* p = pkts[taken];
    if (p->len > max_frame_) {
      tx_oversize_.add(1);  // taken, and dropped with a reason
      continue;
    }
    uint8_t* slot = tx_ring_ + static_cast<size_t>(tx_head_) * tx_slot_size_;
    auto* h = reinterpret_cast<tpacket3_hdr*>(slot);
    uint32_t status = load_acquire(h->tp_status);
    if (status & TP_STATUS_WRONG_FORMAT) tx_errors_.add(1);  // the kernel refused that earlier frame
    else if (status != TP_STATUS_AVAILABLE) {
      tx_ring_full_.add(1);
      break;
    }
    const uint32_t vh = vnet_ ? gso::kVnetHdrLen : 0;
    std::memcpy(slot + kTxDataOffset, kNoOffload, vh);
    std::memcpy(slot + kTxDataOffset + vh, p->data, p->len);
    h->tp_len = p->len + vh;
    h->tp_snaplen = p->len + vh;
    h->tp_next_offset = 0;
    store_release(h->tp_status, uint32_t{TP_STATUS_SEND_REQUEST});
    if (++tx_head_ == tx_slots_) tx_head_ = 0;
    queued++;
    bytes += p->len;
  }
  if (queued > 0) {
    // MSG_DONTWAIT: hand the queued slots to the device and return; the
    // kernel marks each slot available again once its frame is gone.
    if (sendto(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0 && errno != EAGAIN && errno != ENOBUFS) {
      tx_errors_.add(1);
    }
  }
  tx_packets_.add(queued);
  tx_bytes_.add(bytes);
  return taken;
}

uint32_t AfPacketLink::tx_run(Packet* const* pkts, uint32_t i, uint32_t n, uint32_t m, iovec* iov) {
  auto frame = [&](uint32_t j) {
    const Packet* p = pkts[i + j];
    return p->len > max_frame_ ? std::pair<const uint8_t*, uint32_t>{nullptr, 0}
                               : std::pair<const uint8_t*, uint32_t>{p->data, p->len};
  };
  uint32_t count = 1, hdr_len = 0;
  if (tx_gso_) {
    const gso::Run r = gso::find_run(n - i, frame);
    if (r.segments > 1) {
      gso::write_super_headers(pkts[i]->data, r.head, r.payload, r.last_flags, msg_hdr_[m], msg_vnet_[m]);
      count = r.segments;
      hdr_len = r.head.hdr_len;
    }
  }
  if (count == 1 && tx_udp_gso_) {
    const gso::UdpRun r = gso::find_udp_run(n - i, frame);
    if (r.datagrams > 1) {
      gso::write_udp_super_headers(pkts[i]->data, r.head, r.payload, msg_hdr_[m], msg_vnet_[m]);
      count = r.datagrams;
      hdr_len = r.head.l4 + 8;
    }
  }
  if (count == 1) return 1;
  iov[0] = {msg_vnet_[m], gso::kVnetHdrLen};
  iov[1] = {msg_hdr_[m], hdr_len};
  for (uint32_t q = 0; q < count; q++) {
    Packet* p = pkts[i + q];
    iov[2 + q] = {p->data + hdr_len, p->len - hdr_len};
  }
  return count;
}

uint32_t AfPacketLink::tx_mmsg(Packet* const* pkts, uint32_t n) {
  if (n > kBatch) n = kBatch;
  uint32_t m = 0;  // messages built; message j carries packets msg_packet_[j] … + msg_count_[j]
  iovec* iov = iovs_;
  for (uint32_t i = 0; i < n;) {
    if (pkts[i]->len > max_frame_) {
      i++;  // taken, and dropped with a reason (below)
      continue;
    }
    const uint32_t c = tx_gso_ || tx_udp_gso_ ? tx_run(pkts, i, n, m, iov) : 1;
    uint32_t k = c + 2;
    if (c == 1) {
      k = 0;
      if (vnet_) iov[k++] = {const_cast<uint8_t*>(kNoOffload), sizeof kNoOffload};
      iov[k++] = {pkts[i]->data, pkts[i]->len};
    }
    msgs_[m].msg_hdr.msg_iov = iov;
    msgs_[m].msg_hdr.msg_iovlen = k;
    iov += k;
    msg_packet_[m] = i;
    msg_count_[m++] = c;
    i += c;
  }
  uint32_t taken = n;
  int sent = m ? sendmmsg(fd_, msgs_, m, MSG_DONTWAIT) : 0;
  if (sent < 0) {
    sent = 0;
    if (errno == EAGAIN || errno == ENOBUFS) {
      tx_ring_full_.add(1);  // the device queue is full
      taken = msg_packet_[0];
    } else {
      // The kernel refused the first message itself: drop it (counted) so
      // that one bad frame does not hold back the rest of the burst.
      tx_errors_.add(1);
      taken = msg_packet_[0] + msg_count_[0];
    }
  } else if (static_cast<uint32_t>(sent) < m) {
    taken = msg_packet_[sent];
  }
  uint64_t packets = 0, bytes = 0, oversize = 0, supers = 0, merged = 0;
  for (int j = 0; j < sent; j++) {
    const uint32_t c = msg_count_[j];
    packets += c;
    for (uint32_t q = 0; q < c; q++) bytes += pkts[msg_packet_[j] + q]->len;
    if (c > 1) {
      supers++;
      merged += c;
    }
  }
  for (uint32_t i = 0; i < taken; i++) oversize += pkts[i]->len > max_frame_;
  tx_packets_.add(packets);
  tx_bytes_.add(bytes);
  tx_oversize_.add(oversize);
  tx_gso_frames_.add(supers);
  tx_gso_segments_.add(merged);
  return taken;
}

std::vector<Link::Counter> AfPacketLink::counters() const {
  std::lock_guard lock(kernel_mu_);
  tpacket_stats_v3 st{};
  socklen_t len = sizeof st;
  if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
    kernel_drops_ += st.tp_drops;
    kernel_freezes_ += st.tp_freeze_q_cnt;
  }
  return {
      {"rx_packets", rx_packets_.get()},
      {"rx_bytes", rx_bytes_.get()},
      {"rx_kernel_drops", kernel_drops_},      // ring full: the kernel had nowhere to put a frame
      {"rx_ring_freezes", kernel_freezes_},
      {"rx_oversize", rx_oversize_.get()},
      {"rx_truncated", rx_truncated_.get()},
      {"rx_csum_partial", rx_csum_partial_.get()},
      {"rx_gso_frames", rx_gso_frames_.get()},
      {"rx_gso_unsupported", rx_gso_unsupported_.get()},
      {"tx_packets", tx_packets_.get()},
      {"tx_bytes", tx_bytes_.get()},
      {"tx_oversize", tx_oversize_.get()},
      {"tx_ring_full", tx_ring_full_.get()},
      {"tx_errors", tx_errors_.get()},
      {"tx_gso_frames", tx_gso_frames_.get()},
      {"tx_gso_segments", tx_gso_segments_.get()},
  };
}

}  // namespace vitesse
