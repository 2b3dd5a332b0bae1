// Dead-peer detection (controlplane/exchange/liveness.ts) in the key
// manager, on the fake clock and in-memory network of the key-manager tests:
// a peer that stops answering is probed and declared down after
// liveness-failures failed probes (counted), initiations back off, and the
// peer is up again on its first authenticated message.
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MessageType, decodeHeader } from '../controlplane/exchange/messages.js';
import type { TrafficReading } from '../controlplane/exchange/liveness.js';
import { KeyManager } from '../controlplane/keymanager.js';
import { diffConfig } from '../controlplane/config/diff.js';
import { parseConfig } from '../controlplane/config/parse.js';
import { LIVE_SETTINGS, keyManagerConfig, type Gateway } from '../controlplane/gateway.js';
import { peerLeaves, routePeers } from '../controlplane/peer-state.js';
import { QueueNumber, RouteId } from '../controlplane/exchange/types.js';
import { FakeClock, Network, RecordingSink, routeTo, silent, world, type Datagram } from './keymanager-harness.js';

const A = '192.0.2.1';
const B = '198.51.100.2';
const INTERVAL_S = 1;
const FAILURES = 3;
const config = { saTtl: 600, negotiationTtl: 0.5, livenessInterval: INTERVAL_S, livenessFailures: FAILURES };

/** A's data-plane counters for its route to B: the test moves them. */
function counters() {
  const c = { inbound: 0, outbound: 0 };
  const source = (): TrafficReading[] => [{ route: RouteId('peer'), queue: QueueNumber(1), ...c }];
  return { c, source };
}

function logLines() {
  const lines: { level: number; msg: string; route?: string }[] = [];
  return { lines, logger: pino({ level: 'debug' }, { write: (l: string) => { lines.push(JSON.parse(l)); } }) };
}

const knocksFrom = (log: Datagram[], address: string, since = 0) =>
  log.filter((d) => d.from.address === address && d.at >= since && decodeHeader(d.payload)?.type === MessageType.knock);

const peerOf = (km: KeyManager) => km.liveness.snapshot('peer/1')!;

describe('liveness: dead-peer detection', () => {
  it('a peer that answers ESP is never probed', () => {
    const { c, source } = counters();
    const w = world({ config, optionsA: { traffic: source } });
    w.run(100);
    expect(peerOf(w.a.km).status).toBe('up');
    const initiated = w.a.km.counters.negotiations_initiated;
    const before = peerOf(w.a.km);
    w.run(10_000, 10, () => { c.outbound += 1; c.inbound += 1; });
    expect(peerOf(w.a.km)).toMatchObject({ status: 'up', peerUp: true, probesSent: before.probesSent, probesFailed: 0 });
    expect(w.a.km.counters.negotiations_initiated).toBe(initiated);
  });

  it('sending with nothing received for liveness-interval: probes; after liveness-failures failed probes the peer is down, once', () => {
    const { c, source } = counters();
    const { lines, logger } = logLines();
    const w = world({ config, optionsA: { traffic: source, logger } });
    w.run(100);
    expect(peerOf(w.a.km)).toMatchObject({ status: 'up', peerUp: true, downSince: null });
    expect(peerOf(w.a.km).lastHandshake).not.toBeNull();
    // B is gone (its datagrams and ours are lost); A keeps sending. (The
    // first negotiation, before B was known to be up, counted as a probe.)
    const before = peerOf(w.a.km);
    w.net.lose = () => true;
    let downAt = -1;
    w.run(20_000, 10, () => {
      c.outbound += 1;
      if (downAt < 0 && !peerOf(w.a.km).peerUp) downAt = w.clock.t;
    });
    const peer = peerOf(w.a.km);
    expect(peer).toMatchObject({ status: 'down', peerUp: false, probesFailed: FAILURES });
    expect(peer.probesSent - before.probesSent).toBe(FAILURES);
    expect(peer.downSince).not.toBeNull();
    expect(lines.filter((l) => l.msg === 'peer down: no answer to liveness probes')).toHaveLength(1);
    expect(lines.find((l) => l.msg === 'peer down: no answer to liveness probes')!.level).toBe(40); // warn
    // Backed off: the knocks after the peer went down are ever further apart
    // (jittered, within half of the nominal delay), up to the bound.
    const after = knocksFrom(w.net.log, A, downAt).map((d) => d.at);
    expect(after.length).toBeGreaterThanOrEqual(3);
    const gaps = after.slice(1).map((t, i) => t - after[i]);
    // Nominal delays double from liveness-interval: gap i is within [0.5, 1] × 2^(i+1) s (+ one negotiation-ttl).
    gaps.forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(0.5 * INTERVAL_S * 1000 * 2 ** (i + 1));
      expect(g).toBeLessThanOrEqual(INTERVAL_S * 1000 * 2 ** (i + 1) + config.negotiationTtl * 1000 + 10);
    });
  });

  it('a peer that never answered (started before it) is down after liveness-failures negotiations', () => {
    const clock = new FakeClock();
    const net = new Network(clock);
    const km = new KeyManager({ ...config, routes: [routeTo(B, A)] }, { sink: new RecordingSink(clock), transport: net.transport(), clock, logger: silent });
    expect(peerOf(km)).toMatchObject({ status: 'unknown', peerUp: false });
    for (let t = 0; t < 5000; t += 10) {
      clock.t += 10;
      km.tick();
      net.flush();
    }
    expect(peerOf(km)).toMatchObject({ status: 'down', peerUp: false, probesSent: FAILURES, probesFailed: FAILURES });
  });

  it('a restarted peer: up on its first authenticated message, within one round trip, and its new SAs carry traffic', () => {
    const { c, source } = counters();
    const w = world({ config, optionsA: { traffic: source } });
    w.run(100);
    w.net.lose = () => true;
    w.run(20_000, 10, () => { c.outbound += 1; });
    expect(peerOf(w.a.km).status).toBe('down');
    // B restarts: a new key manager with no SAs, which initiates at once.
    w.net.lose = () => false;
    const sinkB = new RecordingSink(w.clock);
    const b2 = new KeyManager({ ...config, routes: [routeTo(A, B)] }, { sink: sinkB, transport: w.net.transport(), clock: w.clock, logger: silent });
    w.net.attach(B, b2);
    const from = w.net.log.length;
    b2.tick(); // B knocks ...
    w.net.flush(); // ... A challenges, B proposes, A agrees: A read B's proposal
    const proposals = w.net.log.slice(from).filter((d) => decodeHeader(d.payload)?.type === MessageType.proposal);
    expect(proposals).toHaveLength(1);
    expect(peerOf(w.a.km)).toMatchObject({ status: 'up', peerUp: true, downSince: null });
    // No knock of A's was needed: its backoff did not delay the recovery.
    expect(knocksFrom(w.net.log.slice(from), A)).toHaveLength(0);
    // A sends on the new pair at once (not after the activation delay): its
    // old outbound SA went unanswered, B lost it in the restart.
    const now = w.a.sink.outbound.get('peer/1')!;
    expect(sinkB.inbound.get(now.spi)?.keymat.equals(now.keymat)).toBe(true);
    // Traffic flows on the new pair: A's outbound SA is B's inbound.
    for (let t = 0; t < 3000; t += 10) {
      w.clock.t += 10;
      w.a.km.tick();
      b2.tick();
      w.net.flush();
    }
    const out = w.a.sink.outbound.get('peer/1')!;
    expect(sinkB.inbound.get(out.spi)?.keymat.equals(out.keymat)).toBe(true);
    // And ESP from B afterwards keeps it up without any probe.
    const probes = peerOf(w.a.km).probesSent;
    for (let t = 0; t < 5000; t += 10) {
      w.clock.t += 10;
      c.outbound += 1;
      c.inbound += 1;
      w.a.km.tick();
      b2.tick();
      w.net.flush();
    }
    expect(peerOf(w.a.km)).toMatchObject({ status: 'up', probesSent: probes });
  });

  it('a probe that completes proves the peer alive (a one-way flow costs one negotiation per interval)', () => {
    const { c, source } = counters();
    const w = world({ config, optionsA: { traffic: source } });
    w.run(100);
    const negotiated = w.a.km.counters.keypairs_negotiated + w.a.km.counters.keypairs_offered;
    const before = peerOf(w.a.km).probesSent;
    w.run(INTERVAL_S * 1000 * 3 + 500, 10, () => { c.outbound += 1; });
    const peer = peerOf(w.a.km);
    expect(peer.status).toBe('up');
    expect(peer.probesFailed).toBe(0);
    expect(peer.probesSent - before).toBeGreaterThanOrEqual(2);
    expect(w.a.km.counters.keypairs_negotiated + w.a.km.counters.keypairs_offered - negotiated).toBe(peer.probesSent - before);
  });

  it('only authenticated messages bring a down peer up: knocks and proposals forged from its address change nothing', () => {
    const { c, source } = counters();
    const w = world({ config, optionsA: { traffic: source } });
    w.run(100);
    w.net.lose = () => true;
    w.run(20_000, 10, () => { c.outbound += 1; });
    expect(peerOf(w.a.km).status).toBe('down');
    // The attacker can send from B's address, and has recorded B's messages.
    const recorded = w.net.log.filter((d) => d.from.address === B).map((d) => d.payload);
    expect(recorded.length).toBeGreaterThan(0);
    w.net.lose = (d) => d.to.address !== A; // A's answers go nowhere
    for (const payload of recorded) w.net.transport().send({ address: A, port: 303 }, payload, { address: B, port: 303 });
    for (let i = 0; i < 50; i++) {
      const knock = Buffer.from(recorded.find((p) => decodeHeader(p)?.type === MessageType.knock)!);
      knock[knock.length - 1] ^= i + 1; // another cookie each
      w.net.transport().send({ address: A, port: 303 }, knock, { address: B, port: 303 });
    }
    w.net.flush();
    expect(peerOf(w.a.km)).toMatchObject({ status: 'down', peerUp: false });
    expect(w.a.km.counters.authentication_errors + w.a.km.counters.protocol_errors).toBeGreaterThan(0);
  });

  it('liveness settings change without a restart; the routes keep their peers\' state', () => {
    const { c, source } = counters();
    const w = world({ config, optionsA: { traffic: source } });
    w.run(100);
    const before = peerOf(w.a.km);
    w.a.km.configure({ ...config, livenessFailures: 1, routes: [routeTo(B, A)] });
    expect(peerOf(w.a.km)).toEqual(before);
    w.net.lose = () => true;
    w.run(5000, 10, () => { c.outbound += 1; });
    expect(peerOf(w.a.km)).toMatchObject({ status: 'down', probesFailed: 1 });
    expect(peerOf(w.a.km).probesSent - before.probesSent).toBe(1);
  });

  it('a route\'s own liveness-failures and liveness-interval override the gateway\'s, applied to a running exchange', () => {
    for (const changed of [undefined, [RouteId('peer')]]) {
      const { c, source } = counters();
      const w = world({ config, optionsA: { traffic: source } });
      w.run(100);
      const before = peerOf(w.a.km);
      w.a.km.configure({ ...config, routes: [{ ...routeTo(B, A), livenessFailures: 1, livenessInterval: 5 }] }, changed);
      expect(peerOf(w.a.km)).toEqual(before); // the exchange and its peer's state are kept
      w.net.lose = () => true;
      // Not suspect after the gateway's interval (1 s), only after the route's (5 s) ...
      w.run(4000, 10, () => { c.outbound += 1; });
      expect(peerOf(w.a.km)).toMatchObject({ status: 'up', probesSent: before.probesSent });
      // ... and down after the route's one failed probe.
      w.run(3000, 10, () => { c.outbound += 1; });
      expect(peerOf(w.a.km)).toMatchObject({ status: 'down', probesFailed: 1 });
      expect(peerOf(w.a.km).probesSent - before.probesSent).toBe(1);
    }
    expect(() => world({ config: { ...config }, routeA: {} }).a.km.configure({ ...config, routes: [{ ...routeTo(B, A), livenessFailures: 0 }] }))
      .toThrow(/route\[id=peer\]\/liveness-failures/);
  });

  it('configuration: the gateway\'s settings apply without a restart; a route\'s own make it a changed route; both reach the key manager', () => {
    const text = fs.readFileSync(path.join(import.meta.dirname, 'configs', 'good', 'every-setting.json'), 'utf8');
    const before = parseConfig(text);
    const json = JSON.parse(text);
    const gw = json['vitesse-gateway:gateway'];
    gw['liveness-interval'] = 7;
    gw.route[0]['liveness-failures'] = 9;
    const after = parseConfig(json);
    const d = diffConfig(before, after);
    expect(d.settings).toEqual(['liveness-interval']);
    expect(d.settings.every((s) => LIVE_SETTINGS.has(s))).toBe(true);
    expect(d.routes.changed).toEqual(['site2']);
    const km = keyManagerConfig(after);
    expect(km).toMatchObject({ livenessInterval: 7, livenessFailures: 5 });
    expect(km.routes[0]).toMatchObject({ livenessInterval: 120, livenessFailures: 9 });
  });

  it('a route\'s peer over its queues: up while up on any, down since the last queue lost it, probes summed, an endpoint per queue', () => {
    let wall = Date.parse('2026-12-07T05:00:00Z');
    const q = [{ inbound: 0, outbound: 0 }, { inbound: 0, outbound: 0 }];
    const traffic = () => q.map((c, i) => ({ route: RouteId('peer'), queue: QueueNumber(i + 1), ...c }));
    const w = world({ config, routeA: { queues: 2 }, routeB: { queues: 2 }, optionsA: { wallClock: () => wall, traffic } });
    w.run(100);
    const gw = {
      keymanager: w.a.km,
      dataplane: { endpoints: () => [] }, // no endpoint learned from ESP in UDP
      currentConfig: {
        protocolPort: 303,
        publicInterface: { queues: [{ id: 1, address: A }, { id: 2, address: '192.0.2.2' }] },
        routes: [{ id: 'peer', gateways: [{ queue: 1, address: B }, { queue: 2, address: '198.51.100.3' }] }],
      },
    } as unknown as Gateway;
    const up = routePeers(gw).get(RouteId('peer'))!;
    expect(up).toMatchObject({ peerUp: true, downSince: null, probesFailed: 0 });
    expect(up.endpoints).toEqual([
      { queue: 1, address: B, port: 303, learned: false },
      { queue: 2, address: '198.51.100.3', port: 303, learned: false },
    ]);
    // Queue 2's path fails; queue 1 still carries traffic both ways: the route's peer is up.
    w.net.lose = (d) => d.to.address === '198.51.100.3' || d.from.address === '198.51.100.3';
    const step = (both: boolean) => () => { wall += 10; q[0].outbound++; q[1].outbound++; if (both) q[0].inbound++; };
    w.run(10_000, 10, step(true));
    expect([w.a.km.liveness.snapshot('peer/1')!.status, w.a.km.liveness.snapshot('peer/2')!.status]).toEqual(['up', 'down']);
    expect(routePeers(gw).get(RouteId('peer'))).toMatchObject({ peerUp: true, downSince: null, probesFailed: FAILURES });
    // Then queue 1's too: down since the later of the two.
    w.net.lose = () => true;
    w.run(10_000, 10, step(false));
    const down = routePeers(gw).get(RouteId('peer'))!;
    const [q1, q2] = [w.a.km.liveness.snapshot('peer/1')!, w.a.km.liveness.snapshot('peer/2')!];
    expect([q1.status, q2.status]).toEqual(['down', 'down']);
    expect(q1.downSince!).toBeGreaterThan(q2.downSince!);
    expect(down).toMatchObject({ peerUp: false, downSince: q1.downSince, probesFailed: 2 * FAILURES, probesSent: q1.probesSent + q2.probesSent });
    expect(peerLeaves(down)).toMatchObject({ 'peer-up': false, 'peer-down-since': new Date(q1.downSince!).toISOString(), 'liveness-probes-failed': String(2 * FAILURES) });
  });

  it('refuses a liveness-failures that is not a positive integer', () => {
    expect(() => world({ config: { ...config, livenessFailures: 0 } })).toThrow(/liveness-failures/);
    expect(() => world({ config: { ...config, livenessInterval: 0 } })).toThrow(/liveness-interval/);
  });
});
