// Random and mutated key-exchange messages in the two states
// exchange-fuzz.test.ts does not visit: an initiator waiting for its
// challenge, and a responder whose challenge is out and whose proposal is on
// its way. Each message must get exactly one counted outcome (an error, or a
// challenge for what is still a valid knock), install and remove no SA, and
// send nothing but challenges; afterwards the held-back genuine message
// still completes the negotiation. Together with exchange-fuzz.test.ts this
// is how the key-exchange parser (TypeScript) is fuzzed: property tests with
// fast-check rather than a coverage-guided loop.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageType } from '../controlplane/exchange/messages.js';
import type { KeyManagerCounters } from '../controlplane/keymanager.js';
import { outboundWorks, world, type Datagram, type Side, type World } from './keymanager-harness.js';

const NO_LIMIT = { rateLimit: { perSecond: 1e9, burst: 1e9 } };
const type = (d: Datagram) => d.payload[4];
const ERRORS = ['route_errors', 'protocol_errors', 'version_errors', 'parameter_errors', 'authentication_errors', 'public_key_errors'] as const;

// Genuine messages of a whole exchange between the same two gateways (its
// own nonces and keys), to mutate.
function corpus(): Buffer[] {
  const w = world({ options: NO_LIMIT });
  w.run(10);
  return w.net.log.map((d) => d.payload);
}

function messages(seeds: Buffer[]) {
  const random = fc.uint8Array({ minLength: 0, maxLength: 120 }).map((a) => Buffer.from(a));
  const withHeader = fc.tuple(fc.constantFrom(...seeds), random).map(([c, r]) => Buffer.concat([c.subarray(0, 8), r]));
  const mutated = fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), fc.nat())
    .map(([c, edits, cut]) => {
      const m = Buffer.from(c);
      for (const [at, x] of edits) m[at % m.length] ^= x;
      return cut % 3 === 0 ? m.subarray(0, cut % m.length) : m;
    })
    .filter((m) => !seeds.some((c) => c.equals(m))); // edits that cancel out give back a genuine message
  return fc.tuple(fc.oneof(random, withHeader, mutated), fc.integer({ min: 0, max: 9 }));
}

const sas = (w: World) => JSON.stringify([w.a.sink.events, w.b.sink.events]);

// Delivers one message to `to` (from its peer, or now and then from a
// stranger) and checks its outcome.
function deliver(w: World, to: Side, from: Side, m: Buffer, stranger: boolean): void {
  const before: KeyManagerCounters = { ...to.km.counters };
  const installed = sas(w);
  const src = { address: stranger ? '203.0.113.66' : from.address, port: 303 };
  expect(() => to.km.receive(src, m, { address: to.address, port: 303 })).not.toThrow();
  const c = to.km.counters;
  const errors = ERRORS.reduce((n, k) => n + c[k] - before[k], 0);
  expect(c.rxerrors - before.rxerrors).toBe(errors);
  expect(errors + c.challenges_offered - before.challenges_offered).toBe(1);
  for (const k of ['keypairs_offered', 'keypairs_negotiated', 'challenges_accepted', 'ratelimited'] as const) expect(c[k], k).toBe(before[k]);
  for (const d of w.net.queue.splice(0)) expect(type(d)).toBe(MessageType.challenge);
  expect(sas(w)).toBe(installed);
}

describe('key-exchange messages in the remaining states', () => {
  const seeds = corpus();

  it('an initiator waiting for its challenge: 3,000 messages leave it waiting, the genuine challenge then completes the negotiation', () => {
    const w = world({ options: NO_LIMIT });
    w.a.km.tick(); // only A initiates
    w.net.lose = (d) => type(d) === MessageType.challenge;
    w.net.flush();
    w.net.lose = () => false;
    const challenge = w.net.log.find((d) => type(d) === MessageType.challenge)!;
    expect(w.a.km.state()[0].negotiation).toBe('awaiting-challenge');
    // Not the genuine challenge: whoever has it saw our knock (on-path), and
    // a copy with another responder tag is accepted, as documented.
    fc.assert(
      fc.property(messages(seeds), ([m, n]) => deliver(w, w.a, w.b, m, n === 0)),
      { numRuns: 3000 },
    );
    // A forged knock may have made A yield (documented): then it proposes
    // after a few round trips. Either way the genuine challenge leads to SAs.
    w.a.km.receive(challenge.from, challenge.payload, challenge.to);
    w.net.flush();
    w.run(500);
    expect(outboundWorks(w.a, w.b) && outboundWorks(w.b, w.a)).toBe(true);
    expect(w.a.km.counters.keypairs_negotiated + w.b.km.counters.keypairs_negotiated).toBeGreaterThanOrEqual(1);
  });

  it('a responder whose challenge is out: 3,000 messages, mutated proposals among them, change nothing; the genuine proposal is then accepted once', () => {
    const w = world({ options: NO_LIMIT });
    w.a.km.tick();
    w.net.lose = (d) => type(d) === MessageType.proposal;
    w.net.flush();
    w.net.lose = () => false;
    const proposal = w.net.log.find((d) => type(d) === MessageType.proposal)!;
    expect(w.b.sink.inbound.size).toBe(0);
    fc.assert(
      fc.property(messages([...seeds, proposal.payload, proposal.payload, proposal.payload]), ([m, n]) => deliver(w, w.b, w.a, m, n === 0)),
      { numRuns: 3000 },
    );
    w.b.km.receive(proposal.from, proposal.payload, proposal.to);
    expect(w.b.km.counters.keypairs_offered).toBe(1);
    w.net.flush();
    expect(outboundWorks(w.a, w.b)).toBe(true);
    // And only once.
    const errors = w.b.km.counters.authentication_errors;
    w.b.km.receive(proposal.from, proposal.payload, proposal.to);
    expect(w.b.km.counters.authentication_errors).toBe(errors + 1);
    expect(w.b.km.counters.keypairs_offered).toBe(1);
  });
});
