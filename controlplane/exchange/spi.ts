// Inbound SPIs: chosen at random (so they reveal nothing about how many SAs
// exist and cannot be guessed ahead) and unique in the whole gateway, because
// the data plane finds an inbound SA by SPI alone. 0..255 are reserved
// (RFC 4303 §2.1).
import crypto from 'node:crypto';
import { LIMITS } from '../config/defaults.js';
import { Spi } from './types.js';

export const FIRST_SPI = LIMITS.spi.min;
const SPI_LIMIT = 0x1_0000_0000;

export class SpiAllocator {
  private readonly used = new Set<number>();

  allocate(): Spi {
    for (;;) {
      const spi = crypto.randomInt(FIRST_SPI, SPI_LIMIT);
      if (!this.used.has(spi)) {
        this.used.add(spi);
        return Spi(spi);
      }
    }
  }

  release(spi: Spi): void {
    this.used.delete(spi);
  }

  inUse(): number {
    return this.used.size;
  }
}
