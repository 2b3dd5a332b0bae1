// N-API surface of the gateway (part "gateway"): controlplane/dataplane.ts is
// its only intended caller. Every call is batch-oriented; no JavaScript runs
// per data packet.
#include <napi.h>

#include <stdexcept>

#include "crypto/aes_gcm.h"
#include "io/drivers.h"
#include "io/memory_link.h"
#include "napi_registry.h"
#include "pipeline/gateway.h"
#include "pipeline/softbench.h"

namespace vitesse {
namespace {

std::string str(const Napi::Object& o, const char* key, const char* where) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw std::invalid_argument(std::string(where) + "." + key + ": expected a string");
  return v.As<Napi::String>().Utf8Value();
}

uint32_t u32(const Napi::Object& o, const char* key, uint32_t dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return dflt;
  if (!v.IsNumber()) throw std::invalid_argument(std::string(key) + ": expected a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 4294967295.0 || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw std::invalid_argument(std::string(key) + ": expected an unsigned 32-bit integer");
  return static_cast<uint32_t>(d);
}

// A 64-bit value given as a BigInt (sequence numbers exceed 2^53).
uint64_t u64(const Napi::Object& o, const char* key, uint64_t dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return dflt;
  if (!v.IsBigInt()) throw std::invalid_argument(std::string(key) + ": expected a bigint");
  bool lossless = false;
  const uint64_t n = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw std::invalid_argument(std::string(key) + ": expected an unsigned 64-bit integer");
  return n;
}

Side side_of(const Napi::Value& v) {
  std::string s = v.As<Napi::String>().Utf8Value();
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
  s.route = o.Get("route").IsString() ? o.Get("route").As<Napi::String>().Utf8Value() : "";
  s.spi = u32(o, "spi", 0);
  s.aead = aead_of(str(o, "aead", "sa"));
  Napi::Value k = o.Get("keymat");
  if (!k.IsBuffer()) throw std::invalid_argument("sa.keymat: expected a Buffer");
  auto b = k.As<Napi::Buffer<uint8_t>>();
  s.keymat.assign(b.Data(), b.Data() + b.Length());
  s.replay_window = u32(o, "replayWindow", esp::kDefaultReplayWindow);
  if (o.Get("esn").IsBoolean()) s.esn = o.Get("esn").ToBoolean();
  s.seq = u64(o, "seq", 0);
  s.limit = u64(o, "limit", UINT64_MAX);
  return s;
}

std::string opt_str(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

std::unique_ptr<Link> make_link(const Napi::Object& spec, Side side, uint32_t queue, const GatewayConfig& cfg,
                                const std::vector<std::string>& public_addresses) {
  std::string driver = str(spec, "driver", side == Side::private_side ? "private.link" : "public.link");
  if (driver == "memory") {
    std::string name = str(spec, "wire", "link");
    auto wire = MemoryWire::find(name);
    if (!wire) throw std::invalid_argument("memory wire \"" + name + "\" does not exist");
    int end = static_cast<int>(u32(spec, "end", 0));
    if (end > 1) throw std::invalid_argument("memory link end must be 0 or 1");
    if (queue >= wire->queues(end)) throw std::invalid_argument("memory wire \"" + name + "\" has too few queues");
    return std::make_unique<MemoryLink>(wire, end, queue);
  }
  if (driver == "af-packet" || driver == "af-xdp" || driver == "pcap") {
    LinkSpec l;
    l.driver = driver;
    l.ifname = opt_str(spec, "ifname");
    l.queue = queue;
    l.queues = cfg.queues;
    if (side == Side::public_side) {
      l.steer_by_destination = true;
      l.queue_addresses = public_addresses;
    }
    l.pcap_in = opt_str(spec, "pcapIn");
    l.pcap_out = opt_str(spec, "pcapOut");
    l.netns = opt_str(spec, "netns");
    l.tx_method = opt_str(spec, "txMethod");
    if (spec.Get("qdiscBypass").IsBoolean()) l.qdisc_bypass = spec.Get("qdiscBypass").ToBoolean();
    if (!opt_str(spec, "xdpMode").empty()) l.xdp_mode = opt_str(spec, "xdpMode");
    if (!opt_str(spec, "xdpBind").empty()) l.xdp_bind = opt_str(spec, "xdpBind");
    return open_link(l);
  }
  throw std::invalid_argument("unknown link driver \"" + driver + "\" (memory, pcap, af-packet or af-xdp)");
}

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
                        InstanceMethod("outboundDue", &GatewayWrap::OutboundDue),
                        InstanceMethod("setNextHop", &GatewayWrap::SetNextHop),
                        InstanceMethod("setMtu", &GatewayWrap::SetMtu),
                        InstanceMethod("commit", &GatewayWrap::Commit),
                        InstanceMethod("start", &GatewayWrap::Start),
                        InstanceMethod("stop", &GatewayWrap::Stop),
                        InstanceMethod("pollOnce", &GatewayWrap::PollOnce),
                        InstanceMethod("counters", &GatewayWrap::Counters),
                        InstanceMethod("sas", &GatewayWrap::Sas),
                        InstanceMethod("inboundPackets", &GatewayWrap::InboundPackets),
                        InstanceMethod("inject", &GatewayWrap::Inject),
                        InstanceMethod("punts", &GatewayWrap::Punts),
                        InstanceMethod("onPunt", &GatewayWrap::OnPunt),
                        InstanceMethod("close", &GatewayWrap::Close)});
  }

  GatewayWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GatewayWrap>(info) {
    Napi::Env env = info.Env();
    try {
      Napi::Object c = info[0].As<Napi::Object>();
      GatewayConfig cfg;
      cfg.queues = u32(c, "queues", 1);
      cfg.mtu = u32(c, "mtu", 1440);
      cfg.tfc = c.Get("tfc").ToBoolean();
      cfg.busywait = c.Get("busywait").ToBoolean();
      cfg.pool_packets = u32(c, "poolPackets", 4096);
      if (c.Get("cpus").IsArray()) {
        Napi::Array a = c.Get("cpus").As<Napi::Array>();
        for (uint32_t i = 0; i < a.Length(); i++) cfg.cpus.push_back(a.Get(i).As<Napi::Number>().Int32Value());
      }
      Napi::Object priv = c.Get("private").As<Napi::Object>();
      Napi::Object pub = c.Get("public").As<Napi::Object>();
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
      Napi::Array addrs = pub.Get("addresses").As<Napi::Array>();
      std::vector<std::string> address_text;
      for (uint32_t i = 0; i < addrs.Length(); i++) {
        address_text.push_back(addrs.Get(i).As<Napi::String>().Utf8Value());
        cfg.public_addresses.push_back(parse_ip(address_text.back()));
      }
      Napi::Object priv_link = priv.Get("link").As<Napi::Object>();
      Napi::Object pub_link = pub.Get("link").As<Napi::Object>();
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
      Napi::Array a = info[0].As<Napi::Array>();
      std::vector<RouteSpec> routes;
      for (uint32_t i = 0; i < a.Length(); i++) {
        Napi::Object r = a.Get(i).As<Napi::Object>();
        RouteSpec s;
        s.id = str(r, "id", "route");
        try {
          // One prefix, or a list of them (the inbound policy and the trie take lists).
          Napi::Value net = r.Get("net");
          if (net.IsArray()) {
            Napi::Array nets = net.As<Napi::Array>();
            for (uint32_t j = 0; j < nets.Length(); j++) {
              if (!nets.Get(j).IsString()) throw std::invalid_argument("net: expected strings");
              s.nets.push_back(parse_prefix(nets.Get(j).As<Napi::String>().Utf8Value()));
            }
          } else {
            s.nets.push_back(parse_prefix(str(r, "net", "route")));
          }
          Napi::Array gws = r.Get("gateways").As<Napi::Array>();
          for (uint32_t j = 0; j < gws.Length(); j++) s.remotes.push_back(parse_ip(gws.Get(j).As<Napi::String>().Utf8Value()));
        } catch (const std::invalid_argument& e) {
          throw std::invalid_argument("route[id='" + s.id + "']: " + e.what());
        }
        routes.push_back(std::move(s));
      }
      g.set_routes(std::move(routes));
      return info.Env().Undefined();
    });
  }
  Napi::Value AddInboundSa(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) { g.add_inbound_sa(sa_spec(info[0].As<Napi::Object>())); return info.Env().Undefined(); });
  }
  Napi::Value RemoveInboundSa(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      return Napi::Boolean::New(info.Env(), g.remove_inbound_sa(info[0].As<Napi::Number>().Uint32Value(),
                                                                 info[1].As<Napi::Number>().Uint32Value()));
    });
  }
  Napi::Value SetOutboundSa(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) { g.set_outbound_sa(sa_spec(info[0].As<Napi::Object>())); return info.Env().Undefined(); });
  }
  Napi::Value RemoveOutboundSa(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      return Napi::Boolean::New(info.Env(), g.remove_outbound_sa(info[0].As<Napi::Number>().Uint32Value(),
                                                                  info[1].As<Napi::String>().Utf8Value()));
    });
  }
  // raiseOutboundLimit({queue, route, spi, limit: bigint}) → false if that SA is not installed
  Napi::Value RaiseOutboundLimit(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      Napi::Object o = info[0].As<Napi::Object>();
      return Napi::Boolean::New(info.Env(), g.raise_outbound_limit(u32(o, "queue", 0), str(o, "route", "sa"), u32(o, "spi", 0),
                                                                   u64(o, "limit", 0)));
    });
  }
  // outboundDue(margin: bigint) → [{queue, route, spi, seq: bigint, limit: bigint}]
  Napi::Value OutboundDue(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      Napi::Env env = info.Env();
      bool lossless = false;
      if (!info[0].IsBigInt()) throw std::invalid_argument("margin: expected a bigint");
      auto list = g.outbound_due(info[0].As<Napi::BigInt>().Uint64Value(&lossless));
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
      if (info[1].IsString()) mac = parse_mac(info[1].As<Napi::String>().Utf8Value());
      g.set_nexthop(side_of(info[0]), mac);
      return info.Env().Undefined();
    });
  }
  Napi::Value SetMtu(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      g.set_mtu(info[0].As<Napi::Number>().Uint32Value(), info[1].ToBoolean());
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
      bool per_queue = info.Length() > 0 && info[0].IsNumber();
      uint32_t q = per_queue ? info[0].As<Napi::Number>().Uint32Value() : 0;
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
        o.Set("sequenceUnreserved", static_cast<double>(s.counters.sequence_unreserved));
        o.Set("esn", s.esn);
        o.Set("seq", Napi::BigInt::New(env, s.seq));
        if (!s.inbound) o.Set("limit", Napi::BigInt::New(env, s.limit));
        a.Set(i, o);
      }
      return a;
    });
  }
  Napi::Value InboundPackets(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      return Napi::Number::New(info.Env(), static_cast<double>(g.inbound_packets(info[0].As<Napi::Number>().Uint32Value(),
                                                                                 info[1].As<Napi::Number>().Uint32Value())));
    });
  }
  // inject(queue, side, mode: 'transmit'|'receive', frames: Buffer[]) → accepted count
  Napi::Value Inject(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      uint32_t q = info[0].As<Napi::Number>().Uint32Value();
      Side side = side_of(info[1]);
      std::string m = info[2].As<Napi::String>().Utf8Value();
      if (m != "transmit" && m != "receive") throw std::invalid_argument("inject mode must be transmit or receive");
      InjectMode mode = m == "transmit" ? InjectMode::transmit : InjectMode::receive;
      Napi::Array frames = info[3].As<Napi::Array>();
      uint32_t ok = 0;
      g.commit();
      for (uint32_t i = 0; i < frames.Length(); i++) {
        auto b = frames.Get(i).As<Napi::Buffer<uint8_t>>();
        ok += g.inject(q, side, mode, b.Data(), static_cast<uint32_t>(b.Length()));
      }
      return Napi::Number::New(info.Env(), ok);
    });
  }
  // punts(max?) → [{queue, side, reason, frameLength, frame}]
  Napi::Value Punts(const Napi::CallbackInfo& info) {
    return guarded(info, [&](Gateway& g) {
      Napi::Env env = info.Env();
      uint32_t max = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 4096;
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
      tsfn_ = Napi::ThreadSafeFunction::New(info.Env(), info[0].As<Napi::Function>(), "vitesse-punt", 0, 1);
      tsfn_.Unref(info.Env());  // punts alone must not keep the process alive
      Napi::ThreadSafeFunction t = tsfn_;
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
      tsfn_ = Napi::ThreadSafeFunction();
    }
  }

  std::unique_ptr<Gateway> gw_;
  Napi::ThreadSafeFunction tsfn_;
};

MemoryWire::EndConfig end_config(const Napi::Object& o) {
  MemoryWire::EndConfig c;
  c.queues = u32(o, "queues", 1);
  std::string s = o.Get("steering").IsString() ? o.Get("steering").As<Napi::String>().Utf8Value() : "same-queue";
  if (s == "same-queue") c.steering = Steering::same_queue;
  else if (s == "flow-hash") c.steering = Steering::flow_hash;
  else if (s == "destination") c.steering = Steering::destination;
  else throw std::invalid_argument("steering must be same-queue, flow-hash or destination");
  if (o.Get("addresses").IsArray()) {
    Napi::Array a = o.Get("addresses").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) c.queue_addresses.push_back(parse_ip(a.Get(i).As<Napi::String>().Utf8Value()));
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
  std::string name = v.As<Napi::String>().Utf8Value();
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
      Napi::Object o = info[1].As<Napi::Object>();
      Napi::Array ends = o.Get("ends").As<Napi::Array>();
      MemoryWire::EndConfig a = end_config(ends.Get(0u).As<Napi::Object>());
      MemoryWire::EndConfig b = ends.Length() > 1 ? end_config(ends.Get(1u).As<Napi::Object>()) : a;
      MemoryWire::create(info[0].As<Napi::String>().Utf8Value(), o.Get("loopback").ToBoolean(), a, b,
                         u32(o, "ringBytes", 4u << 20));
      return info.Env().Undefined();
    });
  }));
  exports.Set("destroyWire", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    MemoryWire::destroy(info[0].As<Napi::String>().Utf8Value());
    return info.Env().Undefined();
  }));
  // wireSend(name, end, frames[], queue?) → frames accepted
  exports.Set("wireSend", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return napi_guard(info, [&] {
      auto w = wire_named(info[0]);
      int end = info[1].As<Napi::Number>().Int32Value() ? 1 : 0;
      Napi::Array frames = info[2].As<Napi::Array>();
      uint32_t queue = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Uint32Value() : 0;
      uint32_t ok = 0;
      for (uint32_t i = 0; i < frames.Length(); i++) {
        auto b = frames.Get(i).As<Napi::Buffer<uint8_t>>();
        ok += w->send(end, queue, b.Data(), static_cast<uint32_t>(b.Length()));
      }
      return Napi::Number::New(info.Env(), ok);
    });
  }));
  // wireReceive(name, end, queue, max) → Buffer[] (frames that arrived at `end`)
  exports.Set("wireReceive", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return napi_guard(info, [&] {
      auto w = wire_named(info[0]);
      int end = info[1].As<Napi::Number>().Int32Value() ? 1 : 0;
      uint32_t queue = info[2].As<Napi::Number>().Uint32Value();
      uint32_t max = info[3].As<Napi::Number>().Uint32Value();
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
  // softbench({packetSize: number | 'IMIX', packets, routes, queues, cpus?}) → result
  exports.Set("softbench", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return napi_guard(info, [&] {
      Napi::Object o = info[0].As<Napi::Object>();
      SoftbenchOptions opt;
      Napi::Value size = o.Get("packetSize");
      if (size.IsString()) {
        if (size.As<Napi::String>().Utf8Value() != "IMIX") throw std::invalid_argument("packetSize must be a number or IMIX");
        opt.imix = true;
      } else {
        opt.packet_size = u32(o, "packetSize", 60);
      }
      opt.packets = static_cast<uint64_t>(o.Get("packets").As<Napi::Number>().DoubleValue());
      opt.routes = u32(o, "routes", 1);
      opt.queues = u32(o, "queues", 1);
      if (o.Get("cpus").IsArray()) {
        Napi::Array a = o.Get("cpus").As<Napi::Array>();
        for (uint32_t i = 0; i < a.Length(); i++) opt.cpus.push_back(a.Get(i).As<Napi::Number>().Int32Value());
      }
      SoftbenchResult r = run_softbench(opt);
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("seconds", r.seconds);
      out.Set("cpuSeconds", r.cpu_seconds);
      out.Set("packets", static_cast<double>(r.packets));
      out.Set("bytes", static_cast<double>(r.bytes));
      out.Set("sent", static_cast<double>(r.sent));
      out.Set("cryptoPath", crypto::gcm_path_name(crypto::gcm_default_path()));
      return out;
    });
  }));
});

}  // namespace
}  // namespace vitesse
