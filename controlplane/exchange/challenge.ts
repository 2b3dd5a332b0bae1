// The responder's challenge nonces, issued without keeping state per knock.
//
// nonce = cookie(16) ‖ HMAC-BLAKE2s(secret, route SPI ‖ initiator address ‖
//         responder address ‖ cookie)[0..16], its first bit replaced by the
//         parity of the secret's epoch
//
// The cookie is the initiator's, echoed from its knock, so an initiator can
// tell our challenge from one forged by someone who did not see its knock.
// The MAC lets us recognise our own nonces in a proposal without having
// stored them, and only for the route and gateways it was issued for. The
// secret rotates every epoch (one negotiation-ttl) and the last two secrets
// are accepted, so a nonce lives between one and two epochs (the parity bit
// says which of the two to check: a forged nonce costs one MAC): a proposal
// recorded and replayed later is refused. Within its lifetime a nonce is
// accepted once: the nonces of proposals that authenticated are remembered
// until their secret retires (that is state, but only for authenticated
// proposals, never for knocks).
import crypto from 'node:crypto';
import { COOKIE_LENGTH, NONCE_LENGTH } from './protocol.js';
import { constantTimeEqual, hmac, wipe } from './primitives.js';

const TAG_LENGTH = NONCE_LENGTH - COOKIE_LENGTH;
const SECRET_LENGTH = 32;

/** One epoch's secret and the nonces of it that were already used. */
export interface ChallengeEpoch {
  readonly epoch: number;
  readonly secret: Buffer;
  readonly used: Set<string>;
}

export class ChallengeIssuer {
  // Newest first; at most the current and the previous epoch.
  private epochs: ChallengeEpoch[] = [];

  constructor(private readonly epochMs: number) {
    if (!(epochMs > 0)) throw new RangeError('challenge epoch must be positive');
  }

  /** The nonce for a knock's cookie in `context` (route and both addresses). */
  issue(context: Buffer, cookie: Buffer, now: number): Buffer {
    const current = this.rotate(now)[0];
    return Buffer.concat([cookie, this.tag(current, context, cookie)]);
  }

  /**
   * The epoch that issued `nonce` for `context`, or null if none did, it has
   * retired, or the nonce was already used. Does not use it up: call consume()
   * once the proposal carrying it has authenticated.
   */
  verify(context: Buffer, nonce: Buffer, now: number): ChallengeEpoch | null {
    if (nonce.length !== NONCE_LENGTH) return null;
    const cookie = nonce.subarray(0, COOKIE_LENGTH);
    const tag = nonce.subarray(COOKIE_LENGTH);
    const epochs = this.rotate(now);
    // A replayed proposal is refused by a lookup, before any MAC is computed.
    const hex = nonce.toString('hex');
    if (epochs.some((e) => e.used.has(hex))) return null;
    // Which epoch issued it is no secret (epochs follow the clock).
    const parity = tag[0] >> 7;
    const issuer = epochs.find((e) => (e.epoch & 1) === parity);
    return issuer && constantTimeEqual(this.tag(issuer, context, cookie), tag) ? issuer : null;
  }

  consume(epoch: ChallengeEpoch, nonce: Buffer): void {
    epoch.used.add(nonce.toString('hex'));
  }

  /** Number of remembered used nonces (bounded by authenticated proposals per two epochs). */
  remembered(): number {
    return this.epochs.reduce((n, e) => n + e.used.size, 0);
  }

  destroy(): void {
    for (const e of this.epochs) wipe(e.secret);
    this.epochs = [];
  }

  private tag(e: ChallengeEpoch, context: Buffer, cookie: Buffer): Buffer {
    const tag = hmac(e.secret, context, cookie).subarray(0, TAG_LENGTH);
    tag[0] = (tag[0] & 0x7f) | ((e.epoch & 1) << 7);
    return tag;
  }

  private rotate(now: number): ChallengeEpoch[] {
    const epoch = Math.floor(now / this.epochMs);
    const newest = this.epochs[0];
    if (newest?.epoch === epoch) return this.epochs;
    const keep = newest?.epoch === epoch - 1 ? [newest] : [];
    for (const e of this.epochs) if (!keep.includes(e)) wipe(e.secret);
    this.epochs = [{ epoch, secret: crypto.randomBytes(SECRET_LENGTH), used: new Set() }, ...keep];
    return this.epochs;
  }
}
