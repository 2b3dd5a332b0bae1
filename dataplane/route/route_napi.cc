// native.route: route tables for the control plane, its tests and the lookup
// benchmark.
//
//   build4(prefixes, values), build6(prefixes, values)   -> RouteTable (Poptrie)
//   binaryTrie4(prefixes, values), binaryTrie6(...)      -> RouteTable (the
//       naive binary trie walk: the benchmark's baseline, same interface)
//   popcount                                             -> "popcnt" | "portable"
//   bench(table, addresses, minSeconds) -> { lookups, seconds, checksum }
//       looks up the addresses over and over, 64 at a time, for at least
//       minSeconds; the timing loop runs here, not in JavaScript.
//
// RouteTable: lookup(address) -> route, lookupMany(addresses, path?) ->
// Uint16Array, and the getters bytes, family, engine, nodes, leaves.
//
// prefixes is an array of strings ("10.0.0.0/8", "2001:db8::/32") or a
// Uint8Array of packed records: address (4 or 16 bytes, network order) then
// length (1 byte). values are the route indexes, 1..65535, one per prefix
// (array or Uint16Array). A prefix given twice takes its last value; host
// bits are ignored. addresses (lookupMany, bench) are packed in network
// order; lookup takes a string, 4 or 16 bytes, or for IPv4 a number in host
// order. path is "auto" (default), "popcnt" or "portable".
#include <napi.h>

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "napi_registry.h"
#include "util/napi_args.h"
#include "route/binary_trie.h"
#include "route/poptrie_builder.h"
#include "route/prefix.h"

namespace vitesse::route {
namespace {

// What the JavaScript side sees of either kind of table.
class Engine {
 public:
  virtual ~Engine() = default;
  // out[i] = route of the i-th address of addresses (packed, network order).
  virtual void lookup_packed(const uint8_t* addresses, size_t n, RouteIndex* out, PopcountPath path) const = 0;
  virtual size_t bytes() const = 0;
  virtual size_t nodes() const = 0;
  virtual size_t leaves() const = 0;
};

template <class Keys>
class PoptrieEngine final : public Engine {
 public:
  explicit PoptrieEngine(std::unique_ptr<const Poptrie<Keys>> t) : t_(std::move(t)) {}
  void lookup_packed(const uint8_t* addresses, size_t n, RouteIndex* out, PopcountPath path) const override {
    constexpr size_t kStep = Keys::kAddressBits / 8;
    typename Keys::Key keys[detail::kGroup];
    for (size_t i = 0; i < n; i += detail::kGroup) {
      const size_t m = std::min(detail::kGroup, n - i);
      for (size_t j = 0; j < m; ++j) keys[j] = Keys::key_at(addresses + (i + j) * kStep);
      t_->find_batch(keys, out + i, m, path);
    }
  }
  size_t bytes() const override { return t_->bytes(); }
  size_t nodes() const override { return t_->node_count(); }
  size_t leaves() const override { return t_->leaf_count(); }

 private:
  std::unique_ptr<const Poptrie<Keys>> t_;
};

class BinaryTrieEngine final : public Engine {
 public:
  explicit BinaryTrieEngine(BinaryTrie t) : t_(std::move(t)) {}
  void lookup_packed(const uint8_t* addresses, size_t n, RouteIndex* out, PopcountPath) const override {
    const size_t step = address_bytes(t_.family());
    for (size_t i = 0; i < n; ++i) out[i] = t_.lookup(addresses + i * step);
  }
  size_t bytes() const override { return t_.bytes(); }
  size_t nodes() const override { return t_.node_count(); }
  size_t leaves() const override { return 0; }

 private:
  BinaryTrie t_;
};

enum class EngineKind { poptrie, binary_trie };

const char* function_name(Family f, EngineKind k) {
  if (k == EngineKind::poptrie) return f == Family::ipv4 ? "route.build4" : "route.build6";
  return f == Family::ipv4 ? "route.binaryTrie4" : "route.binaryTrie6";
}

// Reads (prefixes, values) into routes, or throws naming the bad element.
std::vector<Route> read_routes(Napi::Env env, const char* fn, Family f, Napi::Value prefixes, Napi::Value values) {
  auto fail = [&](const std::string& what) { throw Napi::RangeError::New(env, std::string(fn) + ": " + what); };
  const unsigned width = address_bytes(f);
  std::vector<Route> routes;

  if (prefixes.IsTypedArray() && prefixes.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto packed = prefixes.As<Napi::Uint8Array>();
    const size_t record = width + 1;
    if (packed.ElementLength() % record != 0) {
      fail("packed prefixes: " + std::to_string(packed.ElementLength()) + " bytes is not a whole number of " +
           std::to_string(record) + "-byte records");
    }
    routes.resize(packed.ElementLength() / record);
    for (size_t i = 0; i < routes.size(); ++i) {
      const uint8_t* r = packed.Data() + i * record;
      Prefix& p = routes[i].prefix;
      std::copy(r, r + width, p.bytes.begin());
      if (r[width] > address_bits(f)) {
        fail("prefix record " + std::to_string(i) + " (" + format_address(r, f) + "/" + std::to_string(r[width]) +
             "): length over " + std::to_string(address_bits(f)));
      }
      p.length = r[width];
      clear_host_bits(p, f);
    }
  } else if (prefixes.IsArray()) {
    auto list = prefixes.As<Napi::Array>();
    routes.resize(list.Length());
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value v = list.Get(i);
      if (!v.IsString()) fail("prefixes[" + std::to_string(i) + "]: not a string");
      const std::string err = parse_prefix(v.As<Napi::String>().Utf8Value(), f, routes[i].prefix);
      if (!err.empty()) fail("prefixes[" + std::to_string(i) + "]: " + err);
    }
  } else {
    throw Napi::TypeError::New(env, std::string(fn) + ": prefixes must be an array of strings or a Uint8Array");
  }

  auto bad_value = [&](size_t i, const std::string& v) {
    fail("values[" + std::to_string(i) + "]: " + v + " is not a route index (an integer 1..65535)");
  };
  if (values.IsTypedArray() && values.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array) {
    auto list = values.As<Napi::Uint16Array>();
    if (list.ElementLength() != routes.size()) fail("values: " + std::to_string(list.ElementLength()) +
                                                    " values for " + std::to_string(routes.size()) + " prefixes");
    for (size_t i = 0; i < routes.size(); ++i) {
      if (list[i] == kNoRoute) bad_value(i, "0");
      routes[i].value = list[i];
    }
  } else if (values.IsArray()) {
    auto list = values.As<Napi::Array>();
    if (list.Length() != routes.size()) fail("values: " + std::to_string(list.Length()) + " values for " +
                                             std::to_string(routes.size()) + " prefixes");
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value v = list.Get(i);
      if (!v.IsNumber()) fail("values[" + std::to_string(i) + "]: not a number");
      const double d = v.As<Napi::Number>().DoubleValue();
      if (!(d >= 1 && d <= 65535) || d != static_cast<double>(static_cast<uint32_t>(d))) {
        bad_value(i, v.ToString().Utf8Value());
      }
      routes[i].value = static_cast<RouteIndex>(d);
    }
  } else {
    throw Napi::TypeError::New(env, std::string(fn) + ": values must be an array of numbers or a Uint16Array");
  }
  return routes;
}

template <class Keys>
std::unique_ptr<Engine> build_poptrie(const std::vector<Route>& routes) {
  PoptrieBuilder<Keys> b;
  // read_routes has checked what add() would refuse.
  for (const Route& r : routes) b.add(r.prefix, r.value);
  return std::make_unique<PoptrieEngine<Keys>>(b.build());
}

std::unique_ptr<Engine> build_binary_trie(Family f, const std::vector<Route>& routes) {
  BinaryTrie t(f);
  for (const Route& r : routes) t.insert(r.prefix, r.value);
  return std::make_unique<BinaryTrieEngine>(std::move(t));
}

class RouteTable : public Napi::ObjectWrap<RouteTable> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RouteTable",
                       {InstanceMethod<&RouteTable::Lookup>("lookup"),
                        InstanceMethod<&RouteTable::LookupMany>("lookupMany"),
                        InstanceAccessor<&RouteTable::Bytes>("bytes"),
                        InstanceAccessor<&RouteTable::FamilyNumber>("family"),
                        InstanceAccessor<&RouteTable::EngineName>("engine"),
                        InstanceAccessor<&RouteTable::Nodes>("nodes"),
                        InstanceAccessor<&RouteTable::Leaves>("leaves")});
  }

  // new RouteTable(family 4|6, engine "poptrie"|"binaryTrie", prefixes, values)
  explicit RouteTable(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RouteTable>(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 4 || !info[0].IsNumber() || !info[1].IsString()) {
      throw Napi::TypeError::New(env, "RouteTable: use route.build4/build6/binaryTrie4/binaryTrie6");
    }
    family_ = info[0].As<Napi::Number>().Uint32Value() == 6 ? Family::ipv6 : Family::ipv4;
    kind_ = info[1].As<Napi::String>().Utf8Value() == "binaryTrie" ? EngineKind::binary_trie : EngineKind::poptrie;
    const std::vector<Route> routes = read_routes(env, function_name(family_, kind_), family_, info[2], info[3]);
    try {
      if (kind_ == EngineKind::binary_trie) {
        engine_ = build_binary_trie(family_, routes);
      } else if (family_ == Family::ipv4) {
        engine_ = build_poptrie<Ipv4Keys>(routes);
      } else {
        engine_ = build_poptrie<Ipv6Keys>(routes);
      }
    } catch (const std::exception& e) {  // out of memory: node-addon-api only forwards Napi::Error
      throw Napi::Error::New(env, std::string(function_name(family_, kind_)) + ": " + e.what());
    }
  }

  const Engine& engine() const { return *engine_; }
  Family family() const { return family_; }

 private:
  Napi::Value Lookup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t address[16] = {};
    const Napi::Value a = info[0];
    if (family_ == Family::ipv4 && a.IsNumber()) {
      const double d = a.As<Napi::Number>().DoubleValue();
      if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) {
        throw Napi::RangeError::New(env, "lookup: " + a.ToString().Utf8Value() + " is not an IPv4 address (0..2^32-1)");
      }
      const uint32_t v = static_cast<uint32_t>(d);
      address[0] = v >> 24, address[1] = v >> 16, address[2] = v >> 8, address[3] = v & 0xff;
    } else if (a.IsString()) {
      const std::string s = a.As<Napi::String>().Utf8Value();
      if (parse_address(s, address) != 1) {
        throw Napi::RangeError::New(env, "lookup: not an " + family_name() + " address: \"" + s + "\"");
      }
    } else if (a.IsTypedArray() && a.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array &&
               a.As<Napi::Uint8Array>().ElementLength() == address_bytes(family_)) {
      std::copy_n(a.As<Napi::Uint8Array>().Data(), address_bytes(family_), address);
    } else {
      throw Napi::TypeError::New(env, "lookup: the address must be a string, " +
                                          std::to_string(address_bytes(family_)) + " bytes" +
                                          (family_ == Family::ipv4 ? " or a number" : ""));
    }
    RouteIndex r;
    engine_->lookup_packed(address, 1, &r, PopcountPath::automatic);
    return Napi::Number::New(env, r);
  }

  Napi::Value LookupMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const size_t width = address_bytes(family_);
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        info[0].As<Napi::Uint8Array>().ElementLength() % width != 0) {
      throw Napi::TypeError::New(env, "lookupMany: addresses must be a Uint8Array of packed " + std::to_string(width) +
                                          "-byte addresses");
    }
    PopcountPath path = PopcountPath::automatic;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      const std::string p = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
      if (p == "popcnt") path = PopcountPath::popcnt;
      else if (p == "portable") path = PopcountPath::portable;
      else if (p != "auto") throw Napi::RangeError::New(env, "lookupMany: path must be \"auto\", \"popcnt\" or \"portable\"");
      if (!popcount_path_available(path)) throw Napi::Error::New(env, "lookupMany: this CPU has no popcnt instruction");
    }
    auto in = info[0].As<Napi::Uint8Array>();
    const size_t n = in.ElementLength() / width;
    auto out = Napi::Uint16Array::New(env, n);
    engine_->lookup_packed(in.Data(), n, out.Data(), path);
    return out;
  }

  Napi::Value Bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(engine_->bytes())); }
  Napi::Value Nodes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(engine_->nodes())); }
  Napi::Value Leaves(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(engine_->leaves())); }
  Napi::Value FamilyNumber(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), family_ == Family::ipv4 ? 4 : 6);
  }
  Napi::Value EngineName(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), kind_ == EngineKind::poptrie ? "poptrie" : "binaryTrie");
  }

  std::string family_name() const { return family_ == Family::ipv4 ? "IPv4" : "IPv6"; }
  int parse_address(const std::string& s, uint8_t* out) const {
    Prefix p;
    const std::string err = parse_prefix(s + (family_ == Family::ipv4 ? "/32" : "/128"), family_, p);
    if (!err.empty()) return 0;
    std::copy_n(p.bytes.begin(), address_bytes(family_), out);
    return 1;
  }

  Family family_ = Family::ipv4;
  EngineKind kind_ = EngineKind::poptrie;
  std::unique_ptr<Engine> engine_;
};

// The functions below find the RouteTable class through their data pointer,
// one reference per environment (worker threads each load the addon).
Napi::FunctionReference& table_class(const Napi::CallbackInfo& info) {
  return *static_cast<Napi::FunctionReference*>(info.Data());
}

Napi::Value Make(const Napi::CallbackInfo& info, Family f, EngineKind k) {
  Napi::Env env = info.Env();
  return table_class(info).New({Napi::Number::New(env, f == Family::ipv4 ? 4 : 6),
                                Napi::String::New(env, k == EngineKind::poptrie ? "poptrie" : "binaryTrie"),
                                info[0], info[1]});
}

Napi::Value Bench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(table_class(info).Value())) {
    throw Napi::TypeError::New(env, "route.bench: the first argument must be a RouteTable");
  }
  const RouteTable* table = RouteTable::Unwrap(info[0].As<Napi::Object>());
  const size_t width = address_bytes(table->family());
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      info[1].As<Napi::Uint8Array>().ElementLength() % width != 0 ||
      info[1].As<Napi::Uint8Array>().ElementLength() < detail::kGroup * width) {
    throw Napi::TypeError::New(env, "route.bench: addresses must be a Uint8Array of at least 64 packed " +
                                        std::to_string(width) + "-byte addresses");
  }
  const Napi::Value min = napi_args::arg(info, 2);
  if (!napi_args::absent(min) && !min.IsNumber()) throw Napi::TypeError::New(env, "route.bench: minSeconds: expected a number");
  const double min_seconds = min.IsNumber() ? min.As<Napi::Number>().DoubleValue() : 0.2;
  auto in = info[1].As<Napi::Uint8Array>();
  const size_t n = in.ElementLength() / width;
  const size_t batches = n / detail::kGroup;
  const Engine& engine = table->engine();

  // Batches of 64, as a worker looks up a burst of packets; the clock is
  // read every 64 batches so that it costs nothing measurable.
  RouteIndex out[detail::kGroup];
  uint64_t checksum = 0;
  uint64_t lookups = 0;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  double seconds = 0;
  for (size_t b = 0;; ++b) {
    engine.lookup_packed(in.Data() + (b % batches) * detail::kGroup * width, detail::kGroup, out,
                         PopcountPath::automatic);
    checksum += out[b % detail::kGroup];
    lookups += detail::kGroup;
    if (b % 64 == 63) {
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
      if (seconds >= min_seconds) break;
    }
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("lookups", Napi::Number::New(env, double(lookups)));
  r.Set("seconds", Napi::Number::New(env, seconds));
  r.Set("checksum", Napi::Number::New(env, double(checksum)));
  return r;
}

vitesse::NapiPart part("route", [](Napi::Env env, Napi::Object exports) {
  auto* cls = new Napi::FunctionReference(Napi::Persistent(RouteTable::Define(env)));
  env.AddCleanupHook([cls] { delete cls; });
  auto fn = [&](const char* name, Napi::Function::Callback cb) { exports.Set(name, Napi::Function::New(env, cb, name, cls)); };
  fn("build4", [](const Napi::CallbackInfo& i) { return Make(i, Family::ipv4, EngineKind::poptrie); });
  fn("build6", [](const Napi::CallbackInfo& i) { return Make(i, Family::ipv6, EngineKind::poptrie); });
  fn("binaryTrie4", [](const Napi::CallbackInfo& i) { return Make(i, Family::ipv4, EngineKind::binary_trie); });
  fn("binaryTrie6", [](const Napi::CallbackInfo& i) { return Make(i, Family::ipv6, EngineKind::binary_trie); });
  fn("bench", Bench);
  exports.Set("popcount", Napi::String::New(env, detail::has_popcnt ? "popcnt" : "portable"));
});

}  // namespace
}  // namespace vitesse::route
