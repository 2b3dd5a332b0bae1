// Fuzzing vita-ske v5's message parser (fast-check), seeded with the
// specification's §12 example (test/vectors/vita-ske/example-v5.json) and
// messages recorded between two of our key managers: random, mutated,
// truncated, extended and retyped messages, delivered to a vita-ske-v5 route.
// Each has exactly one outcome, counted: an error (rxerrors and one
// *_errors counter) or, for what is still a knock, a challenge; none throws,
// installs or removes an SA, or moves a negotiation along. 10,000 messages.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageType } from '../controlplane/exchange/messages.js';
import type { KeyManagerCounters } from '../controlplane/keymanager.js';
import {
  CHALLENGE_LENGTH, KNOCK_LENGTH, PROPOSAL_LENGTH, decodeChallenge, decodeHandshake, decodeHeader, decodePayload, wellFormed,
} from '../controlplane/vita-ske/messages.js';
import { world, type Side, type World } from './keymanager-harness.js';
import { mutatedMessage, randomForRoute, randomMessage, retypedMessage } from './support/message-mutations.js';
import { VECTORS } from './support/vectors.js';

const example = JSON.parse(fs.readFileSync(path.join(VECTORS, 'vita-ske/example-v5.json'), 'utf8'));
const seeds = ['knock', 'challenge', 'proposal', 'agreement'].map((k) => Buffer.from(example[k], 'hex'));
const NO_LIMIT = { rateLimit: { perSecond: 1e9, burst: 1e9 } };
const VITA = { protocol: 'vita-ske-v5' as const };
const ERRORS = ['route_errors', 'protocol_errors', 'version_errors', 'parameter_errors', 'authentication_errors', 'public_key_errors'] as const;
const NOT_ERRORS: (keyof KeyManagerCounters)[] = [
  'negotiations_initiated', 'negotiations_expired', 'challenges_accepted', 'keypairs_offered', 'keypairs_negotiated',
  'inbound_sa_expired', 'outbound_sa_expired', 'outbound_sa_updated', 'ratelimited', 'knocks_ratelimited', 'proposals_ratelimited',
];

function messages(corpus: Buffer[]) {
  // Random bodies of exactly a type's length: past the length check.
  const exactLength = fc.tuple(fc.constantFrom(...corpus), fc.uint8Array({ minLength: 80, maxLength: 80 }))
    .map(([c, r]) => Buffer.concat([c.subarray(0, 8), Buffer.from(r)]).subarray(0, c.length));
  return fc.tuple(
    fc.oneof(randomMessage(100), randomForRoute(corpus, 100), exactLength, mutatedMessage(corpus), retypedMessage(corpus)),
    fc.integer({ min: 0, max: 19 }),
  );
}

const snapshot = (w: World) => JSON.stringify([w.a.km.state(), w.b.km.state(), w.a.sink.events.length, w.b.sink.events.length]);

function deliverAndCheck(w: World, to: Side, from: Side, m: Buffer, stranger: boolean, state: string) {
  const before = { ...to.km.counters };
  const src = stranger ? { address: '203.0.113.66', port: 303 } : { address: from.address, port: 303 };
  expect(() => to.km.receive(src, m, { address: to.address, port: 303 })).not.toThrow();
  const c = to.km.counters;
  const errors = ERRORS.reduce((n, k) => n + c[k] - before[k], 0);
  expect(c.rxerrors - before.rxerrors).toBe(errors);
  expect(errors + c.challenges_offered - before.challenges_offered).toBe(1);
  for (const n of NOT_ERRORS) expect(c[n], n).toBe(before[n]);
  for (const d of w.net.queue.splice(0)) {
    expect(d.payload[4]).toBe(MessageType.challenge);
    expect(d.payload.length).toBe(CHALLENGE_LENGTH);
  }
  expect(snapshot(w)).toBe(state);
}

describe('vita-ske v5 parser (fast-check)', () => {
  it('the decoders never throw and accept exactly the lengths of the spec', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), fc.constantFrom(11, 12, 13, 14, 7), (a, type) => {
        const m = Buffer.from(a);
        if (m.length > 4) m[4] = type;
        const lengths: Record<number, number> = { 11: KNOCK_LENGTH, 12: CHALLENGE_LENGTH, 13: PROPOSAL_LENGTH, 14: PROPOSAL_LENGTH };
        expect(wellFormed(m)).toBe(m.length >= 8 && lengths[m[4]] === m.length);
        expect(decodeHeader(m) === null).toBe(m.length < 8);
        const ch = decodeChallenge(m);
        if (ch.ok) expect(m.length).toBe(CHALLENGE_LENGTH);
        for (const t of [13, 14] as const) if (decodeHandshake(m, t)) expect(m.length).toBe(PROPOSAL_LENGTH);
        expect(decodePayload(m.subarray(0, 32)) === null).toBe(m.length < 32);
      }),
      { numRuns: 2000 },
    );
  });

  it('the example\'s messages (seeds) parse as the types they are', () => {
    expect(seeds.map((s) => wellFormed(s))).toEqual([true, true, true, true]);
    expect(decodeChallenge(seeds[1])).toMatchObject({ ok: true });
  });

  it('established SAs: 8,000 random and mutated messages to either end change nothing, each counted once', () => {
    const w = world({ options: NO_LIMIT, routeA: VITA, routeB: VITA });
    w.run(10);
    w.net.queue.length = 0;
    expect(w.a.km.state()[0].outbound).not.toBeNull();
    const corpus = [...seeds, ...w.net.log.map((d) => d.payload)];
    const state = snapshot(w);
    fc.assert(
      fc.property(messages(corpus), fc.boolean(), ([m, n], toA) => {
        const [to, from] = toA ? [w.a, w.b] : [w.b, w.a];
        deliverAndCheck(w, to, from, m, n === 0, state);
      }),
      { numRuns: 8000 },
    );
  });
});
