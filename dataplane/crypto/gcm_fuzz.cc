// libFuzzer target: every AES-GCM path this CPU has must agree with every
// other, byte for byte, on arbitrary keys, IVs, AAD and data, one packet per
// call and in batches; each must open what the others sealed and refuse (and
// zero) a packet with a flipped tag bit.
//
//   clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Idataplane \
//     dataplane/crypto/gcm_fuzz.cc \
//     $(ls dataplane/crypto/*.cc | grep -v -e napi -e bench -e openssl -e _fuzz) \
//     -o gcm_fuzz && ./gcm_fuzz -max_len=4096
// (Debian: apt-get install clang libclang-rt-14-dev)
//
// Input: flags (bit 0: 256-bit key; bits 1-7 seed the batch split and the
// flipped bit), 32 key bytes (the first 16 for a 128-bit key), 12 IV bytes,
// an AAD length byte, the AAD, then the plaintext. Short inputs are padded
// with zeros.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "crypto/aes_gcm.h"

using namespace vitesse::crypto;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Input {
  const uint8_t* p;
  size_t n;
  size_t at = 0;
  uint8_t byte() { return at < n ? p[at++] : 0; }
  void bytes(uint8_t* out, size_t k) {
    for (size_t i = 0; i < k; ++i) out[i] = byte();
  }
};

struct Sealed {
  std::vector<uint8_t> ct;
  uint8_t tag[16];
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  const uint8_t flags = in.byte();
  uint8_t key[32], iv[12];
  in.bytes(key, 32);
  in.bytes(iv, 12);
  const size_t key_len = (flags & 1) ? 32 : 16;
  std::vector<uint8_t> aad(in.byte());
  in.bytes(aad.data(), aad.size());
  const std::vector<uint8_t> pt(data + in.at, data + size);

  std::vector<GcmPath> paths;
  for (GcmPath p : {GcmPath::generic, GcmPath::avx2, GcmPath::avx512}) {
    if (gcm_path_supported(p)) paths.push_back(p);
  }
  std::vector<GcmContext> ctx(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    check(ctx[i].init(key, key_len, paths[i]));
    ctx[i].set_salt(iv);  // the batch jobs' nonce: salt ‖ their eight octets of IV
  }

  // One packet per call: every path seals to the same bytes.
  std::vector<Sealed> sealed(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    sealed[i].ct = pt;
    gcm_seal(ctx[i], iv, aad.data(), aad.size(), sealed[i].ct.data(), pt.size(), sealed[i].tag);
    check(sealed[i].ct == sealed[0].ct && std::memcmp(sealed[i].tag, sealed[0].tag, 16) == 0);
  }
  // Every path opens it, and refuses it with one tag bit flipped.
  const unsigned flip = (flags >> 1) % 128;
  for (size_t i = 0; i < paths.size(); ++i) {
    std::vector<uint8_t> buf = sealed[0].ct;
    check(gcm_open(ctx[i], iv, aad.data(), aad.size(), buf.data(), buf.size(), sealed[0].tag));
    check(buf == pt);
    uint8_t bad[16];
    std::memcpy(bad, sealed[0].tag, 16);
    bad[flip / 8] ^= static_cast<uint8_t>(1u << (flip % 8));
    buf = sealed[0].ct;
    check(!gcm_open(ctx[i], iv, aad.data(), aad.size(), buf.data(), buf.size(), bad));
    for (uint8_t b : buf) check(b == 0);
  }

  // Batches: the plaintext cut into pieces at input-derived points, the
  // pieces' contexts rotating through the paths (so runs of one path and
  // changes of path both occur), then all on one path, each piece its own IV
  // (the IV with the piece number in its last byte).
  const size_t pieces = 1 + (flags >> 1) % 9;
  std::vector<size_t> cut{0};
  for (size_t k = 1; k < pieces; ++k) cut.push_back(pt.size() * ((flags * 37u + k * 101u) % 97u) / 97u);
  cut.push_back(pt.size());
  for (size_t k = 1; k < cut.size(); ++k) {
    if (cut[k] < cut[k - 1]) cut[k] = cut[k - 1];
  }
  // A batch with contexts chosen by pick(k): every piece must seal as one
  // call does and open back, except the one whose tag is broken.
  const auto check_batch = [&](auto pick) {
    std::vector<std::vector<uint8_t>> bufs(pieces), ivs(pieces, std::vector<uint8_t>(iv, iv + 12));
    std::vector<GcmJob> jobs(pieces);
    std::vector<uint8_t> tags(16 * pieces);
    for (size_t k = 0; k < pieces; ++k) {
      bufs[k].assign(pt.begin() + static_cast<long>(cut[k]), pt.begin() + static_cast<long>(cut[k + 1]));
      ivs[k][11] = static_cast<uint8_t>(iv[11] + k);
      jobs[k] = {&ctx[pick(k)], ivs[k].data() + 4, aad.data(), bufs[k].data(), &tags[16 * k],
                 static_cast<uint32_t>(bufs[k].size()), static_cast<uint32_t>(aad.size())};
    }
    gcm_seal_batch(jobs.data(), pieces);
    for (size_t k = 0; k < pieces; ++k) {
      std::vector<uint8_t> one(pt.begin() + static_cast<long>(cut[k]), pt.begin() + static_cast<long>(cut[k + 1]));
      uint8_t tag[16];
      gcm_seal(ctx[0], ivs[k].data(), aad.data(), aad.size(), one.data(), one.size(), tag);
      check(one == bufs[k] && std::memcmp(tag, &tags[16 * k], 16) == 0);
    }
    // Open the batch back, with one piece's tag broken.
    const size_t broken = flip % pieces;
    tags[16 * broken + flip % 16] ^= 0x80;
    bool ok[9];
    gcm_open_batch(jobs.data(), pieces, ok);
    for (size_t k = 0; k < pieces; ++k) {
      check(ok[k] == (k != broken));
      if (k == broken) {
        for (uint8_t b : bufs[k]) check(b == 0);
      } else {
        check(std::equal(bufs[k].begin(), bufs[k].end(), pt.begin() + static_cast<long>(cut[k])));
      }
    }
  };
  check_batch([&](size_t k) { return (k / 2) % ctx.size(); });
  // Uniform batches (one path, one key size: the dispatcher's fast case).
  for (size_t i = 0; i < ctx.size(); ++i) check_batch([i](size_t) { return i; });
  return 0;
}
