#include "route/binary_trie.h"

namespace vitesse::route {

BinaryTrie::BinaryTrie(Family f) : family_(f), nodes_(1) {}

void BinaryTrie::insert(const Prefix& p, RouteIndex value) {
  uint32_t n = kRoot;
  for (unsigned i = 0; i < p.length; ++i) {
    const unsigned b = bit(p.bytes.data(), i);
    if (nodes_[n].child[b] == 0) {
      nodes_[n].child[b] = static_cast<uint32_t>(nodes_.size());
      nodes_.emplace_back();
    }
    n = nodes_[n].child[b];
  }
  nodes_[n].value = value;
}

RouteIndex BinaryTrie::lookup(const uint8_t* address) const {
  RouteIndex best = nodes_[kRoot].value;
  uint32_t n = kRoot;
  for (unsigned i = 0; i < address_bits(family_); ++i) {
    n = nodes_[n].child[bit(address, i)];
    if (n == 0) break;
    if (nodes_[n].value != kNoRoute) best = nodes_[n].value;
  }
  return best;
}

}  // namespace vitesse::route
