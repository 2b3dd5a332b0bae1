// libFuzzer target: arbitrary frames through a real Gateway and its workers
// (classification of Ethernet, ARP, IPv4, IPv6 and ICMP/UDP for us on both
// sides, TTL, routes, MTU, ESP both ways, punt and inject rings), with links
// that hand the workers the fuzzer's frames and keep what they transmit.
//
//   npm run fuzz -- pipeline_fuzz        (fuzz/fuzz.mjs has the compiler line)
//
// The gateway is Vita's self-test gateway (test/vectors/vita), so
// frames from its captures are seeds that reach every stage: queue 0 is its
// IPv4 setup and queue 1 its IPv6 one, both with SPI 1001 and the all-zero
// key inbound. Outbound SAs use a key no seed knows, and the routes loop back
// to the gateway itself, so what it encapsulates can be fed back in.
//
// Input: a settings byte (MTU and TFC, transmit capacity, next hops, ESP in
// UDP: bit 5 makes the outbound SAs send ESP in UDP from and to port 4500,
// the NAT-T port every input may also send to), then
// frames, each a flags byte (side, queue, how it arrives: link, injected to
// be processed, injected to be sent), a 2-byte length and the bytes. Every
// input starts from fresh SAs, so a crash reproduces from its input alone.
//
// What must hold, besides no sanitizer report:
//   - every frame is forwarded, punted or dropped, and counted exactly once;
//     no packet buffer leaks (the pool never runs dry);
//   - every punt record is well-formed and says why;
//   - private-side output is an Ethernet frame for the next hop around one
//     whole IP packet; public-side output is ESP of our SAs from our address;
//   - every ESP packet the gateway made, fed back in, authenticates and
//     decapsulates, and gives back the packet that went in with its TTL two
//     lower and (IPv4) its header checksum still right, unless the inbound
//     policy refuses it (its source is not in the route's net, ...) or it is
//     for one of our addresses (punted);
//   - what is decapsulated and forwarded comes from the SA's route's net
//     (both loop routes: 192.168.10.0/24 and c0a8:a00::/24), to no multicast
//     or broadcast address (RFC 4301 §5.2);
//   - an injected frame to send goes out unchanged;
//   - the IPv4 header checksum check agrees with the byte-pair sum (on the
//     input's first 20 octets) and the TTL decrement with RFC 1624's
//     formula (every checksum, once);
//   - with ESP in UDP, public-side output is UDP from port 4500 with a right
//     length and checksum (0 over IPv4), and a NAT keepalive is consumed
//     (counted, in the accounting, as settled). A frame of the input may
//     move a route's endpoint (authentic ESP in UDP under the captures' SA):
//     the round trip readdresses our own ESP to us, and every input starts
//     with the endpoints not learned.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "esp/sa.h"
#include "io/link.h"
#include "net/headers.h"
#include "net/udp_encap.h"
#include "pipeline/gateway.h"

using namespace vitesse;

namespace {

using Frame = std::vector<uint8_t>;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr uint32_t kQueues = 2;
constexpr uint32_t kVitaSpi = 1001;  // the captures' SA: key and salt all zero
constexpr uint32_t kLoopSpi[2] = {2001, 2002};  // outbound, one per route that has SAs
constexpr uint8_t kLoopKeymat[20] = {0x6c, 0x6f, 0x6f, 0x70, 0xa5, 0x5a, 0x01, 0x02, 0x03, 0x04,
                                     0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0xc0, 0xff, 0xee, 0x00};
constexpr uint32_t kMaxFramesPerInput = 256;

struct Setting { uint32_t mtu; bool tfc; };
constexpr Setting kSettings[4] = {{576, true}, {1440, false}, {577, false}, {9216, true}};

// A link whose receive side is a queue of frames the harness fills and whose
// transmit side keeps copies of what the worker sent.
class FuzzLink final : public Link {
 public:
  std::deque<Frame> rx;
  std::vector<Frame> tx;
  uint32_t tx_limit = ~0u;  // frames accepted per tx_burst

  uint32_t rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) override {
    uint32_t n = 0;
    while (n < max && !rx.empty()) {
      Packet* p = pool.alloc();
      if (!p) break;
      const Frame& f = rx.front();
      if (!f.empty()) p->assign(f.data(), f.size());  // (an empty vector's data() may be null)
      rx.pop_front();
      pkts[n++] = p;
    }
    return n;
  }
  uint32_t tx_burst(Packet* const* pkts, uint32_t n) override {
    uint32_t take = n < tx_limit ? n : tx_limit;
    for (uint32_t i = 0; i < take; i++) {
      check(pkts[i]->data >= pkts[i]->buf &&
            pkts[i]->data + pkts[i]->len <= pkts[i]->buf + kPacketBufferSize);
      tx.emplace_back(pkts[i]->data, pkts[i]->data + pkts[i]->len);
    }
    return take;
  }
};

struct Harness {
  GatewayConfig config;
  std::unique_ptr<Gateway> gw;
  FuzzLink* links[kQueues][2] = {};  // [queue][side]
  net::Mac private_nexthop = parse_mac("52:54:00:00:00:01");
  net::Mac public_nexthop = parse_mac("52:54:00:00:00:fe");

  Harness() {
    config.queues = kQueues;
    config.private_mac = parse_mac("52:54:00:00:00:00");
    config.public_mac = parse_mac("52:54:00:00:00:ff");
    config.private_v4 = parse_ip("192.168.10.1").v4;
    config.private_v6 = parse_ip("c0a8:a00::1").v6;
    config.public_addresses = {parse_ip("203.0.113.1"), parse_ip("203:0:113::1")};
    config.mtu = kSettings[0].mtu;  // Vita's self-test ran at 500, below our minimum
    config.tfc = true;
    config.pool_packets = 256;
    gw = std::make_unique<Gateway>(config, [this](Side side, uint32_t q) {
      auto l = std::make_unique<FuzzLink>();
      links[q][static_cast<int>(side)] = l.get();
      return l;
    });
    set_routes(config.public_addresses);  // each queue to its own address
  }

  FuzzLink& link(uint32_t q, Side s) { return *links[q][static_cast<int>(s)]; }

  bool udp = false;

  void set_routes(const std::vector<net::IpAddr>& loop) {
    gw->set_routes({
        {"loop4", {parse_prefix("192.168.10.0/24")}, loop},
        {"loop6", {parse_prefix("c0a8:a00::/24")}, loop},
        {"no-sa", {parse_prefix("10.0.0.0/8")}, loop},
    });
  }

  // Fresh SAs (sequence numbers from 1, empty replay windows), endpoints and settings.
  void reset(const Setting& s, bool nexthops, bool udp_encap) {
    udp = udp_encap;
    // Routes whose gateways change start with fresh endpoints.
    set_routes({parse_ip("203.0.113.2"), parse_ip("203:0:113::2")});
    set_routes(config.public_addresses);
    for (uint32_t q = 0; q < kQueues; q++) {
      gw->remove_inbound_sa(q, kVitaSpi);
      // Vita's SA on each queue's own route: its captures' inner packets pass the inbound policy.
      gw->add_inbound_sa({.queue = q, .route = q == 0 ? "loop4" : "loop6", .spi = kVitaSpi, .aead = esp::Aead::aes_gcm_16_icv,
                          .keymat = std::vector<uint8_t>(20, 0)});
      for (uint32_t r = 0; r < 2; r++) {
        const std::string route = r == 0 ? "loop4" : "loop6";
        const std::vector<uint8_t> keymat(kLoopKeymat, kLoopKeymat + sizeof kLoopKeymat);
        gw->remove_inbound_sa(q, kLoopSpi[r]);
        gw->add_inbound_sa({.queue = q, .route = route, .spi = kLoopSpi[r], .aead = esp::Aead::aes_gcm_16_icv, .keymat = keymat});
        SaSpec out{.queue = q, .route = route, .spi = kLoopSpi[r], .aead = esp::Aead::aes_gcm_16_icv, .keymat = keymat};
        if (udp) out.udp_source_port = out.udp_destination_port = net::kDefaultNatTPort;
        gw->set_outbound_sa(out);
      }
    }
    gw->set_mtu(s.mtu, s.tfc);
    gw->set_nexthop(Side::private_side, nexthops ? std::optional(private_nexthop) : std::nullopt);
    gw->set_nexthop(Side::public_side, nexthops ? std::optional(public_nexthop) : std::nullopt);
    gw->commit();
    for (uint32_t q = 0; q < kQueues; q++)
      for (FuzzLink* l : links[q]) {
        l->rx.clear();
        l->tx.clear();
      }
  }
};

// Counter sums for the accounting check.
struct Tally {
  uint64_t received = 0;  // frames the workers took in (links and injected-to-process)
  uint64_t settled = 0;   // forwarded, punted or dropped
  uint64_t decapsulated = 0, public_drops = 0, policy_drops = 0, injected = 0, no_buffer = 0, inject_bad = 0;
};

bool starts_with(const char* s, const char* prefix) { return std::strncmp(s, prefix, std::strlen(prefix)) == 0; }

Tally tally(const Gateway& gw) {
  Tally t;
  for (size_t i = 0; i < static_cast<size_t>(Counter::count); i++) {
    const char* name = kCounterTable[i].name;
    const uint64_t v = gw.counter(static_cast<Counter>(i));
    const bool drop = starts_with(name, "private_drop_") || starts_with(name, "public_drop_");
    if (drop || !std::strcmp(name, "punted_packets") || !std::strcmp(name, "nat_keepalives") || !std::strcmp(name, "punt_ring_drops") ||
        !std::strcmp(name, "private_tx_packets") || !std::strcmp(name, "public_tx_packets") ||
        !std::strcmp(name, "private_tx_ring_full") || !std::strcmp(name, "public_tx_ring_full"))
      t.settled += v;
    if (starts_with(name, "public_drop_")) t.public_drops += v;
  }
  t.received = gw.counter(Counter::private_rx_packets) + gw.counter(Counter::public_rx_packets);
  t.decapsulated = gw.counter(Counter::decapsulated_packets);
  t.policy_drops = gw.counter(Counter::public_drop_inbound_policy);
  t.injected = gw.counter(Counter::injected_packets);
  t.no_buffer = gw.counter(Counter::rx_buffer_exhausted);
  t.inject_bad = gw.counter(Counter::inject_drops);
  return t;
}

// Polls until the links and inject rings are empty, then checks the
// accounting since `before` (`sent` frames were injected to be transmitted as
// they are) and the punts.
void settle(Harness& h, const Tally& before, uint64_t sent) {
  for (int guard = 0; guard < 1000; guard++) {
    bool pending = false;
    for (uint32_t q = 0; q < kQueues; q++)
      pending |= !h.link(q, Side::private_side).rx.empty() || !h.link(q, Side::public_side).rx.empty() ||
                 !h.gw->worker(q).injects().empty();
    if (!pending) break;
    h.gw->poll_once();
  }
  for (uint32_t q = 0; q < kQueues; q++) {
    check(h.link(q, Side::private_side).rx.empty() && h.link(q, Side::public_side).rx.empty());
    check(h.gw->worker(q).injects().empty());
  }
  const Tally after = tally(*h.gw);
  check(after.settled - before.settled == after.received - before.received + sent);
  check(after.no_buffer == before.no_buffer);
  check(after.inject_bad == before.inject_bad);

  for (uint32_t q = 0; q < kQueues; q++) {
    ByteRing& punts = h.gw->worker(q).punts();
    uint32_t len;
    while (const uint8_t* rec = punts.peek(&len)) {
      PuntHeader ph;
      check(len >= sizeof ph);
      std::memcpy(&ph, rec, sizeof ph);
      const uint32_t body = len - static_cast<uint32_t>(sizeof ph);
      check(ph.side <= 1 && ph.reason <= static_cast<uint8_t>(PuntReason::tunnel) && ph.queue == q);
      check(body == (ph.frame_len < 2048 ? ph.frame_len : 2048u) && ph.frame_len <= kMaxFrame);
      punts.pop();
    }
  }
}

// Queues a frame on a worker's inject ring; a full ring is drained first, as
// the control plane's frames wait for the worker.
void inject(Harness& h, uint32_t q, Side side, InjectMode mode, const Frame& f) {
  for (int i = 0; i < 100; i++) {
    if (h.gw->inject(q, side, mode, f.data(), static_cast<uint32_t>(f.size()))) return;
    h.gw->poll_once();
  }
  check(false);
}

uint32_t ip_len_of(const uint8_t* ip, bool v6) { return v6 ? 40 + load_be16(ip + 4) : load_be16(ip + 2); }

// A decapsulated frame on its way to the private next hop.
void check_private_out(const Harness& h, const Frame& f) {
  check(f.size() >= 14 + 20);
  check(!std::memcmp(f.data(), h.private_nexthop.b, 6) && !std::memcmp(f.data() + 6, h.config.private_mac.b, 6));
  const uint16_t type = load_be16(f.data() + 12);
  const uint8_t* ip = f.data() + 14;
  check((type == net::kEtherTypeIpv4 && ip[0] >> 4 == 4) || (type == net::kEtherTypeIpv6 && ip[0] >> 4 == 6));
  const bool v6 = type == net::kEtherTypeIpv6;
  check(!v6 || f.size() >= 14 + 40);
  check(ip_len_of(ip, v6) == f.size() - 14);
  check((v6 ? ip[7] : ip[8]) >= 1);
  // The inbound policy, decided here from the routes' nets.
  if (v6) {
    static const uint8_t net6[3] = {0xc0, 0xa8, 0x0a};  // c0a8:a00::/24
    check(!std::memcmp(ip + 8, net6, 3) && ip[24] != 0xff);
  } else {
    check(load_be32(ip + 12) >> 8 == 0xc0a80a && ip[16] < 224);  // 192.168.10.0/24
  }
}

// An ESP frame one of our outbound SAs made on queue q.
void check_public_out(const Harness& h, uint32_t q, const Frame& f) {
  check(!std::memcmp(f.data(), h.public_nexthop.b, 6) && !std::memcmp(f.data() + 6, h.config.public_mac.b, 6));
  const net::IpAddr& self = h.config.public_addresses[q];
  const uint8_t* ip = f.data() + 14;
  uint32_t hdr;
  const uint8_t proto = h.udp ? net::kProtoUdp : net::kProtoEsp;
  if (self.is_v6) {
    check(f.size() >= 14 + 40 && load_be16(f.data() + 12) == net::kEtherTypeIpv6 && ip[6] == proto);
    check(!std::memcmp(ip + 8, self.v6.b, 16));
    hdr = 40;
  } else {
    check(f.size() >= 14 + 20 && load_be16(f.data() + 12) == net::kEtherTypeIpv4 && ip[9] == proto);
    check(load_be32(ip + 12) == self.v4 && net::ipv4_header_checksum(ip, 20) == 0);
    hdr = 20;
  }
  check(ip_len_of(ip, self.is_v6) == f.size() - 14);
  if (h.udp) {
    const uint8_t* udp = ip + hdr;
    const uint32_t udp_len = static_cast<uint32_t>(f.size()) - 14 - hdr;
    check(udp_len >= net::kUdpHeaderLen && load_be16(udp) == net::kDefaultNatTPort && load_be16(udp + 4) == udp_len);
    if (self.is_v6) check(net::udp_checksum_ok(ip, true, udp, udp_len));
    else check(load_be16(udp + 6) == 0);
    hdr += net::kUdpHeaderLen;
  }
  const uint32_t esp_len = static_cast<uint32_t>(f.size()) - 14 - hdr;
  check(esp_len >= esp::kEspHeaderLen + 4 + esp::kIcvLen && (esp_len - esp::kEspHeaderLen - esp::kIcvLen) % 4 == 0);
  const uint32_t spi = load_be32(ip + hdr);
  check(spi == kLoopSpi[0] || spi == kLoopSpi[1]);
}

// Our own ESP in UDP, to our address and the NAT-T port again, wherever a
// learned endpoint had sent it.
void readdress(const Harness& h, uint32_t q, Frame& f) {
  if (!h.udp) return;
  const net::IpAddr& self = h.config.public_addresses[q];
  uint8_t* ip = f.data() + 14;
  uint8_t* udp = ip + (self.is_v6 ? 40 : 20);
  const uint32_t udp_len = static_cast<uint32_t>(f.size()) - static_cast<uint32_t>(udp - f.data());
  store_be16(udp + 2, net::kDefaultNatTPort);
  if (self.is_v6) {
    std::memcpy(ip + 24, self.v6.b, 16);
    store_be16(udp + 6, 0);
    store_be16(udp + 6, net::udp_checksum(ip, true, udp, udp_len));
  } else {
    store_be32(ip + 16, self.v4);
    store_be16(ip + 10, 0);
    store_be16(ip + 10, net::ipv4_header_checksum(ip, 20));
  }
}

// Does `out` (decapsulated after a round trip) carry the IP packet of `in`
// (a frame given to the private side), TTL two lower, checksum still right?
bool same_packet(const Frame& in, const Frame& out) {
  if (in.size() < 14 + 20 || out.size() < 14 + 20 || load_be16(in.data() + 12) != load_be16(out.data() + 12))
    return false;
  const uint8_t* a = in.data() + 14;
  const uint8_t* b = out.data() + 14;
  const bool v6 = (a[0] >> 4) == 6;
  const uint32_t len = ip_len_of(b, v6);
  if (len != out.size() - 14 || in.size() - 14 < len) return false;
  const uint32_t ttl = v6 ? 7 : 8;
  if (b[ttl] + 2 != a[ttl]) return false;
  for (uint32_t i = 0; i < len; i++) {
    if (i == ttl || (!v6 && (i == 10 || i == 11))) continue;
    if (a[i] != b[i]) return false;
  }
  if (!v6) {
    const uint32_t ihl = (a[0] & 0xfu) * 4u;
    if ((net::ipv4_header_checksum(a, ihl) == 0) != (net::ipv4_header_checksum(b, ihl) == 0)) return false;
  }
  return true;
}

// The pipeline's TTL decrement (net::ipv4_decrement_ttl, Linux's form)
// against RFC 1624's formula, for every checksum and a TTL of each kind.
bool ttl_decrement_matches_reference() {
  for (uint32_t hc = 0; hc < 0x10000; hc++) {
    for (uint8_t ttl : {uint8_t{2}, uint8_t{64}, uint8_t{255}}) {
      uint8_t a[20] = {0x45}, b[20] = {0x45};
      a[8] = b[8] = ttl;
      store_be16(a + 10, static_cast<uint16_t>(hc));
      store_be16(b + 10, static_cast<uint16_t>(hc));
      net::ipv4_decrement_ttl(a);
      net::ipv4_decrement_ttl_reference(b);
      if (std::memcmp(a, b, sizeof a) != 0) return false;
    }
  }
  return true;
}

// The pipeline's IPv4 header checksum check (net::ipv4_header_checksum_ok,
// a remainder by 0xffff for 20-octet headers) against the byte-pair sum, on
// the input's first octets as they are and with their checksum made right.
void check_header_checksum(const uint8_t* data, size_t size) {
  if (size < net::kIpv4HeaderLen) return;
  uint8_t h[net::kIpv4HeaderLen];
  std::memcpy(h, data, sizeof h);
  check(net::ipv4_header_checksum_ok(h, sizeof h) == (net::checksum_partial(h, sizeof h) == 0xffff));
  store_be16(h + 10, 0);
  store_be16(h + 10, net::ipv4_header_checksum(h, sizeof h));
  check(net::ipv4_header_checksum_ok(h, sizeof h) == (net::checksum_partial(h, sizeof h) == 0xffff));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool ttl_ok = ttl_decrement_matches_reference();
  check(ttl_ok);
  check_header_checksum(data, size);
  static Harness h;
  if (size == 0) return 0;
  const uint8_t settings = data[0];
  h.reset(kSettings[settings & 3], !(settings & 0x10), settings & 0x20);
  const uint32_t tx_limit = (settings >> 2 & 3) == 3 ? 1 : ~0u;
  data++;
  size--;

  struct Input { uint8_t flags; Frame bytes; };
  std::vector<Input> inputs;
  while (size >= 3 && inputs.size() < kMaxFramesPerInput) {
    const uint8_t flags = data[0];
    size_t len = load_be16(data + 1);
    data += 3;
    size -= 3;
    if (len > size) len = size;
    inputs.push_back({flags, Frame(data, data + (len < kMaxFrame ? len : kMaxFrame))});
    data += len;
    size -= len;
  }

  // 1. Frames arriving on the links; 2. frames injected to be processed as if
  // received. The private-side ones are remembered per queue, in order.
  std::vector<const Frame*> private_in[kQueues];
  for (uint32_t q = 0; q < kQueues; q++)
    for (FuzzLink* l : h.links[q]) l->tx_limit = tx_limit;
  for (int pass = 0; pass < 2; pass++) {
    const Tally before = tally(*h.gw);
    for (const Input& in : inputs) {
      const Side side = static_cast<Side>(in.flags & 1);
      const uint32_t q = in.flags >> 1 & 1;
      const uint32_t how = in.flags >> 2 & 3;
      if (pass == 0 && how < 2) {
        h.link(q, side).rx.push_back(in.bytes);
      } else if (pass == 1 && how == 2) {
        inject(h, q, side, InjectMode::receive, in.bytes);
      } else {
        continue;
      }
      if (side == Side::private_side) private_in[q].push_back(&in.bytes);
    }
    settle(h, before, 0);
  }

  // What the gateway sent: decapsulated packets on the private side, ESP on the public side.
  std::vector<Frame> esp_out[kQueues];
  for (uint32_t q = 0; q < kQueues; q++) {
    for (const Frame& f : h.link(q, Side::private_side).tx) check_private_out(h, f);
    for (const Frame& f : h.link(q, Side::public_side).tx) check_public_out(h, q, f);
    esp_out[q] = std::move(h.link(q, Side::public_side).tx);
    for (FuzzLink* l : h.links[q]) {
      l->tx.clear();
      l->tx_limit = ~0u;
    }
  }

  // 3. Our own ESP, back in: all of it authentic and fresh.
  const Tally before = tally(*h.gw);
  uint64_t fed = 0;
  for (uint32_t q = 0; q < kQueues; q++) {
    for (Frame& f : esp_out[q]) {
      readdress(h, q, f);
      h.link(q, Side::public_side).rx.push_back(std::move(f));
    }
    fed += esp_out[q].size();
  }
  settle(h, before, 0);
  const Tally after = tally(*h.gw);
  check(after.decapsulated - before.decapsulated == fed);
  check(after.public_drops - after.policy_drops == before.public_drops - before.policy_drops);
  for (uint32_t q = 0; q < kQueues; q++) {
    size_t next = 0;
    for (const Frame& out : h.link(q, Side::private_side).tx) {
      check_private_out(h, out);
      while (next < private_in[q].size() && !same_packet(*private_in[q][next], out)) next++;
      check(next < private_in[q].size());
      next++;
    }
    h.link(q, Side::private_side).tx.clear();
    check(h.link(q, Side::public_side).tx.empty());
  }

  // 4. Frames injected to be sent as they are.
  std::vector<const Frame*> expected[kQueues][2];
  uint64_t sent = 0;
  const Tally before_sending = tally(*h.gw);
  for (const Input& in : inputs) {
    if ((in.flags >> 2 & 3) != 3) continue;
    const Side side = static_cast<Side>(in.flags & 1);
    const uint32_t q = in.flags >> 1 & 1;
    inject(h, q, side, InjectMode::transmit, in.bytes);
    expected[q][static_cast<int>(side)].push_back(&in.bytes);
    sent++;
  }
  settle(h, before_sending, sent);
  for (uint32_t q = 0; q < kQueues; q++)
    for (int s = 0; s < 2; s++) {
      const std::vector<Frame>& got = h.links[q][s]->tx;
      check(got.size() == expected[q][s].size());
      for (size_t i = 0; i < got.size(); i++) check(got[i] == *expected[q][s][i]);
    }
  return 0;
}
