#include "pipeline/softbench.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "io/loopback_link.h"
#include "io/memory_link.h"
#include "io/synthetic_link.h"
#include "pipeline/gateway.h"

namespace vitesse {

namespace {

std::vector<uint8_t> udp_frame(uint32_t frame_len) {
  // Ethernet + IPv4 + UDP with a zero payload; the addresses are patched by
  // the synthetic source per packet.
  std::vector<uint8_t> f(frame_len, 0);
  net::Mac dst{{0x02, 0, 0, 0, 0, 0x01}}, src{{0x02, 0, 0, 0, 0, 0x02}};
  net::write_eth_header(f.data(), dst, src, net::kEtherTypeIpv4);
  uint16_t ip_len = static_cast<uint16_t>(frame_len - net::kEthHeaderLen);
  net::write_ipv4_header(f.data() + net::kEthHeaderLen, ip_len, net::kProtoUdp, 0, 0, 0);
  uint8_t* udp = f.data() + net::kEthHeaderLen + net::kIpv4HeaderLen;
  store_be16(udp, 1234);
  store_be16(udp + 2, 5678);
  store_be16(udp + 4, static_cast<uint16_t>(ip_len - net::kIpv4HeaderLen));
  return f;
}

std::string ipv4_text(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) + "." +
         std::to_string(a & 255);
}

}  // namespace

SoftbenchResult run_softbench(const SoftbenchOptions& o) {
  if (o.queues == 0 || o.routes == 0 || o.routes > 65535) throw std::invalid_argument("softbench: bad queues or routes");
  if (!o.imix && (o.packet_size < 60 || o.packet_size > 1514))
    throw std::invalid_argument("softbench: packet size must be 60..1514 bytes");
  std::vector<std::vector<uint8_t>> templates;
  if (o.imix) {
    for (int i = 0; i < 7; i++) templates.push_back(udp_frame(60));
    for (int i = 0; i < 4; i++) templates.push_back(udp_frame(576));
    templates.push_back(udp_frame(1500));
  } else {
    templates.push_back(udp_frame(o.packet_size));
  }
  // Route r covers one /24 of 16.0.0.0/8; the source walks them round-robin.
  std::vector<uint32_t> destinations;
  for (uint32_t r = 0; r < o.routes; r++) destinations.push_back((16u << 24) + (r << 8) + 1);

  static std::atomic<uint32_t> instance{0};
  const std::string wire = "softbench-" + std::to_string(instance++);
  MemoryWire::EndConfig end;
  end.queues = o.queues;
  end.steering = Steering::destination;
  GatewayConfig cfg;
  cfg.queues = o.queues;
  cfg.mtu = 1500;
  cfg.cpus = o.cpus;
  cfg.busywait = true;
  cfg.private_mac = parse_mac("02:00:00:00:00:01");
  cfg.public_mac = parse_mac("02:00:00:00:01:01");
  for (uint32_t q = 0; q < o.queues; q++) {
    net::IpAddr a;
    a.v4 = (10u << 24) + (255u << 16) + (q << 8) + 1;
    cfg.public_addresses.push_back(a);
    end.queue_addresses.push_back(a);
  }
  // Small enough to stay in cache: a batch or two is all that is ever in flight.
  MemoryWire::create(wire, true, end, end, 1u << 20);
  uint64_t per_queue = o.packets / o.queues;
  std::vector<SyntheticLink*> sources(o.queues, nullptr);
  auto gw = std::make_unique<Gateway>(cfg, [&](Side s, uint32_t q) -> std::unique_ptr<Link> {
    if (s == Side::public_side) {
      // Each queue tunnels to its own public address, so its output is its input.
      if (o.public_link == SoftbenchOptions::PublicLink::loopback) return std::make_unique<LoopbackLink>();
      return std::make_unique<MemoryLink>(MemoryWire::find(wire), 0, q);
    }
    auto l = std::make_unique<SyntheticLink>(templates, destinations, per_queue);
    sources[q] = l.get();
    return l;
  });
  MemoryWire::destroy(wire);  // the links hold it now

  std::vector<RouteSpec> routes;
  for (uint32_t r = 0; r < o.routes; r++) {
    RouteSpec spec;
    spec.id = "r" + std::to_string(r);
    spec.nets = {parse_prefix(ipv4_text((16u << 24) + (r << 8)) + "/24")};
    spec.remotes = cfg.public_addresses;  // each queue tunnels to itself
    routes.push_back(spec);
  }
  gw->set_routes(routes);
  std::vector<uint8_t> keymat(20);
  for (uint32_t q = 0; q < o.queues; q++) {
    for (uint32_t r = 0; r < o.routes; r++) {
      for (size_t i = 0; i < keymat.size(); i++) keymat[i] = static_cast<uint8_t>(i * 7 + r + q);
      SaSpec sa;
      sa.queue = q;
      sa.route = routes[r].id;
      sa.spi = 0x1000 + (q << 16) + r;
      sa.keymat = keymat;
      if (o.nat_t) sa.udp_source_port = sa.udp_destination_port = net::kDefaultNatTPort;
      gw->set_outbound_sa(sa);
      gw->add_inbound_sa(sa);
    }
  }
  gw->set_nexthop(Side::private_side, parse_mac("02:00:00:00:00:02"));
  gw->set_nexthop(Side::public_side, parse_mac("02:00:00:00:01:02"));
  gw->commit();

  auto received = [&] {
    uint64_t n = 0;
    for (auto* s : sources) n += s->received();
    return n;
  };
  auto t0 = std::chrono::steady_clock::now();
  gw->start();
  uint64_t last = 0, first = 0;
  auto last_progress = t0, t_end = t0, t_first = t0;
  double cpu_at_end = 0;
  std::vector<SoftbenchQueue> per_queue_figures(o.queues);
  auto busiest_cpu = [&] {
    double m = 0;
    for (uint32_t q = 0; q < o.queues; q++) m = std::max(m, gw->worker_cpu_seconds(q));
    return m;
  };
  for (;;) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    uint64_t n = received();
    auto now = std::chrono::steady_clock::now();
    if (n != last) {
      if (last == 0) {
        first = n;
        t_first = now;
      }
      last = n;
      last_progress = t_end = now;
      cpu_at_end = busiest_cpu();
    }
    for (uint32_t q = 0; q < o.queues; q++) {
      SoftbenchQueue& f = per_queue_figures[q];
      uint64_t nq = sources[q]->received();
      if (nq == f.packets) continue;
      f.packets = nq;
      f.cpu_seconds = gw->worker_cpu_seconds(q);
      f.seconds = std::chrono::duration<double>(now - t0).count();
    }
    if (n >= per_queue * o.queues || now - last_progress > std::chrono::milliseconds(300)) break;
  }
  gw->stop();
  SoftbenchResult res;
  res.seconds = std::chrono::duration<double>(t_end - t0).count();
  res.cpu_seconds = cpu_at_end;
  res.steady_seconds = std::chrono::duration<double>(t_end - t_first).count();
  res.steady_packets = last - first;
  res.per_queue = per_queue_figures;
  for (auto* s : sources) {
    res.sent += s->generated();
    res.packets += s->received();
    res.bytes += s->received_bytes();
  }
  return res;
}

}  // namespace vitesse
