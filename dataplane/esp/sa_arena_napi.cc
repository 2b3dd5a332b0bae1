// N-API part "esp" of the testkit addon, continued: the SA arena
// (esp/sa_arena.h) on its own, for test/sa-arena.test.ts. Not a hot path.
//
//   arenaCreate('inbound' | 'outbound') -> arena handle
//   arenaAllocate(arena, keymat: Buffer) -> slot number (an SA keyed with
//     aes-gcm-16-icv, 16+4 octets)
//   arenaFree(arena, slot)             wiped and back to the free list at once
//   arenaSlot(arena, slot) -> { address: bigint, lines: bigint[], keyZero,
//     poisoned: boolean | null }
//     lines: the addresses of the lines a packet reads (pipeline/prefetch_sa.h:
//     the hot line, inbound the window's first block, the context's prefetched
//     lines); keyZero: the key schedule and salt read back as zeros (a freed
//     slot is read with its poison lifted for the look); poisoned: whether
//     AddressSanitizer reports the slot's first octet poisoned (null when the
//     build has no ASan)
//   arenaInfo(arena) -> { stride, objectSize, slotsPerChunk, chunks, inUse, asan }
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "esp/sa.h"
#include "esp/sa_arena.h"
#include "napi_registry.h"
#include "pipeline/prefetch_sa.h"
#include "util/asan.h"
#include "util/napi_args.h"

namespace vitesse::esp {
namespace {

constexpr napi_type_tag kArenaTag = {0x3c5e9a1d7b204f86ULL, 0xa4d1f07e925b3c68ULL};

struct ArenaHandle {
  bool inbound = false;
  std::unique_ptr<SaArena<InboundSa>> in;
  std::unique_ptr<SaArena<OutboundSa>> out;
  std::vector<void*> slots;  // by slot number
  std::vector<bool> live;
  ~ArenaHandle() {
    for (size_t i = 0; i < slots.size(); i++) {
      if (!live[i]) continue;
      if (inbound) in->destroy(static_cast<InboundSa*>(slots[i]));
      else out->destroy(static_cast<OutboundSa*>(slots[i]));
    }
  }
  const SlotArena& arena() const { return inbound ? in->slots() : out->slots(); }
};

ArenaHandle& arena_arg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = i < info.Length() ? info[i] : info.Env().Undefined();
  if (!v.IsExternal() || !v.As<Napi::External<ArenaHandle>>().CheckTypeTag(&kArenaTag))
    throw Napi::TypeError::New(info.Env(), "esp: argument " + std::to_string(i + 1) + " is not an SA arena");
  return *v.As<Napi::External<ArenaHandle>>().Data();
}

uint32_t slot_arg(const Napi::CallbackInfo& info, ArenaHandle& a, bool want_live) {
  const uint32_t s = napi_args::uint32_arg(info, 1, "esp: slot");
  if (s >= a.slots.size()) throw Napi::RangeError::New(info.Env(), "esp: no slot " + std::to_string(s));
  if (want_live && !a.live[s]) throw Napi::Error::New(info.Env(), "esp: slot " + std::to_string(s) + " is free");
  return s;
}

Napi::Value ArenaCreate(const Napi::CallbackInfo& info) {
  const std::string kind = napi_args::string_arg(info, 0, "esp: kind");
  if (kind != "inbound" && kind != "outbound")
    throw Napi::TypeError::New(info.Env(), "esp: arena kind must be inbound or outbound, not \"" + kind + "\"");
  auto h = std::make_unique<ArenaHandle>();
  h->inbound = kind == "inbound";
  if (h->inbound) h->in = std::make_unique<SaArena<InboundSa>>("test inbound SAs");
  else h->out = std::make_unique<SaArena<OutboundSa>>("test outbound SAs");
  auto ext = Napi::External<ArenaHandle>::New(info.Env(), h.release(), [](Napi::Env, ArenaHandle* p) { delete p; });
  ext.TypeTag(&kArenaTag);
  return ext;
}

Napi::Value ArenaAllocate(const Napi::CallbackInfo& info) {
  ArenaHandle& a = arena_arg(info, 0);
  auto key = napi_args::buffer_value(info.Length() > 1 ? info[1] : info.Env().Undefined(), "esp: keymat");
  const uint32_t spi = 0x1000 + static_cast<uint32_t>(a.slots.size());
  void* p;
  bool ok;
  if (a.inbound) {
    ArenaPtr<InboundSa> sa = a.in->create();
    ok = init_inbound(*sa, Aead::aes_gcm_16_icv, spi, key.Data(), key.Length());
    p = ok ? sa.release() : nullptr;
  } else {
    ArenaPtr<OutboundSa> sa = a.out->create();
    ok = init_outbound(*sa, Aead::aes_gcm_16_icv, spi, key.Data(), key.Length());
    p = ok ? sa.release() : nullptr;
  }
  if (!ok) throw Napi::RangeError::New(info.Env(), "esp: keymat must be 20 octets");
  a.slots.push_back(p);
  a.live.push_back(true);
  return Napi::Number::New(info.Env(), static_cast<double>(a.slots.size() - 1));
}

Napi::Value ArenaFree(const Napi::CallbackInfo& info) {
  ArenaHandle& a = arena_arg(info, 0);
  const uint32_t s = slot_arg(info, a, true);
  if (a.inbound) a.in->destroy(static_cast<InboundSa*>(a.slots[s]));
  else a.out->destroy(static_cast<OutboundSa*>(a.slots[s]));
  a.live[s] = false;
  return info.Env().Undefined();
}

bool all_zero(const uint8_t* p, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; ++i) acc |= p[i];
  return acc == 0;
}

template <class Sa>
bool key_zero(const Sa* sa) {
  return all_zero(sa->gcm.state, sizeof sa->gcm.state) && all_zero(sa->gcm.salt, kSaltLen);
}

Napi::Value ArenaSlot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArenaHandle& a = arena_arg(info, 0);
  const uint32_t s = slot_arg(info, a, false);
  char* p = static_cast<char*>(a.slots[s]);
  const size_t size = a.inbound ? sizeof(InboundSa) : sizeof(OutboundSa);
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p))));
#ifdef VITESSE_ASAN
  o.Set("poisoned", Napi::Boolean::New(env, __asan_address_is_poisoned(p) != 0));
  const bool lift = !a.live[s];
  if (lift) ASAN_UNPOISON_MEMORY_REGION(p, size);
#else
  o.Set("poisoned", env.Null());
  (void)size;
#endif
  // Addresses computed from the layout: nothing is read but the key below.
  std::vector<uintptr_t> lines;
  const crypto::GcmContext* gcm;
  if (a.inbound) {
    const InboundSa* sa = reinterpret_cast<const InboundSa*>(p);
    lines.push_back(reinterpret_cast<uintptr_t>(&sa->spi));
    lines.push_back(reinterpret_cast<uintptr_t>(&sa->window));
    gcm = &sa->gcm;
    o.Set("keyZero", Napi::Boolean::New(env, key_zero(sa)));
  } else {
    const OutboundSa* sa = reinterpret_cast<const OutboundSa*>(p);
    lines.push_back(reinterpret_cast<uintptr_t>(sa));
    gcm = &sa->gcm;
    o.Set("keyZero", Napi::Boolean::New(env, key_zero(sa)));
  }
#ifdef VITESSE_ASAN
  if (lift) ASAN_POISON_MEMORY_REGION(p, a.arena().stride());
#endif
  for (size_t off : kGcmPrefetchOffsets) lines.push_back(reinterpret_cast<uintptr_t>(gcm) + off);
  Napi::Array arr = Napi::Array::New(env, lines.size());
  for (uint32_t i = 0; i < lines.size(); i++) arr.Set(i, Napi::BigInt::New(env, static_cast<uint64_t>(lines[i] & ~uintptr_t{63})));
  o.Set("lines", arr);
  return o;
}

Napi::Value ArenaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArenaHandle& a = arena_arg(info, 0);
  const SlotArena& s = a.arena();
  Napi::Object o = Napi::Object::New(env);
  o.Set("stride", Napi::Number::New(env, static_cast<double>(s.stride())));
  o.Set("objectSize", Napi::Number::New(env, static_cast<double>(a.inbound ? sizeof(InboundSa) : sizeof(OutboundSa))));
  o.Set("slotsPerChunk", Napi::Number::New(env, static_cast<double>(s.slots_per_chunk())));
  o.Set("chunks", Napi::Number::New(env, static_cast<double>(s.chunks())));
  o.Set("inUse", Napi::Number::New(env, static_cast<double>(s.in_use())));
#ifdef VITESSE_ASAN
  o.Set("asan", Napi::Boolean::New(env, true));
#else
  o.Set("asan", Napi::Boolean::New(env, false));
#endif
  return o;
}

NapiPart part("esp", [](Napi::Env env, Napi::Object o) {
  o.Set("arenaCreate", Napi::Function::New(env, ArenaCreate, "arenaCreate"));
  o.Set("arenaAllocate", Napi::Function::New(env, ArenaAllocate, "arenaAllocate"));
  o.Set("arenaFree", Napi::Function::New(env, ArenaFree, "arenaFree"));
  o.Set("arenaSlot", Napi::Function::New(env, ArenaSlot, "arenaSlot"));
  o.Set("arenaInfo", Napi::Function::New(env, ArenaInfo, "arenaInfo"));
});

}  // namespace
}  // namespace vitesse::esp
