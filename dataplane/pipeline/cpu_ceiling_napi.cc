// N-API part "ceiling" of the testkit addon: the machine's own scaling
// ceiling that `vitesse bench scaling` runs beside softbench --queues
// (pipeline/cpu_ceiling.h). Not in the product addon.
//
//   run({loop: 'aes'|'alu'|'latency', cpus: number[], iterations})
//     -> [{cpu, iterations, cpuSeconds, seconds}]   one per thread
#include <napi.h>

#include <string>

#include "napi_registry.h"
#include "pipeline/cpu_ceiling.h"
#include "util/napi_args.h"

namespace vitesse {
namespace {

using namespace napi_args;

Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Object o = object_arg(info, 0, "ceiling: options");
  reject_unknown_keys(o, {"loop", "cpus", "iterations"}, "ceiling: options");
  Napi::Value name = o.Get("loop");
  CeilingLoop loop;
  if (!name.IsString() || !parse_ceiling_loop(name.As<Napi::String>().Utf8Value(), loop))
    throw Napi::TypeError::New(info.Env(), "ceiling: loop must be aes, alu or latency");
  Napi::Array a = array_value(o.Get("cpus"), "cpus");
  std::vector<int> cpus;
  for (uint32_t i = 0; i < a.Length(); i++) cpus.push_back(int32_value(a.Get(i), "cpus[" + std::to_string(i) + "]", -1));
  uint64_t iterations = count_value(o.Get("iterations"), "iterations");
  std::vector<CeilingThread> r;
  try {
    r = run_cpu_ceiling(loop, cpus, iterations);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
  Napi::Array out = Napi::Array::New(info.Env(), r.size());
  for (uint32_t i = 0; i < r.size(); i++) {
    Napi::Object t = Napi::Object::New(info.Env());
    t.Set("cpu", r[i].cpu);
    t.Set("iterations", static_cast<double>(r[i].iterations));
    t.Set("cpuSeconds", r[i].cpu_seconds);
    t.Set("seconds", r[i].seconds);
    out.Set(i, t);
  }
  return out;
}

NapiPart part("ceiling", [](Napi::Env env, Napi::Object o) { o.Set("run", Napi::Function::New(env, Run, "run")); });

}  // namespace
}  // namespace vitesse
