// The constants and bindings of the Vitesse key exchange ("vitesse-ske",
// docs/key-exchange.md): protocol version, AEAD identifiers, the Noise
// prologue and how Split()'s keys become ESP key material. Timing constants
// with their units are here too.
import { ADDRESS_LENGTH } from './address.js';
import type { DropReason } from './counters.js';
import { NoiseError, type HandshakeState } from './noise.js';
import { hmac, wipe } from './primitives.js';
import type { Aead, RouteSpi, Spi } from './types.js';

export const PROTOCOL_VERSION = 1;
export const NOISE_PATTERN = 'NNpsk0';
export const DEFAULT_PORT = 303;
/** ESP in UDP and the key exchange behind the non-ESP marker (RFC 3948). */
export const DEFAULT_NAT_T_PORT = 4500;

/** AEAD identifiers on the wire (one octet). */
export const AEAD_ID: Record<Aead, number> = {
  'aes-gcm-16-icv': 1,
  'aes-256-gcm-16-icv': 2,
};

export const AEAD_KEY_LENGTH: Record<Aead, number> = {
  'aes-gcm-16-icv': 16,
  'aes-256-gcm-16-icv': 32,
};
export const ESP_SALT_LENGTH = 4;

export const COOKIE_LENGTH = 16;
export const NONCE_LENGTH = 32;
export const SPI_PAYLOAD_LENGTH = 4;

// SA lifecycle (DESIGN.md §4, "SA lifecycle").
export const DEFAULT_SA_TTL_S = 600;
export const DEFAULT_NEGOTIATION_TTL_S = 5;
/** Rekey after this fraction of sa-ttl ... */
export const REKEY_AFTER = 0.5;
/** ... plus a random part of up to this fraction, so both ends rarely start together. */
export const REKEY_JITTER = 0.05;
/**
 * A new outbound SA replaces the current one only after this many
 * negotiation-ttls: long enough for the initiator of a negotiation whose
 * agreement was lost to retry and update (same SPI) the SA the responder
 * already holds, before the responder starts sending on it.
 */
export const ACTIVATION_DELAY_NEGOTIATIONS = 1.5;
/** ... but never more than this fraction of sa-ttl, so the old SA is still valid. */
export const ACTIVATION_DELAY_MAX_TTL = 0.25;
export const MAX_INBOUND_SAS = 4;
/**
 * Inbound SAs of public-key responder pairs not yet confirmed (sa-lifecycle.ts),
 * beside MAX_INBOUND_SAS: the peer's rekey on an idle tunnel and one more.
 */
export const MAX_UNCONFIRMED_INBOUND_SAS = 2;
/**
 * An end that yielded to a simultaneous negotiation proposes after all if
 * the peer's proposal has not come this many round trips (its knock to its
 * challenge) after its challenge, and never sooner than YIELD_WAIT_MIN_MS.
 */
export const YIELD_WAIT_RTTS = 2;
export const YIELD_WAIT_MIN_MS = 50;

/**
 * The prologue binds a handshake to its context: a proposal recorded on one
 * route, between one pair of gateways, for one challenge, authenticates
 * nowhere else.
 *   version(1) ‖ aead(1) ‖ route SPI(4, big-endian) ‖ initiator address(16)
 *   ‖ responder address(16) ‖ nonce(32)                            = 70 octets
 */
export function prologue(p: {
  version: number;
  aead: Aead;
  routeSpi: RouteSpi;
  initiatorAddress: Buffer;
  responderAddress: Buffer;
  nonce: Buffer;
}): Buffer {
  const out = Buffer.alloc(2 + 4 + 2 * ADDRESS_LENGTH + NONCE_LENGTH);
  out[0] = p.version;
  out[1] = AEAD_ID[p.aead];
  out.writeUInt32BE(p.routeSpi, 2);
  p.initiatorAddress.copy(out, 6);
  p.responderAddress.copy(out, 6 + ADDRESS_LENGTH);
  p.nonce.copy(out, 6 + 2 * ADDRESS_LENGTH);
  return out;
}

/**
 * ESP key ‖ salt for one direction from that direction's Split() key k:
 * HKDF-Expand(PRK = k, info = "", L = key length + 4) of RFC 5869 with
 * HMAC-BLAKE2s, i.e. T(1) ‖ T(2) … with T(i) = HMAC(k, T(i-1) ‖ i). k is
 * already a uniformly random key (an HKDF output), so no extract step.
 */
export function espKeymat(splitKey: Buffer, aead: Aead): Buffer {
  const length = AEAD_KEY_LENGTH[aead] + ESP_SALT_LENGTH;
  const blocks: Buffer[] = [];
  let t: Buffer = Buffer.alloc(0);
  for (let i = 1; blocks.length * 32 < length; i++) {
    t = hmac(splitKey, t, Buffer.from([i]));
    blocks.push(t);
  }
  const all = Buffer.concat(blocks);
  const keymat = Buffer.from(all.subarray(0, length));
  wipe(all, ...blocks);
  return keymat;
}

/** Where a negotiation saw a NAT, from one end's point of view (nat-detection.ts). */
export interface NatView {
  /** In front of us: the peer saw us elsewhere than where we sent from (or we got it at another address than the peer sent to). */
  local: boolean;
  /** In front of the peer. */
  remote: boolean;
}

/** One direction's SA as negotiated: its SPI and key ‖ salt (the receiver wipes it). */
export interface NegotiatedSa {
  spi: Spi;
  keymat: Buffer;
}

/** The SA pair a negotiation yields, seen from one end. */
export interface NegotiatedPair {
  inbound: NegotiatedSa;
  outbound: NegotiatedSa;
  /** The outbound SA waits for the peer's first packet on the inbound one (IKpsk2 responder, sa-lifecycle.ts). */
  unconfirmed?: boolean;
  /** IKpsk2: where its negotiation saw a NAT (nat-detection.ts); absent for NNpsk0. */
  nat?: NatView;
}

/** Either a value or the reason the message was dropped (its counter). */
export type Step<T> = { ok: true; value: T } | { ok: false; reason: DropReason };

export function dropped(reason: DropReason): { ok: false; reason: DropReason } {
  return { ok: false, reason };
}

/** What a refused Noise message counts as. */
export function noiseDropReason(err: unknown): DropReason {
  if (!(err instanceof NoiseError)) throw err;
  switch (err.reason) {
    case 'authentication': return 'authentication';
    case 'public-key': return 'public-key';
    default: return 'protocol';
  }
}

/**
 * Turns a finished handshake into ESP SAs and destroys it. The initiator
 * sends with the initiator-to-responder key, the responder receives with it.
 */
export function negotiatedPair(
  handshake: HandshakeState,
  role: 'initiator' | 'responder',
  aead: Aead,
  ourSpi: Spi,
  theirSpi: Spi,
): NegotiatedPair {
  const keys = handshake.split();
  handshake.destroy();
  const i2r = espKeymat(keys.initiatorToResponder, aead);
  const r2i = espKeymat(keys.responderToInitiator, aead);
  wipe(keys.initiatorToResponder, keys.responderToInitiator);
  return role === 'initiator'
    ? { inbound: { spi: ourSpi, keymat: r2i }, outbound: { spi: theirSpi, keymat: i2r } }
    : { inbound: { spi: ourSpi, keymat: i2r }, outbound: { spi: theirSpi, keymat: r2i } };
}
