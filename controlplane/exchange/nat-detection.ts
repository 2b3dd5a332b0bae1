// NAT detection during the key exchange (public-key routes, IKpsk2), as
// IKE's NAT_DETECTION_SOURCE_IP and NAT_DETECTION_DESTINATION_IP (RFC 7296
// §2.23) do, but inside the Noise payloads: each of the two handshake
// messages carries, after its sender's inbound SPI, a digest of the source
// endpoint it was sent from and one of the destination it was sent to. The
// receiver compares them with the endpoints it sees: a different source
// means a NAT in front of the sender, a different destination one in front
// of the receiver (docs/key-exchange.md 11.7).
//
// The payloads are AEAD-encrypted under the handshake's keys, so on the path
// nobody can alter them (a changed octet fails the message's tag:
// `authentication`), nor read the addresses the sender used. What an
// on-path attacker can still do is translate the outer addresses, i.e. be a
// NAT — which is then detected, as it should be.
import { parseAddress } from './address.js';
import { constantTimeEqual, hash } from './primitives.js';
import { SPI_PAYLOAD_LENGTH, type NatView } from './protocol.js';
import type { Endpoint } from './types.js';

export type { NatView } from './protocol.js';

/** One endpoint's digest: the first 16 octets of BLAKE2s (collisions need a NAT choosing addresses against a 2^64 search). */
export const NAT_DIGEST_LENGTH = 16;
/** source digest ‖ destination digest. */
export const NAT_DETECTION_LENGTH = 2 * NAT_DIGEST_LENGTH;
/** An IKpsk2 message's payload: inbound SPI ‖ NAT detection. */
export const IK_PAYLOAD_LENGTH = SPI_PAYLOAD_LENGTH + NAT_DETECTION_LENGTH;

const LABEL = Buffer.from('vitesse-ske nat-d', 'ascii');
const UNPARSABLE = Buffer.alloc(16, 0xff);

/** True if a NAT was seen on either side. */
export function natSeen(v: NatView): boolean {
  return v.local || v.remote;
}

// nonce: the challenge's (fresh each negotiation), so a digest says nothing
// across negotiations and cannot be precomputed for an address.
function digest(nonce: Buffer, e: Endpoint): Buffer {
  const port = Buffer.alloc(2);
  port.writeUInt16BE(e.port & 0xffff, 0);
  return hash(LABEL, nonce, parseAddress(e.address) ?? UNPARSABLE, port).subarray(0, NAT_DIGEST_LENGTH);
}

/** What a sender puts in its payload: the endpoint it sends from and the one it sends to. */
export function natDetectionData(nonce: Buffer, source: Endpoint, destination: Endpoint): Buffer {
  return Buffer.concat([digest(nonce, source), digest(nonce, destination)]);
}

/**
 * Compares an authenticated message's detection data with where it came from
 * (`source`, as seen) and where it arrived (`destination`, our endpoint).
 */
export function detectNat(nonce: Buffer, data: Buffer, source: Endpoint, destination: Endpoint): NatView {
  return {
    remote: !constantTimeEqual(data.subarray(0, NAT_DIGEST_LENGTH), digest(nonce, source)),
    local: !constantTimeEqual(data.subarray(NAT_DIGEST_LENGTH, NAT_DETECTION_LENGTH), digest(nonce, destination)),
  };
}

/** An IKpsk2 payload: SPI ‖ detection data. */
export function encodeIkPayload(spi: number, nat: Buffer): Buffer {
  const p = Buffer.alloc(IK_PAYLOAD_LENGTH);
  p.writeUInt32BE(spi, 0);
  nat.copy(p, SPI_PAYLOAD_LENGTH);
  return p;
}

export function decodeIkPayload(p: Buffer): { spi: number; nat: Buffer } | null {
  if (p.length !== IK_PAYLOAD_LENGTH) return null;
  return { spi: p.readUInt32BE(0), nat: p.subarray(SPI_PAYLOAD_LENGTH) };
}

/** A route's nat-traversal setting, as the key manager reads it. */
export type NatTraversal = 'off' | 'force' | 'auto';

/** Whether an outbound SA sends ESP in UDP: always with force, with auto only when its negotiation saw a NAT. */
export function encapsulates(mode: NatTraversal, nat: NatView | null): boolean {
  return mode === 'force' || (mode === 'auto' && nat !== null && natSeen(nat));
}
