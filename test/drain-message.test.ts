// The key exchange's drain message (controlplane/exchange/drain.ts,
// docs/key-exchange.md "Drain"): its octets (a known answer and a
// differential check of the key and MAC against Node's crypto directly),
// strict decoding, and both ends over the in-memory network: a valid notice
// marks the peer draining and is acknowledged; forged, replayed, truncated or
// stale ones are refused and counted (drain_errors, protocol_errors,
// version_errors); a lost ack is made good by retransmission; cancel; the
// same for public-key routes.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DRAIN_ACK_TYPE, DRAIN_LENGTH, DRAIN_TYPE, authenticDrain, decodeDrain, drainKey, encodeDrain } from '../controlplane/exchange/drain.js';
import { HOLD_MS, REFRESH_MS, RETRANSMIT_MS } from '../controlplane/exchange/drain-notices.js';
import { QueueNumber, RouteId, RouteSpi } from '../controlplane/exchange/types.js';
import { KeyManager } from '../controlplane/keymanager.js';
import { FakeClock, Network, PSK, RecordingSink, silent, world, type Datagram, type World } from './keymanager-harness.js';
import { B as B_ADDR, NAT_T, NatWorld, ROUTE as NAT_ROUTE } from './support/nat-world.js';

const type = (d: Datagram) => d.payload[4];
const drains = (w: World) => w.net.log.filter((d) => type(d) === DRAIN_TYPE);
const acks = (w: World) => w.net.log.filter((d) => type(d) === DRAIN_ACK_TYPE);
const route = RouteId('peer');

// Node's crypto alone, as the format says: key = HMAC-BLAKE2s(BLAKE2s(label), psk ‖ shared ‖ route SPI).
function referenceKey(psk: Buffer, shared: Buffer | null, routeSpi: number): Buffer {
  const label = crypto.createHash('blake2s256').update('vitesse drain v1').digest();
  const spi = Buffer.alloc(4);
  spi.writeUInt32BE(routeSpi);
  return crypto.createHmac('blake2s256', label).update(Buffer.concat([psk, shared ?? Buffer.alloc(0), spi])).digest();
}

describe('drain message: octets', () => {
  const psk = Buffer.alloc(32, 0x11);
  const sender = Buffer.alloc(16, 0xaa);
  const receiver = Buffer.alloc(16, 0xbb);
  const msg = { routeSpi: RouteSpi(1001), ack: false, draining: true, spi: 0x01020304, counter: 0x0102030405060708n };

  it('key and MAC are Node crypto\'s HMAC-BLAKE2s over the documented fields; a known answer pins the layout', () => {
    const key = drainKey(psk, null, 1001);
    expect(key).toEqual(referenceKey(psk, null, 1001));
    const shared = crypto.randomBytes(32);
    expect(drainKey(psk, shared, 7)).toEqual(referenceKey(psk, shared, 7));
    const m = encodeDrain(key, msg, sender, receiver);
    expect(m.length).toBe(DRAIN_LENGTH);
    const mac = crypto.createHmac('blake2s256', key).update(Buffer.concat([m.subarray(0, 24), sender, receiver])).digest().subarray(0, 16);
    expect(m.subarray(24)).toEqual(mac);
    expect(m.subarray(0, 24).toString('hex')).toBe('000003e90f000000' + '01010000' + '01020304' + '0102030405060708');
    expect(m.toString('hex')).toMatchInlineSnapshot(`"000003e90f00000001010000010203040102030405060708122ce909396c81777fdab24fa2f4519f"`);
    expect(authenticDrain(key, m, sender, receiver)).toBe(true);
    expect(decodeDrain(m)).toEqual({ ok: true, msg });
  });

  it('is refused reflected, passed off as an ack, under another key, or with any octet changed', () => {
    const key = drainKey(psk, null, 1001);
    const m = encodeDrain(key, msg, sender, receiver);
    expect(authenticDrain(key, m, receiver, sender)).toBe(false);
    const asAck = Buffer.from(m);
    asAck[4] = DRAIN_ACK_TYPE;
    expect(authenticDrain(key, asAck, sender, receiver)).toBe(false);
    expect(authenticDrain(drainKey(Buffer.alloc(32, 0x12), null, 1001), m, sender, receiver)).toBe(false);
    expect(authenticDrain(drainKey(psk, null, 1002), m, sender, receiver)).toBe(false);
    for (let i = 0; i < m.length; i++) {
      const x = Buffer.from(m);
      x[i] ^= 0x40;
      expect(authenticDrain(key, x, sender, receiver), `octet ${i}`).toBe(false);
    }
  });

  it('decodes strictly: length, version, reserved octets, state', () => {
    const m = encodeDrain(Buffer.alloc(32), msg, sender, receiver);
    expect(decodeDrain(m.subarray(0, 39))).toEqual({ ok: false, reason: 'protocol' });
    expect(decodeDrain(Buffer.concat([m, Buffer.alloc(1)]))).toEqual({ ok: false, reason: 'protocol' });
    expect(decodeDrain(m.subarray(0, 8))).toEqual({ ok: false, reason: 'protocol' });
    const edit = (at: number, v: number) => {
      const x = Buffer.from(m);
      x[at] = v;
      return decodeDrain(x);
    };
    expect(edit(8, 2)).toEqual({ ok: false, reason: 'version' });
    for (const at of [5, 6, 7, 10, 11]) expect(edit(at, 1)).toEqual({ ok: false, reason: 'protocol' });
    expect(edit(9, 2)).toEqual({ ok: false, reason: 'protocol' });
    expect(edit(4, 14)).toEqual({ ok: false, reason: 'protocol' });
    expect(edit(9, 0)).toMatchObject({ ok: true, msg: { draining: false } });
  });
});

function established(w: World): void {
  w.run(50);
  expect(w.a.sink.outbound.size).toBe(1);
  expect(w.b.sink.outbound.size).toBe(1);
}

describe('drain message between two key managers', () => {
  it('a drain marks the peer draining and is acknowledged once; refreshed; cancel takes it back', () => {
    const w = world({ config: { saTtl: 120, negotiationTtl: 0.5 } }); // no rekey meanwhile: each new pair is told again
    established(w);
    expect(w.b.km.routeDraining(route)).toBe(false);
    w.a.km.drain(true);
    w.run(10);
    expect(drains(w).length).toBe(1);
    expect(acks(w).length).toBe(1);
    expect(w.b.km.routeDraining(route)).toBe(true);
    expect(w.a.km.routeDraining(route)).toBe(false);
    expect(w.a.km.drains.progress()).toEqual([{ route, queue: 1, pair: 0, status: 'acknowledged' }]);
    expect(w.b.km.counters).toMatchObject({ drains_accepted: 1, drain_errors: 0, rxerrors: 0 });
    expect(w.a.km.counters).toMatchObject({ drains_sent: 1, drain_acks_accepted: 1, drain_errors: 0, rxerrors: 0 });
    // Nothing more until the refresh.
    w.run(REFRESH_MS - 100);
    expect(drains(w).length).toBe(1);
    w.run(200);
    expect(drains(w).length).toBe(2);
    expect(w.b.km.counters.drains_accepted).toBe(2);
    w.a.km.drain(false);
    w.run(10);
    expect(w.b.km.routeDraining(route)).toBe(false);
    expect(w.a.km.counters.drain_acks_accepted).toBe(3);
    // In service: no refresh.
    w.run(2 * REFRESH_MS);
    expect(drains(w).length).toBe(3);
  });

  it('tells the peer again on each new SA pair while draining (a peer that restarted forgot)', () => {
    const w = world(); // sa-ttl 2 s: a new pair about every second
    established(w);
    w.a.km.drain(true);
    w.run(5000);
    const pairs = w.a.km.counters.keypairs_negotiated + w.a.km.counters.keypairs_offered;
    expect(drains(w).length).toBeGreaterThanOrEqual(4);
    expect(drains(w).length).toBeLessThanOrEqual(pairs + 1);
    expect(w.b.km.counters.drain_errors).toBe(0);
    expect(w.b.km.routeDraining(route)).toBe(true);
  });

  it('reports the peer draining through onPeerDraining', () => {
    const seen: Array<[string, number, number, boolean]> = [];
    const w = world({ optionsB: { onPeerDraining: (r, q, p, d) => seen.push([r, q, p, d]) } });
    established(w);
    w.a.km.drain(true);
    w.run(10);
    w.a.km.drain(false);
    w.run(10);
    expect(seen).toEqual([['peer', 1, 0, true], ['peer', 1, 0, false]]);
  });

  it('a lost drain or ack is retransmitted with a new counter until acknowledged', () => {
    const w = world();
    established(w);
    let lose = 3;
    w.net.lose = (d) => (type(d) === DRAIN_TYPE || type(d) === DRAIN_ACK_TYPE) && lose-- > 0;
    w.a.km.drain(true);
    w.run(10);
    expect(w.a.km.drains.progress()[0].status).toBe('told');
    w.run(4 * RETRANSMIT_MS);
    expect(w.b.km.routeDraining(route)).toBe(true);
    expect(w.a.km.drains.progress()[0].status).toBe('acknowledged');
    const counters = drains(w).map((d) => d.payload.readBigUInt64BE(16));
    expect(new Set(counters).size).toBe(counters.length);
    expect(counters).toEqual([...counters].sort((x, y) => (x < y ? -1 : 1)));
    expect(w.b.km.counters.drain_errors).toBe(0);
  });

  it('forged, replayed, truncated, wrong-version, stale and reflected ones are refused and counted; nothing changes', () => {
    const w = world();
    established(w);
    w.a.km.drain(true);
    w.run(10);
    w.a.km.drain(false);
    w.run(10);
    expect(w.b.km.routeDraining(route)).toBe(false);
    const [drain] = drains(w);
    const [ack] = acks(w);
    const before = { ...w.b.km.counters };
    const sentBefore = w.net.log.length;
    const from = { address: w.a.address, port: 303 }, to = { address: w.b.address, port: 303 };
    const deliver = (m: Buffer) => w.b.km.receive(from, m, to);
    // Replayed: the recorded drain again (its counter is old).
    deliver(drain.payload);
    // Forged: its MAC, its state, its counter changed.
    for (const at of [30, 9, 23]) {
      const m = Buffer.from(drain.payload);
      m[at] ^= 1;
      deliver(m);
    }
    // A newer counter under an unknown key.
    const forged = encodeDrain(crypto.randomBytes(32), { routeSpi: RouteSpi(1001), ack: false, draining: true, spi: drain.payload.readUInt32BE(12), counter: 1n << 62n }, Buffer.alloc(16), Buffer.alloc(16));
    deliver(forged);
    // Our own ack reflected to us as if it were the peer's.
    deliver(ack.payload);
    expect(w.b.km.counters.drain_errors - before.drain_errors).toBe(6);
    deliver(drain.payload.subarray(0, 39));
    expect(w.b.km.counters.protocol_errors - before.protocol_errors).toBe(1);
    const v = Buffer.from(drain.payload);
    v[8] = 9;
    deliver(v);
    expect(w.b.km.counters.version_errors - before.version_errors).toBe(1);
    expect(w.b.km.counters.rxerrors - before.rxerrors).toBe(8);
    expect(w.b.km.counters.drains_accepted).toBe(before.drains_accepted);
    expect(w.b.km.routeDraining(route)).toBe(false);
    expect(w.net.log.length).toBe(sentBefore); // no ack to anything refused
    // A replayed ack at the drainer: refused once its notice is done? It is still in range, and harmless:
    // an ack outside any notice of ours is refused.
    const a0 = w.a.km.counters.drain_errors;
    const oldAck = Buffer.from(ack.payload);
    w.a.km.drain(true);
    w.a.km.receive({ address: w.b.address, port: 303 }, oldAck, { address: w.a.address, port: 303 });
    expect(w.a.km.counters.drain_errors - a0).toBe(1);
  });

  it('a notice bound to an SA the receiver no longer holds (a recording after rollovers) is refused', () => {
    const w = world(); // sa-ttl 2 s
    established(w);
    const recorded: Datagram[] = [];
    w.net.lose = (d) => {
      if (type(d) === DRAIN_TYPE) recorded.push(d);
      return type(d) === DRAIN_TYPE; // never delivered: a recording an attacker keeps
    };
    w.a.km.drain(true);
    w.run(10);
    w.a.km.drain(false);
    w.net.lose = () => false;
    w.run(6000); // the SA it names expired at B
    const e0 = w.b.km.counters.drain_errors;
    w.b.km.receive(recorded[0].from, recorded[0].payload, recorded[0].to);
    expect(w.b.km.counters.drain_errors - e0).toBe(1);
    expect(w.b.km.routeDraining(route)).toBe(false);
  });

  it('a drained peer that stops sending notices stays out until it negotiates anew (a restart), then is back', () => {
    const w = world({ config: { saTtl: 120, negotiationTtl: 0.5 } });
    established(w);
    w.a.km.drain(true);
    w.run(10);
    expect(w.b.km.routeDraining(route)).toBe(true);
    // A stops refreshing (it stopped): B keeps it out, with no new pair.
    w.net.lose = (d) => type(d) === DRAIN_TYPE;
    w.run(HOLD_MS + 1000, 100);
    expect(w.b.km.routeDraining(route)).toBe(true);
    // A new pair (here: B's rekey at sa-ttl/2 = 60 s) after the notices stopped: back in service.
    w.run(40_000, 100);
    expect(w.b.km.routeDraining(route)).toBe(false);
  });

  it('public-key routes (IKpsk2, no psk) carry it too, under the static-static key', () => {
    const privA = crypto.randomBytes(32), privB = crypto.randomBytes(32);
    const pub = (priv: Buffer) => {
      const k = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]), format: 'der', type: 'pkcs8' });
      return Buffer.from(crypto.createPublicKey(k).export({ format: 'jwk' }).x!, 'base64url');
    };
    const w = world({
      configA: { saTtl: 20, negotiationTtl: 0.5, privateKey: privA },
      configB: { saTtl: 20, negotiationTtl: 0.5, privateKey: privB },
      routeA: { peerPublicKey: pub(privB) },
      routeB: { peerPublicKey: pub(privA) },
    });
    established(w);
    w.b.km.drain(true);
    w.run(10);
    expect(w.a.km.routeDraining(route)).toBe(true);
    expect(w.b.km.drains.progress()[0].status).toBe('acknowledged');
    expect(w.a.km.counters.drain_errors + w.b.km.counters.drain_errors).toBe(0);
    // The psk alone (all zero here) does not make the key: another pair's static keys would not verify.
    expect(PSK.length).toBe(32);
  });
});

describe('drain message, a route with two peers (the usable seam)', () => {
  const pubOf = (k: Buffer) => {
    const kp = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), k]), format: 'der', type: 'pkcs8' });
    return Buffer.from(crypto.createPublicKey(kp).export({ format: 'jwk' }).x!, 'base64url');
  };
  const priv = { a1: crypto.randomBytes(32), a2: crypto.randomBytes(32), b: crypto.randomBytes(32) };
  const ADDR = { a1: '192.0.2.1', a2: '192.0.2.2', b: '198.51.100.1' };
  const config = { saTtl: 120, negotiationTtl: 0.5 };
  const Q1 = QueueNumber(1);
  const SITE_A = RouteId('site-a');

  it('a drained peer is taken out of the flow hash (onPairUsable false), the other stays; the route is withdrawn only when both drain', () => {
    const clock = new FakeClock();
    const net = new Network(clock);
    const usable: Array<[number, boolean]> = [];
    const queues = (local: string, gateway: string) => [{ queue: Q1, localAddress: local, gatewayAddress: gateway }];
    const b = new KeyManager({
      ...config, privateKey: priv.b,
      routes: [{
        id: SITE_A, spi: RouteSpi(1001), aead: 'aes-gcm-16-icv', peerPublicKey: pubOf(priv.a1), queues: queues(ADDR.b, ADDR.a1),
        peers: (['a1', 'a2'] as const).map((n) => ({ peerPublicKey: pubOf(priv[n]), queues: queues(ADDR.b, ADDR[n]) })),
      }],
    }, { sink: new RecordingSink(clock), transport: net.transport(), clock, logger: silent, onPairUsable: (_r, _q, pair, u) => usable.push([pair, u]) });
    const a = (n: 'a1' | 'a2') => new KeyManager({
      ...config, privateKey: priv[n], routes: [{ id: RouteId('site-b'), spi: RouteSpi(1001), aead: 'aes-gcm-16-icv', peerPublicKey: pubOf(priv.b), queues: queues(ADDR[n], ADDR.b) }],
    }, { sink: new RecordingSink(clock), transport: net.transport(), clock, logger: silent });
    const a1 = a('a1'), a2 = a('a2');
    net.attach(ADDR.b, b);
    net.attach(ADDR.a1, a1);
    net.attach(ADDR.a2, a2);
    const run = (ms: number) => {
      for (let t = 0; t < ms; t += 10) {
        clock.t += 10;
        for (const k of [b, a1, a2]) k.tick();
        net.flush();
      }
    };
    run(500);
    usable.length = 0;
    a1.drain(true);
    run(20);
    expect(usable).toEqual([[0, false]]);
    expect(b.routeDraining(SITE_A)).toBe(false);
    expect(b.drains.progress().map((p) => p.pair)).toEqual([0, 1]);
    a2.drain(true);
    run(20);
    expect(usable).toEqual([[0, false], [1, false]]);
    expect(b.routeDraining(SITE_A)).toBe(true);
    a1.drain(false);
    run(20);
    expect(usable).toEqual([[0, false], [1, false], [0, true]]);
    expect(b.routeDraining(SITE_A)).toBe(false);
    expect(b.counters).toMatchObject({ drains_accepted: 3, drain_errors: 0, rxerrors: 0 });
  });
});

describe('drain progress', () => {
  it('a peer that is down or has no SA to send on is reported as such, not as awaiting an answer', () => {
    const w = world({ config: { saTtl: 4, negotiationTtl: 0.5, livenessInterval: 1, livenessFailures: 1 } });
    established(w);
    w.net.lose = () => true; // B is gone
    w.a.km.drain(true);
    w.run(10);
    expect(w.a.km.drains.progress()[0].status).toBe('told');
    // Its rekey goes unanswered: suspect, a probe fails, down.
    w.run(4000, 10);
    expect(w.a.km.liveness.snapshot('peer/1')?.status).toBe('down');
    expect(w.a.km.drains.progress()[0].status).toBe('no-sa');
  });
});

describe('drain message through a NAT (public-key routes, NAT-T port)', () => {
  it('A behind a masquerading NAT drains: B marks it; B drains: its notice reaches A through the NAT binding; both acknowledged', () => {
    const w = new NatWorld({ natTraversal: { a: 'force', b: 'force' } });
    w.run(100);
    expect(w.a.sink.outbound.size + w.b.sink.outbound.size).toBe(2);
    w.a.km.drain(true);
    w.run(20);
    expect(w.b.km.routeDraining(NAT_ROUTE)).toBe(true);
    expect(w.a.km.drains.progress()[0].status).toBe('acknowledged');
    w.b.km.drain(true);
    w.run(20);
    expect(w.a.km.routeDraining(NAT_ROUTE)).toBe(true);
    expect(w.b.km.drains.progress()[0].status).toBe('acknowledged');
    // On the NAT-T port both ways, and nothing refused.
    const drainsOnWire = w.log.filter((x) => x.payload[4] === DRAIN_TYPE || x.payload[4] === DRAIN_ACK_TYPE);
    expect(drainsOnWire.length).toBe(4);
    // (log is after the NAT: A's leave from its outside address and port, B's go to it.)
    for (const x of drainsOnWire) expect(x.to.address === B_ADDR ? x.to.port : x.from.port).toBe(NAT_T);
    expect(drainsOnWire.filter((x) => x.to.address === B_ADDR).length).toBe(2);
    expect(w.a.km.counters.rxerrors + w.b.km.counters.rxerrors).toBe(0);
  });
});
