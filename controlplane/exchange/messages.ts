// The wire format of the key exchange: an 8-octet transport header, then one
// of four fixed-size messages (docs/key-exchange.md has the byte layouts).
// Decoding is strict: exact lengths, reserved and padding octets zero. A
// message whose version octet is not ours is a version error whatever its
// length, so a newer peer is reported as such rather than as malformed.
import { AEAD_ID, COOKIE_LENGTH, NONCE_LENGTH, PROTOCOL_VERSION, SPI_PAYLOAD_LENGTH } from './protocol.js';
import { IK_PAYLOAD_LENGTH } from './nat-detection.js';
import { DHLEN, TAGLEN } from './primitives.js';
import type { Aead, RouteSpi } from './types.js';
import { RouteSpi as toRouteSpi } from './types.js';

export const MessageType = { knock: 11, challenge: 12, proposal: 13, agreement: 14 } as const;
export type MessageTypeName = keyof typeof MessageType;

export const HEADER_LENGTH = 8;
/** Noise message 1 (-> psk, e) and 2 (<- e, ee), each carrying an SPI. */
export const NOISE_MESSAGE_LENGTH = DHLEN + SPI_PAYLOAD_LENGTH + TAGLEN;
const PARAMETERS_LENGTH = 4; // version(1) ‖ aead or reserved(1) ‖ reserved(2)
// The knock is padded to the challenge's size: answering a knock must not
// let a forged source amplify traffic towards a victim.
const KNOCK_PADDING = 16;

export const KNOCK_LENGTH = HEADER_LENGTH + PARAMETERS_LENGTH + COOKIE_LENGTH + KNOCK_PADDING;
export const CHALLENGE_LENGTH = HEADER_LENGTH + PARAMETERS_LENGTH + NONCE_LENGTH;
export const PROPOSAL_LENGTH = HEADER_LENGTH + PARAMETERS_LENGTH + NONCE_LENGTH + NOISE_MESSAGE_LENGTH;
/**
 * Public-key mode: IKpsk2 message 1 (-> e, es, s, ss) carries the initiator's
 * encrypted static key too, and both messages' payloads carry NAT detection
 * data after the SPI (nat-detection.ts).
 */
export const IK_NOISE_MESSAGE_LENGTH = DHLEN + DHLEN + TAGLEN + IK_PAYLOAD_LENGTH + TAGLEN;
export const IK_PROPOSAL_LENGTH = HEADER_LENGTH + PARAMETERS_LENGTH + NONCE_LENGTH + IK_NOISE_MESSAGE_LENGTH;
/** A route's proposal length: it depends on its mode. */
export function proposalLength(publicKey: boolean): number {
  return publicKey ? IK_PROPOSAL_LENGTH : PROPOSAL_LENGTH;
}
export const AGREEMENT_LENGTH = HEADER_LENGTH + NOISE_MESSAGE_LENGTH;
/** IKpsk2 message 2 (<- e, ee, se, psk): the ephemeral key and the payload with NAT detection. */
export const IK_AGREEMENT_LENGTH = HEADER_LENGTH + DHLEN + IK_PAYLOAD_LENGTH + TAGLEN;
/** A route's agreement length, by its mode. */
export function agreementLength(publicKey: boolean): number {
  return publicKey ? IK_AGREEMENT_LENGTH : AGREEMENT_LENGTH;
}

export interface Header {
  routeSpi: RouteSpi;
  type: number;
}

export interface Knock {
  cookie: Buffer;
}

export interface Challenge {
  aeadId: number;
  nonce: Buffer;
}

export interface Proposal {
  aeadId: number;
  nonce: Buffer;
  noise: Buffer;
}

export interface Agreement {
  noise: Buffer;
}

export type Decoded<T> = { ok: true; msg: T } | { ok: false; reason: 'protocol' | 'version' };

const PROTOCOL = { ok: false, reason: 'protocol' } as const;
const VERSION = { ok: false, reason: 'version' } as const;

function isZero(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

function header(routeSpi: RouteSpi, type: number, length: number): Buffer {
  const m = Buffer.alloc(length);
  m.writeUInt32BE(routeSpi, 0);
  m[4] = type;
  return m;
}

/** The transport header, or null if the message is too short or its reserved octets are not zero. */
export function decodeHeader(m: Buffer): Header | null {
  if (m.length < HEADER_LENGTH || !isZero(m, 5, 8)) return null;
  return { routeSpi: toRouteSpi(m.readUInt32BE(0)), type: m[4] };
}

// Checks the version octet, then length and reserved octets of the parameters.
function checkParameters(m: Buffer, length: number, reservedFrom: number): Decoded<null> | null {
  if (m.length > HEADER_LENGTH && m[HEADER_LENGTH] !== PROTOCOL_VERSION) return VERSION;
  if (m.length !== length || !isZero(m, reservedFrom, HEADER_LENGTH + PARAMETERS_LENGTH)) return PROTOCOL;
  return null;
}

export function encodeKnock(routeSpi: RouteSpi, k: Knock): Buffer {
  const m = header(routeSpi, MessageType.knock, KNOCK_LENGTH);
  m[8] = PROTOCOL_VERSION;
  k.cookie.copy(m, 12);
  return m;
}

export function decodeKnock(m: Buffer): Decoded<Knock> {
  const bad = checkParameters(m, KNOCK_LENGTH, 9);
  if (bad) return bad as Decoded<Knock>;
  if (!isZero(m, 12 + COOKIE_LENGTH, KNOCK_LENGTH)) return PROTOCOL;
  return { ok: true, msg: { cookie: Buffer.from(m.subarray(12, 12 + COOKIE_LENGTH)) } };
}

export function encodeChallenge(routeSpi: RouteSpi, aead: Aead, nonce: Buffer): Buffer {
  const m = header(routeSpi, MessageType.challenge, CHALLENGE_LENGTH);
  m[8] = PROTOCOL_VERSION;
  m[9] = AEAD_ID[aead];
  nonce.copy(m, 12);
  return m;
}

export function decodeChallenge(m: Buffer): Decoded<Challenge> {
  const bad = checkParameters(m, CHALLENGE_LENGTH, 10);
  if (bad) return bad as Decoded<Challenge>;
  return { ok: true, msg: { aeadId: m[9], nonce: Buffer.from(m.subarray(12, 12 + NONCE_LENGTH)) } };
}

export function encodeProposal(routeSpi: RouteSpi, aead: Aead, nonce: Buffer, noise: Buffer): Buffer {
  const m = header(routeSpi, MessageType.proposal, HEADER_LENGTH + PARAMETERS_LENGTH + NONCE_LENGTH + noise.length);
  m[8] = PROTOCOL_VERSION;
  m[9] = AEAD_ID[aead];
  nonce.copy(m, 12);
  noise.copy(m, 12 + NONCE_LENGTH);
  return m;
}

/** `length`: the route's proposal length (proposalLength()); anything else is malformed. */
export function decodeProposal(m: Buffer, length: number = PROPOSAL_LENGTH): Decoded<Proposal> {
  const bad = checkParameters(m, length, 10);
  if (bad) return bad as Decoded<Proposal>;
  return {
    ok: true,
    msg: {
      aeadId: m[9],
      nonce: Buffer.from(m.subarray(12, 12 + NONCE_LENGTH)),
      noise: Buffer.from(m.subarray(12 + NONCE_LENGTH)),
    },
  };
}

export function encodeAgreement(routeSpi: RouteSpi, noise: Buffer): Buffer {
  const m = header(routeSpi, MessageType.agreement, HEADER_LENGTH + noise.length);
  noise.copy(m, HEADER_LENGTH);
  return m;
}

/** `length`: the route's agreement length (agreementLength()); anything else is malformed. */
export function decodeAgreement(m: Buffer, length: number = AGREEMENT_LENGTH): Decoded<Agreement> {
  if (m.length !== length) return PROTOCOL;
  return { ok: true, msg: { noise: Buffer.from(m.subarray(HEADER_LENGTH)) } };
}

/** The SPI carried (encrypted) in a proposal or an agreement. */
export function encodeSpiPayload(spi: number): Buffer {
  const p = Buffer.alloc(SPI_PAYLOAD_LENGTH);
  p.writeUInt32BE(spi, 0);
  return p;
}

export function decodeSpiPayload(p: Buffer): number | null {
  return p.length === SPI_PAYLOAD_LENGTH ? p.readUInt32BE(0) : null;
}
