// The responder's side of an exchange. It keeps no state between messages:
// a knock is answered with a challenge whose nonce it can later recognise
// (challenge.ts), and a proposal carrying such a nonce is answered with an
// agreement and yields the SA pair at once. The only memory is the set of
// nonces already used by authenticated proposals, so none is used twice.
import { challengeContext, type ExchangeParams } from './config.js';
import type { ChallengeIssuer } from './challenge.js';
import { decodeKnock, decodeProposal, decodeSpiPayload, encodeAgreement, encodeChallenge, encodeSpiPayload } from './messages.js';
import { HandshakeState } from './noise.js';
import {
  AEAD_ID, NOISE_PATTERN, PROTOCOL_VERSION,
  dropped, negotiatedPair, noiseDropReason, prologue,
  type NegotiatedPair, type Step,
} from './protocol.js';
import { FIRST_SPI, type SpiAllocator } from './spi.js';
import { Spi } from './types.js';

/** Answers a knock with a challenge; returns it with the knock's cookie. */
export function answerKnock(
  p: ExchangeParams,
  message: Buffer,
  issuer: ChallengeIssuer,
  now: number,
): Step<{ challenge: Buffer; cookie: Buffer }> {
  const d = decodeKnock(message);
  if (!d.ok) return dropped(d.reason);
  const nonce = issuer.issue(challengeContext(p), d.msg.cookie, now);
  return { ok: true, value: { challenge: encodeChallenge(p.routeSpi, p.aead, nonce), cookie: d.msg.cookie } };
}

/** Answers a proposal with an agreement; returns it with the SA pair. */
export function answerProposal(
  p: ExchangeParams,
  message: Buffer,
  issuer: ChallengeIssuer,
  spis: SpiAllocator,
  now: number,
): Step<{ agreement: Buffer; pair: NegotiatedPair }> {
  const d = decodeProposal(message);
  if (!d.ok) return dropped(d.reason);
  if (d.msg.aeadId !== AEAD_ID[p.aead]) return dropped('parameter');
  // Not ours, too old, or already used: a replay or a forgery.
  const epoch = issuer.verify(challengeContext(p), d.msg.nonce, now);
  if (!epoch) return dropped('authentication');
  const handshake = new HandshakeState({
    pattern: NOISE_PATTERN,
    initiator: false,
    psk: p.psk,
    prologue: prologue({
      version: PROTOCOL_VERSION,
      aead: p.aead,
      routeSpi: p.routeSpi,
      initiatorAddress: p.gateway,
      responderAddress: p.local,
      nonce: d.msg.nonce,
    }),
  });
  let theirSpi: number | null;
  let ourSpi: Spi | null = null;
  let noise: Buffer;
  try {
    theirSpi = decodeSpiPayload(handshake.readMessage(d.msg.noise));
    if (theirSpi === null || theirSpi < FIRST_SPI) {
      handshake.destroy();
      return dropped('protocol');
    }
    ourSpi = spis.allocate();
    // `e, ee`: the DH with the initiator's ephemeral refuses low-order keys here.
    noise = handshake.writeMessage(encodeSpiPayload(ourSpi));
  } catch (err) {
    handshake.destroy();
    if (ourSpi !== null) spis.release(ourSpi);
    return dropped(noiseDropReason(err));
  }
  issuer.consume(epoch, d.msg.nonce);
  const pair = negotiatedPair(handshake, 'responder', p.aead, ourSpi, Spi(theirSpi));
  return { ok: true, value: { agreement: encodeAgreement(p.routeSpi, noise), pair } };
}
