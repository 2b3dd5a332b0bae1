// Builds a Poptrie (poptrie.h) from a list of routes.
//
// Off the hot path, so written for clarity: routes go into a plain binary
// trie (binary_trie.h), which is then compiled top-down. For each Poptrie
// node the 6 trie levels below it are expanded into its 64 children: a child
// whose trie node has longer prefixes below it becomes a node, any other
// child a leaf carrying the longest route seen on the way down.
#pragma once

#include <memory>
#include <string>

#include "route/binary_trie.h"
#include "route/poptrie.h"
#include "route/prefix.h"

namespace vitesse::route {

struct Route {
  Prefix prefix;
  RouteIndex value;  // 1..65535
};

template <class Keys>
class PoptrieBuilder {
 public:
  static constexpr Family kFamily = Keys::kAddressBits == 32 ? Family::ipv4 : Family::ipv6;

  PoptrieBuilder() : trie_(kFamily) {}

  // Adds a route. A prefix added again takes the later value (a table is
  // built from a configuration where the last word wins). Host bits of the
  // prefix are ignored. Returns an error message for a length over the
  // family's address bits or a value of kNoRoute, else "".
  std::string add(const Prefix& p, RouteIndex value);

  // Compiles the routes added so far into a new table (std::bad_alloc or
  // std::length_error if it cannot be held).
  std::unique_ptr<const Poptrie<Keys>> build() const;

  const BinaryTrie& trie() const { return trie_; }

 private:
  BinaryTrie trie_;
};

using Poptrie4Builder = PoptrieBuilder<Ipv4Keys>;
using Poptrie6Builder = PoptrieBuilder<Ipv6Keys>;

extern template class PoptrieBuilder<Ipv4Keys>;
extern template class PoptrieBuilder<Ipv6Keys>;

}  // namespace vitesse::route
