// The routes a worker looks up: one Poptrie per address family, built
// together from the configuration and published with the rest of a snapshot.
#pragma once

#include <memory>
#include <vector>

#include "net/headers.h"
#include "route/poptrie.h"
#include "route/prefix.h"

namespace vitesse {

class RouteTable {
 public:
  struct Entry {
    route::Prefix prefix;
    route::RouteIndex value;  // 1..65535
  };
  // Throws std::invalid_argument for an entry the builder refuses.
  static std::shared_ptr<const RouteTable> build(const std::vector<Entry>& entries);

  route::RouteIndex lookup4(uint32_t addr) const { return v4_->lookup(addr); }
  route::RouteIndex lookup6(const uint8_t* addr) const { return v6_->lookup(addr); }

 private:
  std::unique_ptr<const route::Poptrie<route::Ipv4Keys>> v4_;
  std::unique_ptr<const route::Poptrie<route::Ipv6Keys>> v6_;
};

}  // namespace vitesse
