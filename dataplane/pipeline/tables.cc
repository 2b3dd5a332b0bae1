#include "pipeline/tables.h"

namespace vitesse {

void SpiTable::build(const std::vector<Entry>& sas) {
  size_t n = 8;
  while (n < sas.size() * 2) n <<= 1;  // load ≤ 1/2 keeps probes short
  slots_.assign(n, Slot{0, 0, nullptr});
  mask_ = n - 1;
  for (const Entry& e : sas) {
    size_t i = hash(e.sa->spi) & mask_;
    while (slots_[i].spi != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{e.sa->spi, e.route, e.sa};
  }
}

}  // namespace vitesse
