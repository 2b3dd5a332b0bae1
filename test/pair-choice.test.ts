// The data plane's choice of pair for a route with several peers
// (dataplane/pipeline/pair_choice.h, docs/scale-out.md "Several peers per
// route"), through the real data plane (gateway harness): each flow (its
// addresses, protocol and ports) keeps one pair; flows spread over the
// pairs; a pair set unusable or without an outbound SA carries nothing and
// its flows go to the other pair, while the other pair's flows stay where
// they were; back, every flow is where it was before. Properties: fields
// outside the flow (TTL, id, payload) never move a flow; IPv4 fragments of
// one packet take one pair; arbitrary packets never crash it and always
// come out on a pair that may carry them. The fuzz target is
// dataplane/pipeline/pair_choice_fuzz.cc.
import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FIRST_QUEUE, RouteId, Spi } from '../controlplane/exchange/types.js';
import { ethernet, makeHarness, pollUntilIdle, type Harness } from './support/gateway-harness.js';
import { buildIpv4, buildIpv6, internetChecksum } from './support/ip-packets.js';

const GW_PRIV_MAC = '02:00:00:00:00:01';
const GW_PUB_MAC = '02:00:00:00:01:01';
const HOST_MAC = '02:00:00:00:00:02';
const ROUTER_MAC = '02:00:00:00:01:02';
const ROUTE = RouteId('site-a');
const GATEWAYS = ['192.0.2.11', '192.0.2.12'];
const SPIS = [0x4000, 0x4001];
const FLOWS = 256;

let h: Harness | undefined;
afterEach(() => {
  h?.close();
  h = undefined;
});

function gateway(): Harness {
  const harness = makeHarness({
    mtu: 1500,
    private: { mac: GW_PRIV_MAC, ipv4: '10.2.0.1', ipv6: 'fd00:2::1' },
    public: { mac: GW_PUB_MAC, addresses: ['198.51.100.1'] },
  });
  harness.gw.setRoutes([{ id: ROUTE, net: ['10.1.0.0/16', 'fd00:1::/48'], gateways: [GATEWAYS[0]], pairGateways: [[GATEWAYS[1]]] }]);
  for (const pair of [0, 1]) setSa(harness, pair);
  harness.gw.setNextHop('private', HOST_MAC);
  harness.gw.setNextHop('public', ROUTER_MAC);
  return harness;
}

function setSa(harness: Harness, pair: number): void {
  harness.gw.setOutboundSa({ queue: FIRST_QUEUE, route: ROUTE, pair, spi: Spi(SPIS[pair]), aead: 'aes-gcm-16-icv', keymat: crypto.randomBytes(20) });
}

interface Flow { v6?: boolean; sport: number; dport?: number; protocol?: number; ttl?: number; id?: number; payload?: number; fragment?: number }

function packet(f: Flow): Buffer {
  const body = Buffer.alloc(8 + (f.payload ?? 16), 0x61);
  body.writeUInt16BE(f.sport, 0);
  body.writeUInt16BE(f.dport ?? 5001, 2);
  body.writeUInt16BE(body.length, 4);
  if (f.v6) return ethernet(GW_PRIV_MAC, HOST_MAC, 0x86dd, buildIpv6({ src: 'fd00:2::9', dst: 'fd00:1::5', nextHeader: f.protocol ?? 17, hopLimit: f.ttl ?? 64, payload: body }));
  const ip = buildIpv4({ src: '10.2.0.9', dst: '10.1.0.5', protocol: f.protocol ?? 17, ttl: f.ttl ?? 64, id: f.id ?? 0, payload: body });
  if (f.fragment !== undefined) {
    ip.writeUInt16BE(f.fragment, 6);
    ip.writeUInt16BE(0, 10);
    ip.writeUInt16BE(internetChecksum(ip.subarray(0, 20)), 10);
  }
  return ethernet(GW_PRIV_MAC, HOST_MAC, 0x0800, ip);
}

/** Which pair carried each packet (by its SPI), checking that the outer destination is that pair's gateway. */
function send(harness: Harness, flows: Flow[]): number[] {
  const out: number[] = [];
  for (const f of flows) {
    expect(harness.sendPrivate([packet(f)])).toBe(1);
    pollUntilIdle(harness.gw);
    const frames = harness.receivePublic();
    expect(frames.length).toBe(1);
    const ip = frames[0].subarray(14);
    const pair = SPIS.indexOf(ip.readUInt32BE(20));
    expect(pair).toBeGreaterThanOrEqual(0);
    expect([...ip.subarray(16, 20)].join('.')).toBe(GATEWAYS[pair]);
    out.push(pair);
  }
  return out;
}

const flows = (o: Partial<Flow> = {}) => Array.from({ length: FLOWS }, (_, i) => ({ sport: 40000 + i, ...o }));
const share = (pairs: number[], pair: number) => pairs.filter((p) => p === pair).length;

describe('flows over the pairs of a route with two peers (data plane)', () => {
  it('each flow keeps its pair, both pairs carry at least a quarter, IPv4 and IPv6', () => {
    h = gateway();
    for (const v6 of [false, true]) {
      const first = send(h, flows({ v6 }));
      expect(send(h, flows({ v6 }))).toEqual(first);
      for (const pair of [0, 1]) expect(share(first, pair)).toBeGreaterThanOrEqual(FLOWS / 4);
      // Other protocols with ports (TCP, SCTP) spread as well.
      const tcp = send(h, flows({ v6, protocol: 6 }));
      for (const pair of [0, 1]) expect(share(tcp, pair)).toBeGreaterThanOrEqual(FLOWS / 4);
    }
    const sas = h.gw.sas().filter((s) => s.direction === 'outbound').map((s) => ({ spi: s.spi, pair: s.pair ?? 0 }));
    expect(sas.sort((a, b) => a.spi - b.spi)).toEqual([{ spi: SPIS[0], pair: 0 }, { spi: SPIS[1], pair: 1 }]);
  });

  it('a pair set unusable, or without its SA, carries nothing; the other pair\'s flows stay; back, every flow returns', () => {
    h = gateway();
    const before = send(h, flows());
    for (const out of [1, 0]) {
      h.gw.setPairUsable(FIRST_QUEUE, ROUTE, out, false);
      const during = send(h, flows());
      expect(during.every((p) => p === 1 - out)).toBe(true);
      h.gw.setPairUsable(FIRST_QUEUE, ROUTE, out, true);
      expect(send(h, flows())).toEqual(before);
    }
    // The SA gone (expired, or the peer's pair removed): the same.
    expect(h.gw.removeOutboundSa(FIRST_QUEUE, ROUTE, 1)).toBe(true);
    expect(send(h, flows()).every((p) => p === 0)).toBe(true);
    setSa(h, 1);
    expect(send(h, flows())).toEqual(before);
    // Both set unusable (every peer draining): the pairs with SAs still carry, as before.
    h.gw.setPairUsable(FIRST_QUEUE, ROUTE, 0, false);
    h.gw.setPairUsable(FIRST_QUEUE, ROUTE, 1, false);
    expect(send(h, flows())).toEqual(before);
    // A route with one peer is untouched by any of this (no pair set).
    expect(h.gw.counters().private_drop_no_sa ?? 0).toBe(0);
  });

  it('refuses more than 8 peers per route, and an SA for a pair beyond them, naming the route or the pair', () => {
    h = gateway();
    const nine = Array.from({ length: 8 }, (_, i) => [`192.0.2.${20 + i}`]);
    expect(() => h!.gw.setRoutes([{ id: ROUTE, net: '10.1.0.0/16', gateways: [GATEWAYS[0]], pairGateways: nine }])).toThrow("route[id='site-a']: at most 8 peers");
    expect(() => h!.gw.setOutboundSa({ queue: FIRST_QUEUE, route: ROUTE, pair: 8, spi: Spi(0x4010), aead: 'aes-gcm-16-icv', keymat: crypto.randomBytes(20) })).toThrow(/pair/);
    // A peer of another IP version than the queue's public address.
    expect(() => h!.gw.setRoutes([{ id: ROUTE, net: '10.1.0.0/16', gateways: [GATEWAYS[0]], pairGateways: [['2001:db8::1']] }])).toThrow(/not of the same IP version/);
    // The route as it was still works: both pairs carry.
    expect(new Set(send(h, flows().slice(0, 64)))).toEqual(new Set([0, 1]));
  });

  it('property: TTL, id and payload never move a flow; fragments of one packet take one pair', () => {
    h = gateway();
    const base = send(h, flows());
    for (let round = 0; round < 3; round++) {
      const varied = flows().map((f) => ({ ...f, ttl: 2 + crypto.randomInt(250), id: crypto.randomInt(65536), payload: crypto.randomInt(1, 600) }));
      expect(send(h, varied)).toEqual(base);
    }
    // Fragments (MF, or an offset) hash without ports: whatever the "ports" bytes say, one pair.
    for (const fragment of [0x2000, 0x0010, 0x2010]) {
      const pairs = send(h, flows({ fragment }).slice(0, 64));
      expect(new Set(pairs).size).toBe(1);
    }
    // Protocols without ports (ICMP, GRE): one pair per address pair.
    for (const protocol of [1, 47]) expect(new Set(send(h, flows({ protocol }).slice(0, 64))).size).toBe(1);
  });

  it('property: random short and odd packets never crash it; each comes out on a pair, or is dropped and counted', () => {
    h = gateway();
    const frames: Buffer[] = [];
    for (let i = 0; i < 500; i++) {
      const v6 = i % 2 === 1;
      const f = packet({ v6, sport: crypto.randomInt(65536), protocol: [6, 17, 132, 136, 1, 0][i % 6], payload: crypto.randomInt(0, 64) });
      // Cut the transport header short now and then: no ports to read.
      const cut = crypto.randomInt(3) === 0 ? (v6 ? 14 + 40 : 14 + 20) + crypto.randomInt(4) : f.length;
      const ip = f.subarray(14, cut);
      if (v6) ip.writeUInt16BE(ip.length - 40, 4);
      else {
        ip.writeUInt16BE(ip.length, 2);
        ip.writeUInt16BE(0, 10);
        ip.writeUInt16BE(internetChecksum(ip.subarray(0, 20)), 10);
      }
      frames.push(Buffer.concat([f.subarray(0, 14), ip]));
    }
    const out: Buffer[] = [];
    for (let i = 0; i < frames.length; i += 32) {
      expect(h.sendPrivate(frames.slice(i, i + 32))).toBe(Math.min(32, frames.length - i));
      pollUntilIdle(h.gw);
      out.push(...h.receivePublic());
    }
    // Dropped ones are counted (IPv6 protocol 0 is a hop-by-hop header this one does not have: refused).
    const drops = Object.entries(h.gw.counters()).filter(([k]) => k.startsWith('private_drop_')).reduce((n, [, v]) => n + v, 0);
    expect(out.length + drops).toBe(frames.length);
    expect(out.length).toBeGreaterThan(frames.length / 2);
    for (const f of out) expect(SPIS).toContain(f.subarray(14).readUInt32BE(20));
  });
});
