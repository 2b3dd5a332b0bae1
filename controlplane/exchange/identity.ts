// Public-key identities (docs/key-exchange.md, "Public-key mode"): each
// gateway has a static X25519 key pair, each public-key route names its
// peer's public key, and the proposal and agreement are the two messages of
// Noise IKpsk2 instead of NNpsk0. This module holds what differs between the
// two modes: the pattern of a route, its prologue, and the text form of keys
// (base64 of the 32 octets, as WireGuard writes them).
import { DHLEN } from './primitives.js';
import { AEAD_ID, NONCE_LENGTH } from './protocol.js';
import type { Aead, RouteSpi } from './types.js';

/** The Noise pattern of a route: pre-shared key alone, or public keys (with an optional psk). */
export type RoutePattern = 'NNpsk0' | 'IKpsk2';
export const PUBLIC_KEY_PATTERN = 'IKpsk2' satisfies RoutePattern;
export const KEY_LENGTH = DHLEN;

/** The psk of a public-key route that configures none (Noise IKpsk2 with a zero psk, as WireGuard). */
export function zeroPsk(): Buffer {
  return Buffer.alloc(32);
}

/** Base64 of exactly 32 octets, canonical (44 characters, one '='): a key as `wg` and `vitesse keygen` write it. */
export function decodeKey(text: string): Buffer | null {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(text)) return null;
  const key = Buffer.from(text, 'base64');
  return key.length === KEY_LENGTH ? key : null;
}

export function encodeKey(key: Buffer): string {
  return key.toString('base64');
}

/**
 * The prologue of a public-key handshake:
 *   version(1) ‖ aead(1) ‖ route SPI(4, big-endian) ‖ nonce(32)     = 38 octets
 * Unlike NNpsk0's it names no address: the static keys authenticate the two
 * gateways, so the addresses a NAT rewrites need not match (the responder's
 * nonce is still bound to the source address it saw, challenge.ts).
 */
export function publicKeyPrologue(p: { version: number; aead: Aead; routeSpi: RouteSpi; nonce: Buffer }): Buffer {
  const out = Buffer.alloc(2 + 4 + NONCE_LENGTH);
  out[0] = p.version;
  out[1] = AEAD_ID[p.aead];
  out.writeUInt32BE(p.routeSpi, 2);
  p.nonce.copy(out, 6);
  return out;
}
