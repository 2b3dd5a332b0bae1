// Random and mutated key-exchange messages (fast-check): every one is counted
// as an error (or, for a knock that is still a valid knock, answered with a
// stateless challenge); none throws, installs or removes an SA, or moves a
// negotiation along. 18,000 messages in all, 6,000 of them to public-key
// routes (Noise IKpsk2, 176-octet proposals and 92-octet agreements, NAT detection in their payloads).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageType } from '../controlplane/exchange/messages.js';
import type { KeyManagerCounters } from '../controlplane/keymanager.js';
import crypto from 'node:crypto';
import { generateKeyPair } from '../controlplane/exchange/primitives.js';
import { world, type Datagram, type Side, type World } from './keymanager-harness.js';
import { mutatedMessage, randomForRoute, randomMessage, retypedMessage } from './support/message-mutations.js';

const NO_LIMIT = { rateLimit: { perSecond: 1e9, burst: 1e9 } };
const type = (d: Datagram) => d.payload[4];

// A message: random bytes, or a recorded genuine one with some octets
// changed, truncated or extended; delivered from the peer's own address
// (so it reaches the route) or now and then from a stranger.
function messages(corpus: Buffer[]) {
  // Keep the genuine route SPI most of the time so messages get past routing.
  const retyped = retypedMessage(corpus).filter((m) => !corpus.some((c) => c.equals(m)));
  return fc.tuple(fc.oneof(randomMessage(200), randomForRoute(corpus, 200), mutatedMessage(corpus), retyped), fc.integer({ min: 0, max: 19 }));
}

function snapshot(w: World) {
  return JSON.stringify([w.a.km.state(), w.b.km.state(), w.a.sink.events.length, w.b.sink.events.length]);
}

const NOT_ERRORS: (keyof KeyManagerCounters)[] = [
  'negotiations_initiated', 'negotiations_expired', 'challenges_accepted', 'keypairs_offered', 'keypairs_negotiated',
  'inbound_sa_expired', 'outbound_sa_expired', 'outbound_sa_updated', 'ratelimited',
];

function deliver(w: World, to: Side, from: Side, m: Buffer, stranger: boolean) {
  const src = stranger ? { address: '203.0.113.66', port: 303 } : { address: from.address, port: 303 };
  expect(() => to.km.receive(src, m, { address: to.address, port: 303 })).not.toThrow();
}

function check(w: World, to: Side, before: KeyManagerCounters, state: string) {
  const c = to.km.counters;
  const errors = c.route_errors + c.protocol_errors + c.version_errors + c.parameter_errors + c.authentication_errors + c.public_key_errors + c.drain_errors;
  const was = before.route_errors + before.protocol_errors + before.version_errors + before.parameter_errors + before.authentication_errors + before.public_key_errors + before.drain_errors;
  // Exactly one outcome per message: one error (counted twice: rxerrors and
  // its reason), or one challenge offered.
  expect(c.rxerrors - before.rxerrors).toBe(errors - was);
  expect(c.rxerrors - before.rxerrors + c.challenges_offered - before.challenges_offered).toBe(1);
  for (const n of NOT_ERRORS) expect(c[n], n).toBe(before[n]);
  // The only thing ever sent is a challenge, in answer to a valid knock.
  for (const d of w.net.queue.splice(0)) expect(type(d)).toBe(MessageType.challenge);
  expect(snapshot(w)).toBe(state);
}

describe('fuzzing the key manager', () => {
  it('established SAs: 8,000 random and mutated messages to either end change nothing', () => {
    const w = world({ options: NO_LIMIT });
    w.run(10);
    w.net.queue.length = 0;
    const corpus = w.net.log.map((d) => d.payload);
    // Both ends initiated; one yielded, so its challenge went unanswered.
    expect(corpus.map((m) => m[4])).toEqual([11, 11, 12, 12, 13, 14]);
    const state = snapshot(w);
    fc.assert(
      fc.property(messages(corpus), fc.boolean(), ([m, n], toA) => {
        const [to, from] = toA ? [w.a, w.b] : [w.b, w.a];
        const before = { ...to.km.counters };
        deliver(w, to, from, m, n === 0);
        check(w, to, before, state);
      }),
      { numRuns: 8000 },
    );
  });

  it('a negotiation awaiting its agreement: 4,000 messages do not disturb it, the genuine agreement then completes it', () => {
    const w = world({ options: NO_LIMIT });
    // Only A initiates; hold B's agreement back.
    w.a.km.tick();
    w.net.lose = (d) => type(d) === MessageType.agreement;
    w.net.flush();
    w.net.lose = () => false;
    const agreement = w.net.log.find((d) => type(d) === MessageType.agreement)!;
    const corpus = w.net.log.map((d) => d.payload);
    expect(w.a.km.state()[0].negotiation).toBe('awaiting-agreement');
    const state = snapshot(w);
    fc.assert(
      fc.property(messages(corpus), ([m, n]) => {
        const before = { ...w.a.km.counters };
        deliver(w, w.a, w.b, m, n === 0);
        check(w, w.a, before, state);
      }),
      { numRuns: 4000 },
    );
    w.a.km.receive(agreement.from, agreement.payload, agreement.to);
    expect(w.a.km.counters.keypairs_negotiated).toBe(1);
    expect(w.a.km.state()[0].negotiation).toBe('idle');
    expect(w.a.sink.outbound.size).toBe(1);
  });
});

describe('fuzzing the key manager, public-key routes (IKpsk2)', () => {
  // Raw private keys in, as the key files give them.
  const raw = () => {
    const kp = generateKeyPair();
    return { priv: Buffer.from(kp.privateKey.export({ format: 'jwk' }).d!, 'base64url'), pub: kp.publicKey };
  };
  const ka = raw();
  const kb = raw();
  const pkWorld = () => world({
    options: NO_LIMIT,
    configA: { saTtl: 2, negotiationTtl: 0.5, privateKey: ka.priv },
    configB: { saTtl: 2, negotiationTtl: 0.5, privateKey: kb.priv },
    routeA: { peerPublicKey: kb.pub, preSharedKey: crypto.createHash('sha256').update('fuzz psk').digest() },
    routeB: { peerPublicKey: ka.pub, preSharedKey: crypto.createHash('sha256').update('fuzz psk').digest() },
  });

  it('established SAs: 6,000 random and mutated messages (176-octet proposals among them) to either end change nothing', () => {
    const w = pkWorld();
    w.run(10);
    w.net.queue.length = 0;
    const corpus = w.net.log.map((d) => d.payload);
    expect(corpus.some((m) => m[4] === MessageType.proposal && m.length === 176)).toBe(true);
    const state = snapshot(w);
    fc.assert(
      fc.property(messages(corpus), fc.boolean(), ([m, n], toA) => {
        const [to, from] = toA ? [w.a, w.b] : [w.b, w.a];
        const before = { ...to.km.counters };
        deliver(w, to, from, m, n === 0);
        check(w, to, before, state);
      }),
      { numRuns: 6000 },
    );
  });
});
