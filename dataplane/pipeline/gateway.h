// A gateway: N workers (one per queue, each on its own thread) and the
// control-thread side that owns the configuration, the SAs and the table
// snapshots the workers read.
//
// Publishing follows quiescent-state-based reclamation: the control thread
// swaps in a new Tables snapshot and bumps a generation number; whatever the
// old snapshot referenced (the snapshot itself, SAs removed from it) is freed
// once every worker has announced a later generation, i.e. has finished the
// batch it was processing with the old one.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "esp/sa.h"
#include "esp/sa_arena.h"
#include "io/link.h"
#include "net/udp_encap.h"
#include "pipeline/doorbell.h"
#include "pipeline/tables.h"
#include "pipeline/worker.h"
#include "route/prefix.h"

namespace vitesse {

struct RouteSpec {
  std::string id;
  // The remote site's prefixes: traffic to them goes into the route's SA;
  // what comes out of its SAs must come from them (inbound policy).
  std::vector<route::Prefix> nets;
  std::vector<net::IpAddr> remotes;  // per queue; a short list falls back to its first entry
  // A route with several peers: the other pairs' remote gateways (pair 1,
  // 2, ...), per queue as `remotes` (the first pair's). Flows are hashed over
  // the pairs that have an outbound SA and are usable (pipeline/pair_choice.h).
  std::vector<std::vector<net::IpAddr>> pair_remotes;
};

struct SaSpec {
  uint32_t queue = 0;
  std::string route;  // route id (reporting; outbound SAs are keyed by it)
  uint8_t pair = 0;   // which of the route's peers (outbound SAs are keyed by it too; inbound: reporting)
  uint32_t spi = 0;
  esp::Aead aead = esp::Aead::aes_gcm_16_icv;
  std::vector<uint8_t> keymat;  // key ‖ salt
  uint32_t replay_window = esp::kDefaultReplayWindow;
  bool esn = true;
  // Outbound: the last number used (the first packet carries seq + 1) and the
  // highest it may send (see esp::OutboundSa::limit). Inbound: the window's
  // top (every number up to it counts as received).
  uint64_t seq = 0;
  uint64_t limit = UINT64_MAX;
  // Outbound: ESP in UDP (RFC 3948) from our port to the peer's (both 0: plain ESP).
  uint16_t udp_source_port = 0;
  uint16_t udp_destination_port = 0;
};

// The peer's endpoint of a route on a queue (pipeline/peer_endpoint.h).
struct EndpointInfo {
  uint32_t queue;
  std::string route;
  PeerEndpoint::Value value;
};

struct SaInfo {
  uint32_t queue, spi;
  std::string route;
  uint8_t pair = 0;
  bool inbound;
  esp::SaCounters counters;
  bool esn;
  uint64_t seq;    // outbound: last number used; inbound: the window's top
  uint64_t limit;  // outbound only
  uint16_t udp_source_port = 0, udp_destination_port = 0;  // outbound: ESP in UDP (0: plain ESP)
};

struct GatewayConfig {
  uint32_t queues = 1;
  net::Mac private_mac, public_mac;
  std::optional<uint32_t> private_v4;
  std::optional<net::Ip6> private_v6;
  std::vector<net::IpAddr> public_addresses;  // one per queue
  uint32_t mtu = 1440;
  bool tfc = false;
  uint16_t nat_t_port = net::kDefaultNatTPort;  // 0: no ESP in UDP is received
  size_t pool_packets = 4096;
  bool busywait = false;
  std::vector<int> cpus;  // pin worker q to cpus[q % size]; empty: no pinning
};

class Gateway {
 public:
  using LinkFactory = std::function<std::unique_ptr<Link>(Side, uint32_t queue)>;
  Gateway(GatewayConfig config, const LinkFactory& links);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Worker threads. Without start(), poll_once() drives the workers from the
  // calling thread (tests, single-threaded benchmarks).
  void start();
  void stop();
  bool running() const { return !threads_.empty(); }
  uint32_t poll_once();
  // CPU time the worker thread of queue q has used (0 when not running):
  // the fair measure on a machine shared with other work.
  double worker_cpu_seconds(uint32_t q) const;

  // Configuration changes (control thread). They throw std::invalid_argument
  // with a precise message and change nothing when the request is invalid;
  // workers see the changes after the next commit(), all at once, so many
  // changes (e.g. thousands of SAs after a restart) cost one snapshot.
  void set_routes(std::vector<RouteSpec> routes);
  void add_inbound_sa(const SaSpec& sa);
  bool remove_inbound_sa(uint32_t queue, uint32_t spi);
  void set_outbound_sa(const SaSpec& sa);
  bool remove_outbound_sa(uint32_t queue, const std::string& route, uint8_t pair = 0);
  // Whether flows may go through a pair of a route with several peers (its
  // peer is alive and not draining: the control plane's word). A pair
  // without an outbound SA carries nothing either way.
  void set_pair_usable(uint32_t queue, const std::string& route, uint8_t pair, bool usable);
  // Raises (never lowers) the limit of the route's outbound SA on a queue,
  // at once (no commit needed: the SA is shared by the snapshots); false if
  // there is no such SA or its SPI is not `spi`.
  bool raise_outbound_limit(uint32_t queue, const std::string& route, uint32_t spi, uint64_t limit, uint8_t pair = 0);
  void set_nexthop(Side side, std::optional<net::Mac> mac);
  void set_mtu(uint32_t mtu, bool tfc);
  // Publishes the changes made since the last commit as one new snapshot.
  void commit();

  // Reading state (control thread).
  uint32_t queues() const { return config_.queues; }
  uint64_t counter(Counter c) const;
  uint64_t counter(uint32_t queue, Counter c) const;
  std::vector<SaInfo> sas() const;
  // Outbound SAs with a limit that have fewer than `margin` numbers left
  // before it (the control plane's reservation check: no per-SA work in
  // JavaScript for the others).
  std::vector<SaInfo> outbound_due(uint64_t margin) const;
  // Packets authenticated on one inbound SA so far (0 if there is no such SA).
  uint64_t inbound_packets(uint32_t queue, uint32_t spi) const;
  // Every route's peer endpoint on every queue (learned from ESP in UDP, or not yet).
  std::vector<EndpointInfo> endpoints() const;
  const GatewayConfig& config() const { return config_; }

  // Slow path.
  Worker& worker(uint32_t q) { return *workers_[q]; }
  bool inject(uint32_t queue, Side side, InjectMode mode, const uint8_t* frame, uint32_t len);
  // Called (from a worker thread) when a punt ring becomes non-empty.
  void set_punt_notifier(std::function<void()> notify) { notify_ = std::move(notify); }
  // Frees what no worker can still see.
  void reclaim();

 private:
  void run_worker(uint32_t q);
  std::unique_ptr<Tables> build_tables() const;
  void retire_later(std::function<void()> free);

  GatewayConfig config_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::unique_ptr<Doorbell[]> doorbells_;  // one per worker
  std::atomic<bool> stop_{false};
  std::function<void()> notify_;

  // Each queue's SAs in arenas of their own (esp/sa_arena.h), declared before
  // the maps that hold them so they outlive them.
  struct QueueSas {
    explicit QueueSas(uint32_t q)
        : in("inbound SAs of queue " + std::to_string(q + 1)), out("outbound SAs of queue " + std::to_string(q + 1)) {}
    esp::SaArena<esp::InboundSa> in;
    esp::SaArena<esp::OutboundSa> out;
  };
  std::vector<std::unique_ptr<QueueSas>> sa_arenas_;

  // Control-side state from which snapshots are built.
  std::vector<RouteSpec> routes_;
  std::map<std::pair<uint32_t, uint32_t>, esp::ArenaPtr<esp::InboundSa>> inbound_;  // (queue, spi)
  std::map<std::pair<uint32_t, uint32_t>, std::string> inbound_route_;
  struct OutKey {
    uint32_t queue;
    std::string route;
    uint8_t pair;
    bool operator<(const OutKey& o) const { return std::tie(queue, route, pair) < std::tie(o.queue, o.route, o.pair); }
  };
  std::map<OutKey, esp::ArenaPtr<esp::OutboundSa>> outbound_;  // (queue, route, pair)
  std::map<std::pair<uint32_t, uint32_t>, uint8_t> inbound_pair_;  // (queue, spi) → pair, when not 0
  std::set<OutKey> unusable_;  // pairs the control plane took out of their route's flow hashing
  std::map<std::pair<uint32_t, std::string>, std::unique_ptr<PeerEndpoint>> endpoints_;  // (queue, route)
  std::optional<net::Mac> nexthop_[2];
  std::shared_ptr<const RouteTable> route_table_;
  bool dirty_ = false;
  // SAs removed from the state, freed once the snapshot without them is out.
  std::vector<std::function<void()>> pending_free_;
  void free_after_commit(esp::ArenaPtr<esp::InboundSa> p);
  void free_after_commit(esp::ArenaPtr<esp::OutboundSa> p);

  // Publication and reclamation.
  std::atomic<const Tables*> tables_{nullptr};
  std::unique_ptr<const Tables> current_;
  std::atomic<uint64_t> generation_{1};
  struct alignas(64) Quiescent { std::atomic<uint64_t> gen{0}; };
  std::unique_ptr<Quiescent[]> quiescent_;
  struct Retired { uint64_t gen; std::function<void()> free; };
  std::vector<Retired> retired_;
};

// Parse "192.0.2.1", "10.0.0.0/8", "2001:db8::/32" (route::parse_prefix: host
// bits cleared) — throw std::invalid_argument naming the text on error.
net::IpAddr parse_ip(const std::string& text);
route::Prefix parse_prefix(const std::string& text);
net::Mac parse_mac(const std::string& text);

}  // namespace vitesse
