// The wire format of vita-ske v5, Vita's key exchange, as Vita sends and
// accepts it (docs/key-exchange.md, "vita-ske v5"): the same 8-octet header
// as ours (route SPI, type, 3 reserved octets), then one of four bodies of
// fixed length. Unlike our own messages.ts, decoding follows Vita: reserved
// octets and the knock's version are not checked, lengths are exact.
import { DHLEN, TAGLEN } from '../exchange/primitives.js';
import { KNOCK_LENGTH as OUR_KNOCK_LENGTH, MessageType } from '../exchange/messages.js';
import { PROTOCOL_VERSION } from '../exchange/protocol.js';
import type { KeyExchangeProtocol } from '../exchange/types.js';
import { RouteSpi, type RouteSpi as RouteSpiT } from '../exchange/types.js';

export { MessageType };

export const VITA_VERSION = 5;
export const HEADER_LENGTH = 8;
export const NONCE_LENGTH = 32;
/** The AEAD field: ASCII name, zero-padded to 32 octets. Vita speaks only this one. */
export const AEAD_FIELD_LENGTH = 32;
export const AEAD_NAME = 'aes-gcm-16-icv';
export const AEAD_FIELD = (() => {
  const b = Buffer.alloc(AEAD_FIELD_LENGTH);
  b.write(AEAD_NAME, 'ascii');
  return b;
})();
/** The plaintext of each handshake message: the sender's inbound SPI, then 28 octets nobody checks. */
export const PAYLOAD_LENGTH = 32;
/** Noise message 1 (-> psk, e) and 2 (<- e, ee): ephemeral ‖ encrypted payload ‖ tag. */
export const NOISE_MESSAGE_LENGTH = DHLEN + PAYLOAD_LENGTH + TAGLEN;

export const KNOCK_LENGTH = HEADER_LENGTH + 4; //                                    12
export const CHALLENGE_LENGTH = HEADER_LENGTH + 4 + AEAD_FIELD_LENGTH + NONCE_LENGTH; // 76
export const PROPOSAL_LENGTH = HEADER_LENGTH + NOISE_MESSAGE_LENGTH; //               88
export const AGREEMENT_LENGTH = HEADER_LENGTH + NOISE_MESSAGE_LENGTH; //              88

export const LENGTH: Record<number, number> = {
  [MessageType.knock]: KNOCK_LENGTH,
  [MessageType.challenge]: CHALLENGE_LENGTH,
  [MessageType.proposal]: PROPOSAL_LENGTH,
  [MessageType.agreement]: AGREEMENT_LENGTH,
};

export interface VitaHeader {
  routeSpi: RouteSpiT;
  type: number;
}

/** Route SPI and type; reserved octets are not checked (Vita does not). */
export function decodeHeader(m: Buffer): VitaHeader | null {
  if (m.length < HEADER_LENGTH) return null;
  return { routeSpi: RouteSpi(m.readUInt32BE(0)), type: m[4] };
}

/** True if `m` has exactly the length of its type (and the type is one of the four). */
export function wellFormed(m: Buffer): boolean {
  return m.length >= HEADER_LENGTH && Object.hasOwn(LENGTH, m[4]) && LENGTH[m[4]] === m.length;
}

function header(routeSpi: number, type: number, length: number): Buffer {
  const m = Buffer.alloc(length);
  m.writeUInt32BE(routeSpi, 0);
  m[4] = type;
  return m;
}

export function encodeKnock(routeSpi: number): Buffer {
  const m = header(routeSpi, MessageType.knock, KNOCK_LENGTH);
  m.writeUInt32BE(VITA_VERSION, 8);
  return m;
}

export function encodeChallenge(routeSpi: number, nonce: Buffer): Buffer {
  const m = header(routeSpi, MessageType.challenge, CHALLENGE_LENGTH);
  m.writeUInt32BE(VITA_VERSION, 8);
  AEAD_FIELD.copy(m, 12);
  nonce.copy(m, 12 + AEAD_FIELD_LENGTH);
  return m;
}

export type ChallengeCheck = { ok: true; nonce: Buffer } | { ok: false; reason: 'protocol' | 'version' | 'parameter' };

/** A challenge's nonce, after Vita's checks in Vita's order: length, version, AEAD (all 32 octets). */
export function decodeChallenge(m: Buffer): ChallengeCheck {
  if (m.length !== CHALLENGE_LENGTH || m[4] !== MessageType.challenge) return { ok: false, reason: 'protocol' };
  if (m.readUInt32BE(8) !== VITA_VERSION) return { ok: false, reason: 'version' };
  if (!m.subarray(12, 12 + AEAD_FIELD_LENGTH).equals(AEAD_FIELD)) return { ok: false, reason: 'parameter' };
  return { ok: true, nonce: Buffer.from(m.subarray(12 + AEAD_FIELD_LENGTH)) };
}

/** A proposal (type 13) or agreement (type 14) around a Noise message. */
export function encodeHandshake(routeSpi: number, type: 13 | 14, noise: Buffer): Buffer {
  if (noise.length !== NOISE_MESSAGE_LENGTH) throw new RangeError(`vita-ske: Noise message must be ${NOISE_MESSAGE_LENGTH} octets, got ${noise.length}`);
  const m = header(routeSpi, type, HEADER_LENGTH + NOISE_MESSAGE_LENGTH);
  noise.copy(m, HEADER_LENGTH);
  return m;
}

/** The Noise message of a proposal or agreement of exact length, else null. */
export function decodeHandshake(m: Buffer, type: 13 | 14): Buffer | null {
  if (m.length !== HEADER_LENGTH + NOISE_MESSAGE_LENGTH || m[4] !== type) return null;
  return Buffer.from(m.subarray(HEADER_LENGTH));
}

/** The handshake payload: our inbound SPI, then zeros (Vita ignores octets 4..31). */
export function encodePayload(spi: number): Buffer {
  const p = Buffer.alloc(PAYLOAD_LENGTH);
  p.writeUInt32BE(spi, 0);
  return p;
}

/** The SPI of a handshake payload; octets 4..31 are not checked (Vita fills them with old ciphertext). */
export function decodePayload(p: Buffer): number | null {
  return p.length === PAYLOAD_LENGTH ? p.readUInt32BE(0) : null;
}

/**
 * Which protocol a knock is of, going by its length and version (null: not a
 * knock of either): a route configured with the other protocol than its
 * peer speaks is the likeliest mistake in a mixed fleet, and its knocks say so.
 */
export function knockProtocol(m: Buffer): KeyExchangeProtocol | null {
  if (m.length < HEADER_LENGTH || m[4] !== MessageType.knock) return null;
  if (m.length === KNOCK_LENGTH && m.readUInt32BE(8) === VITA_VERSION) return 'vita-ske-v5';
  if (m.length === OUR_KNOCK_LENGTH && m[8] === PROTOCOL_VERSION) return 'vitesse-ske';
  return null;
}
