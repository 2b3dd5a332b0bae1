// libFuzzer target: Poptrie against a naive longest-prefix match.
//
//   clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Idataplane \
//     dataplane/route/poptrie_fuzz.cc dataplane/route/{binary_trie,poptrie_builder,prefix}.cc \
//     -o poptrie_fuzz && ./poptrie_fuzz -max_len=4096
// (Debian: apt-get install clang libclang-rt-14-dev)
//
// The first input byte picks the family (even: IPv4, odd: IPv6) and how many
// routes follow (the rest of that byte, times 4). A route is its length byte
// (any value: lengths over the family's width must be refused), a 2-byte
// value (0 must be refused) and its address bytes; the bytes left over are
// addresses to look up. Every route also contributes its first and last
// address and their outside neighbours as lookups, where off-by-one errors
// show. Each lookup must agree with a scan of all routes, through the single
// and the batch lookup and both popcount paths.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "route/poptrie_builder.h"

using namespace vitesse::route;

namespace {

struct Reference {
  Prefix prefix;
  RouteIndex value;
};

bool contains(const Prefix& p, const uint8_t* address) {
  for (unsigned byte = 0; byte * 8 < p.length; ++byte) {
    const unsigned bits = std::min(8u, p.length - byte * 8);
    const uint8_t mask = static_cast<uint8_t>(0xff00u >> bits);
    if ((address[byte] & mask) != p.bytes[byte]) return false;  // host bits of p are clear
  }
  return true;
}

// The longest prefix containing the address; of equal prefixes, the last.
RouteIndex naive_lookup(const std::vector<Reference>& routes, const uint8_t* address) {
  int best_len = -1;
  RouteIndex best = kNoRoute;
  for (const Reference& r : routes) {
    if (contains(r.prefix, address) && r.prefix.length >= best_len) {
      best_len = r.prefix.length;
      best = r.value;
    }
  }
  return best;
}

// address + delta (+1 or -1) over the whole width, wrapping around.
std::array<uint8_t, 16> step(std::array<uint8_t, 16> a, unsigned width, int delta) {
  for (int i = static_cast<int>(width) - 1; i >= 0; --i) {
    const uint8_t before = a[i];
    a[i] = static_cast<uint8_t>(a[i] + delta);
    if ((delta > 0 && before != 0xff) || (delta < 0 && before != 0x00)) break;
  }
  return a;
}

template <class Keys>
void check(const uint8_t* data, size_t size, size_t route_count) {
  constexpr unsigned kWidth = Keys::kAddressBits / 8;
  constexpr Family kFamily = PoptrieBuilder<Keys>::kFamily;
  PoptrieBuilder<Keys> builder;
  std::vector<Reference> routes;
  std::vector<std::array<uint8_t, 16>> addresses;

  size_t at = 0;
  for (size_t i = 0; i < route_count && at + 3 + kWidth <= size; ++i, at += 3 + kWidth) {
    Prefix p;
    p.length = data[at];
    const RouteIndex value = static_cast<RouteIndex>(data[at + 1] << 8 | data[at + 2]);
    std::memcpy(p.bytes.data(), data + at + 3, kWidth);
    const std::string err = builder.add(p, value);
    const bool valid = p.length <= Keys::kAddressBits && value != kNoRoute;
    if (err.empty() != valid) abort();
    if (!valid) continue;
    clear_host_bits(p, kFamily);
    routes.push_back({p, value});
    std::array<uint8_t, 16> first{}, last{};
    std::copy_n(p.bytes.begin(), kWidth, first.begin());
    last = first;
    for (unsigned bit = p.length; bit < Keys::kAddressBits; ++bit) last[bit / 8] |= static_cast<uint8_t>(0x80 >> bit % 8);
    addresses.insert(addresses.end(), {first, last, step(first, kWidth, -1), step(last, kWidth, +1)});
  }
  for (; at + kWidth <= size; at += kWidth) {
    std::array<uint8_t, 16> a{};
    std::memcpy(a.data(), data + at, kWidth);
    addresses.push_back(a);
  }

  const auto table = builder.build();
  std::vector<typename Keys::Key> keys;
  for (const auto& a : addresses) keys.push_back(Keys::key_at(a.data()));
  std::vector<RouteIndex> want(keys.size());
  for (size_t i = 0; i < addresses.size(); ++i) {
    want[i] = naive_lookup(routes, addresses[i].data());
    if (table->find(keys[i]) != want[i] || builder.trie().lookup(addresses[i].data()) != want[i]) abort();
  }
  std::vector<RouteIndex> batch(keys.size());
  for (PopcountPath path : {PopcountPath::portable, PopcountPath::popcnt}) {
    if (!popcount_path_available(path)) continue;
    table->find_batch(keys.data(), batch.data(), keys.size(), path);
    if (batch != want) abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t route_count = (data[0] >> 1) * size_t{4};
  if (data[0] & 1) {
    check<Ipv6Keys>(data + 1, size - 1, route_count);
  } else {
    check<Ipv4Keys>(data + 1, size - 1, route_count);
  }
  return 0;
}
