// The responder of one vita-ske v5 exchange (a route on a queue). As in
// Vita, it holds a nonce and an ephemeral key from one completed exchange to
// the next: every knock is answered with the same challenge, and a failed
// proposal changes nothing (docs/key-exchange.md, "vita-ske v5").
//
// A proposal is handled in two steps so the key manager can spend a rate
// budget between them: read() costs hashes and one AES-GCM and is passed
// only with the pre-shared key (so forgeries never reach the budget);
// agree() costs the X25519s.
import crypto from 'node:crypto';
import type { ExchangeParams } from '../exchange/config.js';
import { HandshakeState } from '../exchange/noise.js';
import { wipe } from '../exchange/primitives.js';
import { dropped, noiseDropReason, type NegotiatedPair, type Step } from '../exchange/protocol.js';
import { FIRST_SPI, type SpiAllocator } from '../exchange/spi.js';
import { Spi } from '../exchange/types.js';
import { MessageType, NONCE_LENGTH, decodeHandshake, decodePayload, encodeChallenge, encodeHandshake, encodePayload } from './messages.js';
import { NOISE_PATTERN, vitaAddress, vitaOkm, vitaPair, vitaPrologue } from './protocol.js';

/** Random octets: nonces and ephemeral private keys. Tests fix them (the spec's example). */
export type RandomSource = (octets: number) => Buffer;
export const systemRandom: RandomSource = (n) => crypto.randomBytes(n);

/** A proposal that authenticated, awaiting agree(). */
export interface ReadProposal {
  handshake: HandshakeState;
  theirSpi: Spi;
}

export class VitaResponder {
  private nonce: Buffer;
  private ephemeral: Buffer;
  private readonly local: Buffer;
  private readonly gateway: Buffer;

  constructor(private readonly p: ExchangeParams, private readonly random: RandomSource = systemRandom) {
    this.local = vitaAddress(p.localAddress)!;
    this.gateway = vitaAddress(p.gatewayAddress)!;
    this.nonce = random(NONCE_LENGTH);
    this.ephemeral = random(32);
  }

  /** The answer to every knock until an exchange completes. */
  challenge(): Buffer {
    return encodeChallenge(this.p.routeSpi, this.nonce);
  }

  /** Authenticates a proposal's payload (no DH yet); changes nothing. */
  read(message: Buffer): Step<ReadProposal> {
    const noise = decodeHandshake(message, MessageType.proposal);
    if (!noise) return dropped('protocol');
    const handshake = new HandshakeState({
      pattern: NOISE_PATTERN,
      initiator: false,
      psk: this.p.psk,
      prologue: vitaPrologue(this.p.routeSpi, this.gateway, this.local, this.nonce),
      ephemeral: this.ephemeral,
    });
    let theirSpi: number | null;
    try {
      theirSpi = decodePayload(handshake.readMessage(noise));
    } catch (err) {
      handshake.destroy();
      return dropped(noiseDropReason(err));
    }
    // Authentic but not an SPI we could send to (Vita sends 256 and up).
    if (theirSpi === null || theirSpi < FIRST_SPI) {
      handshake.destroy();
      return dropped('protocol');
    }
    return { ok: true, value: { handshake, theirSpi: Spi(theirSpi) } };
  }

  /**
   * DH with the proposal's ephemeral key (a low-order key is refused here,
   * public-key), the agreement and the SA pair. On success the responder
   * takes a new nonce and ephemeral key: a replayed proposal no longer
   * authenticates.
   */
  agree(r: ReadProposal, spis: SpiAllocator): Step<{ agreement: Buffer; pair: NegotiatedPair }> {
    const ourSpi = spis.allocate();
    let noise: Buffer;
    try {
      noise = r.handshake.writeMessage(encodePayload(ourSpi));
    } catch (err) {
      r.handshake.destroy();
      spis.release(ourSpi);
      return dropped(noiseDropReason(err));
    }
    const ck = r.handshake.chainingKey();
    r.handshake.destroy();
    const pair = vitaPair(vitaOkm(ck), 'responder', ourSpi, r.theirSpi);
    wipe(ck);
    this.reset();
    return { ok: true, value: { agreement: encodeHandshake(this.p.routeSpi, MessageType.agreement, noise), pair } };
  }

  close(): void {
    wipe(this.ephemeral, this.nonce);
  }

  private reset(): void {
    wipe(this.ephemeral);
    this.nonce = this.random(NONCE_LENGTH);
    this.ephemeral = this.random(32);
  }
}
