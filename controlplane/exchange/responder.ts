// The responder's side of an exchange. It keeps no state between messages:
// a knock is answered with a challenge whose nonce it can later recognise
// (challenge.ts), and a proposal carrying such a nonce is answered with an
// agreement and yields the SA pair at once. The only memory is the set of
// nonces already used by authenticated proposals, so none is used twice.
//
// Each message is handled in two steps, so the key manager can spend a
// source's rate-limit budget between them (docs/security.md, "Key-exchange
// floods"): first the checks that cost little (readKnock; checkProposal:
// our own MAC on the nonce, which an off-path attacker cannot forge), then
// what costs (challengeFor: a datagram towards the source; agree: X25519).
import { challengeContext, type ExchangeParams } from './config.js';
import type { ChallengeEpoch, ChallengeIssuer } from './challenge.js';
import { publicKeyPrologue } from './identity.js';
import { decodeKnock, decodeProposal, decodeSpiPayload, encodeAgreement, encodeChallenge, encodeSpiPayload, proposalLength } from './messages.js';
import { decodeIkPayload, detectNat, encodeIkPayload, natDetectionData, type NatView } from './nat-detection.js';
import { HandshakeState } from './noise.js';
import { constantTimeEqual } from './primitives.js';
import {
  AEAD_ID, NOISE_PATTERN, PROTOCOL_VERSION,
  dropped, negotiatedPair, noiseDropReason, prologue,
  type NegotiatedPair, type Step,
} from './protocol.js';
import { FIRST_SPI, type SpiAllocator } from './spi.js';
import { Spi, type Endpoint } from './types.js';

/** A knock's cookie, if the knock is well-formed (nothing more can be checked). */
export function readKnock(message: Buffer): Step<Buffer> {
  const d = decodeKnock(message);
  return d.ok ? { ok: true, value: d.msg.cookie } : dropped(d.reason);
}

/** The challenge answering a knock's cookie. */
export function challengeFor(p: ExchangeParams, cookie: Buffer, issuer: ChallengeIssuer, now: number): Buffer {
  return encodeChallenge(p.routeSpi, p.aead, issuer.issue(challengeContext(p), cookie, now));
}

/** A proposal that carries a nonce we issued for this exchange and that was not used yet. */
export interface CheckedProposal {
  nonce: Buffer;
  noise: Buffer;
  epoch: ChallengeEpoch;
}

/** The cheap checks of a proposal: form, AEAD, and our nonce (not ours, too old, or used: a forgery or replay). */
export function checkProposal(p: ExchangeParams, message: Buffer, issuer: ChallengeIssuer, now: number): Step<CheckedProposal> {
  const d = decodeProposal(message, proposalLength(p.pattern === 'IKpsk2'));
  if (!d.ok) return dropped(d.reason);
  if (d.msg.aeadId !== AEAD_ID[p.aead]) return dropped('parameter');
  const epoch = issuer.verify(challengeContext(p), d.msg.nonce, now);
  if (!epoch) return dropped('authentication');
  return { ok: true, value: { nonce: d.msg.nonce, noise: d.msg.noise, epoch } };
}

/**
 * Authenticates a checked proposal (X25519, AEAD); returns the agreement and
 * the SA pair. `seen`: where the proposal came from and the endpoint of ours
 * it arrived at (IKpsk2's NAT detection, nat-detection.ts; the agreement
 * goes back from `to` to `from`).
 */
export function agree(
  p: ExchangeParams,
  proposal: CheckedProposal,
  issuer: ChallengeIssuer,
  spis: SpiAllocator,
  seen: { from: Endpoint; to: Endpoint },
): Step<{ agreement: Buffer; pair: NegotiatedPair }> {
  const publicKey = p.pattern === 'IKpsk2';
  const handshake = publicKey
    ? new HandshakeState({
      pattern: 'IKpsk2',
      initiator: false,
      s: p.staticKey!,
      // DH(our static, the route's peer's): another initiator's message 1 fails to authenticate.
      staticShared: p.staticShared!,
      prologue: publicKeyPrologue({ version: PROTOCOL_VERSION, aead: p.aead, routeSpi: p.routeSpi, nonce: proposal.nonce }),
    })
    : new HandshakeState({
      pattern: NOISE_PATTERN,
      initiator: false,
      psk: p.psk,
      prologue: prologue({
        version: PROTOCOL_VERSION,
        aead: p.aead,
        routeSpi: p.routeSpi,
        initiatorAddress: p.gateway,
        responderAddress: p.local,
        nonce: proposal.nonce,
      }),
    });
  let theirSpi: number | null;
  let ourSpi: Spi | null = null;
  let noise: Buffer;
  let nat: NatView | undefined;
  try {
    const payload = handshake.readMessage(proposal.noise);
    if (publicKey) {
      const ik = decodeIkPayload(payload)!; // the length was checked with the message's
      theirSpi = ik.spi;
      nat = detectNat(proposal.nonce, ik.nat, seen.from, seen.to);
    } else {
      theirSpi = decodeSpiPayload(payload);
    }
    if (publicKey) {
      // Message 1 authenticated with ss for the route's peer, so only that
      // peer could have written it; the static key it carries must be that
      // peer's too (a check that does not rest on the precomputed ss).
      const theirs = handshake.remoteStatic()!;
      if (!constantTimeEqual(theirs, p.peerPublicKey!)) {
        handshake.destroy();
        return dropped('authentication');
      }
      handshake.providePsk(p.psk);
    }
    if (theirSpi === null || theirSpi < FIRST_SPI) {
      handshake.destroy();
      return dropped('protocol');
    }
    ourSpi = spis.allocate();
    // `e, ee`: the DH with the initiator's ephemeral refuses low-order keys here.
    noise = handshake.writeMessage(publicKey
      ? encodeIkPayload(ourSpi, natDetectionData(proposal.nonce, seen.to, seen.from))
      : encodeSpiPayload(ourSpi));
  } catch (err) {
    handshake.destroy();
    if (ourSpi !== null) spis.release(ourSpi);
    return dropped(noiseDropReason(err));
  }
  issuer.consume(proposal.epoch, proposal.nonce);
  const pair = negotiatedPair(handshake, 'responder', p.aead, ourSpi, Spi(theirSpi));
  if (publicKey) pair.unconfirmed = true;
  if (nat) pair.nat = nat;
  return { ok: true, value: { agreement: encodeAgreement(p.routeSpi, noise), pair } };
}
