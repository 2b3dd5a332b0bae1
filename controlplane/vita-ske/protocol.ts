// vita-ske v5's bindings: the 104-octet Noise prologue and Vita's Split,
// which deviates from Noise's (docs/key-exchange.md, "vita-ske v5").
import { parseAddress as parseIpText } from '../config/ip.js';
import { NOISE_PATTERN, type NegotiatedPair } from '../exchange/protocol.js';
import { hkdf, wipe } from '../exchange/primitives.js';
import type { Spi } from '../exchange/types.js';
import { AEAD_FIELD, AEAD_FIELD_LENGTH, NONCE_LENGTH, VITA_VERSION } from './messages.js';

/** The same Noise pattern as ours: Noise_NNpsk0_25519_AESGCM_BLAKE2s. */
export { NOISE_PATTERN };
export const PROTOCOL_NAME = 'vita-ske-v5';
export const ADDRESS_LENGTH = 16;
export const PROLOGUE_LENGTH = 4 + 4 + 2 * ADDRESS_LENGTH + AEAD_FIELD_LENGTH + NONCE_LENGTH; // 104
/** Vita's Split: 40 octets, two (AES-128 key ‖ salt) pairs. */
export const OKM_LENGTH = 40;
const KEYMAT_LENGTH = 20;

/**
 * An address as Vita writes it in the prologue: IPv4 is its 4 octets then
 * 12 zero octets (not IPv4-mapped, unlike our own exchange/address.ts);
 * IPv6 its 16 octets. Null if `text` is not an address.
 */
export function vitaAddress(text: string): Buffer | null {
  const a = parseIpText(text);
  if (!a) return null;
  const out = Buffer.alloc(ADDRESS_LENGTH);
  a.octets.copy(out, 0);
  return out;
}

/** version ‖ route SPI ‖ initiator address ‖ responder address ‖ AEAD name ‖ the responder's nonce. */
export function vitaPrologue(routeSpi: number, initiator: Buffer, responder: Buffer, nonce: Buffer): Buffer {
  const out = Buffer.alloc(PROLOGUE_LENGTH);
  out.writeUInt32BE(VITA_VERSION, 0);
  out.writeUInt32BE(routeSpi, 4);
  initiator.copy(out, 8);
  responder.copy(out, 8 + ADDRESS_LENGTH);
  AEAD_FIELD.copy(out, 8 + 2 * ADDRESS_LENGTH);
  nonce.copy(out, 8 + 2 * ADDRESS_LENGTH + AEAD_FIELD_LENGTH);
  return out;
}

/**
 * Vita's Split: HKDF-BLAKE2s with salt = 32 zero octets and ikm = the final
 * chaining key, expanded to 40 octets, i.e. Noise's HKDF(0^32, ck, 2) cut
 * to 40. Octets 0..19 key the SA responder → initiator, 20..39 the SA
 * initiator → responder (Noise's k1 is the other way round).
 */
export function vitaOkm(ck: Buffer): Buffer {
  const zero = Buffer.alloc(32);
  const [t1, t2] = hkdf(zero, ck, 2);
  const okm = Buffer.concat([t1, t2.subarray(0, OKM_LENGTH - 32)]);
  wipe(t1, t2);
  return okm;
}

/** The SA pair of a finished exchange, seen from `role`; wipes `okm`. */
export function vitaPair(okm: Buffer, role: 'initiator' | 'responder', ourSpi: Spi, theirSpi: Spi): NegotiatedPair {
  const r2i = Buffer.from(okm.subarray(0, KEYMAT_LENGTH));
  const i2r = Buffer.from(okm.subarray(KEYMAT_LENGTH, 2 * KEYMAT_LENGTH));
  wipe(okm);
  return role === 'initiator'
    ? { inbound: { spi: ourSpi, keymat: r2i }, outbound: { spi: theirSpi, keymat: i2r } }
    : { inbound: { spi: ourSpi, keymat: i2r }, outbound: { spi: theirSpi, keymat: r2i } };
}
