// Poptrie: longest-prefix match for IPv4 and IPv6 routes (Asai & Ohara,
// "Poptrie: A Compressed Trie with Population Count for Fast and Scalable
// Software IP Routing Table Lookup", SIGCOMM 2015).
//
// A lookup reads the top kDirectBits of the address in a flat array (direct
// pointing): the entry is either a route or the node to continue from. It then
// walks nodes 6 address bits at a time. A node has 64 children, described by
// two bit vectors:
//   vector   bit i set: child i is a node, nodes[base1 + rank] (rank = number
//            of set bits at or below i, minus one), so a node's child nodes
//            are packed together;
//   leafvec  bit i set: child i starts a run of equal leaves, the run's route
//            being leaves[base0 + rank], so the leaves under a node are packed
//            together and a run of them is stored once.
// The walk stops at the first child that is not a node; rank over leafvec
// then finds its route. Built by poptrie_builder.h; immutable once built, so
// the control plane builds a table off the hot path and publishes it with a
// pointer swap.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "route/route_index.h"
#include "route/table_memory.h"

namespace vitesse::route {

struct PoptrieNode {
  uint64_t vector;
  uint64_t leafvec;
  uint32_t base0;  // first leaf
  uint32_t base1;  // first child node
};

// What the builder hands to a table. Only the builder makes these, so a
// lookup can trust every index in them to be in bounds.
struct PoptrieArrays {
  std::vector<uint32_t> direct;  // 1 << kDirectBits entries
  std::vector<PoptrieNode> nodes;
  std::vector<RouteIndex> leaves;
};

// A direct-pointing entry is a node index, or kDirectLeaf | route.
inline constexpr uint32_t kDirectLeaf = 0x80000000u;
inline constexpr unsigned kStride = 6;

static_assert(std::endian::native == std::endian::little, "keys are loaded with a byte swap");

// The key is the address left-aligned in an unsigned integer, so both
// families take bits off the top the same way, and IPv4's last stride (bits
// 30..35) reads zeros past the address. 18 direct bits for IPv4 (1 MiB) let
// a /24, the most common route, end in the first node; 16 for IPv6 (256 KiB)
// cover 2000::/3 with 8192 entries.
struct Ipv4Keys {
  using Key = uint64_t;
  using Address = uint32_t;  // host byte order
  static constexpr unsigned kAddressBits = 32;
  static constexpr unsigned kDirectBits = 18;
  static Key key(Address a) { return Key{a} << 32; }
  static Key key_at(const uint8_t* network_order) {
    uint32_t a;
    std::memcpy(&a, network_order, 4);
    return key(__builtin_bswap32(a));
  }
};

struct Ipv6Keys {
  using Key = unsigned __int128;
  using Address = const uint8_t*;  // 16 bytes, network byte order
  static constexpr unsigned kAddressBits = 128;
  static constexpr unsigned kDirectBits = 16;
  static Key key(Address a) { return key_at(a); }
  static Key key_at(const uint8_t* network_order) {
    uint64_t hi, lo;
    std::memcpy(&hi, network_order, 8);
    std::memcpy(&lo, network_order + 8, 8);
    return Key{__builtin_bswap64(hi)} << 64 | __builtin_bswap64(lo);
  }
};

namespace detail {

// The walks below use __builtin_popcountll. The addon is built for baseline
// x86-64, where that is a call into libgcc (__popcountdi2, a dozen
// instructions), so each walk is inlined into two callers: one compiled for
// the popcnt instruction, one portable. has_popcnt picks one at run time.
#if defined(__x86_64__) && !defined(__POPCNT__)
#define VITESSE_TARGET_POPCNT __attribute__((target("popcnt")))
inline const bool has_popcnt = [] {
  __builtin_cpu_init();  // this initialiser may run before libgcc's
  return __builtin_cpu_supports("popcnt") != 0;
}();
#else
// The compiler already uses the instruction everywhere, or has none to use.
#define VITESSE_TARGET_POPCNT
inline constexpr bool has_popcnt = true;
#endif

template <class Key>
inline unsigned chunk(Key key, unsigned offset) {
  return static_cast<unsigned>((key << offset) >> (sizeof(Key) * 8 - kStride));
}

// Set bits of v at or below bit c (shifting out the bits above c).
[[gnu::always_inline]] inline uint32_t rank(uint64_t v, unsigned c) {
  return static_cast<uint32_t>(__builtin_popcountll(v << (63 - c)));
}

// The same with the popcnt instruction written out, for a walk inlined into
// a caller compiled for baseline x86-64 (a function with target("popcnt")
// cannot be inlined there): the worker's route pass then makes no call per
// packet. Only where has_popcnt says the CPU has the instruction.
[[gnu::always_inline]] inline uint32_t rank_insn(uint64_t v, unsigned c) {
#if defined(__x86_64__) && !defined(__POPCNT__)
  uint64_t n;
  asm("popcntq %1, %0" : "=r"(n) : "r"(v << (63 - c)) : "cc");
  return static_cast<uint32_t>(n);
#else
  return rank(v, c);
#endif
}

template <class Keys, bool kInsn = false>
[[gnu::always_inline]] inline RouteIndex walk(const uint32_t* direct, const PoptrieNode* nodes,
                                              const RouteIndex* leaves, typename Keys::Key key) {
  const uint32_t d = direct[key >> (sizeof(key) * 8 - Keys::kDirectBits)];
  if (d & kDirectLeaf) return static_cast<RouteIndex>(d);
  const PoptrieNode* n = &nodes[d];
  unsigned offset = Keys::kDirectBits;
  unsigned c = chunk(key, offset);
  while (n->vector >> c & 1) {
    n = &nodes[n->base1 + (kInsn ? rank_insn(n->vector, c) : rank(n->vector, c)) - 1];
    offset += kStride;
    c = chunk(key, offset);
  }
  return leaves[n->base0 + (kInsn ? rank_insn(n->leafvec, c) : rank(n->leafvec, c)) - 1];
}

// The same walk for up to 64 keys in lock step, one level at a time: every
// lane's next access is requested (prefetched) before any lane uses its own,
// so the group waits for memory about once per level rather than once per
// lane and level. On a table far larger than the caches this is most of the
// cost of a lookup.
inline constexpr size_t kGroup = 64;

// A 24-byte node straddles two cache lines three times in eight: ask for both.
// (Integer arithmetic: n may be the null data of a table without nodes.)
inline void prefetch_node(const PoptrieNode* n) {
  const uintptr_t first = reinterpret_cast<uintptr_t>(n);
  __builtin_prefetch(n);
  __builtin_prefetch(reinterpret_cast<const void*>(first + sizeof(PoptrieNode) - 1));
}

template <class Keys>
[[gnu::always_inline]] inline void walk_group(const uint32_t* direct, const PoptrieNode* nodes,
                                              const RouteIndex* leaves, const typename Keys::Key* keys,
                                              RouteIndex* out, size_t n) {
  constexpr unsigned kKeyBits = sizeof(typename Keys::Key) * 8;
  uint32_t at[kGroup];  // per lane: direct entry, then node index, then leaf index
  for (size_t i = 0; i < n; ++i) at[i] = direct[keys[i] >> (kKeyBits - Keys::kDirectBits)];
  uint64_t walking = 0;  // lanes at a node
  for (size_t i = 0; i < n; ++i) {
    // Without a branch: whether an entry is a leaf is as good as random, and
    // a misprediction per few lanes costs more than the work it would skip.
    const uint32_t d = at[i];
    const bool node = !(d & kDirectLeaf);
    out[i] = static_cast<RouteIndex>(d);  // the route if a leaf; overwritten otherwise
    prefetch_node(&nodes[node ? d : 0]);   // a prefetch never faults, even on an empty table
    walking |= uint64_t{node} << i;
  }
  uint64_t at_leaf = 0;
  for (unsigned offset = Keys::kDirectBits; walking != 0; offset += kStride) {
    uint64_t deeper = 0;
    for (uint64_t w = walking; w != 0; w &= w - 1) {
      const unsigned i = static_cast<unsigned>(__builtin_ctzll(w));
      const PoptrieNode& nd = nodes[at[i]];
      const unsigned c = chunk(keys[i], offset);
      // Both ways are computed and one is selected, without a branch: below
      // the first level, going down or stopping is as good as random.
      const bool down = nd.vector >> c & 1;
      const uint32_t child = nd.base1 + rank(nd.vector, c) - 1;  // if down
      const uint32_t leaf = nd.base0 + rank(nd.leafvec, c) - 1;  // if not
      at[i] = down ? child : leaf;
      const uintptr_t next = down ? reinterpret_cast<uintptr_t>(nodes) + uintptr_t{child} * sizeof(PoptrieNode)
                                  : reinterpret_cast<uintptr_t>(leaves) + uintptr_t{leaf} * sizeof(RouteIndex);
      __builtin_prefetch(reinterpret_cast<const void*>(next));
      __builtin_prefetch(reinterpret_cast<const void*>(next + (down ? sizeof(PoptrieNode) - 1 : 0)));
      deeper |= uint64_t{down} << i;
    }
    at_leaf |= walking & ~deeper;
    walking = deeper;
  }
  for (uint64_t w = at_leaf; w != 0; w &= w - 1) {
    const unsigned i = static_cast<unsigned>(__builtin_ctzll(w));
    out[i] = leaves[at[i]];
  }
}

}  // namespace detail

// Which popcount a lookup uses: automatic is popcnt where the CPU has it;
// the others exist so tests can run both and compare.
enum class PopcountPath : uint8_t { automatic, popcnt, portable };

inline bool popcount_path_available(PopcountPath p) { return p != PopcountPath::popcnt || detail::has_popcnt; }

template <class Keys>
class Poptrie {
 public:
  using Key = typename Keys::Key;
  using Address = typename Keys::Address;

  // An empty table: every lookup finds kNoRoute.
  Poptrie() : Poptrie(PoptrieArrays{std::vector<uint32_t>(size_t{1} << Keys::kDirectBits, kDirectLeaf | kNoRoute), {}, {}}) {}

  RouteIndex lookup(Address a) const { return find(Keys::key(a)); }
  // Inlined into the caller where the CPU has popcnt (callgrind: the call,
  // the has_popcnt test and the registers saved around the call were a
  // third of a lookup's instructions in the worker, docs/dataplane.md).
  [[gnu::always_inline]] RouteIndex find(Key key) const {
    if (detail::has_popcnt) [[likely]] {
      return detail::walk<Keys, true>(direct_.data(), nodes_.data(), leaves_.data(), key);
    }
    return find_portable(key);
  }

  // out[i] = route of keys[i] for i < n, a group of up to 64 at a time. The
  // popcount path is chosen once per call. A path the CPU lacks must not be
  // asked for (popcount_path_available).
  void find_batch(const Key* keys, RouteIndex* out, size_t n, PopcountPath path = PopcountPath::automatic) const {
    if (path == PopcountPath::portable || (path == PopcountPath::automatic && !detail::has_popcnt)) {
      find_batch_portable(keys, out, n);
    } else {
      find_batch_popcnt(keys, out, n);
    }
  }

  // Memory the lookups read, in bytes.
  size_t bytes() const {
    return direct_.size() * sizeof(uint32_t) + nodes_.size() * sizeof(PoptrieNode) + leaves_.size() * sizeof(RouteIndex);
  }
  size_t node_count() const { return nodes_.size(); }
  size_t leaf_count() const { return leaves_.size(); }

 private:
  template <class> friend class PoptrieBuilder;
  explicit Poptrie(const PoptrieArrays& a) : direct_(a.direct), nodes_(a.nodes), leaves_(a.leaves) {}

  RouteIndex find_portable(Key key) const {
    return detail::walk<Keys>(direct_.data(), nodes_.data(), leaves_.data(), key);
  }
  VITESSE_TARGET_POPCNT void find_batch_popcnt(const Key* keys, RouteIndex* out, size_t n) const {
    for (size_t i = 0; i < n; i += detail::kGroup) {
      detail::walk_group<Keys>(direct_.data(), nodes_.data(), leaves_.data(), keys + i, out + i,
                               std::min(detail::kGroup, n - i));
    }
  }
  void find_batch_portable(const Key* keys, RouteIndex* out, size_t n) const {
    for (size_t i = 0; i < n; i += detail::kGroup) {
      detail::walk_group<Keys>(direct_.data(), nodes_.data(), leaves_.data(), keys + i, out + i,
                               std::min(detail::kGroup, n - i));
    }
  }

  TableArray<uint32_t> direct_;
  TableArray<PoptrieNode> nodes_;
  TableArray<RouteIndex> leaves_;
};

using Poptrie4 = Poptrie<Ipv4Keys>;
using Poptrie6 = Poptrie<Ipv6Keys>;

}  // namespace vitesse::route
