// Argument checks for every N-API function (*_napi.cc): each value from
// JavaScript is read through one of these, so a wrong type or a number out of
// range is a TypeError or RangeError naming the argument, never a silent 0 or
// a truncated value. `name` is what the error calls it ("queue",
// "sa.replayWindow", "esp: spi").
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace vitesse::napi_args {

inline Napi::Value arg(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

inline bool absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

// An integer Number in [min, max].
inline uint32_t uint32_value(const Napi::Value& v, const std::string& name, uint32_t min = 0, uint32_t max = UINT32_MAX) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), name + ": expected a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != std::floor(d)) {
    throw Napi::RangeError::New(v.Env(), name + ": expected an integer in " + std::to_string(min) + ".." + std::to_string(max));
  }
  return static_cast<uint32_t>(d);
}

inline int32_t int32_value(const Napi::Value& v, const std::string& name, int32_t min = INT32_MIN, int32_t max = INT32_MAX) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), name + ": expected a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != std::floor(d)) {
    throw Napi::RangeError::New(v.Env(), name + ": expected an integer in " + std::to_string(min) + ".." + std::to_string(max));
  }
  return static_cast<int32_t>(d);
}

inline uint32_t uint32_arg(const Napi::CallbackInfo& info, size_t i, const std::string& name, uint32_t min = 0,
                           uint32_t max = UINT32_MAX) {
  return uint32_value(arg(info, i), name, min, max);
}

// Absent (undefined or null) means `fallback`.
inline uint32_t uint32_arg_or(const Napi::CallbackInfo& info, size_t i, const std::string& name, uint32_t fallback,
                              uint32_t min = 0, uint32_t max = UINT32_MAX) {
  const Napi::Value v = arg(info, i);
  return absent(v) ? fallback : uint32_value(v, name, min, max);
}

inline uint32_t uint32_prop(const Napi::Object& o, const char* key, const std::string& where, uint32_t fallback,
                            uint32_t min = 0, uint32_t max = UINT32_MAX) {
  const Napi::Value v = o.Get(key);
  return absent(v) ? fallback : uint32_value(v, where + key, min, max);
}

// A BigInt in 0..2^64-1 (sequence numbers exceed 2^53).
inline uint64_t uint64_value(const Napi::Value& v, const std::string& name) {
  if (!v.IsBigInt()) throw Napi::TypeError::New(v.Env(), name + ": expected a bigint");
  bool lossless = false;
  const uint64_t n = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(v.Env(), name + ": expected a bigint in 0..2^64-1");
  return n;
}

inline uint64_t uint64_prop(const Napi::Object& o, const char* key, const std::string& where, uint64_t fallback) {
  const Napi::Value v = o.Get(key);
  return absent(v) ? fallback : uint64_value(v, where + key);
}

// A non-negative safe-integer Number (counts larger than 2^32).
inline uint64_t count_value(const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), name + ": expected a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740991.0) || d != std::floor(d)) {
    throw Napi::RangeError::New(v.Env(), name + ": expected an integer in 0..2^53-1");
  }
  return static_cast<uint64_t>(d);
}

inline std::string string_value(const Napi::Value& v, const std::string& name) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), name + ": expected a string");
  return v.As<Napi::String>().Utf8Value();
}

inline std::string string_arg(const Napi::CallbackInfo& info, size_t i, const std::string& name) {
  return string_value(arg(info, i), name);
}

inline bool bool_prop(const Napi::Object& o, const char* key, const std::string& where, bool fallback) {
  const Napi::Value v = o.Get(key);
  if (absent(v)) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), where + key + ": expected a boolean");
  return v.As<Napi::Boolean>().Value();
}

inline Napi::Object object_value(const Napi::Value& v, const std::string& name) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction()) throw Napi::TypeError::New(v.Env(), name + ": expected an object");
  return v.As<Napi::Object>();
}

inline Napi::Object object_arg(const Napi::CallbackInfo& info, size_t i, const std::string& name) {
  return object_value(arg(info, i), name);
}

inline Napi::Array array_value(const Napi::Value& v, const std::string& name) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), name + ": expected an array");
  return v.As<Napi::Array>();
}

inline Napi::Array array_arg(const Napi::CallbackInfo& info, size_t i, const std::string& name) {
  return array_value(arg(info, i), name);
}

inline Napi::Buffer<uint8_t> buffer_value(const Napi::Value& v, const std::string& name) {
  if (!v.IsBuffer()) throw Napi::TypeError::New(v.Env(), name + ": expected a Buffer");
  return v.As<Napi::Buffer<uint8_t>>();
}

// Every own key of `o` must be one of `known`: a misspelt option is an
// error rather than silently ignored.
inline void reject_unknown_keys(const Napi::Object& o, std::initializer_list<std::string_view> known, const std::string& where) {
  const Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string k = keys.Get(i).ToString().Utf8Value();
    bool ok = false;
    for (std::string_view n : known) ok = ok || n == k;
    if (!ok) {
      std::string list;
      for (std::string_view n : known) list += (list.empty() ? "" : ", ") + std::string(n);
      throw Napi::TypeError::New(o.Env(), where + ": unknown key \"" + k + "\" (known: " + list + ")");
    }
  }
}

}  // namespace vitesse::napi_args
