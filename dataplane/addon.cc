// The entry point of both addons (tools/sources.cjs): vitesse.node, the N-API
// the product calls, and vitesse_testkit.node, the test and benchmark hooks.
// Each part registers itself (napi_registry.h); an addon exports the parts
// linked into it.
#include <napi.h>

#include "napi_registry.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto& part : vitesse::NapiPart::parts()) {
    Napi::Object o = exports.Has(part.name) ? exports.Get(part.name).As<Napi::Object>() : Napi::Object::New(env);
    part.init(env, o);
    exports.Set(part.name, o);
  }
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
