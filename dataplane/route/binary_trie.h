// A plain binary trie of route prefixes: one node per prefix bit.
//
// It is the builder's input form (poptrie_builder.h compiles it into a
// Poptrie) and the naive baseline the benchmark compares against: a lookup
// walks one bit at a time and remembers the last route it passed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "route/prefix.h"
#include "route/route_index.h"

namespace vitesse::route {

class BinaryTrie {
 public:
  struct Node {
    uint32_t child[2] = {0, 0};  // 0 = none (the root is nobody's child)
    RouteIndex value = kNoRoute; // route of the prefix ending here, if any
  };

  explicit BinaryTrie(Family f);

  // Adds p -> value; a prefix inserted again takes the later value. p must be
  // of this trie's family with host bits clear (as parse_prefix leaves it)
  // and value must not be kNoRoute.
  void insert(const Prefix& p, RouteIndex value);

  // Longest-prefix match of an address (network-order bytes).
  RouteIndex lookup(const uint8_t* address) const;

  Family family() const { return family_; }
  static constexpr uint32_t kRoot = 0;
  const Node& node(uint32_t i) const { return nodes_[i]; }
  size_t node_count() const { return nodes_.size(); }
  size_t bytes() const { return nodes_.capacity() * sizeof(Node); }

  static unsigned bit(const uint8_t* bytes, unsigned i) { return bytes[i / 8] >> (7 - i % 8) & 1; }

 private:
  Family family_;
  std::vector<Node> nodes_;
};

}  // namespace vitesse::route
