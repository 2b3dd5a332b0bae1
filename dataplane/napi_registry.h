// Lets each part of the dataplane add its own functions to the addon's exports
// without addon.cc knowing about it: a file declares
//   static vitesse::NapiPart part("crypto", [](Napi::Env env, Napi::Object o) { ... });
// and addon.cc hands every registered part an object exports[name].
#pragma once

#include <napi.h>

#include <functional>
#include <vector>

namespace vitesse {

struct NapiPart {
  using Init = std::function<void(Napi::Env, Napi::Object)>;
  NapiPart(const char* name, Init init) { parts().push_back({name, std::move(init)}); }
  struct Entry { const char* name; Init init; };
  static std::vector<Entry>& parts() {
    static std::vector<Entry> all;
    return all;
  }
};

}  // namespace vitesse
