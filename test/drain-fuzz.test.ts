// The drain message's fuzz target (fast-check, as test/exchange-fuzz.test.ts
// for the other messages): random, mutated and retyped drain and drain-ack
// messages, made from genuine ones, to a gateway whose peer is draining and
// to the drainer. Each is refused and counted as exactly one error, none
// throws, none is answered, none changes who drains.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DRAIN_ACK_TYPE, DRAIN_TYPE } from '../controlplane/exchange/drain.js';
import { DROP_COUNTER } from '../controlplane/exchange/counters.js';
import { RouteId } from '../controlplane/exchange/types.js';
import { world, type Side } from './keymanager-harness.js';
import { mutatedMessage, randomForRoute, randomMessage } from './support/message-mutations.js';

const ERRORS = Object.values(DROP_COUNTER);

describe('fuzzing the drain message', () => {
  it('4,000 random and mutated drain messages to either end: each one error, nothing sent, nothing changed', () => {
    const w = world({ config: { saTtl: 600, negotiationTtl: 0.5 } });
    w.run(50);
    w.a.km.drain(true);
    w.run(10);
    const corpus = w.net.log.filter((d) => d.payload[4] === DRAIN_TYPE || d.payload[4] === DRAIN_ACK_TYPE).map((d) => d.payload);
    expect(corpus.length).toBe(2);
    expect(w.b.km.routeDraining(RouteId('peer'))).toBe(true);
    const retyped = fc.tuple(fc.constantFrom(...corpus), fc.constantFrom(DRAIN_TYPE, DRAIN_ACK_TYPE)).map(([c, t]) => {
      const m = Buffer.from(c);
      m[4] = t;
      return m;
    }).filter((m) => !corpus.some((c) => c.equals(m)));
    const sent = w.net.log.length;
    fc.assert(
      fc.property(fc.oneof(randomMessage(60), randomForRoute(corpus, 40), mutatedMessage(corpus), retyped), fc.boolean(), (m, toA) => {
        // A mutation that gave back a genuine message is a replay: refused too (its counter).
        const [to, from]: [Side, Side] = toA ? [w.a, w.b] : [w.b, w.a];
        const before = { ...to.km.counters };
        expect(() => to.km.receive({ address: from.address, port: 303 }, m, { address: to.address, port: 303 })).not.toThrow();
        const c = to.km.counters;
        const errors = ERRORS.reduce((n, k) => n + c[k] - before[k], 0);
        expect({ rx: c.rxerrors - before.rxerrors, errors }).toEqual({ rx: 1, errors: 1 });
        expect(c.drains_accepted + c.drain_acks_accepted).toBe(before.drains_accepted + before.drain_acks_accepted);
        expect(w.net.log.length).toBe(sent);
        expect(w.b.km.routeDraining(RouteId('peer'))).toBe(true);
      }),
      { numRuns: 4000 },
    );
  });
});
