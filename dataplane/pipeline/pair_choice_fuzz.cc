// libFuzzer target: the flow hash and pair choice of routes with several
// peers (pipeline/pair_choice.h) on arbitrary IP packets.
//
//   npm run fuzz -- pair_choice_fuzz        (fuzz/fuzz.mjs has the compiler line)
//
// Input: a settings byte (bit 0: IPv6; bits 1-3: pairs - 1; bits 4-7: which
// pairs are usable, a mask over the first four), then the IP packet, copied
// into a buffer of exactly its size so that AddressSanitizer sees any read
// past it. The packet is cut to what the outbound path would have checked
// (IPv4: at least the header its IHL names; IPv6: at least 40 octets).
//
// What must hold, besides no sanitizer report:
//   - the hash reads only the packet (ASan) and is the same on a copy;
//   - octets outside the flow (TTL, id, checksum, payload past the ports)
//     never change it;
//   - the chosen slot is one of the route's pairs, and a usable one while
//     any is usable (the buckets are built as gateway.cc builds them).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pipeline/pair_choice.h"

using namespace vitesse;

namespace {

// As Gateway::build_tables fills a route's buckets (there with SAs too; here
// every pair has one).
PairSet buckets(uint32_t n, const bool* usable) {
  PairSet s{0, {}};
  uint8_t live[kMaxPairs];
  uint32_t n_live = 0;
  for (uint32_t k = 0; k < n; k++)
    if (usable[k]) live[n_live++] = static_cast<uint8_t>(k);
  for (uint32_t b = 0; b < kPairBuckets; b++) {
    const uint8_t own = static_cast<uint8_t>(b % n);
    s.bucket[b] = usable[own] || n_live == 0 ? own : live[b % n_live];
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool v6 = data[0] & 1;
  const uint32_t n = 1 + ((data[0] >> 1) & 7);
  bool usable[kMaxPairs];
  for (uint32_t k = 0; k < kMaxPairs; k++) usable[k] = k < 4 ? (data[0] >> (4 + k)) & 1 : true;
  data++;
  size--;
  if (v6 ? size < net::kIpv6HeaderLen : size < net::kIpv4HeaderLen) return 0;
  if (!v6 && (data[0] & 0xfu) * 4u < net::kIpv4HeaderLen) return 0;
  if (!v6 && (data[0] & 0xfu) * 4u > size) return 0;
  const uint32_t len = static_cast<uint32_t>(size);

  std::vector<uint8_t> ip(data, data + size);
  const uint32_t h = flow_hash(ip.data(), len, v6);
  std::vector<uint8_t> copy(ip);
  if (flow_hash(copy.data(), len, v6) != h) std::abort();

  // Outside the flow: TTL / hop limit, id, checksum, and what follows the ports.
  const uint32_t l4 = v6 ? net::kIpv6HeaderLen : (ip[0] & 0xfu) * 4u;
  if (v6) copy[7] ^= 0xff;
  else {
    copy[8] ^= 0xff;
    copy[4] ^= 0x5a;
    copy[10] ^= 0xa5;
  }
  for (uint32_t i = l4 + 4; i < len; i++) copy[i] ^= 0x3c;
  if (flow_hash(copy.data(), len, v6) != h) std::abort();

  QueueTables qt;
  qt.pairs.resize(n);
  for (uint32_t k = 0; k < n; k++) qt.pairs[k].mtu = k;  // the slot's identity
  qt.pair_sets.push_back(buckets(n, usable));
  QueueRoute head;
  head.pair_set = 1;
  const QueueRoute& chosen = choose_pair(qt, head, ip.data(), len, v6);
  const uint32_t k = chosen.mtu;
  if (&chosen != &qt.pairs[k] || k >= n) std::abort();
  bool any = false;
  for (uint32_t i = 0; i < n; i++) any |= usable[i];
  if (any && !usable[k]) std::abort();
  return 0;
}
