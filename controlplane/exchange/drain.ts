// The drain message of the key exchange (docs/key-exchange.md, "Drain"):
// a gateway that is drained (`vitesse drain`) tells each peer gateway to take
// it out of its flow hash, and the peer acknowledges. Its wire format, its
// key and its MAC; what the two ends do with it is drain-notices.ts.
//
//   header (8): route SPI (4) ‖ type (1: 15 drain, 16 drain-ack) ‖ reserved (3)
//   version (1) ‖ state (1: 1 draining, 0 in service) ‖ reserved (2)
//   SPI (4)       the receiver's inbound SPI the sender sends ESP on now (its active outbound SA)
//   counter (8)   strictly increasing per sender (a drain-ack echoes the drain's)
//   MAC (16)      HMAC-BLAKE2s(drain key, octets 0..23 ‖ sender id ‖ receiver id), first 16 octets
//
// The drain key is the pair's own long-term secret, never an SA's (those go
// to the data plane and are wiped): HMAC-BLAKE2s(HASH(label), psk ‖ DH(our
// static, peer static) ‖ route SPI). A sender id is its static public key on a
// public-key route, its address (16 octets) on a pre-shared-key route, so a
// message cannot be reflected to its sender, nor a drain passed off as an ack
// (the type is under the MAC). Replays are refused by the counter and by the
// SPI, which must name an SA the receiver holds now: a recorded message is
// dead once its SA expired, or the receiver restarted.
import { PROTOCOL_VERSION } from './protocol.js';
import { constantTimeEqual, hash, hmac, wipe } from './primitives.js';
import type { RouteSpi } from './types.js';
import { RouteSpi as toRouteSpi } from './types.js';

export const DRAIN_TYPE = 15;
export const DRAIN_ACK_TYPE = 16;
export const DRAIN_LENGTH = 40;
export const DRAIN_MAC_LENGTH = 16;
const MACED = DRAIN_LENGTH - DRAIN_MAC_LENGTH;
const LABEL = hash(Buffer.from('vitesse drain v1'));

export interface DrainMessage {
  routeSpi: RouteSpi;
  ack: boolean;
  draining: boolean;
  spi: number;
  counter: bigint;
}

export type DrainDecoded = { ok: true; msg: DrainMessage } | { ok: false; reason: 'protocol' | 'version' };

/** The pair's drain key (wipe it when the exchange goes). */
export function drainKey(psk: Buffer, staticShared: Buffer | null, routeSpi: number): Buffer {
  const spi = Buffer.alloc(4);
  spi.writeUInt32BE(routeSpi, 0);
  const ikm = Buffer.concat([psk, staticShared ?? Buffer.alloc(0), spi]);
  try {
    return hmac(LABEL, ikm);
  } finally {
    wipe(ikm);
  }
}

function mac(key: Buffer, m: Buffer, sender: Buffer, receiver: Buffer): Buffer {
  return hmac(key, m.subarray(0, MACED), sender, receiver).subarray(0, DRAIN_MAC_LENGTH);
}

export function encodeDrain(key: Buffer, msg: DrainMessage, sender: Buffer, receiver: Buffer): Buffer {
  const m = Buffer.alloc(DRAIN_LENGTH);
  m.writeUInt32BE(msg.routeSpi, 0);
  m[4] = msg.ack ? DRAIN_ACK_TYPE : DRAIN_TYPE;
  m[8] = PROTOCOL_VERSION;
  m[9] = msg.draining ? 1 : 0;
  m.writeUInt32BE(msg.spi, 12);
  m.writeBigUInt64BE(msg.counter, 16);
  mac(key, m, sender, receiver).copy(m, MACED);
  return m;
}

/** Strict: exact length, reserved octets zero, state 0 or 1; a version not ours is a version error whatever the length. */
export function decodeDrain(m: Buffer): DrainDecoded {
  if (m.length > 8 && m[8] !== PROTOCOL_VERSION) return { ok: false, reason: 'version' };
  if (m.length !== DRAIN_LENGTH || (m[4] !== DRAIN_TYPE && m[4] !== DRAIN_ACK_TYPE)) return { ok: false, reason: 'protocol' };
  if (m[5] | m[6] | m[7] | m[10] | m[11] || m[9] > 1) return { ok: false, reason: 'protocol' };
  return {
    ok: true,
    msg: { routeSpi: toRouteSpi(m.readUInt32BE(0)), ack: m[4] === DRAIN_ACK_TYPE, draining: m[9] === 1, spi: m.readUInt32BE(12), counter: m.readBigUInt64BE(16) },
  };
}

/** The MAC, compared in constant time. */
export function authenticDrain(key: Buffer, m: Buffer, sender: Buffer, receiver: Buffer): boolean {
  return m.length === DRAIN_LENGTH && constantTimeEqual(mac(key, m, sender, receiver), m.subarray(MACED));
}
