// Key-exchange datagrams forged from the peer gateway's own address (an
// off-path attacker who knows the route SPI and both addresses), at a rate
// far above the per-source budget, while two key managers rekey on a clock
// the test moves. Forged knocks, challenges, proposals and agreements, and
// genuine messages recorded earlier and replayed, arrive before every
// genuine datagram and at every step. The rekeys must happen when they
// happen without the flood (within one step), no genuine message may be
// refused for budget, and every forgery is counted (docs/security.md,
// "Key-exchange floods").
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MessageType, NOISE_MESSAGE_LENGTH, encodeAgreement, encodeChallenge, encodeKnock, encodeProposal,
} from '../controlplane/exchange/messages.js';
import { NONCE_LENGTH } from '../controlplane/exchange/protocol.js';
import { RouteSpi, type Endpoint } from '../controlplane/exchange/types.js';
import type { KeyManagerCounters } from '../controlplane/keymanager.js';
import { outboundWorks, world, type Datagram, type Side } from './keymanager-harness.js';

const ROUTE = RouteSpi(1001);
const STEP_MS = 10;
const PER_STEP = 20; // forgeries of each kind per 10 ms step at each end: 2,000/s each, 8,000/s in all
const PER_DATAGRAM = 5; // of each kind, just before each genuine datagram

type Kind = 'knock' | 'challenge' | 'proposal' | 'agreement';

function forged(kind: Kind): Buffer {
  const nonce = () => crypto.randomBytes(NONCE_LENGTH);
  const noise = () => crypto.randomBytes(NOISE_MESSAGE_LENGTH);
  switch (kind) {
    case 'knock': return encodeKnock(ROUTE, { cookie: crypto.randomBytes(16) });
    case 'challenge': return encodeChallenge(ROUTE, 'aes-gcm-16-icv', nonce());
    case 'proposal': return encodeProposal(ROUTE, 'aes-gcm-16-icv', nonce(), noise());
    case 'agreement': return encodeAgreement(ROUTE, noise());
  }
}

interface Flood {
  /** Forgeries delivered to each end. */
  sent: Map<Side, number>;
  /** ... of which knocks. */
  knocks: Map<Side, number>;
}

/**
 * Two key managers that rekey every second or so (sa-ttl 2 s); A's timer
 * always fires before B's (fixed jitter), so without a flood A initiates
 * every rekey. With `flood`, B receives every kind of forgery from A's
 * address and A every kind but knocks from B's (see the last test for
 * knocks at both ends).
 */
function scenario(flood: boolean, seconds: number) {
  const w = world({ optionsA: { random: () => 0.1 }, optionsB: { random: () => 0.9 } });
  w.run(50);
  expect(outboundWorks(w.a, w.b) && outboundWorks(w.b, w.a)).toBe(true);
  const recorded = w.net.log.map((d) => ({ ...d }));
  const f: Flood = { sent: new Map([[w.a, 0], [w.b, 0]]), knocks: new Map([[w.a, 0], [w.b, 0]]) };
  const before = { a: { ...w.a.km.counters }, b: { ...w.b.km.counters }, eventsA: w.a.sink.events.length, eventsB: w.b.sink.events.length };
  const burst = (to: Side, n: number) => {
    const peer = to === w.a ? w.b : w.a;
    const from: Endpoint = { address: peer.address, port: 303 };
    const at: Endpoint = { address: to.address, port: 303 };
    const kinds: Kind[] = to === w.b ? ['knock', 'challenge', 'proposal', 'agreement'] : ['challenge', 'proposal', 'agreement'];
    const replays = recorded.filter((d) => d.from.address === peer.address && (to === w.b || d.payload[4] !== MessageType.knock));
    for (let i = 0; i < n; i++) {
      for (const kind of kinds) to.km.receive(from, forged(kind), at);
      const replay = replays[i % replays.length];
      to.km.receive(from, replay.payload, at);
      f.sent.set(to, f.sent.get(to)! + kinds.length + 1);
      f.knocks.set(to, f.knocks.get(to)! + (to === w.b ? 1 : 0) + (replay.payload[4] === MessageType.knock ? 1 : 0));
    }
  };
  if (flood) {
    // Before each genuine datagram is delivered, so forgeries meet every state of a negotiation.
    w.net.lose = (d: Datagram) => {
      burst(d.to.address === w.a.address ? w.a : w.b, PER_DATAGRAM);
      return false;
    };
  }
  let broken = 0;
  for (let t = 0; t < seconds * 1000; t += STEP_MS) {
    if (flood) {
      burst(w.b, PER_STEP);
      burst(w.a, PER_STEP);
    }
    w.run(STEP_MS, STEP_MS);
    if (!outboundWorks(w.a, w.b) || !outboundWorks(w.b, w.a)) broken++;
  }
  const outAt = (s: Side, from: number) => s.sink.events.slice(from).filter((e) => e.kind === 'out+').map((e) => e.at);
  const delta = (s: Side, c: KeyManagerCounters) =>
    Object.fromEntries(Object.entries(s.km.counters).map(([k, v]) => [k, v - c[k as keyof KeyManagerCounters]])) as KeyManagerCounters;
  return { w, f, broken, outA: outAt(w.a, before.eventsA), outB: outAt(w.b, before.eventsB), a: delta(w.a, before.a), b: delta(w.b, before.b) };
}

describe('key manager: forgeries from the peer gateway\'s address', () => {
  it('at 8,000/s at each end never delay a rekey, spend no genuine budget, and are all counted', () => {
    const calm = scenario(false, 6);
    const flood = scenario(true, 6);
    console.log(`forgeries: ${flood.f.sent.get(flood.w.b)} at B (${flood.f.knocks.get(flood.w.b)} knocks), ${flood.f.sent.get(flood.w.a)} at A; ` +
      `rekeys ${flood.outA.length} at A, ${flood.outB.length} at B (calm: ${calm.outA.length}, ${calm.outB.length})`);

    // Without the flood A starts every rekey; with it, A's knocks are lost
    // among forged ones at B, and B, seeing knocks over budget when its own
    // rekey is near, starts it: the new SAs come at the same times, one step
    // later at most.
    expect(calm.a.negotiations_initiated).toBeGreaterThanOrEqual(5);
    expect(calm.b.negotiations_initiated).toBe(0);
    expect(flood.b.negotiations_initiated).toBeGreaterThanOrEqual(5);
    for (const side of ['outA', 'outB'] as const) {
      expect(flood[side].length).toBe(calm[side].length);
      flood[side].forEach((t, i) => {
        expect(t).toBeGreaterThanOrEqual(calm[side][i]);
        expect(t - calm[side][i]).toBeLessThanOrEqual(STEP_MS);
      });
    }
    expect(calm.broken).toBe(0);
    expect(flood.broken).toBe(0);

    // No genuine message was refused for budget, and no negotiation B started failed.
    expect(flood.a.ratelimited + flood.b.ratelimited).toBe(0);
    expect(flood.b.negotiations_expired).toBe(0);
    expect(flood.b.keypairs_negotiated).toBe(flood.b.negotiations_initiated);

    // Every forgery at B is counted once: an error, a knock over budget, or
    // (within budget) a knock answered.
    const b = flood.b;
    expect(calm.b.rxerrors + calm.b.knocks_ratelimited).toBe(0);
    const genuineKnocksAtB = flood.a.negotiations_initiated; // A's own knocks, lost among the forged ones
    expect(b.rxerrors + b.knocks_ratelimited + b.challenges_offered).toBe(flood.f.sent.get(flood.w.b)! + genuineKnocksAtB);
    expect(b.knocks_ratelimited).toBeGreaterThan(0.99 * flood.f.knocks.get(flood.w.b)!);
    // The knock budget bounds what B reflects towards A: burst 40 + 20/s.
    expect(b.challenges_offered).toBeLessThanOrEqual(40 + 20 * 6 + 1);
    expect(b.authentication_errors).toBeGreaterThan(0); // forged proposals: not our nonce
    // At A: the forgeries, and B's answers to the forged knocks (no use to A).
    expect(flood.a.rxerrors).toBe(flood.f.sent.get(flood.w.a)! + b.challenges_offered);
  });

  it('knocks forged at both ends: each reflects no more than its budget and spends nothing else on them', () => {
    // With forged knocks flooding both ends, neither answers the other's
    // genuine knock but by luck: a known limitation (docs/security.md).
    const w = world();
    w.run(50);
    const fromA = { address: w.a.address, port: 303 }, fromB = { address: w.b.address, port: 303 };
    const atA = { address: w.a.address, port: 303 }, atB = { address: w.b.address, port: 303 };
    for (let t = 0; t < 3000; t += STEP_MS) {
      for (let i = 0; i < PER_STEP; i++) {
        w.b.km.receive(fromA, forged('knock'), atB);
        w.a.km.receive(fromB, forged('knock'), atA);
      }
      w.run(STEP_MS, STEP_MS);
    }
    for (const s of [w.a, w.b]) {
      expect(s.km.counters.challenges_offered).toBeLessThanOrEqual(1 + 40 + 20 * 3 + 1);
      expect(s.km.counters.ratelimited).toBe(0);
      expect(s.km.counters.knocks_ratelimited).toBeGreaterThan(0.9 * PER_STEP * 300);
    }
  });
});

