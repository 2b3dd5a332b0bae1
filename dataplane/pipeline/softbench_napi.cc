// N-API part "softbench" of the testkit addon (vitesse_testkit.node): the
// software benchmark that `vitesse bench softbench` runs (pipeline/softbench.h).
// Not in the product addon: a running gateway never calls it.
//
//   run({packetSize: number | 'IMIX', packets, routes, queues, cpus?, natT?,
//        publicLink?: 'loopback' | 'memory'})
//     -> {seconds, cpuSeconds, packets, bytes, sent, cryptoPath,
//         perQueue: [{packets, cpuSeconds, seconds}]}
#include <napi.h>

#include <string>

#include "crypto/aes_gcm.h"
#include "napi_registry.h"
#include "pipeline/softbench.h"
#include "util/napi_args.h"

namespace vitesse {
namespace {

using namespace napi_args;

Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Object o = object_arg(info, 0, "softbench: options");
  reject_unknown_keys(o, {"packetSize", "packets", "routes", "queues", "cpus", "natT", "publicLink"}, "softbench: options");
  SoftbenchOptions opt;
  Napi::Value size = o.Get("packetSize");
  if (size.IsString()) {
    if (size.As<Napi::String>().Utf8Value() != "IMIX") throw Napi::TypeError::New(info.Env(), "packetSize must be a number or IMIX");
    opt.imix = true;
  } else {
    opt.packet_size = uint32_prop(o, "packetSize", "", 60, 60, 1514);
  }
  opt.packets = count_value(o.Get("packets"), "packets");
  opt.routes = uint32_prop(o, "routes", "", 1, 1, 65535);
  opt.queues = uint32_prop(o, "queues", "", 1, 1, 64);
  opt.nat_t = bool_prop(o, "natT", "", false);
  if (!absent(o.Get("publicLink"))) {
    const std::string link = string_value(o.Get("publicLink"), "publicLink");
    if (link == "memory") opt.public_link = SoftbenchOptions::PublicLink::memory;
    else if (link != "loopback") throw Napi::TypeError::New(info.Env(), "publicLink must be loopback or memory");
  }
  if (!absent(o.Get("cpus"))) {
    Napi::Array a = array_value(o.Get("cpus"), "cpus");
    for (uint32_t i = 0; i < a.Length(); i++) opt.cpus.push_back(int32_value(a.Get(i), "cpus[" + std::to_string(i) + "]", 0));
  }
  SoftbenchResult r;
  try {
    r = run_softbench(opt);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("seconds", r.seconds);
  out.Set("cpuSeconds", r.cpu_seconds);
  out.Set("packets", static_cast<double>(r.packets));
  out.Set("bytes", static_cast<double>(r.bytes));
  out.Set("sent", static_cast<double>(r.sent));
  out.Set("steadySeconds", r.steady_seconds);
  out.Set("steadyPackets", static_cast<double>(r.steady_packets));
  out.Set("cryptoPath", crypto::gcm_path_name(crypto::gcm_default_path()));
  Napi::Array per_queue = Napi::Array::New(info.Env(), r.per_queue.size());
  for (uint32_t q = 0; q < r.per_queue.size(); q++) {
    Napi::Object f = Napi::Object::New(info.Env());
    f.Set("packets", static_cast<double>(r.per_queue[q].packets));
    f.Set("cpuSeconds", r.per_queue[q].cpu_seconds);
    f.Set("seconds", r.per_queue[q].seconds);
    per_queue.Set(q, f);
  }
  out.Set("perQueue", per_queue);
  return out;
}

NapiPart part("softbench", [](Napi::Env env, Napi::Object o) { o.Set("run", Napi::Function::New(env, Run, "run")); });

}  // namespace
}  // namespace vitesse
