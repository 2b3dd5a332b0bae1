// The initiator's side of one exchange (a route on a queue), as an explicit
// state machine:
//
//   idle ──initiate──▶ awaiting-challenge ──challenge──▶ awaiting-agreement ──agreement──▶ idle
//                          │                                  ▲                          (SA pair)
//                          │ peer's knock, we yield           │ resume: the peer's proposal
//                          ▼                                  │ did not come in time
//                       yielded ──(holds our challenge)───────┘
//                          │
//                          └─ we answered the peer's proposal ──▶ idle
//   any state ── negotiation-ttl after the knock ──▶ idle (expired)
//
// "yielded": both ends started at once (each saw the other's knock while
// waiting for its challenge). The end with the lower knock cookie holds its
// proposal back, so one negotiation runs instead of two; both ends compare
// the same two cookies, so exactly one yields. Knocks are not authenticated,
// so yielding only defers: if the peer's proposal has not arrived within
// YIELD_WAIT_RTTS round trips (knock to challenge) of our challenge, we
// propose after all. A forged knock thus costs a short delay, never a
// negotiation. If the crossing is seen by one end only, both negotiations
// run, which is harmless (see MAX_INBOUND_SAS).
//
// A message that does not fit the state, or fails a check, is refused with
// the reason and changes nothing: a forged or replayed message cannot
// disturb a negotiation in progress. Only the deadline ends one.
import crypto from 'node:crypto';
import type { ExchangeParams } from './config.js';
import { agreementLength, decodeAgreement, decodeChallenge, decodeSpiPayload, encodeKnock, encodeProposal, encodeSpiPayload } from './messages.js';
import { decodeIkPayload, detectNat, encodeIkPayload, natDetectionData, type NatView } from './nat-detection.js';
import { publicKeyPrologue } from './identity.js';
import { HandshakeState } from './noise.js';
import { constantTimeEqual, wipe } from './primitives.js';
import {
  AEAD_ID, COOKIE_LENGTH, DEFAULT_PORT, NOISE_PATTERN, PROTOCOL_VERSION, YIELD_WAIT_MIN_MS, YIELD_WAIT_RTTS,
  dropped, negotiatedPair, noiseDropReason, prologue,
  type NegotiatedPair, type Step,
} from './protocol.js';
import { FIRST_SPI, type SpiAllocator } from './spi.js';
import { Spi, type Endpoint } from './types.js';

export type InitiatorState = 'idle' | 'awaiting-challenge' | 'awaiting-agreement' | 'yielded';

/** A proposal to send, and where (the source of the challenge it answers). */
export interface Proposal {
  message: Buffer;
  to: Endpoint;
}

export class Initiator {
  private current: InitiatorState = 'idle';
  private knockedAt = 0;
  private deadline = 0;
  private cookie: Buffer | null = null;
  private handshake: HandshakeState | null = null;
  // While yielded: our challenge, held back until resumeAt.
  private held: { nonce: Buffer; from: Endpoint; local?: Endpoint; resumeAt: number } | null = null;
  // The proposal's nonce and endpoints (IKpsk2: the agreement's NAT detection is read against them).
  private sent: { nonce: Buffer; to: Endpoint; from: Endpoint } | null = null;
  // Our inbound SPI, proposed again on every retry until a negotiation
  // succeeds: if an agreement was lost, the responder already holds an
  // outbound SA under this SPI, and the retry updates it instead of leaving
  // an SA we cannot decrypt.
  private proposedSpi: Spi | null = null;
  // Set when we answered the peer's proposal while ours was under way: the
  // inbound SPI of the pair that gave both ends fresh SAs (peerNegotiated).
  private supersededBy: Spi | null = null;

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
    this.knockedAt = now;
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
    this.current = 'yielded';
    return true;
  }

  /**
   * We answered the peer's proposal (its pair's inbound SPI is `inbound`): a
   * negotiation we yielded to is done. One of ours still under way is
   * superseded: it may still complete (knocks that crossed unseen), but if
   * it does not, it ends at its deadline without counting as expired
   * (expire() says 'superseded'). Typical after a key change made at one end
   * first: the peer refused our proposal under its old key, then negotiated
   * itself once it had the new one.
   */
  peerNegotiated(inbound: Spi): void {
    if (this.current === 'yielded') this.reset();
    else if (this.current !== 'idle') this.supersededBy = inbound;
  }

  /**
   * After expire() said 'superseded': the retry we owe is off if the peer
   * sends on the pair that superseded ours (`peerUses` of its inbound SPI) —
   * then its outbound SA is not one our lost agreement left behind.
   */
  settleSuperseded(peerUses: boolean, spis: SpiAllocator): void {
    if (!peerUses || this.proposedSpi === null || this.current !== 'idle') return;
    spis.release(this.proposedSpi);
    this.proposedSpi = null;
  }

  /**
   * The cheap checks of a challenge, which change nothing: it fits our state
   * and echoes our knock's cookie (which an off-path attacker never saw).
   * Returns its nonce for receiveChallenge().
   */
  checkChallenge(message: Buffer): Step<Buffer> {
    if (this.current !== 'awaiting-challenge' && this.current !== 'yielded') return dropped('protocol');
    const d = decodeChallenge(message);
    if (!d.ok) return dropped(d.reason);
    if (d.msg.aeadId !== AEAD_ID[this.params.aead]) return dropped('parameter');
    if (!constantTimeEqual(d.msg.nonce.subarray(0, COOKIE_LENGTH), this.cookie!)) return dropped('authentication');
    return { ok: true, value: d.msg.nonce };
  }

  /**
   * Acts on the nonce of a challenge that passed checkChallenge(). If
   * `proceed` (we still want new SAs) returns the proposal to send;
   * otherwise ends the negotiation quietly (null), e.g. because the peer's
   * own negotiation gave us fresh SAs meanwhile. When yielded, holds the
   * challenge back (null; see resume()). `local`: our endpoint the proposal
   * goes out from (IKpsk2's NAT detection; default our address and the
   * route's NAT-T port, else 303).
   */
  receiveChallenge(nonce: Buffer, from: Endpoint, now: number, spis: SpiAllocator, proceed: boolean, local?: Endpoint): Proposal | null {
    if (this.current === 'yielded') {
      // A second copy of the same challenge changes nothing.
      this.held ??= { nonce, from, local, resumeAt: now + Math.max(YIELD_WAIT_RTTS * (now - this.knockedAt), YIELD_WAIT_MIN_MS) };
      return null;
    }
    if (!proceed) {
      this.reset();
      return null;
    }
    return this.propose(nonce, from, spis, local);
  }

  /**
   * While yielded with our challenge held: once its wait is over, the
   * proposal to send after all (or null, ending quietly, if we no longer
   * `proceed`). Null while there is nothing to do.
   */
  resume(now: number, spis: SpiAllocator, proceed: boolean): Proposal | null {
    if (this.current !== 'yielded' || !this.held || now < this.held.resumeAt) return null;
    const { nonce, from, local } = this.held;
    if (!proceed) {
      this.reset();
      return null;
    }
    return this.propose(nonce, from, spis, local);
  }

  /**
   * Checks an agreement; on success returns the SA pair and becomes idle.
   * `from` and `local`: where it came from and arrived (IKpsk2's NAT
   * detection; default: as the proposal was sent, i.e. no NAT seen here).
   */
  receiveAgreement(message: Buffer, from?: Endpoint, local?: Endpoint): Step<NegotiatedPair> {
    if (this.current !== 'awaiting-agreement') return dropped('protocol');
    const ik = this.params.pattern === 'IKpsk2';
    const d = decodeAgreement(message, agreementLength(ik));
    if (!d.ok) return dropped(d.reason);
    let payload: Buffer;
    try {
      payload = this.handshake!.readMessage(d.msg.noise);
    } catch (err) {
      return dropped(noiseDropReason(err));
    }
    let nat: NatView | undefined;
    let theirSpi: number | null;
    if (ik) {
      const sent = this.sent!;
      const p = decodeIkPayload(payload)!; // the length was checked with the message's
      theirSpi = p.spi;
      nat = detectNat(sent.nonce, p.nat, from ?? sent.to, local ?? sent.from);
    } else {
      theirSpi = decodeSpiPayload(payload);
    }
    if (theirSpi === null || theirSpi < FIRST_SPI) {
      // Authentic but unusable: the peer is broken, this negotiation is over.
      this.reset();
      return dropped('protocol');
    }
    const pair = negotiatedPair(this.handshake!, 'initiator', this.params.aead, this.proposedSpi!, Spi(theirSpi));
    if (nat) pair.nat = nat;
    this.handshake = null;
    this.proposedSpi = null; // now the inbound SA's: whoever installs it owns it
    this.reset();
    return { ok: true, value: pair };
  }

  /**
   * Ends a negotiation that outlived negotiation-ttl: 'expired', or
   * 'superseded' (with the inbound SPI of the peer's pair) if the peer's
   * own negotiation gave us fresh SAs meanwhile; null if none ended.
   */
  expire(now: number): 'expired' | { superseded: Spi } | null {
    if (this.current === 'idle' || now < this.deadline) return null;
    const by = this.supersededBy;
    this.reset();
    return by === null ? 'expired' : { superseded: by };
  }

  /** Ends any negotiation and gives back the proposed SPI (the exchange is going away). */
  close(spis: SpiAllocator): void {
    this.reset();
    if (this.proposedSpi !== null) spis.release(this.proposedSpi);
    this.proposedSpi = null;
  }

  private propose(nonce: Buffer, from: Endpoint, spis: SpiAllocator, local?: Endpoint): Proposal {
    const p = this.params;
    const source = local ?? { address: p.localAddress, port: p.natTPort ?? DEFAULT_PORT };
    this.proposedSpi ??= spis.allocate();
    this.handshake = p.pattern === 'IKpsk2'
      ? new HandshakeState({
        pattern: 'IKpsk2',
        initiator: true,
        psk: p.psk,
        s: p.staticKey!,
        rs: p.peerPublicKey!,
        staticShared: p.staticShared!,
        prologue: publicKeyPrologue({ version: PROTOCOL_VERSION, aead: p.aead, routeSpi: p.routeSpi, nonce }),
      })
      : new HandshakeState({
        pattern: NOISE_PATTERN,
        initiator: true,
        psk: p.psk,
        prologue: prologue({
          version: PROTOCOL_VERSION,
          aead: p.aead,
          routeSpi: p.routeSpi,
          initiatorAddress: p.local,
          responderAddress: p.gateway,
          nonce,
        }),
      });
    const noise = this.handshake.writeMessage(p.pattern === 'IKpsk2'
      ? encodeIkPayload(this.proposedSpi, natDetectionData(nonce, source, from))
      : encodeSpiPayload(this.proposedSpi));
    this.sent = { nonce, to: from, from: source };
    this.held = null;
    this.current = 'awaiting-agreement';
    return { message: encodeProposal(p.routeSpi, p.aead, nonce, noise), to: from };
  }

  private reset(): void {
    this.supersededBy = null;
    this.handshake?.destroy();
    this.handshake = null;
    wipe(this.cookie);
    this.cookie = null;
    this.held = null;
    this.sent = null;
    this.current = 'idle';
  }
}
