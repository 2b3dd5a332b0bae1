// Typed access to the addon's "esp" part (dataplane/esp/esp_napi.cc).
import { native } from '../../controlplane/native.js';
import type { AeadName, RefSa } from './esp-reference.js';

export type DecapResultName = 'ok' | 'truncated' | 'replay' | 'authentication' | 'bad_trailer' | 'bad_next_header';

export interface Decapsulated {
  result: DecapResultName;
  inner: Buffer | null;
}

export interface EspCounters {
  packets: number;
  bytes: number;
  decryptErrors: number;
  replayErrors: number;
  truncatedErrors: number;
  trailerErrors: number;
  nextHeaderErrors: number;
  encapErrors: number;
  sequenceUnreserved: number;
  seq: bigint; // outbound: last number used; inbound: top of the window
  limit?: bigint; // outbound: the highest number it may send
  windowSize?: number;
  esn: boolean;
}

declare const saBrand: unique symbol;
export type SaHandle = { readonly [saBrand]: true };

interface EspPart {
  createOutbound(aead: AeadName, spi: number, keymat: Buffer, initialSeq?: number | bigint, options?: { esn?: boolean; limit?: bigint }): SaHandle;
  createInbound(aead: AeadName, spi: number, keymat: Buffer, windowSize?: number, initialTop?: number | bigint, options?: { esn?: boolean; startAt?: bigint }): SaHandle;
  // One SA for the batch, or one per packet.
  encapsulate(sa: SaHandle | SaHandle[], inner: Buffer[], tfcPadTo?: number): (Buffer | null)[];
  decapsulate(sa: SaHandle | SaHandle[], esp: Buffer[]): Decapsulated[];
  counters(sa: SaHandle): EspCounters;
  setCounter(sa: SaHandle, seq: number | bigint): void;
  setLimit(sa: SaHandle, limit: bigint): void;
  wipe(sa: SaHandle): boolean;
  encapsulatedLength(innerLen: number, tfcPadTo?: number): number;
}

export const esp: EspPart = native.esp;

export function outboundFor(sa: RefSa, initialSeq: number | bigint = 0): SaHandle {
  return esp.createOutbound(sa.aead, sa.spi, sa.keymat, initialSeq);
}

export function inboundFor(sa: RefSa, windowSize = 1024, initialTop: number | bigint = 0): SaHandle {
  return esp.createInbound(sa.aead, sa.spi, sa.keymat, windowSize, initialTop);
}

// Encapsulates packets that must all be produced.
export function encapsulateAll(sa: SaHandle | SaHandle[], inner: Buffer[], tfcPadTo = 0): Buffer[] {
  return esp.encapsulate(sa, inner, tfcPadTo).map((p, i) => {
    if (p === null) throw new Error(`esp: packet ${i} was not encapsulated`);
    return p;
  });
}
