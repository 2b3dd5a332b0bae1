// N-API part "io": packet I/O drivers for tests and benchmarks (native.io.*).
// Not a hot path: frames are copied between Buffers and the link's own pool.
//
//   open(spec) -> link             spec: { driver, ifname?, queue?, queues?,
//                                    steerByDestination?, queueAddresses?,
//                                    pcapIn?, pcapOut?, netns?, txMethod?,
//                                    qdiscBypass?, txGso?, xdpMode?, xdpBind? }
//   link.send(frames: Buffer[]) -> number   frames the driver accepted
//   link.receive(max = 64, timeoutMs = 0) -> Buffer[]
//                                  waits up to timeoutMs for the first frame
//   link.counters() -> { rx_packets, ..., driver-specific }
//   link.close()                   idempotent; the link also closes when collected
//   blast({ spec, frame, seconds, burst?, pps? }) -> Promise<result>   (pps: paced rate, 0 = flat out)
//   sink({ spec, seconds, busyPoll?, idleStop? }) -> Promise<result>
//       run a generator / counter on a thread of their own (two calls run
//       at once); result: { packets, bytes, activeSeconds, elapsedSeconds,
//       cpuSeconds (the thread's, system calls included), counters }
// Errors from the drivers keep their message ("af-xdp: eth1: ...").
#include <napi.h>
#include <poll.h>
#include <time.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/drivers.h"
#include "io/traffic.h"
#include "napi_registry.h"
#include "util/napi_args.h"
#include "packet.h"

namespace vitesse {
namespace {

LinkSpec spec_arg(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, "io: spec must be an object");
  Napi::Object o = v.As<Napi::Object>();
  static const std::set<std::string> known = {"driver", "ifname", "queue", "queues", "steerByDestination",
                                              "queueAddresses", "pcapIn", "pcapOut", "netns", "txMethod",
                                              "qdiscBypass", "txGso", "xdpMode", "xdpBind"};
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    std::string k = keys.Get(i).ToString().Utf8Value();
    if (!known.count(k)) throw Napi::TypeError::New(env, "io: spec." + k + ": unknown field");
  }
  auto str = [&](const char* k, std::string& out) {
    Napi::Value x = o.Get(k);
    if (x.IsUndefined()) return;
    if (!x.IsString()) throw Napi::TypeError::New(env, std::string("io: spec.") + k + " must be a string");
    out = x.As<Napi::String>().Utf8Value();
  };
  auto u32 = [&](const char* k, uint32_t& out) {
    Napi::Value x = o.Get(k);
    if (x.IsUndefined()) return;
    double d = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 65535 && d == static_cast<double>(static_cast<uint32_t>(d)))) {
      throw Napi::TypeError::New(env, std::string("io: spec.") + k + " must be an integer in 0..65535");
    }
    out = static_cast<uint32_t>(d);
  };
  auto flag = [&](const char* k, bool& out) {
    Napi::Value x = o.Get(k);
    if (x.IsUndefined()) return;
    if (!x.IsBoolean()) throw Napi::TypeError::New(env, std::string("io: spec.") + k + " must be a boolean");
    out = x.As<Napi::Boolean>().Value();
  };
  LinkSpec s;
  str("driver", s.driver);
  str("ifname", s.ifname);
  u32("queue", s.queue);
  u32("queues", s.queues);
  flag("steerByDestination", s.steer_by_destination);
  Napi::Value qa = o.Get("queueAddresses");
  if (!qa.IsUndefined()) {
    if (!qa.IsArray()) throw Napi::TypeError::New(env, "io: spec.queueAddresses must be an array of strings");
    Napi::Array a = qa.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      if (!a.Get(i).IsString()) throw Napi::TypeError::New(env, "io: spec.queueAddresses must be an array of strings");
      s.queue_addresses.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
  }
  str("pcapIn", s.pcap_in);
  str("pcapOut", s.pcap_out);
  str("netns", s.netns);
  str("txMethod", s.tx_method);
  flag("qdiscBypass", s.qdisc_bypass);
  flag("txGso", s.tx_gso);
  str("xdpMode", s.xdp_mode);
  str("xdpBind", s.xdp_bind);
  return s;
}

std::unique_ptr<Link> open_or_throw(Napi::Env env, const LinkSpec& spec) {
  try {
    return open_link(spec);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

Napi::Object counters_object(Napi::Env env, const Link& link) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& c : link.counters()) o.Set(c.name, Napi::Number::New(env, static_cast<double>(c.value)));
  return o;
}

double seconds_field(Napi::Env env, Napi::Object o, const char* k) {
  Napi::Value v = o.Get(k);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d > 0 && d <= 3600)) throw Napi::TypeError::New(env, std::string("io: ") + k + " must be a number of seconds in (0, 3600]");
  return d;
}

// A link opened from JavaScript, with the pool its frames pass through.
struct Handle {
  std::unique_ptr<Link> link;
  PacketPool pool{2 * kBatch};
  Link& get(Napi::Env env) {
    if (!link) throw Napi::Error::New(env, "io: link is closed");
    return *link;
  }
};

Napi::Value send(const Napi::CallbackInfo& info, Handle& h) {
  Napi::Env env = info.Env();
  Link& link = h.get(env);
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "io: send(frames) takes an array of Buffers");
  Napi::Array frames = info[0].As<Napi::Array>();
  const uint32_t total = frames.Length();
  for (uint32_t i = 0; i < total; i++) {
    Napi::Value f = frames.Get(i);
    if (!f.IsBuffer()) throw Napi::TypeError::New(env, "io: frames[" + std::to_string(i) + "] is not a Buffer");
    size_t len = f.As<Napi::Buffer<uint8_t>>().Length();
    if (len == 0 || len > kMaxFrame) throw Napi::RangeError::New(env, "io: frames[" + std::to_string(i) + "]: " + std::to_string(len) + " bytes, want 1.." + std::to_string(kMaxFrame));
  }
  uint32_t accepted = 0;
  Packet* pkts[kBatch];
  for (uint32_t at = 0; at < total; at += kBatch) {
    uint32_t n = std::min(kBatch, total - at);
    for (uint32_t i = 0; i < n; i++) {
      auto b = frames.Get(at + i).As<Napi::Buffer<uint8_t>>();
      pkts[i] = h.pool.alloc();
      pkts[i]->assign(b.Data(), b.Length());
    }
    accepted += link.tx_burst(pkts, n);
    h.pool.free_burst(pkts, n);
  }
  link.flush();
  return Napi::Number::New(env, accepted);
}

Napi::Value receive(const Napi::CallbackInfo& info, Handle& h) {
  Napi::Env env = info.Env();
  Link& link = h.get(env);
  uint32_t max = napi_args::uint32_arg_or(info, 0, "io: receive: max", kBatch);
  const Napi::Value timeout = napi_args::arg(info, 1);
  if (!napi_args::absent(timeout) && !timeout.IsNumber()) throw Napi::TypeError::New(env, "io: receive: timeoutMs: expected a number");
  double timeout_ms = timeout.IsNumber() ? timeout.As<Napi::Number>().DoubleValue() : 0;
  Napi::Array out = Napi::Array::New(env);
  Packet* pkts[kBatch];
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    uint32_t got = out.Length();
    if (got >= max) break;
    uint32_t n = link.rx_burst(h.pool, pkts, std::min(kBatch, max - got));
    for (uint32_t i = 0; i < n; i++) out.Set(got + i, Napi::Buffer<uint8_t>::Copy(env, pkts[i]->data, pkts[i]->len));
    h.pool.free_burst(pkts, n);
    if (n) continue;
    if (out.Length() > 0) break;
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double left = timeout_ms - ((t.tv_sec - start.tv_sec) * 1e3 + (t.tv_nsec - start.tv_nsec) * 1e-6);
    if (left <= 0) break;
    if (link.wait_fd() >= 0) {
      pollfd p{link.wait_fd(), POLLIN, 0};
      poll(&p, 1, static_cast<int>(std::min(left, 10.0)) + 1);
    } else {
      break;  // nothing to wait on (pcap): what is there is all there is
    }
  }
  return out;
}

Napi::Value open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LinkSpec spec = spec_arg(env, info[0]);
  auto h = std::make_shared<Handle>();
  h->link = open_or_throw(env, spec);
  Napi::Object o = Napi::Object::New(env);
  o.Set("send", Napi::Function::New(env, [h](const Napi::CallbackInfo& i) { return send(i, *h); }, "send"));
  o.Set("receive", Napi::Function::New(env, [h](const Napi::CallbackInfo& i) { return receive(i, *h); }, "receive"));
  o.Set("counters", Napi::Function::New(env, [h](const Napi::CallbackInfo& i) { return counters_object(i.Env(), h->get(i.Env())); }, "counters"));
  o.Set("close", Napi::Function::New(env, [h](const Napi::CallbackInfo& i) { h->link.reset(); return i.Env().Undefined(); }, "close"));
  o.Set("waitFd", Napi::Function::New(env, [h](const Napi::CallbackInfo& i) { return Napi::Number::New(i.Env(), h->get(i.Env()).wait_fd()); }, "waitFd"));
  return o;
}

// blast / sink: the link is opened on the JavaScript thread (errors reject at
// once, and the namespace switch stays on that thread); the loop runs on a
// libuv pool thread.
class TrafficWorker : public Napi::AsyncWorker {
 public:
  TrafficWorker(Napi::Env env, std::unique_ptr<Link> link, std::vector<uint8_t> frame, double seconds, uint32_t burst,
                double pps, bool busy_poll, double idle_stop)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        link_(std::move(link)),
        frame_(std::move(frame)),
        seconds_(seconds),
        burst_(burst),
        pps_(pps),
        busy_poll_(busy_poll),
        idle_stop_(idle_stop) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_ = frame_.empty() ? sink(*link_, seconds_, busy_poll_, idle_stop_) : blast(*link_, frame_, seconds_, burst_, pps_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object r = Napi::Object::New(env);
    r.Set("packets", Napi::Number::New(env, static_cast<double>(result_.packets)));
    r.Set("bytes", Napi::Number::New(env, static_cast<double>(result_.bytes)));
    r.Set("activeSeconds", Napi::Number::New(env, result_.active_seconds));
    r.Set("elapsedSeconds", Napi::Number::New(env, result_.elapsed_seconds));
    r.Set("cpuSeconds", Napi::Number::New(env, result_.cpu_seconds));
    r.Set("counters", counters_object(env, *link_));
    link_.reset();
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override {
    link_.reset();
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<Link> link_;
  std::vector<uint8_t> frame_;  // empty: sink
  double seconds_;
  uint32_t burst_;
  double pps_;
  bool busy_poll_;
  double idle_stop_;
  TrafficResult result_;
};

Napi::Value traffic(const Napi::CallbackInfo& info, bool is_blast) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, std::string("io: ") + (is_blast ? "blast" : "sink") + "(options) takes an object");
  Napi::Object o = info[0].As<Napi::Object>();
  LinkSpec spec = spec_arg(env, o.Get("spec"));
  double seconds = seconds_field(env, o, "seconds");
  std::vector<uint8_t> frame;
  uint32_t burst = kBatch;
  double pps = 0;
  bool busy_poll = false;
  double idle_stop = 0;
  if (is_blast) {
    Napi::Value f = o.Get("frame");
    if (!f.IsBuffer()) throw Napi::TypeError::New(env, "io: blast: frame must be a Buffer");
    auto b = f.As<Napi::Buffer<uint8_t>>();
    if (b.Length() == 0 || b.Length() > kMaxFrame) throw Napi::RangeError::New(env, "io: blast: frame must be 1.." + std::to_string(kMaxFrame) + " bytes");
    frame.assign(b.Data(), b.Data() + b.Length());
    burst = napi_args::uint32_prop(o, "burst", "io: blast: ", burst, 1);
    Napi::Value rate = o.Get("pps");
    if (!rate.IsUndefined()) {
      pps = rate.IsNumber() ? rate.As<Napi::Number>().DoubleValue() : -1;
      if (!(pps >= 0 && pps <= 1e9)) throw Napi::TypeError::New(env, "io: blast: pps must be a number of frames per second in [0, 1e9] (0: as fast as possible)");
    }
  } else {
    busy_poll = napi_args::bool_prop(o, "busyPoll", "io: sink: ", false);
    if (!napi_args::absent(o.Get("idleStop"))) {
      if (!o.Get("idleStop").IsNumber()) throw Napi::TypeError::New(env, "io: sink: idleStop: expected a number of seconds");
      idle_stop = o.Get("idleStop").As<Napi::Number>().DoubleValue();
    }
  }
  auto* w = new TrafficWorker(env, open_or_throw(env, spec), std::move(frame), seconds, burst, pps, busy_poll, idle_stop);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

NapiPart part("io", [](Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, open, "open"));
  exports.Set("blast", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return traffic(i, true); }, "blast"));
  exports.Set("sink", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return traffic(i, false); }, "sink"));
});

}  // namespace
}  // namespace vitesse
