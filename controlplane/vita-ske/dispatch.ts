// The key manager's handling of a vita-ske v5 message for one exchange (a
// route on a queue whose `protocol` is vita-ske-v5). keymanager.ts has
// already found the exchange by route SPI and by the gateway's and our
// address (so only the route's gateway reaches this, unlike in Vita, which
// looks at the route SPI alone); here the order is Vita's checks, then our
// budgets, then the work that costs:
//
//   knock      exact length → knock budget (the reflection limit) → challenge
//   challenge  state, length, version, AEAD → budget → proposal (X25519 keygen)
//   proposal   length → knock budget → payload authenticated (hashes, one
//              AES-GCM: only a holder of the pre-shared key passes) → budget
//              → X25519, agreement
//   agreement  only while our proposal awaits it (one per negotiation) →
//              X25519 then AES-GCM, no budget (forgeries would spend it first)
//
// So datagrams forged without the pre-shared key spend no budget but the
// knocks' (unauthenticated work: challenges sent, proposals read), and never
// the one authenticated messages need. Every
// refusal counts in rxerrors and one *_errors counter (exchange/counters.ts).
// Replies go to the route's configured gateway address and port, as Vita's do.
import type { ExchangeParams } from '../exchange/config.js';
import type { DropReason, KeyManagerCounters } from '../exchange/counters.js';
import type { NegotiatedPair } from '../exchange/protocol.js';
import type { SaLifecycle } from '../exchange/sa-lifecycle.js';
import type { SpiAllocator } from '../exchange/spi.js';
import type { Endpoint } from '../exchange/types.js';
import type { VitaInitiator } from './initiator.js';
import { MessageType, wellFormed } from './messages.js';
import type { VitaResponder } from './responder.js';

/** Vita's rekey jitter: sa-ttl/2 + sa-ttl/8 · U. */
export const VITA_REKEY_JITTER = 1 / 8;
/**
 * Vita activates a new outbound SA 1.5 × negotiation-ttl after agreement; we
 * cap that at half of what is left of the old SA's sa-ttl after the latest
 * rekey (5/8), so a negotiation that is late by as much again still takes
 * over before the old SA expires. With Vita's defaults (600 s, 5 s) the cap
 * is 112 s and 7.5 s applies; it matters only for short sa-ttls.
 */
export const VITA_ACTIVATION_DELAY_MAX_TTL = (1 - 0.5 - VITA_REKEY_JITTER) / 2;

export interface VitaExchange {
  params: ExchangeParams;
  sas: SaLifecycle;
}

/** What the key manager lends the vita-ske handler. */
export interface VitaHost<E extends VitaExchange> {
  readonly counters: KeyManagerCounters;
  spis(): SpiAllocator;
  negotiationTtlMs(): number;
  /** Spends from the knock budget (challenges sent) of the exchange's gateway. */
  spendKnock(ex: E, now: number): boolean;
  /** Spends from the budget of messages that passed their checks. */
  spend(ex: E, now: number): boolean;
  wantsNegotiation(ex: E, now: number): boolean;
  /** Sends to the route's gateway address, port protocol-port. */
  reply(ex: E, payload: Buffer): void;
  install(ex: E, pair: NegotiatedPair, now: number, role: 'initiator' | 'responder'): void;
  drop(reason: DropReason, from: Endpoint, ex: E): void;
}

export function receiveVita<E extends VitaExchange>(
  host: VitaHost<E>, ex: E, initiator: VitaInitiator, responder: VitaResponder, payload: Buffer, from: Endpoint, now: number,
): void {
  const c = host.counters;
  if (!wellFormed(payload)) return host.drop('protocol', from, ex);
  switch (payload[4]) {
    case MessageType.knock: {
      // The version is not checked (Vita's responder answers any).
      if (!host.spendKnock(ex, now)) {
        c.knocks_ratelimited++;
        // Perhaps the peer's knock for its rekey among forgeries: rekey now if ours is near.
        ex.sas.rekeyEarly(now);
        return;
      }
      c.challenges_offered++;
      return host.reply(ex, responder.challenge());
    }
    case MessageType.challenge: {
      const r = initiator.checkChallenge(payload);
      if (!r.ok) return host.drop(r.reason, from, ex);
      if (!host.spend(ex, now)) {
        c.ratelimited++;
        return;
      }
      const proposal = initiator.receiveChallenge(r.value, now, host.negotiationTtlMs(), host.spis(), host.wantsNegotiation(ex, now));
      if (!proposal) return; // fresh SAs came meanwhile (the peer's negotiation)
      c.challenges_accepted++;
      return host.reply(ex, proposal);
    }
    case MessageType.proposal: {
      // Nothing in it can be checked before its AEAD (Vita's challenge has
      // no cookie): authenticating costs the knocks' budget (unauthenticated
      // work of the responder), so a forged flood cannot take the CPU. It can
      // stop the peer's negotiations with us, not ours with it (each yields
      // both SAs); if ours is near, we rekey now.
      if (!host.spendKnock(ex, now)) {
        c.proposals_ratelimited++;
        ex.sas.rekeyEarly(now);
        return;
      }
      const r = responder.read(payload);
      if (!r.ok) return host.drop(r.reason, from, ex);
      if (!host.spend(ex, now)) {
        r.value.handshake.destroy();
        c.ratelimited++;
        return;
      }
      const a = responder.agree(r.value, host.spis());
      if (!a.ok) return host.drop(a.reason, from, ex);
      // Install before answering: the initiator may send ESP once it has the agreement.
      host.install(ex, a.value.pair, now, 'responder');
      c.keypairs_offered++;
      return host.reply(ex, a.value.agreement);
    }
    case MessageType.agreement: {
      const r = initiator.receiveAgreement(payload);
      if (!r.ok) return host.drop(r.reason, from, ex);
      c.keypairs_negotiated++;
      return host.install(ex, r.value, now, 'initiator');
    }
  }
}
