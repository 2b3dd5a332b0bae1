// N-API part "esp" of the testkit addon (vitesse_testkit.node): SA handles
// and batch encapsulation/decapsulation for the tests and benchmarks, through
// controlplane/testkit.ts. Not in the product addon: setCounter rewinds an
// SA's sequence number. Not a hot path: it copies packets in and out of its
// own buffers.
//
//   createOutbound(aead, spi, keymat, initialSeq = 0, { esn = true, limit }) -> handle
//   createInbound(aead, spi, keymat, windowSize = 1024, initialTop = 0, { esn = true }) -> handle
//     (initialTop: the window starts there, as by setCounter; { startAt }
//     instead marks every number up to it as received, as the gateway does
//     for an inbound `initial-sequence`)
//   encapsulate(sa | sa[], innerPackets: Buffer[], tfcPadTo = 0) -> { result: string, esp: Buffer | null }[]
//     (result: ok, no_room, sequence_exhausted or sequence_unreserved)
//   decapsulate(sa | sa[], espPackets: Buffer[]) -> { result: string, inner: Buffer | null }[]
//     (one batch call; an array gives each packet its own SA, as in a
//     pipeline batch that mixes SAs)
//   counters(sa) -> { packets, bytes, decryptErrors, replayErrors,
//                     truncatedErrors, trailerErrors, nextHeaderErrors, encapErrors,
//                     sequenceExhausted, sequenceUnreserved,
//                     seq: bigint, limit: bigint (outbound), windowSize, esn }
//   setCounter(sa, seq)  outbound: last sequence number used; inbound: the
//                        window's top (highest number taken as received)
//   setLimit(sa, limit)  outbound: the highest number it may send
//   wipe(sa) -> true if the key schedule and salt now read back as zeros;
//               the handle is unusable afterwards
//   encapsulatedLength(innerLen, tfcPadTo = 0) -> ESP length (encapsulated_len)
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "esp/decap.h"
#include "esp/encap.h"
#include "esp/sa.h"
#include "napi_registry.h"
#include "packet.h"
#include "util/napi_args.h"

namespace vitesse::esp {
namespace {

// Distinguishes our handles from any other External passed in.
constexpr napi_type_tag kSaTag = {0x7a1c0e5b3f9d4e21ULL, 0x95b2d0c4e8a7f613ULL};

struct SaHandle {
  bool inbound = false;
  bool wiped = false;
  std::unique_ptr<OutboundSa> out;
  std::unique_ptr<InboundSa> in;
  ~SaHandle() {
    if (out) wipe(*out);
    if (in) wipe(*in);
  }
};

SaHandle& as_handle(Napi::Env env, Napi::Value v, const std::string& what) {
  if (!v.IsExternal() || !v.As<Napi::External<SaHandle>>().CheckTypeTag(&kSaTag)) {
    throw Napi::TypeError::New(env, "esp: " + what + " is not an SA handle");
  }
  SaHandle& h = *v.As<Napi::External<SaHandle>>().Data();
  if (h.wiped) throw Napi::Error::New(env, "esp: " + what + " was wiped");
  return h;
}

SaHandle& handle_arg(const Napi::CallbackInfo& info, size_t i) {
  return as_handle(info.Env(), i < info.Length() ? info[i] : info.Env().Undefined(), "argument " + std::to_string(i + 1));
}

// One SA for all n packets, or an array with one per packet.
std::vector<SaHandle*> handles_arg(const Napi::CallbackInfo& info, size_t i, uint32_t n, bool inbound) {
  Napi::Env env = info.Env();
  std::vector<SaHandle*> out(n);
  if (i < info.Length() && info[i].IsArray()) {
    Napi::Array a = info[i].As<Napi::Array>();
    if (a.Length() != n) throw Napi::RangeError::New(env, "esp: one SA per packet expected");
    for (uint32_t k = 0; k < n; ++k) out[k] = &as_handle(env, a.Get(k), "SA " + std::to_string(k));
  } else {
    SaHandle& h = handle_arg(info, i);
    for (auto& p : out) p = &h;
    if (n == 0) out.push_back(&h);  // checked below even for an empty batch
  }
  for (SaHandle* h : out) {
    if (h->inbound != inbound) {
      throw Napi::TypeError::New(env, inbound ? "esp: decapsulate needs an inbound SA" : "esp: encapsulate needs an outbound SA");
    }
  }
  out.resize(n);
  return out;
}

Aead aead_arg(const Napi::CallbackInfo& info, size_t i) {
  const std::string name = info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
  if (name == "aes-gcm-16-icv") return Aead::aes_gcm_16_icv;
  if (name == "aes-256-gcm-16-icv") return Aead::aes_256_gcm_16_icv;
  throw Napi::TypeError::New(info.Env(), "esp: unknown AEAD \"" + name + "\" (aes-gcm-16-icv or aes-256-gcm-16-icv)");
}

uint32_t u32_arg(const Napi::CallbackInfo& info, size_t i, uint32_t fallback, const char* what) {
  return napi_args::uint32_arg_or(info, i, std::string("esp: ") + what, fallback);
}

uint64_t u64_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || info[i].IsUndefined()) return 0;
  if (info[i].IsBigInt()) {
    bool lossless = false;
    const uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(info.Env(), std::string("esp: ") + what + " must fit in 64 bits");
    return v;
  }
  if (info[i].IsNumber()) {
    const double v = info[i].As<Napi::Number>().DoubleValue();
    if (v >= 0 && v <= 9007199254740991.0 && v == static_cast<double>(static_cast<uint64_t>(v))) return static_cast<uint64_t>(v);
  }
  throw Napi::RangeError::New(info.Env(), std::string("esp: ") + what + " must be a non-negative integer or bigint");
}

// The options object at argument i ({} if absent).
Napi::Object options_arg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsUndefined()) return Napi::Object::New(info.Env());
  if (!info[i].IsObject()) throw Napi::TypeError::New(info.Env(), "esp: options must be an object");
  return info[i].As<Napi::Object>();
}

bool esn_option(const Napi::Object& o) {
  Napi::Value v = o.Get("esn");
  if (v.IsUndefined()) return true;
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), "esp: esn must be a boolean");
  return v.ToBoolean();
}

uint64_t u64_value(Napi::Env env, Napi::Value v, const char* what) {
  if (v.IsBigInt()) {
    bool lossless = false;
    const uint64_t n = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) return n;
  }
  throw Napi::RangeError::New(env, std::string("esp: ") + what + " must be a bigint in 0..2^64-1");
}

Napi::Buffer<uint8_t> buffer_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsBuffer()) {
    throw Napi::TypeError::New(info.Env(), std::string("esp: ") + what + " must be a Buffer");
  }
  return info[i].As<Napi::Buffer<uint8_t>>();
}

Napi::Value new_handle(Napi::Env env, SaHandle* h) {
  auto ext = Napi::External<SaHandle>::New(env, h, [](Napi::Env, SaHandle* p) { delete p; });
  ext.TypeTag(&kSaTag);
  return ext;
}

Napi::Value CreateOutbound(const Napi::CallbackInfo& info) {
  const Aead aead = aead_arg(info, 0);
  const uint32_t spi = u32_arg(info, 1, 0, "spi");
  auto keymat = buffer_arg(info, 2, "keymat");
  const uint64_t seq = u64_arg(info, 3, "initialSeq");
  auto h = std::make_unique<SaHandle>();
  h->out = std::make_unique<OutboundSa>();
  if (!init_outbound(*h->out, aead, spi, keymat.Data(), keymat.Length())) {
    throw Napi::RangeError::New(info.Env(), "esp: key material must be key ‖ salt (" +
                                                std::to_string(aead_key_len(aead) + kSaltLen) + " bytes)");
  }
  h->out->seq = seq;
  Napi::Object o = options_arg(info, 4);
  h->out->esn = esn_option(o);
  set_limit(*h->out, o.Get("limit").IsUndefined() ? UINT64_MAX : u64_value(info.Env(), o.Get("limit"), "limit"));
  return new_handle(info.Env(), h.release());
}

Napi::Value CreateInbound(const Napi::CallbackInfo& info) {
  const Aead aead = aead_arg(info, 0);
  const uint32_t spi = u32_arg(info, 1, 0, "spi");
  auto keymat = buffer_arg(info, 2, "keymat");
  const uint32_t window = u32_arg(info, 3, kDefaultReplayWindow, "windowSize");
  const uint64_t top = u64_arg(info, 4, "initialTop");
  auto h = std::make_unique<SaHandle>();
  h->inbound = true;
  h->in = std::make_unique<InboundSa>();
  if (ReplayWindow probe; !probe.init(window)) {
    throw Napi::RangeError::New(info.Env(), "esp: windowSize must be a power of two in " +
                                                std::to_string(kMinReplayWindow) + ".." + std::to_string(kMaxReplayWindow));
  }
  if (!init_inbound(*h->in, aead, spi, keymat.Data(), keymat.Length(), window)) {
    throw Napi::RangeError::New(info.Env(), "esp: key material must be key ‖ salt (" +
                                                std::to_string(aead_key_len(aead) + kSaltLen) + " bytes)");
  }
  h->in->window.init(window, top);
  Napi::Object o = options_arg(info, 5);
  h->in->esn = esn_option(o);
  if (!o.Get("startAt").IsUndefined()) start_window_at(*h->in, u64_value(info.Env(), o.Get("startAt"), "startAt"));
  return new_handle(info.Env(), h.release());
}

// Packets backed by one contiguous allocation, laid out as a pool would.
struct ScratchPackets {
  std::unique_ptr<uint8_t[]> memory;  // not zeroed: like a pool's buffers
  std::vector<Packet> packets;
  std::vector<Packet*> ptrs;
  explicit ScratchPackets(size_t n)
      : memory(std::make_unique_for_overwrite<uint8_t[]>(n * kPacketBufferSize)), packets(n), ptrs(n) {
    for (size_t i = 0; i < n; ++i) {
      packets[i].buf = memory.get() + i * kPacketBufferSize;
      packets[i].reset();
      ptrs[i] = &packets[i];
    }
  }
};

Napi::Array array_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsArray()) {
    throw Napi::TypeError::New(info.Env(), std::string("esp: ") + what + " must be an array of Buffers");
  }
  return info[i].As<Napi::Array>();
}

void load_packets(Napi::Env env, Napi::Array list, ScratchPackets& s) {
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value v = list.Get(i);
    if (!v.IsBuffer()) throw Napi::TypeError::New(env, "esp: packet " + std::to_string(i) + " is not a Buffer");
    auto b = v.As<Napi::Buffer<uint8_t>>();
    if (b.Length() > kMaxFrame) {
      throw Napi::RangeError::New(env, "esp: packet " + std::to_string(i) + " is longer than " + std::to_string(kMaxFrame));
    }
    s.packets[i].assign(b.Data(), b.Length());
  }
}

Napi::Value Encapsulate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array list = array_arg(info, 1, "innerPackets");
  const uint32_t tfc = u32_arg(info, 2, 0, "tfcPadTo");
  const uint32_t n = list.Length();
  const std::vector<SaHandle*> handles = handles_arg(info, 0, n, false);
  ScratchPackets s(n);
  load_packets(env, list, s);
  std::vector<OutboundSa*> sas(n);
  for (uint32_t i = 0; i < n; ++i) sas[i] = handles[i]->out.get();
  std::vector<EncapResult> results(n);
  encapsulate_batch(sas.data(), s.ptrs.data(), n, tfc, results.data());
  Napi::Array out = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; ++i) {
    const Packet& p = s.packets[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("result", encap_result_name(results[i]));
    o.Set("esp", results[i] == EncapResult::ok ? Napi::Buffer<uint8_t>::Copy(env, p.data, p.len).As<Napi::Value>() : env.Null());
    out.Set(i, o);
  }
  return out;
}

Napi::Value Decapsulate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array list = array_arg(info, 1, "espPackets");
  const uint32_t n = list.Length();
  const std::vector<SaHandle*> handles = handles_arg(info, 0, n, true);
  ScratchPackets s(n);
  load_packets(env, list, s);
  std::vector<InboundSa*> sas(n);
  for (uint32_t i = 0; i < n; ++i) sas[i] = handles[i]->in.get();
  std::vector<DecapResult> results(n);
  decapsulate_batch(sas.data(), s.ptrs.data(), n, results.data());
  Napi::Array out = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("result", decap_result_name(results[i]));
    const Packet& p = s.packets[i];
    o.Set("inner", results[i] == DecapResult::ok ? Napi::Buffer<uint8_t>::Copy(env, p.data, p.len).As<Napi::Value>() : env.Null());
    out.Set(i, o);
  }
  return out;
}

Napi::Value Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SaHandle& h = handle_arg(info, 0);
  const SaCounters& c = h.inbound ? h.in->counters : h.out->counters;
  Napi::Object o = Napi::Object::New(env);
  o.Set("packets", Napi::Number::New(env, static_cast<double>(c.packets)));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(c.bytes)));
  o.Set("decryptErrors", Napi::Number::New(env, static_cast<double>(c.decrypt_errors)));
  o.Set("replayErrors", Napi::Number::New(env, static_cast<double>(c.replay_errors)));
  o.Set("truncatedErrors", Napi::Number::New(env, static_cast<double>(c.truncated_errors)));
  o.Set("trailerErrors", Napi::Number::New(env, static_cast<double>(c.trailer_errors)));
  o.Set("nextHeaderErrors", Napi::Number::New(env, static_cast<double>(c.next_header_errors)));
  o.Set("encapErrors", Napi::Number::New(env, static_cast<double>(c.encap_errors)));
  o.Set("sequenceExhausted", Napi::Number::New(env, static_cast<double>(c.sequence_exhausted)));
  o.Set("sequenceUnreserved", Napi::Number::New(env, static_cast<double>(c.sequence_unreserved)));
  o.Set("seq", Napi::BigInt::New(env, h.inbound ? h.in->window.top() : h.out->seq));
  if (h.inbound) o.Set("windowSize", Napi::Number::New(env, h.in->window.size()));
  else o.Set("limit", Napi::BigInt::New(env, h.out->limit));
  o.Set("esn", Napi::Boolean::New(env, h.inbound ? h.in->esn : h.out->esn));
  return o;
}

Napi::Value SetCounter(const Napi::CallbackInfo& info) {
  SaHandle& h = handle_arg(info, 0);
  const uint64_t seq = u64_arg(info, 1, "seq");
  if (h.inbound) {
    h.in->window.init(h.in->window.size(), seq);
  } else {
    h.out->seq = seq;
  }
  return info.Env().Undefined();
}

Napi::Value SetLimit(const Napi::CallbackInfo& info) {
  SaHandle& h = handle_arg(info, 0);
  if (h.inbound) throw Napi::TypeError::New(info.Env(), "esp: setLimit needs an outbound SA");
  set_limit(*h.out, u64_value(info.Env(), info.Length() > 1 ? info[1] : info.Env().Undefined(), "limit"));
  return info.Env().Undefined();
}

bool all_zero(const uint8_t* p, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; ++i) acc |= p[i];
  return acc == 0;
}

Napi::Value Wipe(const Napi::CallbackInfo& info) {
  SaHandle& h = handle_arg(info, 0);
  bool zero;
  if (h.inbound) {
    wipe(*h.in);
    zero = all_zero(h.in->gcm.state, sizeof h.in->gcm.state) && all_zero(h.in->gcm.salt, kSaltLen);
  } else {
    wipe(*h.out);
    zero = all_zero(h.out->gcm.state, sizeof h.out->gcm.state) && all_zero(h.out->gcm.salt, kSaltLen);
  }
  h.wiped = true;
  return Napi::Boolean::New(info.Env(), zero);
}

Napi::Value EncapsulatedLength(const Napi::CallbackInfo& info) {
  const uint32_t inner = u32_arg(info, 0, 0, "innerLen");
  const uint32_t tfc = u32_arg(info, 1, 0, "tfcPadTo");
  return Napi::Number::New(info.Env(), encapsulated_len(inner, tfc));
}

NapiPart part("esp", [](Napi::Env env, Napi::Object o) {
  o.Set("createOutbound", Napi::Function::New(env, CreateOutbound, "createOutbound"));
  o.Set("createInbound", Napi::Function::New(env, CreateInbound, "createInbound"));
  o.Set("encapsulate", Napi::Function::New(env, Encapsulate, "encapsulate"));
  o.Set("decapsulate", Napi::Function::New(env, Decapsulate, "decapsulate"));
  o.Set("counters", Napi::Function::New(env, Counters, "counters"));
  o.Set("setCounter", Napi::Function::New(env, SetCounter, "setCounter"));
  o.Set("setLimit", Napi::Function::New(env, SetLimit, "setLimit"));
  o.Set("wipe", Napi::Function::New(env, Wipe, "wipe"));
  o.Set("encapsulatedLength", Napi::Function::New(env, EncapsulatedLength, "encapsulatedLength"));
});

}  // namespace
}  // namespace vitesse::esp
