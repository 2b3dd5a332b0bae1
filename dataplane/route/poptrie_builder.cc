#include "route/poptrie_builder.h"

#include <algorithm>
#include <array>
#include <deque>
#include <stdexcept>

namespace vitesse::route {

namespace {

// One of a node's 64 children while it is being compiled.
struct Child {
  bool is_node;
  uint32_t trie_node;  // is_node: where the trie continues
  RouteIndex route;    // the longest route on the way here
};

template <class Keys>
class Compiler {
 public:
  Compiler(const BinaryTrie& trie, PoptrieArrays& out) : trie_(trie), out_(out) {}

  // Nodes are laid out level by level (breadth first): the upper levels,
  // which most lookups end in, then sit together in a few megabytes that
  // stay in cache, instead of being spread between their descendants.
  void compile() {
    out_.direct.assign(size_t{1} << Keys::kDirectBits, kDirectLeaf | kNoRoute);
    direct(BinaryTrie::kRoot, 0, 0, kNoRoute);
    for (; !pending_.empty(); pending_.pop_front()) fill(pending_.front());
    out_.nodes.shrink_to_fit();
    out_.leaves.shrink_to_fit();
  }

 private:
  bool has_children(uint32_t t) const { return trie_.node(t).child[0] | trie_.node(t).child[1]; }

  // Fills the direct-pointing entries under trie node t, which sits at depth
  // bits and is reached by the first `depth` bits of index.
  void direct(uint32_t t, unsigned depth, uint32_t index, RouteIndex route) {
    const BinaryTrie::Node& n = trie_.node(t);
    if (n.value != kNoRoute) route = n.value;
    if (depth == Keys::kDirectBits) {
      out_.direct[index] = has_children(t) ? add_node({0, t, route}) : (kDirectLeaf | route);
      return;
    }
    for (unsigned b = 0; b < 2; ++b) {
      const uint32_t sub = index << 1 | b;
      if (n.child[b] != 0) {
        direct(n.child[b], depth + 1, sub, route);
      } else {
        const unsigned span_bits = Keys::kDirectBits - depth - 1;
        std::fill_n(out_.direct.begin() + (size_t{sub} << span_bits), size_t{1} << span_bits, kDirectLeaf | route);
      }
    }
  }

  // A node whose place in out_.nodes is reserved, to be filled in turn.
  struct Pending {
    uint32_t self;
    uint32_t trie_node;
    RouteIndex route;  // the longest route on the way to it
  };

  uint32_t add_node(Pending p) {
    p.self = static_cast<uint32_t>(out_.nodes.size());
    out_.nodes.push_back({});
    pending_.push_back(p);
    return p.self;
  }

  // Fills node p from the 6 trie levels below it: appends its leaves,
  // reserves its child nodes together and queues them.
  void fill(const Pending& p) {
    std::array<Child, 64> children;
    expand(p.trie_node, 0, 0, p.route, children);

    PoptrieNode n{0, 0, static_cast<uint32_t>(out_.leaves.size()), 0};
    bool have_leaf = false;
    for (unsigned i = 0; i < 64; ++i) {
      const Child& c = children[i];
      if (c.is_node) {
        n.vector |= uint64_t{1} << i;
      } else if (!have_leaf || c.route != out_.leaves.back()) {
        // Leaf compression: a child equal to the previous leaf (even across
        // child nodes, which the leaf rank skips) adds nothing.
        n.leafvec |= uint64_t{1} << i;
        out_.leaves.push_back(c.route);
        have_leaf = true;
      }
    }
    n.base1 = static_cast<uint32_t>(out_.nodes.size());
    for (const Child& c : children) {
      if (c.is_node) add_node({0, c.trie_node, c.route});
    }
    // A direct-pointing entry keeps its top bit for leaves (some 48 GiB of
    // nodes: no real table gets there, but an index must never wrap).
    if (out_.nodes.size() >= kDirectLeaf) throw std::length_error("Poptrie: more than 2^31 nodes");
    out_.nodes[p.self] = n;
  }

  // Expands the stride below trie node t (at `depth` bits below the Poptrie
  // node, reached by the first `depth` bits of index) into children.
  void expand(uint32_t t, unsigned depth, unsigned index, RouteIndex route, std::array<Child, 64>& children) {
    const BinaryTrie::Node& n = trie_.node(t);
    if (n.value != kNoRoute) route = n.value;
    if (depth == kStride) {
      children[index] = has_children(t) ? Child{true, t, route} : Child{false, 0, route};
      return;
    }
    for (unsigned b = 0; b < 2; ++b) {
      const unsigned sub = index << 1 | b;
      if (n.child[b] != 0) {
        expand(n.child[b], depth + 1, sub, route, children);
      } else {
        const unsigned span_bits = kStride - depth - 1;
        std::fill_n(children.begin() + (sub << span_bits), 1u << span_bits, Child{false, 0, route});
      }
    }
  }

  const BinaryTrie& trie_;
  PoptrieArrays& out_;
  std::deque<Pending> pending_;
};

}  // namespace

template <class Keys>
std::string PoptrieBuilder<Keys>::add(const Prefix& p, RouteIndex value) {
  if (p.length > Keys::kAddressBits) {
    return "prefix length " + std::to_string(p.length) + " is over " + std::to_string(Keys::kAddressBits);
  }
  if (value == kNoRoute) return "route value 0 is reserved for \"no route\"";
  Prefix masked = p;
  clear_host_bits(masked, kFamily);
  trie_.insert(masked, value);
  return {};
}

template <class Keys>
std::unique_ptr<const Poptrie<Keys>> PoptrieBuilder<Keys>::build() const {
  PoptrieArrays arrays;
  Compiler<Keys>(trie_, arrays).compile();
  return std::unique_ptr<const Poptrie<Keys>>(new Poptrie<Keys>(arrays));
}

template class PoptrieBuilder<Ipv4Keys>;
template class PoptrieBuilder<Ipv6Keys>;

}  // namespace vitesse::route
