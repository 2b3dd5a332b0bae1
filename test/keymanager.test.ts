// Two key managers over an in-memory network, with a clock the test moves:
// matching keys, rekeying, rollover limits, expiry, simultaneous initiation,
// loss and retries, reconfiguration.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MessageType, NOISE_MESSAGE_LENGTH, encodeProposal } from '../controlplane/exchange/messages.js';
import { MAX_INBOUND_SAS } from '../controlplane/exchange/protocol.js';
import { RouteId, RouteSpi } from '../controlplane/exchange/types.js';
import { KeyManager } from '../controlplane/keymanager.js';
import {
  FakeClock, Network, PSK, RecordingSink, crossedNegotiations, outboundWorks, routeTo, silent, world, type Datagram, type World,
} from './keymanager-harness.js';

const type = (d: Datagram) => d.payload[4];

function established(w: World): boolean {
  return outboundWorks(w.a, w.b) && outboundWorks(w.b, w.a);
}

describe('key manager: first negotiation', () => {
  it('installs SA pairs whose keys match across the two gateways', () => {
    const w = world();
    w.run(10);
    expect(established(w)).toBe(true);
    for (const [from, to] of [[w.a, w.b], [w.b, w.a]] as const) {
      const out = from.sink.outbound.get('peer/1')!;
      expect(out.keymat.length).toBe(20); // aes-gcm-16-icv: 16-octet key ‖ 4-octet salt
      expect(out.keymat.equals(Buffer.alloc(20))).toBe(false);
      expect(out.localAddress).toBe(from.address);
      expect(out.gatewayAddress).toBe(to.address);
      expect(out.spi).toBeGreaterThanOrEqual(256);
    }
    // The two directions use different keys.
    expect(w.a.sink.outbound.get('peer/1')!.keymat.equals(w.b.sink.outbound.get('peer/1')!.keymat)).toBe(false);
  });

  it('sends knock, challenge, proposal, agreement and nothing else', () => {
    const w = world({ options: { random: () => 0 } });
    // Only A initiates: B is told about the route after A's negotiation completed.
    w.b.km.configure({ saTtl: 2, negotiationTtl: 0.5, routes: [] });
    w.a.km.tick();
    w.b.km.configure({ saTtl: 2, negotiationTtl: 0.5, routes: [routeTo(w.a.address, w.b.address)] });
    w.net.flush();
    expect(w.net.log.map(type)).toEqual([
      MessageType.knock, MessageType.challenge, MessageType.proposal, MessageType.agreement,
    ]);
    expect(w.net.log.map((d) => d.payload.length)).toEqual([44, 44, 96, 60]);
    expect(w.a.km.counters).toMatchObject({ negotiations_initiated: 1, challenges_accepted: 1, keypairs_negotiated: 1, rxerrors: 0 });
    expect(w.b.km.counters).toMatchObject({ challenges_offered: 1, keypairs_offered: 1, rxerrors: 0 });
    w.run(10);
    expect(established(w)).toBe(true);
    expect(w.b.km.counters.negotiations_initiated).toBe(0);
  });

  it('derives 36 octets of key material for aes-256-gcm-16-icv', () => {
    const w = world({ routeA: { aead: 'aes-256-gcm-16-icv' }, routeB: { aead: 'aes-256-gcm-16-icv' } });
    w.run(10);
    expect(established(w)).toBe(true);
    expect(w.a.sink.outbound.get('peer/1')!.keymat.length).toBe(36);
    expect(w.a.sink.outbound.get('peer/1')!.aead).toBe('aes-256-gcm-16-icv');
  });

  it('works between IPv6 gateways, and spells of an address do not matter', () => {
    const w = world({ addressA: '2001:db8::1', addressB: '2001:db8:0:0::0:2' });
    w.run(10);
    expect(established(w)).toBe(true);
  });

  it('wipes every key buffer it hands to the sink', () => {
    const w = world();
    w.run(3000);
    const handed = [...w.a.sink.handed, ...w.b.sink.handed];
    expect(handed.length).toBeGreaterThan(4);
    for (const b of handed) expect(b.every((x) => x === 0)).toBe(true);
  });

  it('negotiates each queue of a route separately, with distinct SPIs', () => {
    const w = world({ routeA: { queues: 3 }, routeB: { queues: 3 } });
    w.run(10);
    for (const q of [1, 2, 3]) {
      expect(outboundWorks(w.a, w.b, `peer/${q}`)).toBe(true);
      expect(outboundWorks(w.b, w.a, `peer/${q}`)).toBe(true);
    }
    const spis = [...w.a.sink.inbound.keys()];
    expect(new Set(spis).size).toBe(spis.length);
  });

  it('negotiates a route that loops back to the gateway itself', () => {
    const clock = new FakeClock();
    const net = new Network(clock);
    const sink = new RecordingSink(clock);
    const km = new KeyManager({ routes: [routeTo('192.0.2.1', '192.0.2.1')] }, { sink, transport: net.transport(), clock, logger: silent });
    net.attach('192.0.2.1', km);
    km.tick();
    net.flush();
    const self = { km, sink, address: '192.0.2.1' };
    expect(outboundWorks(self, self)).toBe(true);
    expect(km.counters.rxerrors).toBe(0);
  });
});

describe('key manager: SA lifecycle', () => {
  it('rekeys at about half of sa-ttl, keeps at most 4 inbound SAs, expires them, and never loses traffic', () => {
    const w = world(); // sa-ttl 2 s, negotiation-ttl 0.5 s
    w.run(50);
    expect(established(w)).toBe(true);
    let broken = 0;
    w.run(20_000, 10, () => {
      if (!established(w)) broken++;
    });
    expect(broken).toBe(0);
    // Rekeying starts 1.0-1.1 s (REKEY_AFTER 0.5 + REKEY_JITTER 0.05 of 2 s) after
    // the last negotiation, from whichever end's timer fires first (both, now and
    // then, in the same tick).
    const knocks = w.net.log.filter((d) => type(d) === MessageType.knock);
    const rounds = knocks.map((d) => d.at).filter((t, i, all) => i === 0 || t - all[i - 1] > 20);
    for (let i = 1; i < rounds.length; i++) {
      expect(rounds[i] - rounds[i - 1]).toBeGreaterThanOrEqual(1000);
      expect(rounds[i] - rounds[i - 1]).toBeLessThanOrEqual(1110);
    }
    expect(rounds.length).toBeGreaterThanOrEqual(19);
    // One negotiation per round: when both ends knock at once, one yields.
    const negotiated = w.a.km.counters.keypairs_negotiated + w.a.km.counters.keypairs_offered;
    expect(negotiated).toBe(rounds.length);
    expect(w.a.sink.maxInboundPerQueue).toBeLessThanOrEqual(MAX_INBOUND_SAS);
    expect(w.b.sink.maxInboundPerQueue).toBeLessThanOrEqual(MAX_INBOUND_SAS);
    // Each inbound SA is gone within sa-ttl (+ one tick) of its installation.
    for (const side of [w.a, w.b]) {
      const installed = new Map<number, number>();
      for (const e of side.sink.events) {
        if (e.kind === 'in+') installed.set(e.spi, e.at);
        if (e.kind === 'in-') expect(e.at - installed.get(e.spi)!).toBeLessThanOrEqual(2010);
      }
      for (const sa of side.sink.inbound.values()) expect(w.clock.t - sa.at).toBeLessThanOrEqual(2010);
      expect(side.km.counters.rxerrors).toBe(0);
      expect(side.km.counters.outbound_sa_expired).toBe(0); // always replaced in time
    }
    expect(w.a.km.counters.inbound_sa_expired + w.b.km.counters.inbound_sa_expired).toBeGreaterThan(10);
  });

  it('rekeys at the configured fraction of sa-ttl', () => {
    const w = world({ config: { saTtl: 10, negotiationTtl: 1 }, options: { random: () => 0 } });
    w.run(10);
    const first = w.net.log.length;
    w.run(4990, 10);
    expect(w.net.log.length).toBe(first); // nothing before sa-ttl/2
    w.run(20, 10);
    expect(w.net.log.length).toBeGreaterThan(first);
    expect(type(w.net.log[first])).toBe(MessageType.knock);
  });

  it('expires everything at sa-ttl when the peer goes away', () => {
    const w = world();
    w.run(50);
    expect(established(w)).toBe(true);
    w.net.lose = () => true;
    w.run(2100);
    expect(w.a.sink.inbound.size).toBe(0);
    expect(w.a.sink.outbound.size).toBe(0);
    expect(w.a.km.counters.outbound_sa_expired).toBe(1);
    expect(w.a.km.counters.negotiations_expired).toBeGreaterThan(0);
    // ... and negotiates again once it is back.
    w.net.lose = () => false;
    w.run(600);
    expect(established(w)).toBe(true);
  });
});

describe('key manager: both ends and lossy networks', () => {
  it('converges on one negotiation when both ends initiate at once', () => {
    const w = world();
    w.a.km.tick();
    w.b.km.tick(); // both knocks are in flight before either is answered
    expect(w.net.queue.map(type)).toEqual([MessageType.knock, MessageType.knock]);
    w.net.flush();
    expect(w.a.km.counters.negotiations_initiated).toBe(1);
    expect(w.b.km.counters.negotiations_initiated).toBe(1);
    // The end with the lower cookie yielded before proposing: one SA pair.
    expect(w.net.log.map(type).filter((t) => t === MessageType.proposal)).toHaveLength(1);
    expect(w.a.sink.inbound.size).toBe(1);
    expect(established(w)).toBe(true);
    expect(w.a.km.state()[0].negotiation).toBe('idle');
    expect(w.b.km.state()[0].negotiation).toBe('idle');
    w.run(8000, 10);
    expect(established(w)).toBe(true);
    expect(w.a.km.counters.rxerrors + w.b.km.counters.rxerrors).toBe(0);
    expect(w.a.km.counters.negotiations_expired + w.b.km.counters.negotiations_expired).toBe(0);
  });

  it('an end that yielded negotiates itself if the negotiation it yielded to fails', () => {
    const w = world();
    let proposals = 0;
    w.net.lose = (d) => type(d) === MessageType.proposal && proposals++ === 0;
    w.a.km.tick();
    w.b.km.tick();
    w.net.flush();
    expect(w.a.km.state()[0].negotiation === 'yielded' || w.b.km.state()[0].negotiation === 'yielded').toBe(true);
    expect(established(w)).toBe(false);
    const yielded = w.a.km.state()[0].negotiation === 'yielded' ? w.a : w.b;
    w.run(100); // the yielded end holds its challenge for 2 round trips (at least 50 ms), then proposes
    expect(established(w)).toBe(true);
    expect(yielded.km.counters.challenges_accepted).toBe(1);
    w.run(1000);
    expect(established(w)).toBe(true);
    // The end whose proposal was lost answered the other's: its own negotiation
    // was superseded, ended at its negotiation-ttl without counting as expired,
    // and (nothing says the peer sends on the new pair) was retried.
    expect(w.a.km.counters.negotiations_expired + w.b.km.counters.negotiations_expired).toBe(0);
    expect(w.a.km.counters.negotiations_initiated + w.b.km.counters.negotiations_initiated).toBe(3);
    expect(w.a.km.counters.rxerrors + w.b.km.counters.rxerrors).toBe(0);
  });

  it('converges when both ends complete a negotiation each (the crossing seen too late to yield)', () => {
    const w = world();
    // The lower end would yield; it sees the other's knock only after it proposed.
    crossedNegotiations(w, false);
    // In flight: the low end's proposal, then its challenge to the high end. The
    // challenge overtakes the proposal, so the high end proposes too (had it
    // answered the proposal first, it would have dropped its own negotiation).
    expect(w.net.queue.map(type)).toEqual([MessageType.proposal, MessageType.challenge]);
    w.net.queue.reverse();
    w.net.flush();
    expect(w.a.km.counters.keypairs_negotiated + w.a.km.counters.keypairs_offered).toBe(2);
    expect(w.a.sink.inbound.size).toBe(2);
    expect(established(w)).toBe(true);
    w.run(3000);
    expect(established(w)).toBe(true);
    expect(w.a.km.counters.rxerrors + w.b.km.counters.rxerrors).toBe(0);
  });

  it('retries after a lost agreement and updates the SA the responder holds', () => {
    // A's timer always fires first, so A initiates every rekey.
    const w = world({ config: { saTtl: 4, negotiationTtl: 0.5 }, optionsA: { random: () => 0 }, optionsB: { random: () => 0.99 } });
    w.run(50);
    let agreements = 0;
    w.net.lose = (d) => type(d) === MessageType.agreement && agreements++ === 0; // the first rekey's
    let broken = 0;
    w.run(6000, 10, () => {
      if (!established(w)) broken++;
    });
    expect(agreements).toBeGreaterThan(2);
    expect(broken).toBe(0);
    expect(w.a.km.counters.negotiations_expired).toBe(1);
    expect(w.b.km.counters.outbound_sa_updated).toBe(1);
    expect(w.a.km.counters.negotiations_initiated).toBe(agreements + 1);
  });

  it('retries a negotiation whose agreement was lost even when the peer\'s own gave fresh SAs', () => {
    const w = world({ config: { saTtl: 4, negotiationTtl: 0.5 } });
    // Both negotiations run (the crossing is seen too late to yield, as above) ...
    const lowSide = crossedNegotiations(w, true);
    // ... and the low end's agreement is lost: it gets fresh SAs as responder
    // only, while the high end holds an outbound SA under its SPI that it cannot use.
    w.net.lose = (d) => type(d) === MessageType.agreement && d.to.address === lowSide.address;
    w.net.flush();
    w.net.lose = () => false;
    expect(lowSide.km.state()[0].negotiation).toBe('awaiting-agreement');
    let broken = 0;
    w.run(8000, 10, () => {
      if (w.clock.t > 1_000_000 + 600 && !established(w)) broken++;
    });
    expect(broken).toBe(0);
    // Superseded by the peer's negotiation, not expired; retried all the same.
    expect(lowSide.km.counters.negotiations_expired).toBe(0);
    expect((lowSide === w.a ? w.b : w.a).km.counters.outbound_sa_updated).toBe(1);
    expect(w.a.sink.maxInboundPerQueue).toBeLessThanOrEqual(MAX_INBOUND_SAS);
    expect(w.b.sink.maxInboundPerQueue).toBeLessThanOrEqual(MAX_INBOUND_SAS);
  });

  it('a forged knock delays our negotiation by a few round trips at most', () => {
    const w = world();
    w.a.km.tick();
    const knock = w.net.queue[0];
    // Forge B's knock with the highest cookie, so that A yields.
    const forged = Buffer.from(knock.payload);
    forged.fill(0xff, 12, 28);
    w.a.km.receive({ address: w.b.address, port: 303 }, forged, { address: w.a.address, port: 303 });
    expect(w.a.km.state()[0].negotiation).toBe('yielded');
    w.net.queue.splice(1); // drop A's challenge to the forger
    w.net.flush(); // A's knock is answered; A holds the challenge
    expect(w.a.km.state()[0].negotiation).toBe('yielded');
    // Only A's timers run: nothing but A's own negotiation can finish this.
    for (let t = 0; t < 100; t += 10) {
      w.clock.t += 10;
      w.a.km.tick();
      w.net.flush();
    }
    expect(established(w)).toBe(true);
    expect(w.a.km.counters).toMatchObject({ negotiations_expired: 0, keypairs_negotiated: 1, challenges_accepted: 1 });
    expect(w.b.km.counters.negotiations_initiated).toBe(0);
  });

  it('reaches working SAs over a network that loses 30% of datagrams', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const w = world({ config: { saTtl: 4, negotiationTtl: 0.2 } });
    w.net.lose = () => rnd() < 0.3;
    w.run(30_000, 10);
    w.net.lose = () => false;
    w.run(2000);
    expect(established(w)).toBe(true);
    expect(w.a.km.counters.negotiations_expired + w.b.km.counters.negotiations_expired).toBeGreaterThan(0);
    expect(w.a.sink.maxInboundPerQueue).toBeLessThanOrEqual(MAX_INBOUND_SAS);
  });
});

describe('key manager: refusals', () => {
  it('wrong pre-shared key: authentication errors, no SA', () => {
    const w = world({ routeB: { preSharedKey: Buffer.alloc(32, 7) } });
    w.run(3000);
    expect(w.a.sink.inbound.size + w.b.sink.inbound.size).toBe(0);
    expect(w.a.sink.outbound.size + w.b.sink.outbound.size).toBe(0);
    expect(w.a.km.counters.authentication_errors + w.b.km.counters.authentication_errors).toBeGreaterThan(0);
    expect(w.a.km.counters.keypairs_negotiated + w.b.km.counters.keypairs_offered).toBe(0);
  });

  it('mismatched route SPI: route errors, no SA', () => {
    const w = world({ routeB: { spi: RouteSpi(2002) } });
    w.run(1000);
    expect(w.a.sink.inbound.size + w.b.sink.inbound.size).toBe(0);
    expect(w.a.km.counters.route_errors).toBeGreaterThan(0);
    expect(w.b.km.counters.route_errors).toBeGreaterThan(0);
    expect(w.a.km.counters.rxerrors).toBe(w.a.km.counters.route_errors);
  });

  it('mismatched AEAD: parameter errors, no SA', () => {
    const w = world({ routeB: { aead: 'aes-256-gcm-16-icv' } });
    w.run(1000);
    expect(w.a.sink.inbound.size + w.b.sink.inbound.size).toBe(0);
    expect(w.a.km.counters.parameter_errors + w.b.km.counters.parameter_errors).toBeGreaterThan(0);
  });

  it('a message from an address that is not the route gateway: route error', () => {
    const w = world();
    w.a.km.tick();
    const knock = w.net.queue[0].payload;
    w.b.km.receive({ address: '203.0.113.9', port: 303 }, knock);
    expect(w.b.km.counters).toMatchObject({ route_errors: 1, rxerrors: 1, challenges_offered: 0 });
  });

  it('a recorded proposal replayed, at once or later, is refused and changes nothing', () => {
    const w = world();
    w.run(10);
    const proposal = w.net.log.find((d) => type(d) === MessageType.proposal)!;
    const responder = proposal.to.address === w.a.address ? w.a : w.b;
    const before = [...responder.sink.events];
    const replay = () => responder.km.receive(proposal.from, proposal.payload, proposal.to);
    replay(); // within the nonce's lifetime: already used
    expect(responder.km.counters.authentication_errors).toBe(1);
    w.run(1200); // 2+ negotiation-ttls later: its secret has retired
    const events = responder.sink.events.length;
    const keypairs = responder.km.counters.keypairs_offered;
    replay();
    expect(responder.km.counters.authentication_errors).toBe(2);
    expect(responder.km.counters.keypairs_offered).toBe(keypairs);
    expect(responder.sink.events.length).toBe(events);
    expect(responder.sink.events.slice(0, before.length)).toEqual(before);
    expect(w.net.queue.length).toBe(0); // no agreement was sent
  });

  it('rate-limits the challenges the knocks of each source get, and counts what it leaves unanswered', () => {
    const w = world({ options: { rateLimit: { perSecond: 10, burst: 20 } } });
    w.a.km.tick();
    const knock = w.net.queue.shift()!;
    for (let i = 0; i < 100; i++) w.b.km.receive(knock.from, knock.payload, knock.to);
    expect(w.b.km.counters.challenges_offered).toBe(20);
    expect(w.b.km.counters.knocks_ratelimited).toBe(80);
    w.clock.t += 1000; // 10 more tokens
    for (let i = 0; i < 100; i++) w.b.km.receive(knock.from, knock.payload, knock.to);
    expect(w.b.km.counters.challenges_offered).toBe(30);
    // Well-formed knocks are no errors; the other budget is untouched.
    expect(w.b.km.counters.rxerrors).toBe(0);
    expect(w.b.km.counters.ratelimited).toBe(0);
  });

  it('checks a proposal\'s nonce before its budget, and limits only what passed, apart from knocks', () => {
    const w = world({ options: { rateLimit: { perSecond: 10, burst: 20 } } });
    w.a.km.tick();
    const knock = w.net.queue.shift()!;
    for (let i = 0; i < 100; i++) w.b.km.receive(knock.from, knock.payload, knock.to); // B's knock budget is spent
    const nonce = w.net.queue[0].payload.subarray(12, 44); // B's challenge: the same nonce 20 times
    const proposal = (n: Buffer) => encodeProposal(RouteSpi(1001), 'aes-gcm-16-icv', n, crypto.randomBytes(NOISE_MESSAGE_LENGTH));
    // Off-path forgeries (nonces B never issued): refused by the MAC, no budget spent.
    for (let i = 0; i < 1000; i++) w.b.km.receive(knock.from, proposal(crypto.randomBytes(32)), knock.to);
    expect(w.b.km.counters).toMatchObject({ authentication_errors: 1000, ratelimited: 0 });
    // With B's nonce (an on-path attacker saw the challenge): each costs X25519, so these spend the budget.
    for (let i = 0; i < 30; i++) w.b.km.receive(knock.from, proposal(nonce), knock.to);
    expect(w.b.km.counters).toMatchObject({ authentication_errors: 1020, ratelimited: 10, knocks_ratelimited: 80, keypairs_offered: 0 });
  });

  it('keeps at most maxNegotiations in flight, and peers that never answer cannot starve the others', () => {
    const w = world({ optionsA: { maxNegotiations: 2 } });
    const dead = (i: number) => routeTo('203.0.113.7', w.a.address, { id: RouteId(`dead${i}`), spi: RouteSpi(50 + i) });
    const live = (i: number) => routeTo(w.b.address, w.a.address, { id: RouteId(`live${i}`), spi: RouteSpi(60 + i) });
    w.a.km.configure({ saTtl: 2, negotiationTtl: 0.5, routes: [dead(0), dead(1), live(0), live(1)] });
    w.b.km.configure({ saTtl: 2, negotiationTtl: 0.5, routes: [0, 1].map((i) => routeTo(w.a.address, w.b.address, { id: RouteId(`live${i}`), spi: RouteSpi(60 + i) })) });
    w.b.km.stop(); // only A initiates in this test: B is never ticked
    w.a.km.tick();
    expect(w.net.queue.map((d) => d.to.address)).toEqual(['203.0.113.7', '203.0.113.7']);
    w.net.flush();
    for (let t = 0; t < 600; t += 10) {
      w.clock.t += 10;
      w.a.km.tick();
      w.net.flush();
    }
    expect(outboundWorks(w.a, w.b, 'live0/1') && outboundWorks(w.a, w.b, 'live1/1')).toBe(true);
    expect(w.a.km.state().filter((s) => s.negotiation !== 'idle').length).toBeLessThanOrEqual(2);
  });

  it('gives each source a budget in proportion to the exchanges it serves', () => {
    const w = world({ options: { rateLimit: { perSecond: 10, burst: 20 } } });
    const three = ['one', 'two', 'three'].map((id, i) => routeTo(w.a.address, w.b.address, { id: RouteId(id), spi: RouteSpi(10 + i) }));
    w.b.km.configure({ routes: three });
    w.a.km.tick();
    const knock = w.net.queue.shift()!;
    const other = Buffer.from(knock.payload);
    other.writeUInt32BE(11, 0); // the same source, another of its routes
    for (let i = 0; i < 50; i++) w.b.km.receive(knock.from, i % 2 ? other : knock.payload, knock.to);
    expect(w.b.km.counters.route_errors).toBe(25); // route SPI 1001 is not configured on B any more
    expect(w.b.km.counters.challenges_offered).toBe(25);
    for (let i = 0; i < 50; i++) w.b.km.receive(knock.from, other, knock.to);
    expect(w.b.km.counters.challenges_offered).toBe(60); // 3 exchanges × burst 20
    expect(w.b.km.counters.knocks_ratelimited).toBe(15);
  });
});

describe('key manager: configuration', () => {
  const cfg = (routes: ReturnType<typeof routeTo>[]) => ({ saTtl: 2, negotiationTtl: 0.5, routes });

  it('keeps the SAs of routes that did not change, drops those of changed and removed ones', () => {
    const w = world();
    const second = (gw: string, local: string, psk = PSK) => routeTo(gw, local, { id: RouteId('second'), spi: RouteSpi(7), preSharedKey: psk });
    w.a.km.configure(cfg([routeTo(w.b.address, w.a.address), second(w.b.address, w.a.address)]));
    w.b.km.configure(cfg([routeTo(w.a.address, w.b.address), second(w.a.address, w.b.address)]));
    w.run(20);
    expect(outboundWorks(w.a, w.b, 'second/1')).toBe(true);
    const peerOut = w.a.sink.outbound.get('peer/1')!.spi;
    const secondIn = [...w.a.sink.inbound.values()].filter((s) => s.route === 'second').map((s) => s.spi);
    const events = w.a.sink.events.length;

    // Same configuration again (new Buffer objects): nothing happens.
    w.a.km.configure(cfg([routeTo(w.b.address, w.a.address, { preSharedKey: Buffer.from(PSK) }), second(w.b.address, w.a.address)]));
    expect(w.a.sink.events.length).toBe(events);

    // "second" gets a new key: its SAs go, "peer" keeps its own.
    const newKey = Buffer.alloc(32, 9);
    w.a.km.configure(cfg([routeTo(w.b.address, w.a.address), second(w.b.address, w.a.address, newKey)]));
    expect(w.a.sink.outbound.get('peer/1')!.spi).toBe(peerOut);
    expect(w.a.sink.outbound.has('second/1')).toBe(false);
    for (const spi of secondIn) expect(w.a.sink.inbound.has(spi)).toBe(false);
    w.b.km.configure(cfg([routeTo(w.a.address, w.b.address), second(w.a.address, w.b.address, newKey)]));
    w.run(20);
    expect(outboundWorks(w.a, w.b, 'second/1')).toBe(true);
    expect(outboundWorks(w.b, w.a, 'second/1')).toBe(true);

    // "second" is removed: all its SAs go.
    w.a.km.configure(cfg([routeTo(w.b.address, w.a.address)]));
    expect([...w.a.sink.inbound.values()].some((s) => s.route === 'second')).toBe(false);
    expect(w.a.sink.outbound.has('second/1')).toBe(false);
    expect(outboundWorks(w.a, w.b)).toBe(true);
    expect(w.a.km.state().map((s) => s.route)).toEqual(['peer']);
  });

  it('refuses an invalid configuration with its path and changes nothing', () => {
    const w = world();
    w.run(20);
    const state = JSON.stringify(w.a.km.state());
    const bad = routeTo(w.b.address, w.a.address, { preSharedKey: Buffer.alloc(31) });
    expect(() => w.a.km.configure(cfg([bad]))).toThrow('/routes/route[id=peer]/preshared-key: must be 32 octets, got 31');
    const badAddr = routeTo('192.0.2.300', w.a.address);
    expect(() => w.a.km.configure(cfg([badAddr]))).toThrow('/routes/route[id=peer]/queue[id=1]/gateway-address: not an IP address: "192.0.2.300"');
    const dup = [routeTo(w.b.address, w.a.address), routeTo(w.b.address, w.a.address, { id: RouteId('other') })];
    expect(() => w.a.km.configure(cfg(dup))).toThrow('/routes/route[id=other]/spi: 1001 is already the SPI of route "peer"');
    expect(() => w.a.km.configure({ ...cfg([]), saTtl: 0 })).toThrow('/sa-ttl');
    expect(JSON.stringify(w.a.km.state())).toBe(state);
    expect(outboundWorks(w.a, w.b)).toBe(true);
  });

  it('a sink that throws does not take the key manager down', () => {
    const w = world();
    const install = w.b.sink.installInbound.bind(w.b.sink);
    let failures = 1;
    w.b.sink.installInbound = (sa) => {
      if (failures-- > 0) throw new Error('data plane full');
      install(sa);
    };
    w.b.km.configure({ saTtl: 2, negotiationTtl: 0.5, routes: [] }); // only A initiates
    w.a.km.tick();
    w.b.km.configure({ saTtl: 2, negotiationTtl: 0.5, routes: [routeTo(w.a.address, w.b.address)] });
    expect(() => w.net.flush()).not.toThrow();
    expect(w.b.km.counters.rxerrors).toBe(1); // the proposal whose SA could not be installed
    expect(w.b.km.state()[0]).toMatchObject({ inbound: [], outbound: null, queued: [] });
    expect(w.net.log.map(type)).not.toContain(MessageType.agreement); // so A retries
    expect(w.a.sink.inbound.size).toBe(0);
    w.run(1000);
    expect(established(w)).toBe(true);
  });

  it('close() removes every SA', () => {
    const w = world();
    w.run(20);
    w.a.km.close();
    expect(w.a.sink.inbound.size).toBe(0);
    expect(w.a.sink.outbound.size).toBe(0);
  });
});

describe('key manager: real timers', () => {
  it('start() negotiates on its own', async () => {
    const { Network, RecordingSink, FakeClock } = await import('./keymanager-harness.js');
    const net = new Network();
    const clock = new FakeClock(); // only for the sink's timestamps
    const mk = (self: string, peer: string) => {
      const sink = new RecordingSink(clock);
      const km = new KeyManager({ routes: [routeTo(peer, self)] }, { sink, transport: net.transport(), logger: silent, tickInterval: 5 });
      net.attach(self, km);
      return { km, sink, address: self };
    };
    const a = mk('192.0.2.1', '192.0.2.2');
    const b = mk('192.0.2.2', '192.0.2.1');
    const pump = setInterval(() => net.flush(), 1);
    a.km.start();
    b.km.start();
    try {
      for (let i = 0; i < 500 && !(outboundWorks(a, b) && outboundWorks(b, a)); i++) await new Promise((r) => setTimeout(r, 10));
      expect(outboundWorks(a, b) && outboundWorks(b, a)).toBe(true);
    } finally {
      clearInterval(pump);
      a.km.close();
      b.km.close();
    }
  });
});
