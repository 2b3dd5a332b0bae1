// The initiator's side of one exchange (a route on a queue), as an explicit
// state machine:
//
//   idle ──initiate──▶ awaiting-challenge ──challenge──▶ awaiting-agreement
//     ▲                    │   │                              │
//     │                    │   └─peer's knock, we yield─▶ yielded
//     │                    │                                │ │
//     └── agreement (SA pair) / peer's negotiation done ────┘ │
//     └── expire (negotiation-ttl), from any state ───────────┘
//
// "yielded": both ends started at once (each saw the other's knock while
// waiting for its challenge). The end with the lower knock cookie steps
// aside before it has proposed anything, so one negotiation instead of two
// runs; since both ends compare the same two cookies, exactly one yields.
// If the crossing is seen by one end only, both negotiations run, which is
// harmless (see MAX_INBOUND_SAS).
//
// A message that does not fit the state, or fails a check, is refused with
// the reason and changes nothing: a forged or replayed message cannot
// disturb a negotiation in progress. Only the deadline ends one.
import crypto from 'node:crypto';
import type { ExchangeParams } from './config.js';
import { decodeAgreement, decodeChallenge, decodeSpiPayload, encodeKnock, encodeProposal, encodeSpiPayload } from './messages.js';
import { HandshakeState } from './noise.js';
import { constantTimeEqual, wipe } from './primitives.js';
import {
  AEAD_ID, COOKIE_LENGTH, NOISE_PATTERN, PROTOCOL_VERSION,
  dropped, negotiatedPair, noiseDropReason, prologue,
  type NegotiatedPair, type Step,
} from './protocol.js';
import { FIRST_SPI, type SpiAllocator } from './spi.js';
import { Spi } from './types.js';

export type InitiatorState = 'idle' | 'awaiting-challenge' | 'awaiting-agreement' | 'yielded';

export class Initiator {
  private current: InitiatorState = 'idle';
  private deadline = 0;
  private cookie: Buffer | null = null;
  private handshake: HandshakeState | null = null;
  // Our inbound SPI, proposed again on every retry until a negotiation
  // succeeds: if an agreement was lost, the responder already holds an
  // outbound SA under this SPI, and the retry updates it instead of leaving
  // an SA we cannot decrypt.
  private proposedSpi: Spi | null = null;

  constructor(readonly params: ExchangeParams) {}

  get state(): InitiatorState {
    return this.current;
  }

  /**
   * True while a proposal we sent may have been accepted without our seeing
   * the agreement. We then negotiate again (same SPI) even if fresh SAs came
   * meanwhile from the peer's own negotiation: the peer may hold an outbound
   * SA under our SPI with keys we do not have, and only our retry fixes it.
   */
  get owesRetry(): boolean {
    return this.proposedSpi !== null;
  }

  /** Starts a negotiation; returns the knock to send. */
  initiate(now: number, negotiationTtlMs: number): Buffer {
    if (this.current !== 'idle') throw new Error(`initiator for ${this.params.key} is ${this.current}`);
    this.cookie = crypto.randomBytes(COOKIE_LENGTH);
    this.deadline = now + negotiationTtlMs;
    this.current = 'awaiting-challenge';
    return encodeKnock(this.params.routeSpi, { cookie: this.cookie });
  }

  /**
   * The peer knocked (cookie `theirs`) on this exchange. Returns true if we
   * yield to its negotiation. Never once we owe a retry: only our own
   * proposal can repair what a lost agreement left at the peer.
   */
  peerKnocked(theirs: Buffer): boolean {
    if (this.current !== 'awaiting-challenge' || this.owesRetry) return false;
    // Equal cookies: a route to ourselves, where our own knock comes back.
    if (Buffer.compare(this.cookie!, theirs) >= 0) return false;
    this.current = 'yielded'; // the cookie stays, to recognise our challenge
    return true;
  }

  /** We answered the peer's proposal: a negotiation we yielded to is done. */
  peerNegotiated(): void {
    if (this.current === 'yielded') this.reset();
  }

  /**
   * Checks a challenge. If `proceed` (we still want new SAs) returns the
   * proposal to send; otherwise ends the negotiation quietly (value null),
   * e.g. because the peer's own negotiation gave us fresh SAs meanwhile.
   * The answer to a knock we yielded is recognised and ignored (null).
   */
  receiveChallenge(message: Buffer, spis: SpiAllocator, proceed: boolean): Step<Buffer | null> {
    if (this.current !== 'awaiting-challenge' && this.current !== 'yielded') return dropped('protocol');
    const d = decodeChallenge(message);
    if (!d.ok) return dropped(d.reason);
    const p = this.params;
    if (d.msg.aeadId !== AEAD_ID[p.aead]) return dropped('parameter');
    if (!constantTimeEqual(d.msg.nonce.subarray(0, COOKIE_LENGTH), this.cookie!)) return dropped('authentication');
    if (this.current === 'yielded') return { ok: true, value: null };
    if (!proceed) {
      this.reset();
      return { ok: true, value: null };
    }
    this.proposedSpi ??= spis.allocate();
    this.handshake = new HandshakeState({
      pattern: NOISE_PATTERN,
      initiator: true,
      psk: p.psk,
      prologue: prologue({
        version: PROTOCOL_VERSION,
        aead: p.aead,
        routeSpi: p.routeSpi,
        initiatorAddress: p.local,
        responderAddress: p.gateway,
        nonce: d.msg.nonce,
      }),
    });
    const noise = this.handshake.writeMessage(encodeSpiPayload(this.proposedSpi));
    this.current = 'awaiting-agreement';
    return { ok: true, value: encodeProposal(p.routeSpi, p.aead, d.msg.nonce, noise) };
  }

  /** Checks an agreement; on success returns the SA pair and becomes idle. */
  receiveAgreement(message: Buffer): Step<NegotiatedPair> {
    if (this.current !== 'awaiting-agreement') return dropped('protocol');
    const d = decodeAgreement(message);
    if (!d.ok) return dropped(d.reason);
    let payload: Buffer;
    try {
      payload = this.handshake!.readMessage(d.msg.noise);
    } catch (err) {
      return dropped(noiseDropReason(err));
    }
    const theirSpi = decodeSpiPayload(payload);
    if (theirSpi === null || theirSpi < FIRST_SPI) {
      // Authentic but unusable: the peer is broken, this negotiation is over.
      this.reset();
      return dropped('protocol');
    }
    const pair = negotiatedPair(this.handshake!, 'initiator', this.params.aead, this.proposedSpi!, Spi(theirSpi));
    this.handshake = null;
    this.proposedSpi = null; // now the inbound SA's: whoever installs it owns it
    this.reset();
    return { ok: true, value: pair };
  }

  /** Ends a negotiation that outlived negotiation-ttl; true if one did. */
  expire(now: number): boolean {
    if (this.current === 'idle' || now < this.deadline) return false;
    this.reset();
    return true;
  }

  /** Ends any negotiation and gives back the proposed SPI (the exchange is going away). */
  close(spis: SpiAllocator): void {
    this.reset();
    if (this.proposedSpi !== null) spis.release(this.proposedSpi);
    this.proposedSpi = null;
  }

  private reset(): void {
    this.handshake?.destroy();
    this.handshake = null;
    wipe(this.cookie);
    this.cookie = null;
    this.current = 'idle';
  }
}
