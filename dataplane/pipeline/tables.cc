#include "pipeline/tables.h"

namespace vitesse {

void SpiTable::build(const std::vector<esp::InboundSa*>& sas) {
  size_t n = 8;
  while (n < sas.size() * 2) n <<= 1;  // load ≤ 1/2 keeps probes short
  slots_.assign(n, Slot{0, nullptr});
  mask_ = n - 1;
  for (esp::InboundSa* sa : sas) {
    size_t i = hash(sa->spi) & mask_;
    while (slots_[i].spi != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{sa->spi, sa};
  }
}

}  // namespace vitesse
