#include "io/memory_link.h"

#include <map>
#include <stdexcept>

namespace vitesse {

namespace {
std::mutex registry_mutex;
std::map<std::string, std::shared_ptr<MemoryWire>>& registry() {
  static std::map<std::string, std::shared_ptr<MemoryWire>> wires;
  return wires;
}

bool frame_destination(const uint8_t* f, uint32_t len, net::IpAddr* out) {
  if (len < net::kEthHeaderLen) return false;
  uint16_t type = load_be16(f + 12);
  const uint8_t* ip = f + net::kEthHeaderLen;
  if (type == net::kEtherTypeIpv4 && len >= net::kEthHeaderLen + net::kIpv4HeaderLen) {
    out->is_v6 = false;
    out->v4 = load_be32(ip + 16);
    return true;
  }
  if (type == net::kEtherTypeIpv6 && len >= net::kEthHeaderLen + net::kIpv6HeaderLen) {
    out->is_v6 = true;
    std::memcpy(out->v6.b, ip + 24, 16);
    return true;
  }
  return false;
}
}  // namespace

MemoryWire::MemoryWire(bool loopback, EndConfig a, EndConfig b, size_t ring_bytes) : loopback_(loopback) {
  config_[0] = std::move(a);
  config_[1] = std::move(b);
  for (int e = 0; e < 2; e++) {
    if (config_[e].queues == 0) throw std::invalid_argument("memory wire: an end needs at least one queue");
    for (uint32_t q = 0; q < config_[e].queues; q++) rings_[e].push_back(std::make_unique<ByteRing>(ring_bytes));
  }
}

uint32_t MemoryWire::select_queue(int end, uint32_t from_queue, const uint8_t* frame, uint32_t len) const {
  const EndConfig& c = config_[end];
  if (c.queues == 1) return 0;
  switch (c.steering) {
    case Steering::same_queue:
      return from_queue % c.queues;
    case Steering::flow_hash:
      return net::flow_hash(frame, len) % c.queues;
    case Steering::destination: {
      net::IpAddr dst;
      if (frame_destination(frame, len, &dst)) {
        for (uint32_t q = 0; q < c.queue_addresses.size() && q < c.queues; q++)
          if (c.queue_addresses[q] == dst) return q;
      }
      return 0;  // ARP, ND, unknown: the first queue, where the control plane listens
    }
  }
  return 0;
}

bool MemoryWire::send(int from_end, uint32_t from_queue, const uint8_t* frame, uint32_t len) {
  int to = peer(from_end);
  return rings_[to][select_queue(to, from_queue, frame, len)]->push(frame, len);
}

std::shared_ptr<MemoryWire> MemoryWire::create(const std::string& name, bool loopback, EndConfig a, EndConfig b,
                                               size_t ring_bytes) {
  auto w = std::make_shared<MemoryWire>(loopback, std::move(a), std::move(b), ring_bytes);
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto [it, fresh] = registry().emplace(name, w);
  if (!fresh) throw std::invalid_argument("memory wire \"" + name + "\" already exists");
  return w;
}

std::shared_ptr<MemoryWire> MemoryWire::find(const std::string& name) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second;
}

void MemoryWire::destroy(const std::string& name) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  registry().erase(name);
}

uint32_t MemoryLink::rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) {
  ByteRing& r = wire_->ring(end_, queue_);
  uint32_t n = 0;
  while (n < max) {
    uint32_t len;
    const uint8_t* rec = r.peek(&len);
    if (!rec) break;
    Packet* p = pool.alloc();
    if (!p) break;  // pool exhausted: leave the frame on the wire for later
    if (len > kMaxFrame) len = kMaxFrame;
    std::memcpy(p->data, rec, len);
    p->len = len;
    r.pop();
    pkts[n++] = p;
  }
  return n;
}

uint32_t MemoryLink::tx_burst(Packet* const* pkts, uint32_t n) {
  uint32_t sent = 0;
  for (uint32_t i = 0; i < n; i++) sent += wire_->send(end_, queue_, pkts[i]->data, pkts[i]->len);
  return sent;
}

}  // namespace vitesse
