#include "pipeline/gateway.h"

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>

#include <cstdio>
#include <set>
#include <stdexcept>
#include <string>

#include "config_limits.h"

namespace vitesse {

namespace {

constexpr uint64_t kOffline = ~uint64_t{0};
// Empty polls before an idle worker starts sleeping (a few µs of spinning).
// 200, not 2000: between the bursts of a few frames a real driver brings at
// 0.1 Mpps, the longer spin cost the gateways' own code per frame about half
// again (bench e2e --perf, `vitesse` bucket at 60 B, three interleaved runs
// each: 424–624 ns with 2000, 271–313 ns with 200) and gave no more
// throughput; the extra sleeps' system calls stayed within the noise.
constexpr uint32_t kSpinPolls = 200;
// An idle worker sleeps on its links and its doorbell; the timeout only
// bounds how long an af-xdp queue whose frames other queues hand back
// (FrameReturnRing) waits to restock its fill ring when it has no traffic of
// its own (its 4096 fill frames last 10 ms up to 400 kpps). Without a
// doorbell (no eventfd) or link descriptors, the old 1 ms / 200 µs naps.
constexpr int kIdleSleepMs = 10;
constexpr int kNapMs = 1;
const std::string mtu_error = "mtu must be between " + std::to_string(kMinMtu) + " and " + std::to_string(kMaxMtu);

void build_outer(OuterTemplate& o, const net::Mac& dst_mac, const net::Mac& src_mac, const net::IpAddr& src,
                 const net::IpAddr& dst, uint8_t proto = net::kProtoEsp) {
  o.is_v6 = dst.is_v6;
  uint8_t* ip = o.bytes + net::kEthHeaderLen;
  if (o.is_v6) {
    net::write_eth_header(o.bytes, dst_mac, src_mac, net::kEtherTypeIpv6);
    net::write_ipv6_header(ip, 0, proto, src.v6, dst.v6);
    o.len = net::kEthHeaderLen + net::kIpv6HeaderLen;
    o.ip_checksum_base = 0;
  } else {
    net::write_eth_header(o.bytes, dst_mac, src_mac, net::kEtherTypeIpv4);
    net::write_ipv4_header(ip, 0, proto, src.v4, dst.v4, 0);
    store_be16(ip + 10, 0);
    o.len = net::kEthHeaderLen + net::kIpv4HeaderLen;
    o.ip_checksum_base = net::checksum_partial(ip, net::kIpv4HeaderLen);
  }
}

std::string ip_text(const net::IpAddr& a) {
  char buf[INET6_ADDRSTRLEN];
  if (a.is_v6) inet_ntop(AF_INET6, a.v6.b, buf, sizeof buf);
  else {
    uint32_t n = htonl(a.v4);
    inet_ntop(AF_INET, &n, buf, sizeof buf);
  }
  return buf;
}

}  // namespace

net::IpAddr parse_ip(const std::string& text) {
  net::IpAddr a;
  uint32_t v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    a.v4 = ntohl(v4);
    return a;
  }
  if (inet_pton(AF_INET6, text.c_str(), a.v6.b) == 1) {
    a.is_v6 = true;
    return a;
  }
  throw std::invalid_argument("\"" + text + "\" is not an IPv4 or IPv6 address");
}

route::Prefix parse_prefix(const std::string& text) {
  route::Prefix p;
  const std::string err = route::parse_prefix(text, p);
  if (!err.empty()) throw std::invalid_argument(err);
  return p;
}

net::Mac parse_mac(const std::string& text) {
  net::Mac m;
  unsigned b[6];
  char extra;
  if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &extra) != 6)
    throw std::invalid_argument("\"" + text + "\" is not a MAC address");
  for (int i = 0; i < 6; i++) m.b[i] = static_cast<uint8_t>(b[i]);
  return m;
}

Gateway::Gateway(GatewayConfig config, const LinkFactory& links) : config_(std::move(config)) {
  if (config_.queues == 0 || config_.queues > kMaxQueues)
    throw std::invalid_argument("queues must be between 1 and " + std::to_string(kMaxQueues));
  if (config_.public_addresses.size() != config_.queues)
    throw std::invalid_argument("need one public address per queue (" + std::to_string(config_.queues) + "), got " +
                                std::to_string(config_.public_addresses.size()));
  if (config_.mtu < kMinMtu || config_.mtu > kMaxMtu) throw std::invalid_argument(mtu_error);
  quiescent_.reset(new Quiescent[config_.queues]);
  for (uint32_t q = 0; q < config_.queues; q++) sa_arenas_.push_back(std::make_unique<QueueSas>(q));
  for (uint32_t q = 0; q < config_.queues; q++) {
    quiescent_[q].gen.store(kOffline);
    workers_.push_back(std::make_unique<Worker>(q, links(Side::private_side, q), links(Side::public_side, q),
                                                config_.pool_packets));
  }
  route_table_ = RouteTable::build({});
  dirty_ = true;
  commit();
}

Gateway::~Gateway() {
  stop();
  reclaim();
  for (auto& f : pending_free_) f();
  // The maps' SAs are wiped as the arenas take them back (esp::SaArena::destroy).
}

void Gateway::start() {
  if (running()) return;
  stop_.store(false);
  if (!doorbells_) doorbells_ = std::make_unique<Doorbell[]>(config_.queues);
  for (uint32_t q = 0; q < config_.queues; q++) threads_.emplace_back([this, q] { run_worker(q); });
}

void Gateway::stop() {
  stop_.store(true);
  if (doorbells_) {
    for (uint32_t q = 0; q < config_.queues; q++) doorbells_[q].ring(true);
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
}

double Gateway::worker_cpu_seconds(uint32_t q) const {
  if (q >= threads_.size()) return 0;
  clockid_t clock;
  timespec ts;
  if (pthread_getcpuclockid(const_cast<std::thread&>(threads_[q]).native_handle(), &clock) != 0) return 0;
  if (clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

uint32_t Gateway::poll_once() {
  uint32_t n = 0;
  const Tables* t = tables_.load(std::memory_order_acquire);
  for (auto& w : workers_) n += w->poll(*t);
  return n;
}

void Gateway::run_worker(uint32_t q) {
  if (!config_.cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(config_.cpus[q % config_.cpus.size()], &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  // Named by the configured queue number (1..queues), as operators read it
  // everywhere else (logs, state, metrics); q is the worker's index.
  char name[16];
  std::snprintf(name, sizeof name, "vitesse-q%u", q + 1);
  pthread_setname_np(pthread_self(), name);

  Worker& w = *workers_[q];
  std::atomic<uint64_t>& mark = quiescent_[q].gen;
  Doorbell& bell = doorbells_[q];
  pollfd fds[3] = {{w.wait_fd(Side::private_side), POLLIN, 0}, {w.wait_fd(Side::public_side), POLLIN, 0}, {bell.fd(), POLLIN, 0}};
  uint32_t idle = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    // Announce the generation before reading the snapshot (seq_cst store):
    // a snapshot retired at a later generation can then not be the one read.
    mark.store(generation_.load());
    const Tables* t = tables_.load();
    uint32_t n = w.poll(*t);
    if (!w.punts().empty() && !w.punt_notified.exchange(true) && notify_) notify_();
    if (n || config_.busywait) {
      idle = 0;
      continue;
    }
    if (++idle < kSpinPolls) continue;
    mark.store(kOffline);
    bell.asleep(true);
    bool rung = true;  // unless poll says otherwise
    if (w.injects().empty() && !stop_.load()) {
      if (fds[0].fd >= 0 && fds[1].fd >= 0) {
        fds[2].revents = 0;
        rung = ::poll(fds, 3, bell.fd() >= 0 ? kIdleSleepMs : kNapMs) > 0 && (fds[2].revents & POLLIN);
      } else {
        ::usleep(kNapMs * 200);
      }
    }
    bell.asleep(false);
    // One system call less per wake-up by a frame: the eventfd is read only
    // when it was rung (or when there was no poll to say).
    if (rung) bell.clear();
    idle = kSpinPolls - 1;  // after a wake-up, check once more before sleeping again
  }
  mark.store(kOffline);
}

void Gateway::commit() {
  if (!dirty_) return;
  dirty_ = false;
  std::unique_ptr<Tables> next = build_tables();
  const Tables* old = current_.release();
  tables_.store(next.get());
  current_ = std::move(next);
  if (old) retire_later([old] { delete old; });
  for (auto& f : pending_free_) retire_later(std::move(f));
  pending_free_.clear();
  reclaim();
}

// Wiped and back to its arena once no worker can see it (esp::SaArena::destroy).
void Gateway::free_after_commit(esp::ArenaPtr<esp::InboundSa> p) {
  pending_free_.push_back([d = p.get_deleter(), sa = p.release()] { d(sa); });
}

void Gateway::free_after_commit(esp::ArenaPtr<esp::OutboundSa> p) {
  pending_free_.push_back([d = p.get_deleter(), sa = p.release()] { d(sa); });
}

void Gateway::retire_later(std::function<void()> free) {
  // The bump makes every worker that reads the new generation also read the
  // new snapshot (the store to tables_ came first).
  uint64_t g = generation_.fetch_add(1) + 1;
  retired_.push_back({g, std::move(free)});
}

void Gateway::reclaim() {
  uint64_t min = kOffline;
  for (uint32_t q = 0; q < config_.queues; q++) min = std::min(min, quiescent_[q].gen.load());
  size_t keep = 0;
  for (auto& r : retired_) {
    if (r.gen <= min) r.free();
    else retired_[keep++] = std::move(r);
  }
  retired_.resize(keep);
}

std::unique_ptr<Tables> Gateway::build_tables() const {
  auto t = std::make_unique<Tables>();
  t->private_mac = config_.private_mac;
  t->public_mac = config_.public_mac;
  t->private_nexthop_known = nexthop_[0].has_value();
  if (nexthop_[0]) t->private_nexthop_mac = *nexthop_[0];
  if (config_.private_v4) { t->has_private_v4 = true; t->private_v4 = *config_.private_v4; }
  if (config_.private_v6) { t->has_private_v6 = true; t->private_v6 = *config_.private_v6; }
  t->mtu = config_.mtu;
  t->tfc_pad_to = config_.tfc ? config_.mtu : 0;
  t->nat_t_port = config_.nat_t_port;

  t->routes = route_table_;
  std::map<std::string_view, route::RouteIndex> route_index;
  for (size_t i = 0; i < routes_.size(); i++) {
    route_index.emplace(routes_[i].id, static_cast<route::RouteIndex>(i + 1));
    t->inbound_policy.add_route(routes_[i].nets);
  }

  t->queues.resize(config_.queues);
  for (uint32_t q = 0; q < config_.queues; q++) {
    QueueTables& qt = t->queues[q];
    qt.public_address = config_.public_addresses[q];
    qt.routes.resize(routes_.size() + 1);
    for (size_t i = 0; i < routes_.size(); i++) {
      const RouteSpec& r = routes_[i];
      QueueRoute& qr = qt.routes[i + 1];
      auto slot = [&](QueueRoute& s, uint8_t pair, const std::vector<net::IpAddr>& remotes) {
        auto sa = outbound_.find({q, r.id, pair});
        s.sa = sa == outbound_.end() ? nullptr : sa->second.get();
        s.endpoint = endpoints_.at({q, r.id}).get();
        s.udp = s.sa && s.sa->udp_destination_port != 0;
        s.mtu = config_.mtu - (s.udp ? esp::kUdpEncapOverhead : 0);
        if (nexthop_[1]) {
          const net::IpAddr& remote = q < remotes.size() ? remotes[q] : remotes[0];
          build_outer(s.outer, *nexthop_[1], config_.public_mac, qt.public_address, remote);
          build_outer(s.outer_udp, *nexthop_[1], config_.public_mac, qt.public_address, remote, net::kProtoUdp);
          s.has_outer = true;
        }
      };
      slot(qr, 0, r.remotes);
      if (r.pair_remotes.empty()) continue;
      // Several peers: every pair's slot, and the buckets over the usable ones.
      const uint32_t n = static_cast<uint32_t>(r.pair_remotes.size() + 1);
      PairSet set{static_cast<uint32_t>(qt.pairs.size()), {}};
      qt.pairs.push_back(qr);
      for (uint32_t k = 1; k < n; k++) {
        QueueRoute s;
        slot(s, static_cast<uint8_t>(k), r.pair_remotes[k - 1]);
        qt.pairs.push_back(s);
      }
      uint8_t live[kMaxPairs], with_sa[kMaxPairs];
      uint32_t n_live = 0, n_sa = 0;
      for (uint32_t k = 0; k < n; k++) {
        const QueueRoute& s = qt.pairs[set.first + k];
        if (!s.sa || !s.has_outer) continue;
        with_sa[n_sa++] = static_cast<uint8_t>(k);
        if (!unusable_.count({q, r.id, static_cast<uint8_t>(k)})) live[n_live++] = static_cast<uint8_t>(k);
      }
      // None usable (every peer down or draining): those with SAs still try.
      const uint8_t* use = n_live ? live : with_sa;
      const uint32_t n_use = n_live ? n_live : n_sa;
      for (uint32_t b = 0; b < kPairBuckets; b++) {
        const uint8_t own = static_cast<uint8_t>(b % n);
        bool usable = false;
        for (uint32_t i = 0; i < n_use; i++) usable |= use[i] == own;
        set.bucket[b] = usable || n_use == 0 ? own : use[b % n_use];
      }
      qt.pair_sets.push_back(set);
      qr.pair_set = static_cast<uint16_t>(qt.pair_sets.size());
    }
    std::vector<SpiTable::Entry> sas;
    for (auto it = inbound_.lower_bound({q, 0}); it != inbound_.end() && it->first.first == q; ++it) {
      auto r = route_index.find(inbound_route_.at(it->first));
      sas.push_back({it->second.get(), r == route_index.end() ? route::kNoRoute : r->second});
    }
    qt.inbound.build(sas);
  }
  return t;
}

void Gateway::set_routes(std::vector<RouteSpec> routes) {
  if (routes.size() > 65535) throw std::invalid_argument("at most 65535 routes");
  std::set<std::string> ids;
  for (const RouteSpec& r : routes) {
    const std::string where = "route[id='" + r.id + "']";
    if (r.id.empty()) throw std::invalid_argument("route: empty id");
    if (!ids.insert(r.id).second) throw std::invalid_argument(where + ": duplicate id");
    if (r.remotes.empty()) throw std::invalid_argument(where + ": no remote gateway");
    if (r.nets.empty()) throw std::invalid_argument(where + ": no net");
    if (r.pair_remotes.size() + 1 > kMaxPairs)
      throw std::invalid_argument(where + ": at most " + std::to_string(kMaxPairs) + " peers");
    for (size_t k = 0; k <= r.pair_remotes.size(); k++) {
      const std::vector<net::IpAddr>& remotes = k == 0 ? r.remotes : r.pair_remotes[k - 1];
      if (remotes.empty()) throw std::invalid_argument(where + ": peer " + std::to_string(k) + " has no remote gateway");
      for (uint32_t q = 0; q < config_.queues; q++) {
        const net::IpAddr& remote = q < remotes.size() ? remotes[q] : remotes[0];
        if (remote.is_v6 != config_.public_addresses[q].is_v6)
          throw std::invalid_argument(where + ": gateway " + ip_text(remote) + " and queue " + std::to_string(q + 1) +
                                      "'s public address " + ip_text(config_.public_addresses[q]) +
                                      " are not of the same IP version");
      }
    }
  }
  // Outbound SAs of routes (or pairs) that no longer exist go with them.
  std::map<std::string, size_t> pairs_of;
  for (const RouteSpec& r : routes) pairs_of[r.id] = r.pair_remotes.size();
  for (auto it = unusable_.begin(); it != unusable_.end();) {
    if (!ids.count(it->route) || it->pair > pairs_of.at(it->route)) it = unusable_.erase(it);
    else ++it;
  }
  std::vector<esp::ArenaPtr<esp::OutboundSa>> gone;
  for (auto it = outbound_.begin(); it != outbound_.end();) {
    if (!ids.count(it->first.route) || it->first.pair > pairs_of.at(it->first.route)) {
      gone.push_back(std::move(it->second));
      it = outbound_.erase(it);
    } else {
      ++it;
    }
  }
  // Endpoints live as long as their route (a learned one survives rekeys
  // and route changes that keep the id and its gateways; changed gateways
  // start afresh, as the operator's word is newer than what was learned).
  std::map<std::string_view, const std::vector<net::IpAddr>*> old_remotes;
  for (const RouteSpec& old : routes_) old_remotes.emplace(old.id, &old.remotes);
  std::set<std::string> moved;
  for (const RouteSpec& r : routes) {
    auto o = old_remotes.find(r.id);
    if (o != old_remotes.end() && !(*o->second == r.remotes)) moved.insert(r.id);
  }
  for (auto it = endpoints_.begin(); it != endpoints_.end();) {
    if (!ids.count(it->first.second) || moved.count(it->first.second)) {
      PeerEndpoint* p = it->second.release();
      pending_free_.push_back([p] { delete p; });
      it = endpoints_.erase(it);
    } else {
      ++it;
    }
  }
  for (const RouteSpec& r : routes)
    for (uint32_t q = 0; q < config_.queues; q++) {
      auto& slot = endpoints_[{q, r.id}];
      if (!slot) slot = std::make_unique<PeerEndpoint>();
    }
  std::vector<RouteTable::Entry> entries;
  for (size_t i = 0; i < routes.size(); i++)
    for (const route::Prefix& p : routes[i].nets) entries.push_back({p, static_cast<uint16_t>(i + 1)});
  route_table_ = RouteTable::build(entries);
  routes_ = std::move(routes);
  for (auto& sa : gone) free_after_commit(std::move(sa));
  dirty_ = true;
}

void Gateway::add_inbound_sa(const SaSpec& s) {
  if (s.queue >= config_.queues) throw std::invalid_argument("queue " + std::to_string(s.queue) + " does not exist");
  if (s.spi < kMinSpi) throw std::invalid_argument("SPI " + std::to_string(s.spi) + " is reserved (0-" + std::to_string(kMinSpi - 1) + ")");
  if (inbound_.count({s.queue, s.spi}))
    throw std::invalid_argument("inbound SPI " + std::to_string(s.spi) + " already in use on queue " +
                                std::to_string(s.queue));
  auto sa = sa_arenas_[s.queue]->in.create();
  if (!esp::init_inbound(*sa, s.aead, s.spi, s.keymat.data(), s.keymat.size(), s.replay_window))
    throw std::invalid_argument("inbound SA " + std::to_string(s.spi) + ": key material must be " +
                                std::to_string(esp::aead_key_len(s.aead) + esp::kSaltLen) +
                                " bytes and the replay window a power of two in " + std::to_string(kMinReplayWindow) + ".." +
                                std::to_string(kMaxReplayWindow));
  sa->esn = s.esn;
  if (s.seq > 0) esp::start_window_at(*sa, s.seq);
  inbound_[{s.queue, s.spi}] = std::move(sa);
  inbound_route_[{s.queue, s.spi}] = s.route;
  if (s.pair) inbound_pair_[{s.queue, s.spi}] = s.pair;
  dirty_ = true;
}

bool Gateway::remove_inbound_sa(uint32_t queue, uint32_t spi) {
  auto it = inbound_.find({queue, spi});
  if (it == inbound_.end()) return false;
  esp::ArenaPtr<esp::InboundSa> p = std::move(it->second);
  inbound_.erase(it);
  inbound_route_.erase({queue, spi});
  inbound_pair_.erase({queue, spi});
  free_after_commit(std::move(p));
  dirty_ = true;
  return true;
}

void Gateway::set_outbound_sa(const SaSpec& s) {
  if (s.queue >= config_.queues) throw std::invalid_argument("queue " + std::to_string(s.queue) + " does not exist");
  if (s.pair >= kMaxPairs)
    throw std::invalid_argument("outbound SA " + std::to_string(s.spi) + ": pair " + std::to_string(s.pair) + " beyond the " +
                                std::to_string(kMaxPairs) + " peers a route may have");
  if (s.spi < kMinSpi) throw std::invalid_argument("SPI " + std::to_string(s.spi) + " is reserved (0-" + std::to_string(kMinSpi - 1) + ")");
  auto sa = sa_arenas_[s.queue]->out.create();
  if (!esp::init_outbound(*sa, s.aead, s.spi, s.keymat.data(), s.keymat.size()))
    throw std::invalid_argument("outbound SA " + std::to_string(s.spi) + ": key material must be " +
                                std::to_string(esp::aead_key_len(s.aead) + esp::kSaltLen) + " bytes");
  if ((s.udp_source_port == 0) != (s.udp_destination_port == 0))
    throw std::invalid_argument("outbound SA " + std::to_string(s.spi) +
                                ": ESP in UDP needs both a source and a destination port (or neither)");
  sa->esn = s.esn;
  sa->seq = s.seq;
  sa->udp_source_port = s.udp_source_port;
  sa->udp_destination_port = s.udp_destination_port;
  esp::set_limit(*sa, s.limit);
  auto& slot = outbound_[{s.queue, s.route, s.pair}];
  esp::ArenaPtr<esp::OutboundSa> old = std::move(slot);
  slot = std::move(sa);
  if (old) free_after_commit(std::move(old));
  dirty_ = true;
}

bool Gateway::remove_outbound_sa(uint32_t queue, const std::string& route, uint8_t pair) {
  auto it = outbound_.find({queue, route, pair});
  if (it == outbound_.end()) return false;
  esp::ArenaPtr<esp::OutboundSa> p = std::move(it->second);
  outbound_.erase(it);
  free_after_commit(std::move(p));
  dirty_ = true;
  return true;
}

void Gateway::set_pair_usable(uint32_t queue, const std::string& route, uint8_t pair, bool usable) {
  if (queue >= config_.queues) throw std::invalid_argument("queue " + std::to_string(queue) + " does not exist");
  const bool changed = usable ? unusable_.erase({queue, route, pair}) > 0 : unusable_.insert({queue, route, pair}).second;
  if (changed) dirty_ = true;
}

bool Gateway::raise_outbound_limit(uint32_t queue, const std::string& route, uint32_t spi, uint64_t limit, uint8_t pair) {
  auto it = outbound_.find({queue, route, pair});
  if (it == outbound_.end() || it->second->spi != spi) return false;
  if (limit > esp::limit_of(*it->second)) esp::set_limit(*it->second, limit);
  return true;
}

void Gateway::set_nexthop(Side side, std::optional<net::Mac> mac) {
  nexthop_[static_cast<int>(side)] = mac;
  dirty_ = true;
}

void Gateway::set_mtu(uint32_t mtu, bool tfc) {
  if (mtu < kMinMtu || mtu > kMaxMtu) throw std::invalid_argument(mtu_error);
  config_.mtu = mtu;
  config_.tfc = tfc;
  dirty_ = true;
}

uint64_t Gateway::counter(Counter c) const {
  uint64_t sum = 0;
  for (uint32_t q = 0; q < workers_.size(); q++) sum += counter(q, c);
  return sum;
}

// A driver counter a driver does not keep is 0: that driver never drops
// (or sees) frames for that reason (e.g. memory links have no kernel ring).
uint64_t Gateway::counter(uint32_t queue, Counter c) const {
  const Worker& w = *workers_.at(queue);
  const CounterInfo& info = counter_info(c);
  if (info.kind != "driver") return w.counters().get(c);
  const Side side = info.side == "private" ? Side::private_side : Side::public_side;
  const std::string_view name = driver_counter_name(c);
  for (const Link::Counter& k : w.link(side).counters()) {
    if (k.name == name) return k.value;
  }
  return 0;
}

std::vector<SaInfo> Gateway::sas() const {
  auto snapshot = [](const esp::SaCounters& c) {
    esp::SaCounters s;
    s.packets = read_counter(c.packets);
    s.bytes = read_counter(c.bytes);
    s.decrypt_errors = read_counter(c.decrypt_errors);
    s.replay_errors = read_counter(c.replay_errors);
    s.truncated_errors = read_counter(c.truncated_errors);
    s.trailer_errors = read_counter(c.trailer_errors);
    s.next_header_errors = read_counter(c.next_header_errors);
    s.policy_errors = read_counter(c.policy_errors);
    s.encap_errors = read_counter(c.encap_errors);
    s.sequence_exhausted = read_counter(c.sequence_exhausted);
    s.sequence_unreserved = read_counter(c.sequence_unreserved);
    return s;
  };
  std::vector<SaInfo> out;
  for (auto& [k, sa] : inbound_) {
    auto pair = inbound_pair_.find(k);
    out.push_back({k.first, k.second, inbound_route_.at(k), pair == inbound_pair_.end() ? uint8_t{0} : pair->second, true,
                   snapshot(sa->counters), sa->esn, read_counter(sa->window.top_word()), 0});
  }
  for (auto& [k, sa] : outbound_)
    out.push_back({k.queue, sa->spi, k.route, k.pair, false, snapshot(sa->counters), sa->esn, read_counter(sa->seq),
                   esp::limit_of(*sa), sa->udp_source_port, sa->udp_destination_port});
  return out;
}

std::vector<SaInfo> Gateway::outbound_due(uint64_t margin) const {
  std::vector<SaInfo> out;
  for (auto& [k, sa] : outbound_) {
    const uint64_t limit = esp::limit_of(*sa), seq = read_counter(sa->seq);
    if (limit == UINT64_MAX || limit - seq >= margin) continue;
    out.push_back({k.queue, sa->spi, k.route, k.pair, false, {}, sa->esn, seq, limit});
  }
  return out;
}

uint64_t Gateway::inbound_packets(uint32_t queue, uint32_t spi) const {
  auto it = inbound_.find({queue, spi});
  return it == inbound_.end() ? 0 : read_counter(it->second->counters.packets);
}

std::vector<EndpointInfo> Gateway::endpoints() const {
  std::vector<EndpointInfo> out;
  for (auto& [k, ep] : endpoints_) out.push_back({k.first, k.second, ep->read()});
  return out;
}

bool Gateway::inject(uint32_t queue, Side side, InjectMode mode, const uint8_t* frame, uint32_t len) {
  if (queue >= config_.queues || len > kMaxFrame) return false;
  InjectHeader h{static_cast<uint8_t>(side), static_cast<uint8_t>(mode), 0};
  bool ok = workers_[queue]->injects().push(&h, sizeof h, frame, len);
  if (ok && doorbells_) doorbells_[queue].ring();
  return ok;
}

}  // namespace vitesse
