// N-API surface of the gateway (part "gateway"): controlplane/dataplane.ts is
// its only intended caller. Every call is batch-oriented; no JavaScript runs
// per data packet.
#include <arpa/inet.h>
#include <napi.h>

#include <stdexcept>
#include <unordered_map>

#include "io/drivers.h"
#include "io/memory_link.h"
#include "napi_registry.h"
#include "util/napi_args.h"
#include "pipeline/gateway.h"

namespace vitesse {
namespace {

using namespace napi_args;

// Properties of the option objects, checked by util/napi_args.h; `where` is
// the object's path in errors ("sa.", "route.").
std::string str(const Napi::Object& o, const char* key, const char* where) {
  return string_value(o.Get(key), std::string(where) + "." + key);
}

uint32_t u32(const Napi::Object& o, const char* key, uint32_t dflt) { return uint32_prop(o, key, "", dflt); }

// A 64-bit value given as a BigInt (sequence numbers exceed 2^53).
uint64_t u64(const Napi::Object& o, const char* key, uint64_t dflt) { return uint64_prop(o, key, "", dflt); }

Side side_of(const Napi::Value& v) {
  std::string s = string_value(v, "side");
  if (s == "private") return Side::private_side;
  if (s == "public") return Side::public_side;
  throw std::invalid_argument("side must be \"private\" or \"public\", not \"" + s + "\"");
}

esp::Aead aead_of(const std::string& s) {
  if (s == "aes-gcm-16-icv") return esp::Aead::aes_gcm_16_icv;
  if (s == "aes-256-gcm-16-icv") return esp::Aead::aes_256_gcm_16_icv;
  throw std::invalid_argument("unknown AEAD \"" + s + "\" (aes-gcm-16-icv or aes-256-gcm-16-icv)");
}

SaSpec sa_spec(const Napi::Object& o) {
  SaSpec s;
  s.queue = u32(o, "queue", 0);
  s.route = o.Get("route").IsUndefined() ? "" : str(o, "route", "sa");
  s.pair = static_cast<uint8_t>(uint32_prop(o, "pair", "sa.", 0, 0, kMaxPairs - 1));
  s.spi = u32(o, "spi", 0);
  s.aead = aead_of(str(o, "aead", "sa"));
  auto b = buffer_value(o.Get("keymat"), "sa.keymat");
  s.keymat.assign(b.Data(), b.Data() + b.Length());
  s.replay_window = u32(o, "replayWindow", esp::kDefaultReplayWindow);
  s.esn = bool_prop(o, "esn", "sa.", s.esn);
  s.seq = u64(o, "seq", 0);
  s.limit = u64(o, "limit", UINT64_MAX);
  s.udp_source_port = static_cast<uint16_t>(uint32_prop(o, "udpSourcePort", "sa.", 0, 0, 65535));
  s.udp_destination_port = static_cast<uint16_t>(uint32_prop(o, "udpDestinationPort", "sa.", 0, 0, 65535));
  return s;
}

std::string opt_str(const Napi::Object& o, const char* key, const char* where) {
  return absent(o.Get(key)) ? std::string() : str(o, key, where);
}

std::unique_ptr<Link> make_link(const Napi::Object& spec, Side side, uint32_t queue, const GatewayConfig& cfg,
                                const std::vector<std::string>& public_addresses) {
  const char* where = side == Side::private_side ? "private.link" : "public.link";
  std::string driver = str(spec, "driver", where);
  if (driver == "memory") {
    reject_unknown_keys(spec, {"driver", "wire", "end"}, where);
    std::string name = str(spec, "wire", "link");
    auto wire = MemoryWire::find(name);
    if (!wire) throw std::invalid_argument("memory wire \"" + name + "\" does not exist");
    int end = static_cast<int>(uint32_prop(spec, "end", std::string(where) + ".", 0, 0, 1));
    if (queue >= wire->queues(end)) throw std::invalid_argument("memory wire \"" + name + "\" has too few queues");
    return std::make_unique<MemoryLink>(wire, end, queue);
  }
  if (driver == "af-packet" || driver == "af-xdp" || driver == "pcap") {
    reject_unknown_keys(spec, {"driver", "ifname", "queues", "pcapIn", "pcapOut", "netns", "txMethod", "qdiscBypass", "txGso", "xdpMode", "xdpBind"},
                        where);
    // The gateway's queue count decides; a link spec that says otherwise is a mistake.
    if (uint32_prop(spec, "queues", std::string(where) + ".", cfg.queues) != cfg.queues) {
      throw std::invalid_argument(std::string(where) + ".queues: " + std::to_string(u32(spec, "queues", 0)) +
                                  ", but the gateway has " + std::to_string(cfg.queues) + " queue(s)");
    }
    LinkSpec l;
    l.driver = driver;
    l.ifname = opt_str(spec, "ifname", where);
    l.queue = queue;
    l.queues = cfg.queues;
    if (side == Side::public_side) {
      l.steer_by_destination = true;
      l.queue_addresses = public_addresses;
      l.tx_udp_gso = true;
    }
    l.pcap_in = opt_str(spec, "pcapIn", where);
    l.pcap_out = opt_str(spec, "pcapOut", where);
    l.netns = opt_str(spec, "netns", where);
    l.tx_method = opt_str(spec, "txMethod", where);
    l.qdisc_bypass = bool_prop(spec, "qdiscBypass", std::string(where) + ".", l.qdisc_bypass);
    l.tx_gso = bool_prop(spec, "txGso", std::string(where) + ".", l.tx_gso);
    if (!opt_str(spec, "xdpMode", where).empty()) l.xdp_mode = opt_str(spec, "xdpMode", where);
    if (!opt_str(spec, "xdpBind", where).empty()) l.xdp_bind = opt_str(spec, "xdpBind", where);
    l.busy_poll = cfg.busywait;
    return open_link(l);
  }
  throw std::invalid_argument("unknown link driver \"" + driver + "\" (memory, pcap, af-packet or af-xdp)");
}

// Calls the control plane's punt handler. Node cannot call into JavaScript
// while it tears the environment down (process exit): a notification that
// arrives then is moot, and node-addon-api's default call would throw an
// empty Napi::Error out of a libuv callback and abort the process. A
// JavaScript exception from the handler stays pending, and Node treats it
// as any exception from a native callback, as it did before.
void call_punt_handler(Napi::Env env, Napi::Function handler, std::nullptr_t*, void*) {
  if (env == nullptr || handler.IsEmpty()) return;
  napi_value ignored;
  napi_call_function(env, env.Undefined(), handler, 0, nullptr, &ignored);
}
using PuntNotifier = Napi::TypedThreadSafeFunction<std::nullptr_t, void, call_punt_handler>;

class GatewayWrap : public Napi::ObjectWrap<GatewayWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Gateway",
                       {InstanceMethod("setRoutes", &GatewayWrap::SetRoutes),
                        InstanceMethod("addInboundSa", &GatewayWrap::AddInboundSa),
                        InstanceMethod("removeInboundSa", &GatewayWrap::RemoveInboundSa),
                        InstanceMethod("setOutboundSa", &GatewayWrap::SetOutboundSa),
                        InstanceMethod("removeOutboundSa", &GatewayWrap::RemoveOutboundSa),
                        InstanceMethod("raiseOutboundLimit", &GatewayWrap::RaiseOutboundLimit),
                        InstanceMethod("setPairUsable", &GatewayWrap::SetPairUsable),
                        InstanceMethod("outboundDue", &GatewayWrap::OutboundDue),
                        InstanceMethod("setNextHop", &GatewayWrap::SetNextHop),
                        InstanceMethod("setMtu", &GatewayWrap::SetMtu),
                        InstanceMethod("commit", &GatewayWrap::Commit),
                        InstanceMethod("start", &GatewayWrap::Start),
                        InstanceMethod("stop", &GatewayWrap::Stop),
                        InstanceMethod("pollOnce", &GatewayWrap::PollOnce),
                        InstanceMethod("counters", &GatewayWrap::Counters),
                        InstanceMethod("sas", &GatewayWrap::Sas),
                        InstanceMethod("saTraffic", &GatewayWrap::SaTraffic),
                        InstanceMethod("inboundPackets", &GatewayWrap::InboundPackets),
                        InstanceMethod("endpoints", &GatewayWrap::Endpoints),
                        InstanceMethod("inject", &GatewayWrap::Inject),
                        InstanceMethod("punts", &GatewayWrap::Punts),
                        InstanceMethod("onPunt", &GatewayWrap::OnPunt),
                        InstanceMethod("close", &GatewayWrap::Close)});
  }

  GatewayWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GatewayWrap>(info) {
    Napi::Env env = info.Env();
    try {
      Napi::Object c = object_arg(info, 0, "options");
      GatewayConfig cfg;
      cfg.queues = u32(c, "queues", 1);
      cfg.mtu = u32(c, "mtu", 1440);
      cfg.tfc = bool_prop(c, "tfc", "", false);
      cfg.busywait = bool_prop(c, "busywait", "", false);
      cfg.pool_packets = u32(c, "poolPackets", 4096);
      cfg.nat_t_port = static_cast<uint16_t>(uint32_prop(c, "natTPort", "", net::kDefaultNatTPort, 0, 65535));
      if (!absent(c.Get("cpus"))) {
        Napi::Array a = array_value(c.Get("cpus"), "cpus");
        for (uint32_t i = 0; i < a.Length(); i++) cfg.cpus.push_back(int32_value(a.Get(i), "cpus[" + std::to_string(i) + "]", 0));
      }
      Napi::Object priv = object_value(c.Get("private"), "private");
      Napi::Object pub = object_value(c.Get("public"), "public");
      cfg.private_mac = parse_mac(str(priv, "mac", "private"));
      cfg.public_mac = parse_mac(str(pub, "mac", "public"));
      if (priv.Get("ipv4").IsString()) {
        net::IpAddr a = parse_ip(str(priv, "ipv4", "private"));
        if (a.is_v6) throw std::invalid_argument("private.ipv4: not an IPv4 address");
        cfg.private_v4 = a.v4;
      }
      if (priv.Get("ipv6").IsString()) {
        net::IpAddr a = parse_ip(str(priv, "ipv6", "private"));
        if (!a.is_v6) throw std::invalid_argument("private.ipv6: not an IPv6 address");
        cfg.private_v6 = a.v6;
      }
      Napi::Array addrs = array_value(pub.Get("addresses"), "public.addresses");
      std::vector<std::string> address_text;
      for (uint32_t i = 0; i < addrs.Length(); i++) {
        address_text.push_back(string_value(addrs.Get(i), "public.addresses[" + std::to_string(i) + "]"));
        cfg.public_addresses.push_back(parse_ip(address_text.back()));
      }
      Napi::Object priv_link = object_value(priv.Get("link"), "private.link");
      Napi::Object pub_link = object_value(pub.Get("link"), "public.link");
      gw_ = std::make_unique<Gateway>(cfg, [&](Side s, uint32_t q) {
        return make_link(s == Side::private_side ? priv_link : pub_link, s, q, cfg, address_text);
      });
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  ~GatewayWrap() override { shutdown(); }

 private:
  Gateway& gw(Napi::Env env) {
    if (!gw_) throw Napi::Error::New(env, "gateway is closed");
    return *gw_;
  }

  template <typename F>
  Napi::Value guarded(const Napi::CallbackInfo& info, F f) {
    try {
      return f(gw(info.Env()));
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
  }

  Napi::Value SetRoutes(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      Napi::Array a = array_arg(info, 0, "routes");
      std::vector<RouteSpec> routes;
      for (uint32_t i = 0; i < a.Length(); i++) {
        Napi::Object r = object_value(a.Get(i), "routes[" + std::to_string(i) + "]");
        RouteSpec s;
        s.id = str(r, "id", "route");
        try {
          // One prefix, or a list of them (the inbound policy and the trie take lists).
          Napi::Value net = r.Get("net");
          if (net.IsArray()) {
            Napi::Array nets = net.As<Napi::Array>();
            for (uint32_t j = 0; j < nets.Length(); j++) {
              s.nets.push_back(parse_prefix(string_value(nets.Get(j), "net[" + std::to_string(j) + "]")));
            }
          } else {
            s.nets.push_back(parse_prefix(str(r, "net", "route")));
          }
          Napi::Array gws = array_value(r.Get("gateways"), "gateways");
          for (uint32_t j = 0; j < gws.Length(); j++) s.remotes.push_back(parse_ip(string_value(gws.Get(j), "gateways[" + std::to_string(j) + "]")));
          // Several peers: the other pairs' gateways, each a list as `gateways`.
          if (!absent(r.Get("pairGateways"))) {
            Napi::Array pairs = array_value(r.Get("pairGateways"), "pairGateways");
            for (uint32_t k = 0; k < pairs.Length(); k++) {
              const std::string at = "pairGateways[" + std::to_string(k) + "]";
              Napi::Array list = array_value(pairs.Get(k), at);
              std::vector<net::IpAddr> remotes;
              for (uint32_t j = 0; j < list.Length(); j++) remotes.push_back(parse_ip(string_value(list.Get(j), at + "[" + std::to_string(j) + "]")));
              s.pair_remotes.push_back(std::move(remotes));
            }
          }
        } catch (const std::exception& e) {
          throw std::invalid_argument("route[id='" + s.id + "']: " + e.what());
        }
        routes.push_back(std::move(s));
      }
      g.set_routes(std::move(routes));
      return info.Env().Undefined();
    });
  }
  Napi::Value AddInboundSa(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) { g.add_inbound_sa(sa_spec(object_arg(info, 0, "sa"))); return info.Env().Undefined(); });
  }
  Napi::Value RemoveInboundSa(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      return Napi::Boolean::New(info.Env(), g.remove_inbound_sa(uint32_arg(info, 0, "queue"), uint32_arg(info, 1, "spi")));
    });
  }
  Napi::Value SetOutboundSa(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) { g.set_outbound_sa(sa_spec(object_arg(info, 0, "sa"))); return info.Env().Undefined(); });
  }
  Napi::Value RemoveOutboundSa(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      const uint8_t pair = info.Length() > 2 && !absent(info[2]) ? static_cast<uint8_t>(uint32_arg(info, 2, "pair")) : 0;
      return Napi::Boolean::New(info.Env(), g.remove_outbound_sa(uint32_arg(info, 0, "queue"), string_arg(info, 1, "route"), pair));
    });
  }
  // setPairUsable(queue, route, pair, usable)
  Napi::Value SetPairUsable(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      if (info.Length() < 4 || !info[3].IsBoolean()) throw std::invalid_argument("usable: must be a boolean");
      g.set_pair_usable(uint32_arg(info, 0, "queue"), string_arg(info, 1, "route"), static_cast<uint8_t>(uint32_arg(info, 2, "pair")),
                        info[3].As<Napi::Boolean>().Value());
      return info.Env().Undefined();
    });
  }
  // raiseOutboundLimit({queue, route, spi, limit: bigint}) → false if that SA is not installed
  Napi::Value RaiseOutboundLimit(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      Napi::Object o = object_arg(info, 0, "limit");
      return Napi::Boolean::New(info.Env(), g.raise_outbound_limit(u32(o, "queue", 0), str(o, "route", "sa"), u32(o, "spi", 0),
                                                                   u64(o, "limit", 0), static_cast<uint8_t>(u32(o, "pair", 0))));
    });
  }
  // outboundDue(margin: bigint) → [{queue, route, spi, seq: bigint, limit: bigint}]
  Napi::Value OutboundDue(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      Napi::Env env = info.Env();
      auto list = g.outbound_due(uint64_value(arg(info, 0), "margin"));
      Napi::Array a = Napi::Array::New(env, list.size());
      for (size_t i = 0; i < list.size(); i++) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("queue", list[i].queue);
        o.Set("route", list[i].route);
        o.Set("spi", list[i].spi);
        o.Set("seq", Napi::BigInt::New(env, list[i].seq));
        o.Set("limit", Napi::BigInt::New(env, list[i].limit));
        a.Set(i, o);
      }
      return a;
    });
  }
  Napi::Value SetNextHop(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      std::optional<net::Mac> mac;
      if (!absent(arg(info, 1))) mac = parse_mac(string_arg(info, 1, "mac"));
      g.set_nexthop(side_of(arg(info, 0)), mac);
      return info.Env().Undefined();
    });
  }
  Napi::Value SetMtu(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      g.set_mtu(uint32_arg(info, 0, "mtu"), arg(info, 1).ToBoolean());
      return info.Env().Undefined();
    });
  }
  Napi::Value Commit(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) { g.commit(); return info.Env().Undefined(); });
  }
  Napi::Value Start(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) { g.commit(); g.start(); return info.Env().Undefined(); });
  }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) { g.stop(); return info.Env().Undefined(); });
  }
  Napi::Value PollOnce(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      g.commit();
      return Napi::Number::New(info.Env(), g.poll_once());
    });
  }
  Napi::Value Counters(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      Napi::Object o = Napi::Object::New(info.Env());
      bool per_queue = !absent(arg(info, 0));
      uint32_t q = per_queue ? uint32_arg(info, 0, "queue") : 0;
      if (per_queue && q >= g.queues()) throw std::invalid_argument("queue " + std::to_string(q) + " does not exist");
      for (size_t i = 0; i < static_cast<size_t>(Counter::count); i++) {
        Counter c = static_cast<Counter>(i);
        o.Set(kCounterTable[i].name, Napi::Number::New(info.Env(), static_cast<double>(per_queue ? g.counter(q, c) : g.counter(c))));
      }
      return o;
    });
  }
  Napi::Value Sas(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      Napi::Env env = info.Env();
      auto list = g.sas();
      Napi::Array a = Napi::Array::New(env, list.size());
      for (size_t i = 0; i < list.size(); i++) {
        const SaInfo& s = list[i];
        Napi::Object o = Napi::Object::New(env);
        o.Set("queue", s.queue);
        o.Set("spi", s.spi);
        o.Set("route", s.route);
        if (s.pair) o.Set("pair", s.pair);
        o.Set("direction", s.inbound ? "inbound" : "outbound");
        o.Set("packets", static_cast<double>(s.counters.packets));
        o.Set("bytes", static_cast<double>(s.counters.bytes));
        o.Set("decryptErrors", static_cast<double>(s.counters.decrypt_errors));
        o.Set("replayErrors", static_cast<double>(s.counters.replay_errors));
        o.Set("truncatedErrors", static_cast<double>(s.counters.truncated_errors));
        o.Set("trailerErrors", static_cast<double>(s.counters.trailer_errors));
        o.Set("nextHeaderErrors", static_cast<double>(s.counters.next_header_errors));
        o.Set("policyErrors", static_cast<double>(s.counters.policy_errors));
        o.Set("encapErrors", static_cast<double>(s.counters.encap_errors));
        o.Set("sequenceExhausted", static_cast<double>(s.counters.sequence_exhausted));
        o.Set("sequenceUnreserved", static_cast<double>(s.counters.sequence_unreserved));
        o.Set("esn", s.esn);
        o.Set("seq", Napi::BigInt::New(env, s.seq));
        if (!s.inbound) o.Set("limit", Napi::BigInt::New(env, s.limit));
        if (s.udp_destination_port) {
          o.Set("udpSourcePort", s.udp_source_port);
          o.Set("udpDestinationPort", s.udp_destination_port);
        }
        a.Set(i, o);
      }
      return a;
    });
  }
  // Each SA's traffic as columns, route names once: what the routes' state
  // counters sum, read at every gNMI sample and RESTCONF read of the routes.
  // An object per SA (Sas) costs several times more at 20,000 SAs.
  // columns: per SA, route index, inbound (1/0), worker, packets, bytes,
  // policy errors.
  // `routes` is the same array from call to call, names only appended (a
  // sample makes no string; the reader can keep what it derived from the
  // indices); it starts afresh when it holds many more names than there are
  // SAs (routes removed).
  Napi::Value SaTraffic(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      Napi::Env env = info.Env();
      auto list = g.sas();
      if (traffic_routes_.IsEmpty() || traffic_index_.size() > 2 * list.size() + 1024) {
        traffic_index_.clear();
        traffic_routes_ = Napi::Persistent(Napi::Array::New(env));
      }
      auto& index = traffic_index_;
      Napi::Array routes = traffic_routes_.Value();
      Napi::Float64Array columns = Napi::Float64Array::New(env, list.size() * 6);
      double* c = columns.Data();
      for (const SaInfo& s : list) {
        auto [it, fresh] = index.try_emplace(s.route, static_cast<uint32_t>(index.size()));
        if (fresh) routes.Set(it->second, s.route);
        *c++ = it->second;
        *c++ = s.inbound ? 1 : 0;
        *c++ = s.queue;
        *c++ = static_cast<double>(s.counters.packets);
        *c++ = static_cast<double>(s.counters.bytes);
        *c++ = static_cast<double>(s.counters.policy_errors);
      }
      Napi::Object o = Napi::Object::New(env);
      o.Set("routes", routes);
      o.Set("columns", columns);
      return o;
    });
  }
  Napi::Value InboundPackets(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      return Napi::Number::New(info.Env(), static_cast<double>(g.inbound_packets(uint32_arg(info, 0, "queue"), uint32_arg(info, 1, "spi"))));
    });
  }
  // [{queue, route, learned, address?, port?, changes}]: address and port once learned.
  // endpoints(true): the learned ones only (what the state reads at every
  // gNMI sample: at 10,000 routes an object per route and queue cost more
  // than the routes' counters).
  Napi::Value Endpoints(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      Napi::Env env = info.Env();
      const bool learned_only = info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value();
      auto list = g.endpoints();
      if (learned_only) std::erase_if(list, [](const EndpointInfo& e) { return !e.value.learned; });
      Napi::Array a = Napi::Array::New(env, list.size());
      for (size_t i = 0; i < list.size(); i++) {
        const EndpointInfo& e = list[i];
        Napi::Object o = Napi::Object::New(env);
        o.Set("queue", e.queue);
        o.Set("route", e.route);
        o.Set("learned", e.value.learned);
        if (e.value.learned) {
          char buf[INET6_ADDRSTRLEN];
          const bool v6 = g.config().public_addresses.at(e.queue).is_v6;
          inet_ntop(v6 ? AF_INET6 : AF_INET, e.value.address, buf, sizeof buf);
          o.Set("address", buf);
          o.Set("port", e.value.port);
        }
        o.Set("changes", static_cast<double>(e.value.changes));
        a.Set(i, o);
      }
      return a;
    });
  }
  // inject(queue, side, mode: 'transmit'|'receive', frames: Buffer[]) → accepted count
  Napi::Value Inject(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      uint32_t q = uint32_arg(info, 0, "queue");
      Side side = side_of(arg(info, 1));
      std::string m = string_arg(info, 2, "mode");
      if (m != "transmit" && m != "receive") throw std::invalid_argument("inject mode must be transmit or receive");
      InjectMode mode = m == "transmit" ? InjectMode::transmit : InjectMode::receive;
      Napi::Array frames = array_arg(info, 3, "frames");
      uint32_t ok = 0;
      g.commit();
      for (uint32_t i = 0; i < frames.Length(); i++) {
        auto b = buffer_value(frames.Get(i), "frames[" + std::to_string(i) + "]");
        ok += g.inject(q, side, mode, b.Data(), static_cast<uint32_t>(b.Length()));
      }
      return Napi::Number::New(info.Env(), ok);
    });
  }
  // punts(max?) → [{queue, side, reason, frameLength, frame}]
  Napi::Value Punts(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      Napi::Env env = info.Env();
      uint32_t max = uint32_arg_or(info, 0, "max", 4096);
      Napi::Array out = Napi::Array::New(env);
      uint32_t n = 0;
      static const char* kReasons[] = {"control", "ttl-exceeded", "too-big", "tunnel"};
      for (uint32_t q = 0; q < g.queues(); q++) {
        Worker& w = g.worker(q);
        // Clear before draining: a punt pushed after this point notifies again.
        w.punt_notified.store(false);
        uint32_t len;
        const uint8_t* rec;
        while (n < max && (rec = w.punts().peek(&len))) {
          PuntHeader h;
          std::memcpy(&h, rec, sizeof h);
          Napi::Object o = Napi::Object::New(env);
          o.Set("queue", h.queue);
          o.Set("side", h.side == 0 ? "private" : "public");
          o.Set("reason", h.reason < std::size(kReasons) ? kReasons[h.reason] : "unknown");
          o.Set("frameLength", h.frame_len);
          o.Set("frame", Napi::Buffer<uint8_t>::Copy(env, rec + sizeof h, len - sizeof h));
          w.punts().pop();
          out.Set(n++, o);
        }
      }
      g.reclaim();
      return out;
    });
  }
  Napi::Value OnPunt(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      if (tsfn_) throw std::invalid_argument("onPunt: a callback is already set");
      if (!arg(info, 0).IsFunction()) throw Napi::TypeError::New(info.Env(), "onPunt: expected a function");
      tsfn_ = PuntNotifier::New(info.Env(), info[0].As<Napi::Function>(), "vitesse-punt", 0, 1);
      tsfn_.Unref(info.Env());  // punts alone must not keep the process alive
      PuntNotifier t = tsfn_;
      g.set_punt_notifier([t]() mutable { t.NonBlockingCall(); });
      return info.Env().Undefined();
    });
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    shutdown();
    return info.Env().Undefined();
  }

  void shutdown() {
    if (gw_) {
      gw_->stop();
      gw_->set_punt_notifier(nullptr);
      gw_.reset();
    }
    if (tsfn_) {
      tsfn_.Release();
      tsfn_ = PuntNotifier();
    }
  }

  std::unique_ptr<Gateway> gw_;
  PuntNotifier tsfn_;
  // SaTraffic's route names and the array it hands out.
  std::unordered_map<std::string, uint32_t> traffic_index_;
  Napi::Reference<Napi::Array> traffic_routes_;
};

MemoryWire::EndConfig end_config(const Napi::Object& o) {
  MemoryWire::EndConfig c;
  c.queues = u32(o, "queues", 1);
  std::string s = absent(o.Get("steering")) ? "same-queue" : str(o, "steering", "end");
  if (s == "same-queue") c.steering = Steering::same_queue;
  else if (s == "flow-hash") c.steering = Steering::flow_hash;
  else if (s == "destination") c.steering = Steering::destination;
  else throw std::invalid_argument("steering must be same-queue, flow-hash or destination");
  if (!absent(o.Get("addresses"))) {
    Napi::Array a = array_value(o.Get("addresses"), "end.addresses");
    for (uint32_t i = 0; i < a.Length(); i++) c.queue_addresses.push_back(parse_ip(string_value(a.Get(i), "end.addresses[" + std::to_string(i) + "]")));
  }
  return c;
}

template <typename F>
Napi::Value napi_guard(const Napi::CallbackInfo& info, F f) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

std::shared_ptr<MemoryWire> wire_named(const Napi::Value& v) {
  std::string name = string_value(v, "wire");
  auto w = MemoryWire::find(name);
  if (!w) throw std::invalid_argument("memory wire \"" + name + "\" does not exist");
  return w;
}

NapiPart part("gateway", [](Napi::Env env, Napi::Object exports) {
  exports.Set("Gateway", GatewayWrap::Define(env));
  // The one declaration of the data plane's counters (pipeline/counters.h).
  exports.Set("counterTable", [&] {
    Napi::Array a = Napi::Array::New(env);
    auto str = [&](std::string_view v) { return Napi::String::New(env, v.data(), v.size()); };
    for (size_t i = 0; i < static_cast<size_t>(Counter::count); i++) {
      const CounterInfo& c = kCounterTable[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", c.name);
      o.Set("side", str(c.side));
      o.Set("kind", str(c.kind));
      o.Set("metric", str(c.metric));
      o.Set("label", str(c.label));
      o.Set("yang", str(c.yang));
      o.Set("help", str(c.help));
      a.Set(i, o);
    }
    return a;
  }());
  // createWire(name, {loopback?, ends: [endConfig, endConfig?], ringBytes?})
  exports.Set("createWire", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return napi_guard(info, [&] {
      Napi::Object o = object_arg(info, 1, "options");
      Napi::Array ends = array_value(o.Get("ends"), "ends");
      if (ends.Length() < 1 || ends.Length() > 2) throw Napi::RangeError::New(info.Env(), "ends: expected one or two ends");
      MemoryWire::EndConfig a = end_config(object_value(ends.Get(0u), "ends[0]"));
      MemoryWire::EndConfig b = ends.Length() > 1 ? end_config(object_value(ends.Get(1u), "ends[1]")) : a;
      MemoryWire::create(string_arg(info, 0, "wire"), bool_prop(o, "loopback", "", false), a, b,
                         u32(o, "ringBytes", 4u << 20));
      return info.Env().Undefined();
    });
  }));
  exports.Set("destroyWire", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    MemoryWire::destroy(string_arg(info, 0, "wire"));
    return info.Env().Undefined();
  }));
  // wireSend(name, end, frames[], queue?) → frames accepted
  exports.Set("wireSend", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return napi_guard(info, [&] {
      auto w = wire_named(arg(info, 0));
      int end = static_cast<int>(uint32_arg(info, 1, "end", 0, 1));
      Napi::Array frames = array_arg(info, 2, "frames");
      uint32_t queue = uint32_arg_or(info, 3, "queue", 0);
      uint32_t ok = 0;
      for (uint32_t i = 0; i < frames.Length(); i++) {
        auto b = buffer_value(frames.Get(i), "frames[" + std::to_string(i) + "]");
        ok += w->send(end, queue, b.Data(), static_cast<uint32_t>(b.Length()));
      }
      return Napi::Number::New(info.Env(), ok);
    });
  }));
  // wireReceive(name, end, queue, max) → Buffer[] (frames that arrived at `end`)
  exports.Set("wireReceive", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return napi_guard(info, [&] {
      auto w = wire_named(arg(info, 0));
      int end = static_cast<int>(uint32_arg(info, 1, "end", 0, 1));
      uint32_t queue = uint32_arg_or(info, 2, "queue", 0);
      uint32_t max = uint32_arg_or(info, 3, "max", 4096);
      if (queue >= w->queues(end)) throw std::invalid_argument("no such queue on this wire end");
      Napi::Array out = Napi::Array::New(info.Env());
      ByteRing& r = w->ring(end, queue);
      uint32_t n = 0, len;
      const uint8_t* rec;
      while (n < max && (rec = r.peek(&len))) {
        out.Set(n++, Napi::Buffer<uint8_t>::Copy(info.Env(), rec, len));
        r.pop();
      }
      return out;
    });
  }));
});

}  // namespace
}  // namespace vitesse
