// The addon's entry point: the N-API surface between the C++ data plane and
// controlplane/dataplane.ts. Each part registers itself (napi_registry.h).
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

NODE_API_MODULE(vitesse, Init)
