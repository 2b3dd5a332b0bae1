// native.crypto: AES-GCM for tests and `vitesse bench crypto`. Not a data
// path (packets never cross into JavaScript): every call keys a fresh context.
//
//   paths() → string[]            defaultPath() / bestPath() → string
//   seal(path, key, iv, aad, plaintext) → {ciphertext, tag}
//   open(path, key, iv, aad, ciphertext, tag) → Buffer | null
//   sealInPlace(path, key, iv, aad, data) → tag        (data becomes ciphertext)
//   openInPlace(path, key, iv, aad, data, tag) → bool  (data: plaintext, or zeros)
//   sealBatch(path, [{key, iv, aad, data}]) → [{ciphertext, tag}]
//   openBatch(path, [{key, iv, aad, data, tag}]) → [Buffer | null]
//   openBatchInPlace(path, [{key, iv, aad, data, tag}]) → [bool]  (each data: plaintext, or zeros)
//   bench({sizes, keyBits, path, batch, minMs, samples, decrypt}) → rows
//
// Outputs are copies placed at the same offset modulo 64 as the input, so a
// test passing a misaligned view exercises the misaligned code. In the batch
// calls, neighbouring items with the same key and the same first four octets
// of IV share one context, as packets of one SA do: a batch job's nonce is its
// context's salt (those four octets) and eight octets of IV (crypto/aes_gcm.h).
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "crypto/aes_gcm.h"
#include "crypto/gcm_bench.h"
#include "napi_registry.h"
#include "util/napi_args.h"

namespace vitesse::crypto {

namespace {

struct Bytes {
  const uint8_t* p;
  size_t n;
};

Bytes bytes_arg(Napi::Env env, const Napi::Value& v, const char* what, size_t exact = SIZE_MAX) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, std::string("crypto: ") + what + ": expected a Buffer or Uint8Array");
  }
  auto a = v.As<Napi::Uint8Array>();
  if (exact != SIZE_MAX && a.ElementLength() != exact) {
    throw Napi::RangeError::New(env, std::string("crypto: ") + what + ": expected " + std::to_string(exact) +
                                         " bytes, got " + std::to_string(a.ElementLength()));
  }
  return {a.Data(), a.ElementLength()};
}

GcmPath path_arg(Napi::Env env, const Napi::Value& v) {
  if (!v.IsString()) throw Napi::TypeError::New(env, "crypto: path: expected a string");
  const std::string name = v.As<Napi::String>();
  for (GcmPath p : {GcmPath::generic, GcmPath::avx2, GcmPath::avx512}) {
    if (name != gcm_path_name(p)) continue;
    if (!gcm_path_supported(p)) throw Napi::Error::New(env, "crypto: path " + name + ": not supported by this CPU");
    return p;
  }
  throw Napi::RangeError::New(env, "crypto: path: \"" + name + "\" is not one of generic, avx2, avx512");
}

// A keyed context that erases itself.
struct Keyed {
  std::unique_ptr<GcmContext> ctx = std::make_unique<GcmContext>();
  Keyed(Napi::Env env, GcmPath p, Bytes key) {
    if (!ctx->init(key.p, key.n, p)) {
      throw Napi::RangeError::New(env, "crypto: key: expected 16 or 32 bytes, got " + std::to_string(key.n));
    }
  }
  ~Keyed() {
    if (ctx) ctx->wipe();
  }
  Keyed(Keyed&&) = default;
};

// A copy of src in a new Buffer whose data sits at src's offset modulo 64.
Napi::Buffer<uint8_t> copy_aligned_like(Napi::Env env, Bytes src) {
  auto whole = Napi::Buffer<uint8_t>::New(env, src.n + 64);
  const size_t want = reinterpret_cast<uintptr_t>(src.p) % 64;
  const size_t have = reinterpret_cast<uintptr_t>(whole.Data()) % 64;
  const size_t shift = (want + 64 - have) % 64;
  if (src.n) std::memcpy(whole.Data() + shift, src.p, src.n);
  Napi::Value view = whole.Get("subarray").As<Napi::Function>().Call(
      whole, {Napi::Number::New(env, static_cast<double>(shift)), Napi::Number::New(env, static_cast<double>(shift + src.n))});
  return view.As<Napi::Buffer<uint8_t>>();
}

Napi::Object sealed(Napi::Env env, Napi::Value ct, Napi::Value tag) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ciphertext", ct);
  o.Set("tag", tag);
  return o;
}

Napi::Value Paths(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env());
  uint32_t n = 0;
  for (GcmPath p : {GcmPath::generic, GcmPath::avx2, GcmPath::avx512}) {
    if (gcm_path_supported(p)) out.Set(n++, gcm_path_name(p));
  }
  return out;
}

Napi::Value Seal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Keyed k(env, path_arg(env, info[0]), bytes_arg(env, info[1], "key"));
  const Bytes iv = bytes_arg(env, info[2], "iv", 12), aad = bytes_arg(env, info[3], "aad");
  auto ct = copy_aligned_like(env, bytes_arg(env, info[4], "plaintext"));
  auto tag = Napi::Buffer<uint8_t>::New(env, 16);
  gcm_seal(*k.ctx, iv.p, aad.p, aad.n, ct.Data(), ct.Length(), tag.Data());
  return sealed(env, ct, tag);
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Keyed k(env, path_arg(env, info[0]), bytes_arg(env, info[1], "key"));
  const Bytes iv = bytes_arg(env, info[2], "iv", 12), aad = bytes_arg(env, info[3], "aad");
  auto pt = copy_aligned_like(env, bytes_arg(env, info[4], "ciphertext"));
  const Bytes tag = bytes_arg(env, info[5], "tag", 16);
  if (!gcm_open(*k.ctx, iv.p, aad.p, aad.n, pt.Data(), pt.Length(), tag.p)) return env.Null();
  return pt;
}

Napi::Value SealInPlace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Keyed k(env, path_arg(env, info[0]), bytes_arg(env, info[1], "key"));
  const Bytes iv = bytes_arg(env, info[2], "iv", 12), aad = bytes_arg(env, info[3], "aad");
  const Bytes data = bytes_arg(env, info[4], "data");
  auto tag = Napi::Buffer<uint8_t>::New(env, 16);
  gcm_seal(*k.ctx, iv.p, aad.p, aad.n, const_cast<uint8_t*>(data.p), data.n, tag.Data());
  return tag;
}

Napi::Value OpenInPlace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Keyed k(env, path_arg(env, info[0]), bytes_arg(env, info[1], "key"));
  const Bytes iv = bytes_arg(env, info[2], "iv", 12), aad = bytes_arg(env, info[3], "aad");
  const Bytes data = bytes_arg(env, info[4], "data"), tag = bytes_arg(env, info[5], "tag", 16);
  return Napi::Boolean::New(env, gcm_open(*k.ctx, iv.p, aad.p, aad.n, const_cast<uint8_t*>(data.p), data.n, tag.p));
}

// Jobs for an array of {key, iv, aad, data[, tag]}; `out` receives the data
// the jobs work on (copies, unless in_place), `contexts` owns the keyed
// contexts.
std::vector<GcmJob> batch_jobs(Napi::Env env, GcmPath path, Napi::Array items, bool with_tag, bool in_place,
                               std::vector<Keyed>& contexts, std::vector<Napi::Uint8Array>& out,
                               std::vector<uint8_t>& tags) {
  const uint32_t n = items.Length();
  std::vector<GcmJob> jobs(n);
  tags.assign(16 * static_cast<size_t>(n), 0);
  contexts.reserve(n);
  Bytes prev_key{nullptr, 0};
  for (uint32_t i = 0; i < n; ++i) {
    if (!items.Get(i).IsObject()) throw Napi::TypeError::New(env, "crypto: batch item " + std::to_string(i) + ": expected an object");
    Napi::Object it = items.Get(i).As<Napi::Object>();
    const Bytes key = bytes_arg(env, it.Get("key"), "batch key");
    const Bytes iv = bytes_arg(env, it.Get("iv"), "batch iv", 12), aad = bytes_arg(env, it.Get("aad"), "batch aad");
    if (contexts.empty() || key.n != prev_key.n || std::memcmp(key.p, prev_key.p, key.n) != 0 ||
        std::memcmp(iv.p, contexts.back().ctx->salt, 4) != 0) {
      contexts.emplace_back(env, path, key);
      contexts.back().ctx->set_salt(iv.p);
      prev_key = key;
    }
    const Bytes data = bytes_arg(env, it.Get("data"), "batch data");
    out.push_back(in_place ? it.Get("data").As<Napi::Uint8Array>() : copy_aligned_like(env, data));
    if (with_tag) std::memcpy(&tags[16 * i], bytes_arg(env, it.Get("tag"), "batch tag", 16).p, 16);
    jobs[i] = {contexts.back().ctx.get(), iv.p + 4, aad.p, out.back().Data(), &tags[16 * i],
               static_cast<uint32_t>(out.back().ElementLength()), static_cast<uint32_t>(aad.n)};
  }
  return jobs;
}

Napi::Value SealBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const GcmPath path = path_arg(env, info[0]);
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, "crypto: sealBatch: expected an array of items");
  std::vector<Keyed> contexts;
  std::vector<Napi::Uint8Array> out;
  std::vector<uint8_t> tags;
  std::vector<GcmJob> jobs = batch_jobs(env, path, info[1].As<Napi::Array>(), false, false, contexts, out, tags);
  gcm_seal_batch(jobs.data(), jobs.size());
  Napi::Array result = Napi::Array::New(env, jobs.size());
  for (uint32_t i = 0; i < jobs.size(); ++i) result.Set(i, sealed(env, out[i], Napi::Buffer<uint8_t>::Copy(env, &tags[16 * i], 16)));
  return result;
}

Napi::Value OpenBatchAny(const Napi::CallbackInfo& info, bool in_place) {
  Napi::Env env = info.Env();
  const GcmPath path = path_arg(env, info[0]);
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, "crypto: openBatch: expected an array of items");
  std::vector<Keyed> contexts;
  std::vector<Napi::Uint8Array> out;
  std::vector<uint8_t> tags;
  std::vector<GcmJob> jobs = batch_jobs(env, path, info[1].As<Napi::Array>(), true, in_place, contexts, out, tags);
  std::unique_ptr<bool[]> ok(new bool[jobs.size() + 1]);
  gcm_open_batch(jobs.data(), jobs.size(), ok.get());
  Napi::Array result = Napi::Array::New(env, jobs.size());
  for (uint32_t i = 0; i < jobs.size(); ++i) {
    if (in_place) result.Set(i, Napi::Boolean::New(env, ok[i]));
    else result.Set(i, ok[i] ? Napi::Value(out[i]) : env.Null());
  }
  return result;
}

Napi::Value OpenBatch(const Napi::CallbackInfo& info) { return OpenBatchAny(info, false); }
Napi::Value OpenBatchInPlace(const Napi::CallbackInfo& info) { return OpenBatchAny(info, true); }

std::vector<uint32_t> u32_list(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string("crypto: bench: ") + what + ": expected an array of numbers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    out.push_back(napi_args::uint32_value(e, std::string("crypto: bench: ") + what + "[" + std::to_string(i) + "]"));
  }
  return out;
}

Napi::Value Bench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GcmBenchOptions o;
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object opt = info[0].As<Napi::Object>();
    if (opt.Has("sizes")) o.sizes = u32_list(env, opt.Get("sizes"), "sizes");
    if (opt.Has("keyBits")) o.key_bits = u32_list(env, opt.Get("keyBits"), "keyBits");
    if (opt.Has("path")) o.path = path_arg(env, opt.Get("path"));
    o.batch = napi_args::uint32_prop(opt, "batch", "crypto: bench: ", o.batch, 1);
    if (!napi_args::absent(opt.Get("minMs"))) {
      if (!opt.Get("minMs").IsNumber()) throw Napi::TypeError::New(env, "crypto: bench: minMs: expected a number");
      o.min_ms = opt.Get("minMs").As<Napi::Number>().DoubleValue();
    }
    o.samples = napi_args::uint32_prop(opt, "samples", "crypto: bench: ", o.samples);
    o.decrypt = napi_args::bool_prop(opt, "decrypt", "crypto: bench: ", o.decrypt);
  }
  if (!(o.min_ms > 0) || o.samples == 0) throw Napi::RangeError::New(env, "crypto: bench: minMs and samples must be positive");
  std::vector<GcmBenchRow> rows;
  try {
    rows = run_gcm_bench(o);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  Napi::Array out = Napi::Array::New(env, rows.size());
  for (uint32_t i = 0; i < rows.size(); ++i) {
    const GcmBenchRow& r = rows[i];
    Napi::Object row = Napi::Object::New(env);
    row.Set("size", r.size);
    row.Set("keyBits", r.key_bits);
    row.Set("path", r.path);
    row.Set("oursNs", r.ours_ns);
    row.Set("oursBatchNs", r.ours_batch_ns);
    row.Set("opensslNs", r.openssl_ns);
    if (o.decrypt) {
      row.Set("oursOpenNs", r.ours_open_ns);
      row.Set("oursOpenBatchNs", r.ours_open_batch_ns);
      row.Set("opensslOpenNs", r.openssl_open_ns);
    }
    out.Set(i, row);
  }
  return out;
}

const NapiPart part("crypto", [](Napi::Env env, Napi::Object o) {
  o.Set("paths", Napi::Function::New(env, Paths, "paths"));
  o.Set("defaultPath", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
          return Napi::String::New(info.Env(), gcm_path_name(gcm_default_path()));
        }, "defaultPath"));
  o.Set("bestPath", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
          return Napi::String::New(info.Env(), gcm_path_name(gcm_best_path()));
        }, "bestPath"));
  o.Set("seal", Napi::Function::New(env, Seal, "seal"));
  o.Set("open", Napi::Function::New(env, Open, "open"));
  o.Set("sealInPlace", Napi::Function::New(env, SealInPlace, "sealInPlace"));
  o.Set("openInPlace", Napi::Function::New(env, OpenInPlace, "openInPlace"));
  o.Set("sealBatch", Napi::Function::New(env, SealBatch, "sealBatch"));
  o.Set("openBatch", Napi::Function::New(env, OpenBatch, "openBatch"));
  o.Set("openBatchInPlace", Napi::Function::New(env, OpenBatchInPlace, "openBatchInPlace"));
  o.Set("bench", Napi::Function::New(env, Bench, "bench"));
});

}  // namespace

}  // namespace vitesse::crypto
