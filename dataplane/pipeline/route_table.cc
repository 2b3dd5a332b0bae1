#include "pipeline/route_table.h"

#include <stdexcept>

#include "route/poptrie_builder.h"

namespace vitesse {

std::shared_ptr<const RouteTable> RouteTable::build(const std::vector<Entry>& entries) {
  route::Poptrie4Builder b4;
  route::Poptrie6Builder b6;
  for (const Entry& e : entries) {
    route::Prefix p;
    p.length = e.len;
    std::string err;
    if (e.addr.is_v6) {
      std::memcpy(p.bytes.data(), e.addr.v6.b, 16);
      err = b6.add(p, e.value);
    } else {
      store_be32(p.bytes.data(), e.addr.v4);
      err = b4.add(p, e.value);
    }
    if (!err.empty()) throw std::invalid_argument(err);
  }
  auto t = std::make_shared<RouteTable>();
  t->v4_ = b4.build();
  t->v6_ = b6.build();
  return t;
}

}  // namespace vitesse
