// A route with several peers (issue 13, docs/scale-out.md "Several peers per
// route") between key managers over the in-memory network: gateway B's
// route lists the two gateways of site A (A1, A2) as peers. Each pair
// negotiates its own SAs (the sink is told the pair), has its own liveness
// (a dead A2 is taken out, A1 stays in), and the per-peer usable seam
// (setPeerUsable, what drain uses) takes a peer out and back. The
// responder finds the pair by the peer's address and checks the decrypted
// static key against that pair's peer: A1's key from A2's address is refused.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { exchangeKey, QueueNumber, RouteId, RouteSpi, type InboundSaSpec, type KeyManagerConfig, type OutboundSaSpec, type RouteConfig } from '../controlplane/exchange/types.js';
import type { TrafficReading } from '../controlplane/exchange/liveness.js';
import { ConfigError, KeyManager } from '../controlplane/keymanager.js';
import { FakeClock, Network, RecordingSink, silent } from './keymanager-harness.js';

const pubOf = (priv: Buffer) => {
  const kp = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]), format: 'der', type: 'pkcs8' });
  return Buffer.from(crypto.createPublicKey(kp).export({ format: 'jwk' }).x!, 'base64url');
};
const priv = { a1: crypto.randomBytes(32), a2: crypto.randomBytes(32), b: crypto.randomBytes(32) };
const pub = { a1: pubOf(priv.a1), a2: pubOf(priv.a2), b: pubOf(priv.b) };
const ADDR = { a1: '192.0.2.1', a2: '192.0.2.2', b: '198.51.100.1' };
const Q1 = QueueNumber(1);
const SITE_A = RouteId('site-a');
const SITE_B = RouteId('site-b');

/** Records SAs by route, queue and pair (a route with several peers has one outbound SA per pair). */
class PairSink extends RecordingSink {
  readonly pairs = new Map<string, { spi: number; pair: number; gatewayAddress: string; keymat: Buffer }>();
  override installInbound(sa: InboundSaSpec): void {
    super.installInbound(sa);
    this.inboundPair.set(sa.spi, sa.pair ?? 0);
  }
  readonly inboundPair = new Map<number, number>();
  override installOutbound(sa: OutboundSaSpec): void {
    super.installOutbound(sa);
    this.pairs.set(exchangeKey(sa.route, sa.queue, sa.pair), { spi: sa.spi, pair: sa.pair ?? 0, gatewayAddress: sa.gatewayAddress, keymat: Buffer.from(sa.keymat) });
  }
  override removeOutbound(route: string, queue: number, spi: number, pair = 0): void {
    super.removeOutbound(route, queue, spi);
    const key = exchangeKey(RouteId(route), QueueNumber(queue), pair);
    if (this.pairs.get(key)?.spi === spi) this.pairs.delete(key);
  }
}

const CONFIG = { saTtl: 20, negotiationTtl: 0.5, livenessInterval: 1, livenessFailures: 1 } satisfies Omit<KeyManagerConfig, 'routes'>;

function routeOfB(peers: Array<{ key: Buffer; address: string }>): RouteConfig {
  const queues = (address: string) => [{ queue: Q1, localAddress: ADDR.b, gatewayAddress: address }];
  return {
    id: SITE_A, spi: RouteSpi(1001), aead: 'aes-gcm-16-icv',
    peerPublicKey: peers[0].key, queues: queues(peers[0].address),
    peers: peers.map((p) => ({ peerPublicKey: p.key, queues: queues(p.address) })),
  };
}

function routeOfA(local: string): RouteConfig {
  return { id: SITE_B, spi: RouteSpi(1001), aead: 'aes-gcm-16-icv', peerPublicKey: pub.b, queues: [{ queue: Q1, localAddress: local, gatewayAddress: ADDR.b }] };
}

interface Node { km: KeyManager; sink: PairSink }

function site(o: { a2Key?: Buffer } = {}) {
  const clock = new FakeClock();
  const net = new Network(clock);
  const usable: Array<[string, number, number, boolean]> = [];
  // What B's data plane would count, per pair: packets B sends and receives.
  const traffic = new Map<number, { inbound: number; outbound: number }>([[0, { inbound: 0, outbound: 0 }], [1, { inbound: 0, outbound: 0 }]]);
  const b: Node = { km: null!, sink: new PairSink(clock) };
  b.km = new KeyManager({ ...CONFIG, privateKey: priv.b, routes: [routeOfB([{ key: pub.a1, address: ADDR.a1 }, { key: pub.a2, address: ADDR.a2 }])] }, {
    sink: b.sink, transport: net.transport(), clock, logger: silent, random: () => 0.5,
    onPairUsable: (route, queue, pair, u) => usable.push([route, queue, pair, u]),
    traffic: () => [...traffic].map(([pair, t]): TrafficReading => ({ route: SITE_A, queue: Q1, pair, ...t })),
  });
  const a = (name: 'a1' | 'a2', key: Buffer = priv[name]): Node => {
    const sink = new PairSink(clock);
    const km = new KeyManager({ ...CONFIG, privateKey: key, routes: [routeOfA(ADDR[name])] }, { sink, transport: net.transport(), clock, logger: silent });
    return { km, sink };
  };
  const a1 = a('a1');
  const a2 = a('a2', o.a2Key ?? priv.a2);
  net.attach(ADDR.b, b.km);
  net.attach(ADDR.a1, a1.km);
  net.attach(ADDR.a2, a2.km);
  const down = new Set<string>();
  net.lose = (d) => down.has(d.from.address) || down.has(d.to.address);
  return {
    clock, net, b, a1, a2, usable, traffic, down,
    run(ms: number, each?: () => void) {
      for (let t = 0; t < ms; t += 10) {
        clock.t += 10;
        for (const n of [b, a1, a2]) n.km.tick();
        net.flush();
        each?.();
      }
    },
  };
}

/** B's pair `pair` and A's route decrypt each other: same SPIs, same keys, both ways. */
function paired(b: PairSink, pair: number, a: PairSink, address: string): boolean {
  const out = b.pairs.get(exchangeKey(SITE_A, Q1, pair));
  const back = a.pairs.get(exchangeKey(SITE_B, Q1, 0));
  if (!out || !back || out.gatewayAddress !== address) return false;
  const aIn = a.inbound.get(out.spi);
  const bIn = b.inbound.get(back.spi);
  return !!aIn && aIn.keymat.equals(out.keymat) && !!bIn && bIn.keymat.equals(back.keymat) && b.inboundPair.get(back.spi) === pair;
}

describe('a route with two peers (key manager)', () => {
  it('each pair negotiates its own SAs; liveness takes a dead peer out and brings it back; setPeerUsable takes one out and back', () => {
    const s = site();
    s.run(500);
    expect(paired(s.b.sink, 0, s.a1.sink, ADDR.a1)).toBe(true);
    expect(paired(s.b.sink, 1, s.a2.sink, ADDR.a2)).toBe(true);
    // Four different SPIs on B (two pairs, each way), nothing refused.
    const spis = [...s.b.sink.pairs.values()].map((p) => p.spi);
    expect(new Set(spis).size).toBe(2);
    expect(s.b.km.counters.rxerrors).toBe(0);
    // State: each pair under its route, with its peer's key.
    const state = s.b.km.state().map((e) => ({ route: e.route, pair: e.pair, peer: e.peer, usable: e.usable, outbound: e.outbound !== null }));
    expect(state).toEqual([
      { route: SITE_A, pair: 0, peer: pub.a1.toString('base64'), usable: true, outbound: true },
      { route: SITE_A, pair: 1, peer: pub.a2.toString('base64'), usable: true, outbound: true },
    ]);
    expect(s.usable).toEqual([[SITE_A, 1, 0, true], [SITE_A, 1, 1, true]]);

    // The seam: A2 set unusable (it announced a drain), then usable again.
    expect(s.b.km.setPeerUsable(pub.a2.toString('base64'), false)).toBe(1);
    expect(s.b.km.peerUsable(SITE_A, pub.a2.toString('base64'))).toBe(false);
    expect(s.b.km.peerUsable(SITE_A, pub.a1.toString('base64'))).toBe(true);
    expect(s.b.km.peerUsable(SITE_A, pub.b.toString('base64'))).toBeUndefined();
    expect(s.b.km.setPeerUsable(pub.a2.toString('base64'), true, SITE_A)).toBe(1);
    expect(s.usable.slice(2)).toEqual([[SITE_A, 1, 1, false], [SITE_A, 1, 1, true]]);
    // Its SAs stayed: a drain is no teardown.
    expect(paired(s.b.sink, 1, s.a2.sink, ADDR.a2)).toBe(true);

    // A2 dies. B keeps sending on both pairs; only A1's pair answers.
    s.down.add(ADDR.a2);
    const step = () => {
      for (const [pair, t] of s.traffic) {
        t.outbound++;
        if (pair === 0) t.inbound++;
      }
    };
    s.run(5000, step);
    expect(s.usable.slice(4)).toEqual([[SITE_A, 1, 1, false]]);
    expect(s.b.km.peerUsable(SITE_A, pub.a2.toString('base64'))).toBe(false);
    expect(s.b.km.liveness.snapshot(exchangeKey(SITE_A, Q1, 1))!.status).toBe('down');
    expect(s.b.km.liveness.snapshot(exchangeKey(SITE_A, Q1, 0))!.status).toBe('up');

    // Back: B's retry (its backoff) reaches it, the pair is negotiated anew and usable again.
    s.down.clear();
    s.run(130_000, () => {
      step();
      s.traffic.get(1)!.inbound++;
    });
    expect(s.usable.slice(5)).toEqual([[SITE_A, 1, 1, true]]);
    expect(paired(s.b.sink, 1, s.a2.sink, ADDR.a2)).toBe(true);
    expect(paired(s.b.sink, 0, s.a1.sink, ADDR.a1)).toBe(true);
  });

  it('a peer added by a reload gets its own pair; the first keeps its SAs; removed again, its SAs go', () => {
    const s = site();
    const one = routeOfB([{ key: pub.a1, address: ADDR.a1 }]);
    s.b.km.configure({ ...CONFIG, privateKey: priv.b, routes: [{ ...one, peers: undefined }] }, [SITE_A]);
    s.run(500);
    expect(paired(s.b.sink, 0, s.a1.sink, ADDR.a1)).toBe(true);
    const first = s.b.sink.pairs.get(exchangeKey(SITE_A, Q1))!;
    s.b.km.configure({ ...CONFIG, privateKey: priv.b, routes: [routeOfB([{ key: pub.a1, address: ADDR.a1 }, { key: pub.a2, address: ADDR.a2 }])] }, [SITE_A]);
    s.run(500);
    expect(paired(s.b.sink, 1, s.a2.sink, ADDR.a2)).toBe(true);
    // The first pair kept its SAs: no outbound SA installed for it since.
    expect(s.b.sink.pairs.get(exchangeKey(SITE_A, Q1))).toBe(first);
    s.b.km.configure({ ...CONFIG, privateKey: priv.b, routes: [{ ...one, peers: undefined }] }, [SITE_A]);
    expect(s.b.sink.pairs.has(exchangeKey(SITE_A, Q1, 1))).toBe(false);
    expect(s.b.sink.pairs.get(exchangeKey(SITE_A, Q1))).toBe(first);
    expect(s.b.km.state().map((e) => e.pair)).toEqual([0]);
  });

  it('the responder checks the static key against the pair its address names: A1\'s key from A2\'s address gets nothing', () => {
    // "A2" holds A1's private key: its proposals name A1's static key from A2's address.
    const s = site({ a2Key: priv.a1 });
    s.run(3000);
    expect(paired(s.b.sink, 0, s.a1.sink, ADDR.a1)).toBe(true);
    expect(s.b.km.counters.authentication_errors).toBeGreaterThan(0);
    expect(s.b.sink.pairs.has(exchangeKey(SITE_A, Q1, 1))).toBe(false);
    expect(s.a2.sink.outbound.size).toBe(0);
  });

  it('refuses two peers at one address, a peer listed twice, more than 8 peers, and NAT traversal with several', () => {
    const base = { ...CONFIG, privateKey: priv.b };
    const make = (r: RouteConfig) => () => new KeyManager({ ...base, routes: [r] }, { sink: new RecordingSink(new FakeClock()), transport: { send() {} }, logger: silent });
    expect(make(routeOfB([{ key: pub.a1, address: ADDR.a1 }, { key: pub.a2, address: ADDR.a1 }]))).toThrow(ConfigError);
    expect(make(routeOfB([{ key: pub.a1, address: ADDR.a1 }, { key: pub.a2, address: ADDR.a1 }]))).toThrow(/another queue or peer of this route has the same local and gateway addresses/);
    expect(make(routeOfB([{ key: pub.a1, address: ADDR.a1 }, { key: pub.a1, address: ADDR.a2 }]))).toThrow(/listed twice/);
    const nine = Array.from({ length: 9 }, (_, i) => ({ key: pubOf(crypto.randomBytes(32)), address: `192.0.2.${10 + i}` }));
    expect(make(routeOfB(nine))).toThrow(/9 peers; a route has at most 8/);
    expect(make({ ...routeOfB([{ key: pub.a1, address: ADDR.a1 }, { key: pub.a2, address: ADDR.a2 }]), natTraversal: 'force' })).toThrow(/no NAT traversal yet/);
  });
});
