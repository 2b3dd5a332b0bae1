// The testkit addon's "esp" part (controlplane/testkit.ts) and helpers over it.
import { esp, type SaHandle } from '../../controlplane/testkit.js';
import type { RefSa } from './esp-reference.js';

export { esp };
export type { Decapsulated, DecapResultName, Encapsulated, EncapResultName, EspCounters, SaHandle } from '../../controlplane/testkit.js';

export function outboundFor(sa: RefSa, initialSeq: number | bigint = 0): SaHandle {
  return esp.createOutbound(sa.aead, sa.spi, sa.keymat, initialSeq);
}

export function inboundFor(sa: RefSa, windowSize = 1024, initialTop: number | bigint = 0): SaHandle {
  return esp.createInbound(sa.aead, sa.spi, sa.keymat, windowSize, initialTop);
}

/** The ESP packets alone (null where one was not sent: its result says why). */
export function encapsulate(sa: SaHandle | SaHandle[], inner: Buffer[], tfcPadTo = 0): (Buffer | null)[] {
  return esp.encapsulate(sa, inner, tfcPadTo).map((r) => r.esp);
}

// Encapsulates packets that must all be produced.
export function encapsulateAll(sa: SaHandle | SaHandle[], inner: Buffer[], tfcPadTo = 0): Buffer[] {
  return esp.encapsulate(sa, inner, tfcPadTo).map((r, i) => {
    if (r.esp === null) throw new Error(`esp: packet ${i} was not encapsulated (${r.result})`);
    return r.esp;
  });
}
