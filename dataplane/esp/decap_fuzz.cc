// libFuzzer target: decapsulate arbitrary bytes with a valid inbound SA.
//
//   clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Idataplane \
//     dataplane/esp/decap_fuzz.cc dataplane/esp/{decap,replay_window,sa}.cc \
//     $(ls dataplane/crypto/*.cc | grep -v -e napi -e bench -e openssl) \
//     -o decap_fuzz && ./decap_fuzz -max_len=2048
// (Debian: apt-get install clang libclang-rt-14-dev)
//
// The first input byte picks a mode and the rest is split into packets:
//   even: the packets are raw ESP (header, ciphertext, ICV all fuzzed), which
//         mostly exercises length checks, seq inference and authentication;
//   odd:  each packet's bytes are a plaintext (trailer included) that this
//         harness seals with the SA's key under a fuzzed sequence number, so
//         trailer and inner-header parsing see arbitrary authentic contents.
// Packets go through one decapsulate_batch call and the SA persists across
// inputs, so the window sees ever new states. Every result must be in range
// and every ok packet must lie inside its buffer with its own IP length.
// A second SA with the same key gets copies of the same packets one at a
// time: a batch must give exactly the verdicts and leave exactly the window
// that packet-by-packet processing does (RFC 4303 Appendix A). The same
// input also drives the window's fast paths against its general ones
// (check_window_fast_paths).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "crypto/aes_gcm.h"
#include "util/big_endian.h"
#include "esp/decap.h"
#include "esp/sa.h"
#include "packet.h"

using namespace vitesse;
using namespace vitesse::esp;

namespace {

constexpr uint32_t kSpi = 0x1001;
constexpr uint8_t kKeymat[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xa, 0xb, 0xc, 0xd};

struct Harness {
  InboundSa sa;
  InboundSa single;  // the same SA, fed one packet at a time
  crypto::GcmContext seal;
  std::vector<uint8_t> memory = std::vector<uint8_t>(kBatch * kPacketBufferSize);
  std::vector<uint8_t> copy_memory = std::vector<uint8_t>(kBatch * kPacketBufferSize);
  Packet packets[kBatch];
  Packet copies[kBatch];
  Packet* ptrs[kBatch];
  InboundSa* sas[kBatch];

  Harness() {
    if (!init_inbound(sa, Aead::aes_gcm_16_icv, kSpi, kKeymat, sizeof kKeymat, 64)) std::abort();
    if (!init_inbound(single, Aead::aes_gcm_16_icv, kSpi, kKeymat, sizeof kKeymat, 64)) std::abort();
    if (!seal.init(kKeymat, 16)) std::abort();
    for (uint32_t i = 0; i < kBatch; ++i) {
      packets[i].buf = memory.data() + i * kPacketBufferSize;
      ptrs[i] = &packets[i];
      sas[i] = &sa;
    }
  }
};

// ESP around `plaintext`, sealed with the SA's key, sequence number from the
// plaintext's first bytes (small numbers, so they land near the window).
void seal_into(Harness& h, Packet& p, const uint8_t* plaintext, size_t len) {
  uint32_t seq_low = len > 0 ? plaintext[0] : 1;
  uint8_t* esp = p.data;
  store_be32(esp, kSpi);
  store_be32(esp + 4, seq_low);
  std::memset(esp + 8, 0, 8);
  std::memcpy(esp + 8, &seq_low, 4);
  std::memcpy(esp + kEspHeaderLen, plaintext, len);
  uint8_t nonce[12];
  std::memcpy(nonce, kKeymat + 16, 4);
  std::memcpy(nonce + 4, esp + 8, 8);
  // The receiver will infer seq-high from its window; guess it the same way.
  uint64_t seq = seq_low;
  if (!h.sa.window.infer(seq_low, &seq)) seq = seq_low;
  uint8_t aad[12];
  store_be32(aad, kSpi);
  store_be32(aad + 4, static_cast<uint32_t>(seq >> 32));
  store_be32(aad + 8, seq_low);
  crypto::gcm_seal(h.seal, nonce, aad, sizeof aad, esp + kEspHeaderLen, len, esp + kEspHeaderLen + len);
  p.len = static_cast<uint32_t>(kEspHeaderLen + len + kIcvLen);
}

// RFC 4303 Appendix A's window as a set of the numbers received within it:
// no blocks, no ring, no copy of the top's block (ReplayWindow keeps that in
// its state and writes it back when the top leaves it), so each verdict of
// the real window's can be checked against the definition.
struct ReferenceWindow {
  uint64_t top;
  uint64_t size;
  std::set<uint64_t> seen;

  bool check(uint64_t seq) const {
    if (seq == 0) return false;
    if (seq > top) return true;
    return top - seq < size && seen.count(seq) == 0;
  }
  bool update(uint64_t seq) {
    if (!check(seq)) return false;
    if (seq > top) {
      top = seq;
      seen.erase(seen.begin(), seen.lower_bound(top >= size ? top - size + 1 : 0));
    }
    seen.insert(seq);
    return true;
  }
};

// Distances for the jumps below: within the top's block, to its edges, one
// and more blocks, the window and the ring (2W) and beyond, half a subspace.
uint64_t jump(uint8_t k, uint64_t w) {
  static constexpr uint64_t kFixed[] = {2, 63, 64, 65, 127, 128};
  if (k < 6) return kFixed[k];
  switch (k) {
    case 6: return w - 1;
    case 7: return w;
    case 8: return w + 1;
    case 9: return w + 63;
    case 10: return 2 * w - 1;
    case 11: return 2 * w;
    case 12: return 2 * w + 64;
    case 13: return 4 * w + 1;
    case 14: return uint64_t{1} << 31;
    default: return (uint64_t{1} << 32) + 1;
  }
}

// Numbers whose verdicts must agree with the reference after each step: the
// window's left edge, the number just recorded, a stride through the
// window, and (when `all`: the top moved to another block, and every 16th
// step) every number of the top's block and the one before it.
void check_against_reference(const ReplayWindow& w, const ReferenceWindow& ref, uint64_t seq, bool all) {
  const uint64_t t = w.top();
  if (t != ref.top) std::abort();
  auto probe = [&](uint64_t s) {
    if (w.check(s) != ref.check(s)) std::abort();
  };
  for (uint64_t d = 0; d < (all ? 130 : 2); ++d) probe(t - d);
  probe(t + 1);
  probe(t + 64);
  for (uint64_t d = 0; d < 3; ++d) probe(t - ref.size + d), probe(t - ref.size - d);
  probe(seq - 1), probe(seq), probe(seq + 1);
  for (uint64_t d = 130; d < ref.size; d += 61) probe(t - d);
}

// The window's fast paths for the next number (ReplayWindow::next_in_order
// and update's) against the general ones, from a top the input puts near a
// 2^32 boundary or near 2^64: each input byte queues or records a number
// near the top, mostly the next one, or records one a jump away (blocks,
// windows, subspaces; forward or back). Both windows must stay byte for byte
// the same (the top's block in the state, the ring, its stale slot), and
// their verdicts those of the reference.
void check_window_fast_paths(const uint8_t* data, size_t size) {
  if (size < 2) return;
  ReplayWindow fast;
  // data[0] % 4 == 0 and data[1] < 128: a top just below 2^64.
  const uint64_t top = (static_cast<uint64_t>(data[0] % 4) << 32) + data[1] - 128;
  const uint32_t w = data[0] & 0x80 ? 32 : data[0] & 4 ? 64 : 1024;
  if (!fast.init(w, top)) std::abort();
  ReplayWindow general = fast;
  ReferenceWindow ref{top, w, {}};
  uint64_t pending = top;  // the windows' pending top
  uint64_t top_block = top / 64;
  for (size_t i = 2; i < size; ++i) {
    const uint8_t b = data[i];
    if (b % 16 == 0) {  // a new batch
      fast.begin_batch();
      general.begin_batch();
      pending = fast.top();
    }
    bool queue = b & 0x40;
    uint64_t seq;
    if (b >= 0xe0) {  // a jump, recorded
      queue = false;
      const uint64_t d = jump(b & 0x0f, w);
      // May wrap: forward past 2^64 is refused, back past 0 is a top near 2^64.
      seq = b & 0x10 ? fast.top() + d : fast.top() - d;
    } else {
      const uint64_t next = (b & 0x80 ? pending : fast.top()) + 1;
      seq = b < 0xc0 ? next : next + (b & 0x1f) - 16;
    }
    const uint32_t seq_low = static_cast<uint32_t>(seq);
    uint64_t in_order = 0, inferred = 0;
    if (fast.next_in_order(seq_low, &in_order)) {
      const bool ok = general.infer(seq_low, &inferred);
      if (!ok || inferred != in_order || !general.settled(seq_low, true, inferred) || !general.check(inferred)) std::abort();
    }
    if (queue || b >= 0xe0) {  // queued for authentication; a jump is queued before it is recorded, as in decap
      fast.queued(seq);
      general.queued(seq);
      pending = seq > pending ? seq : pending;
    }
    if (!queue) {
      const bool verdict = fast.update(seq);
      if (verdict != general.update_general(seq) || verdict != ref.update(seq)) std::abort();
    }
    if (std::memcmp(&fast, &general, sizeof fast) != 0) std::abort();
    check_against_reference(fast, ref, seq, fast.top() / 64 != top_block || i % 16 == 0);
    top_block = fast.top() / 64;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness h;
  if (size == 0) return 0;
  check_window_fast_paths(data, size);
  const bool sealed = data[0] & 1;
  data += 1;
  size -= 1;
  // Packets are separated by the two bytes "ES" so the fuzzer can vary
  // their number and lengths freely.
  uint32_t n = 0;
  while (n < kBatch) {
    const uint8_t* end = static_cast<const uint8_t*>(memmem(data, size, "ES", 2));
    const size_t len = end ? static_cast<size_t>(end - data) : size;
    Packet& p = h.packets[n];
    p.reset();
    const size_t max = kPacketBufferSize - kPacketHeadroom - kEspHeaderLen - kIcvLen;
    const size_t take = len < max ? len : max;
    if (sealed) {
      seal_into(h, p, data, take);
    } else {
      std::memcpy(p.data, data, take);
      p.len = static_cast<uint32_t>(take);
    }
    ++n;
    if (!end) break;
    data = end + 2;
    size -= len + 2;
  }

  for (uint32_t i = 0; i < n; ++i) {
    Packet& c = h.copies[i];
    c.buf = h.copy_memory.data() + i * kPacketBufferSize;
    std::memcpy(c.buf, h.packets[i].buf, kPacketBufferSize);
    c.data = c.buf + (h.packets[i].data - h.packets[i].buf);
    c.len = h.packets[i].len;
  }

  DecapResult results[kBatch];
  decapsulate_batch(h.sas, h.ptrs, n, results);
  for (uint32_t i = 0; i < n; ++i) {
    InboundSa* one_sa = &h.single;
    Packet* one = &h.copies[i];
    DecapResult r;
    decapsulate_batch(&one_sa, &one, 1, &r);
    if (r != results[i]) std::abort();
  }
  if (h.single.window.top() != h.sa.window.top()) std::abort();
  for (uint32_t i = 0; i < n; ++i) {
    if (static_cast<uint8_t>(results[i]) > static_cast<uint8_t>(DecapResult::bad_next_header)) std::abort();
    if (results[i] != DecapResult::ok) continue;
    const Packet& p = h.packets[i];
    if (p.data < p.buf || p.data + p.len > p.buf + kPacketBufferSize) std::abort();
    const uint32_t own = (p.data[0] >> 4) == 4 ? load_be16(p.data + 2) : 40 + load_be16(p.data + 4);
    if (own != p.len) std::abort();
  }
  return 0;
}
