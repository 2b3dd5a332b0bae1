#include "pipeline/route_table.h"

#include <stdexcept>

#include "route/poptrie_builder.h"

namespace vitesse {

std::shared_ptr<const RouteTable> RouteTable::build(const std::vector<Entry>& entries) {
  route::Poptrie4Builder b4;
  route::Poptrie6Builder b6;
  for (const Entry& e : entries) {
    const std::string err = e.prefix.family == route::Family::ipv6 ? b6.add(e.prefix, e.value) : b4.add(e.prefix, e.value);
    if (!err.empty()) throw std::invalid_argument(err);
  }
  auto t = std::make_shared<RouteTable>();
  t->v4_ = b4.build();
  t->v6_ = b6.build();
  return t;
}

}  // namespace vitesse
