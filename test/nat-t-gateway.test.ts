// The control plane's side of ESP in UDP on a whole gateway (data plane, slow
// path, key manager) on memory wires, the test standing in for the network:
// key-exchange messages behind the non-ESP marker on the NAT-T port reach the
// key manager and are answered on that port behind the marker, and NAT
// keepalives go to each ESP-in-UDP route's peer endpoint.
import crypto from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { wires } from '../controlplane/dataplane.js';
import { parseConfig } from '../controlplane/config/index.js';
import { Gateway } from '../controlplane/gateway.js';
import { routePeers } from '../controlplane/peer-state.js';
import { gatewayState } from '../controlplane/state.js';
import { udpFrame } from '../controlplane/udp.js';
import { parseMac } from '../controlplane/slowpath/address.js';
import { encodeKnock, MessageType } from '../controlplane/exchange/messages.js';
import { FIRST_QUEUE, RouteId, RouteSpi, Spi } from '../controlplane/exchange/types.js';
import { refSeal } from './support/esp-reference.js';
import { numbered, numberOf, twoSites, until, type TwoSites } from '../controlplane/demo/memory-two-sites.js';
import { buildIpv4 } from './support/ip-packets.js';

const GW_PUB_MAC = '02:00:00:0b:01:01';
const ROUTER_MAC = '02:00:00:0b:01:02';
const LOCAL = '198.51.100.1';
const PEER = '192.0.2.1';
const ROUTE = RouteId('site-a');
const ROUTE_SPI = 1001;

let close: (() => void) | undefined;
afterEach(() => {
  close?.();
  close = undefined;
});

function gateway(opts: { keepalive?: number; natTPort?: number; natTraversal?: 'force' } = {}) {
  const id = `${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  const priv = `natgw-priv-${id}`, pub = `natgw-pub-${id}`;
  wires.create(priv, { ends: [{ queues: 1 }, { queues: 1 }] });
  wires.create(pub, { ends: [{ queues: 1, steering: 'destination', addresses: [LOCAL] }, { queues: 1 }] });
  const config = parseConfig({
    'vitesse-gateway:gateway': {
      ...(opts.keepalive !== undefined ? { 'nat-keepalive-interval': opts.keepalive } : {}),
      ...(opts.natTPort !== undefined ? { 'nat-t-port': opts.natTPort } : {}),
      'private-interface': { device: priv, driver: 'memory', 'wire-end': 0, mac: '02:00:00:0b:00:01', address: ['10.2.0.1'], 'next-hop': { address: '10.2.0.2', mac: '02:00:00:0b:00:02' } },
      'public-interface': { device: pub, driver: 'memory', 'wire-end': 0, mac: GW_PUB_MAC, queue: [{ id: 1, address: LOCAL }], 'next-hop': { address: '198.51.100.254', mac: ROUTER_MAC } },
      route: [{ id: ROUTE, net: '10.1.0.0/16', gateway: [{ queue: 1, address: PEER }], spi: ROUTE_SPI, 'preshared-key': crypto.randomBytes(32).toString('hex'), ...(opts.natTraversal ? { 'nat-traversal': opts.natTraversal } : {}) }],
    },
  });
  // Not started: the test runs the workers (pollOnce) and hands the punts to the slow path itself.
  const gw = new Gateway(config, { logger: pino({ level: 'silent' }) });
  gw.slowpath.start();
  gw.dataplane.commit();
  close = () => {
    gw.close();
    wires.destroy(priv);
    wires.destroy(pub);
  };
  const run = () => {
    gw.dataplane.commit();
    for (let idle = 0; idle < 3; ) idle = gw.dataplane.pollOnce() === 0 ? idle + 1 : 0;
    const punts = gw.dataplane.punts();
    if (punts.length) gw.slowpath.handle(punts);
    for (let idle = 0; idle < 3; ) idle = gw.dataplane.pollOnce() === 0 ? idle + 1 : 0;
  };
  const sent = () => {
    const out: Buffer[] = [];
    for (let got; (got = wires.receive(pub, 1)).length; ) out.push(...got);
    return out.filter((f) => f.readUInt16BE(12) === 0x0800 && f[14 + 9] === 17);
  };
  const toGateway = (from: { address: string; port: number }, dstPort: number, payload: Buffer) =>
    wires.send(pub, 1, [udpFrame({ srcMac: parseMac(ROUTER_MAC), dstMac: parseMac(GW_PUB_MAC), src: from.address, dst: LOCAL, srcPort: from.port, dstPort, payload })]);
  const fromHost = (ip: Buffer) => wires.send(priv, 1, [ethernetTo(ip)]);
  const toHost = () => {
    const out: Buffer[] = [];
    for (let got; (got = wires.receive(priv, 1)).length; ) out.push(...got);
    return out.filter((f) => f.readUInt16BE(12) === 0x0800);
  };
  return { gw, config, run, sent, toGateway, fromHost, toHost };
}

// From the private next hop (02:00:00:0b:00:02) to the gateway's private MAC.
const ethernetTo = (ip: Buffer) => Buffer.concat([parseMac('02:00:00:0b:00:01'), parseMac('02:00:00:0b:00:02'), Buffer.from([0x08, 0x00]), ip]);

const udpOf = (f: Buffer) => ({ srcPort: f.readUInt16BE(34), dstPort: f.readUInt16BE(36), dst: Array.from(f.subarray(30, 34)).join('.'), payload: f.subarray(42) });

describe('NAT-T port: key exchange behind the non-ESP marker', () => {
  it('hands a knock after the marker to the key manager and answers from the NAT-T port, behind the marker', () => {
    const g = gateway();
    const knock = encodeKnock(RouteSpi(ROUTE_SPI), { cookie: crypto.randomBytes(16) });
    const nat = { address: PEER, port: 31000 };
    g.toGateway(nat, 4500, Buffer.concat([Buffer.alloc(4), knock]));
    g.run();
    const out = g.sent().map(udpOf);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ srcPort: 4500, dstPort: 31000, dst: PEER });
    expect(out[0].payload.subarray(0, 4).equals(Buffer.alloc(4))).toBe(true);
    expect(out[0].payload.readUInt32BE(4)).toBe(ROUTE_SPI);
    expect(out[0].payload[8]).toBe(MessageType.challenge);
    expect(g.gw.keymanager!.counters.challenges_offered).toBe(1);
  });

  it('answers a knock on the protocol port there, without a marker, as before', () => {
    const g = gateway();
    g.toGateway({ address: PEER, port: 303 }, 303, encodeKnock(RouteSpi(ROUTE_SPI), { cookie: crypto.randomBytes(16) }));
    g.run();
    const out = g.sent().map(udpOf);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ srcPort: 303, dstPort: 303 });
    expect(out[0].payload[4]).toBe(MessageType.challenge);
  });

  it('with nat-traversal force, knocks on the NAT-T port from it, behind the marker; without, on the protocol port', () => {
    for (const natTraversal of ['force', undefined] as const) {
      const g = gateway({ natTraversal });
      g.gw.keymanager!.tick();
      g.run();
      const out = g.sent().map(udpOf);
      expect(out).toHaveLength(1);
      if (natTraversal) {
        expect(out[0]).toMatchObject({ srcPort: 4500, dstPort: 4500, dst: PEER });
        expect(out[0].payload.subarray(0, 4).equals(Buffer.alloc(4))).toBe(true);
        expect(out[0].payload[8]).toBe(MessageType.knock);
      } else {
        expect(out[0]).toMatchObject({ srcPort: 303, dstPort: 303, dst: PEER });
        expect(out[0].payload[4]).toBe(MessageType.knock);
      }
      close?.();
      close = undefined;
    }
  });

  it('ignores a knock without the marker on the NAT-T port (it is ESP there, under SPI 1001: unknown)', () => {
    const g = gateway();
    g.toGateway({ address: PEER, port: 4500 }, 4500, encodeKnock(RouteSpi(ROUTE_SPI), { cookie: crypto.randomBytes(16) }));
    g.run();
    expect(g.sent()).toHaveLength(0);
    expect(g.gw.dataplane.counters().public_drop_unknown_spi).toBe(1);
  });
});

describe('NAT keepalives', () => {
  function withUdpSa(g: ReturnType<typeof gateway>) {
    const out = { spi: 0x3001, keymat: crypto.randomBytes(20) };
    const inb = { aead: 'aes-gcm-16-icv' as const, spi: 0x4001, keymat: crypto.randomBytes(20) };
    g.gw.dataplane.setOutboundSa({ queue: FIRST_QUEUE, route: ROUTE, spi: Spi(out.spi), aead: 'aes-gcm-16-icv', keymat: out.keymat, udpSourcePort: 4500, udpDestinationPort: 4500 });
    g.gw.dataplane.addInboundSa({ queue: FIRST_QUEUE, route: ROUTE, spi: Spi(inb.spi), aead: inb.aead, keymat: inb.keymat });
    g.gw.dataplane.commit();
    return inb;
  }

  it('sends one 0xFF octet from the NAT-T port to each ESP-in-UDP route\'s peer, then to its learned endpoint; none after traffic', () => {
    const g = gateway();
    expect(g.gw.keepalives.round()).toBe(0); // no SA uses ESP in UDP yet
    const inb = withUdpSa(g);
    expect(g.gw.keepalives.round()).toBe(1);
    g.run();
    let out = g.sent().map(udpOf);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ srcPort: 4500, dstPort: 4500, dst: PEER });
    expect([...out[0].payload]).toEqual([0xff]);

    // The peer's ESP arrives through a NAT: the keepalives follow it.
    const inner = buildIpv4({ src: '10.1.0.2', dst: '10.2.0.2', payload: Buffer.alloc(16) });
    g.toGateway({ address: '203.0.113.9', port: 40000 }, 4500, refSeal(inb, 1n, inner));
    g.run();
    expect(g.gw.dataplane.counters().endpoint_changes).toBe(1);
    // The operator sees it as the route's peer endpoint (state, status), learned.
    expect(routePeers(g.gw).get(ROUTE)?.endpoints).toEqual([{ queue: 1, address: '203.0.113.9', port: 40000, learned: true }]);
    // One list for it in the state: peer-endpoint, with the data plane's count of moves (no separate route/endpoint).
    const route = ((gatewayState(g.gw, 'route') as { route: Record<string, unknown>[] }).route).find((r) => r.id === ROUTE)!;
    expect(route['peer-endpoint']).toEqual([{ queue: 1, address: '203.0.113.9', port: 40000, learned: true, changes: '1' }]);
    expect(route).not.toHaveProperty('endpoint');
    expect(g.gw.keepalives.round()).toBe(1);
    g.run();
    out = g.sent().map(udpOf);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ srcPort: 4500, dstPort: 40000, dst: '203.0.113.9' });

    // ESP sent since the last round refreshed the binding: no keepalive; idle again, one.
    g.fromHost(buildIpv4({ src: '10.2.0.2', dst: '10.1.0.9', payload: Buffer.alloc(16) }));
    g.run();
    expect(g.sent().map(udpOf)).toMatchObject([{ srcPort: 4500, dstPort: 40000, dst: '203.0.113.9' }]);
    expect(g.gw.keepalives.round()).toBe(0);
    expect(g.gw.keepalives.round()).toBe(1);
    expect(g.gw.keepalives.sent).toBe(3);
  });

  it('answers a packet too big for ESP in UDP with the MTU less the UDP header (DF), or fragments it to fit (no DF)', () => {
    const g = gateway(); // mtu 1440
    withUdpSa(g);
    const big = (df: boolean) => {
      const ip = buildIpv4({ src: '10.2.0.2', dst: '10.1.0.9', payload: Buffer.alloc(1440 - 20) });
      if (df) {
        ip.writeUInt16BE(0x4000, 6);
        ip.writeUInt16BE(0, 10);
        let sum = 0;
        for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
        ip.writeUInt16BE(~sum & 0xffff, 10);
      }
      return ip;
    };
    g.fromHost(big(true));
    g.run();
    const icmp = g.toHost();
    expect(icmp).toHaveLength(1);
    const ip = icmp[0].subarray(14);
    expect([ip[9], ip[20], ip[21]]).toEqual([1, 3, 4]); // ICMP fragmentation needed
    expect(ip.readUInt16BE(20 + 6)).toBe(1440 - 8);
    g.fromHost(big(false));
    g.run();
    const sent = g.sent().map(udpOf);
    expect(sent).toHaveLength(2); // two fragments, each in ESP in UDP
    for (const f of sent) expect(f.payload.length).toBeLessThanOrEqual(16 + 1432 + 3 + 2 + 16);
  });

  it('sends none with nat-keepalive-interval 0', () => {
    const g = gateway({ keepalive: 0 });
    withUdpSa(g);
    expect(g.gw.keepalives.round()).toBe(0);
    g.run();
    expect(g.sent()).toHaveLength(0);
  });
});

describe('nat-traversal force: two gateways over the key exchange', () => {
  let sites: TwoSites | undefined;
  afterEach(() => {
    sites?.close();
    sites = undefined;
  });

  it('negotiates on the NAT-T port and carries the traffic in ESP in UDP both ways', async () => {
    sites = twoSites({ negotiationTtl: 60, natTraversal: 'force' });
    const s = sites;
    const outbound = (g: TwoSites['a']) => g.sas().filter((x) => x.direction === 'outbound');
    s.a.start();
    s.b.start();
    await until(() => outbound(s.a).length > 0 && outbound(s.b).length > 0, 30_000, 'outbound SAs');
    for (const g of [s.a, s.b]) {
      expect(outbound(g).map((sa) => [sa.udpSourcePort, sa.udpDestinationPort])).toEqual([[4500, 4500]]);
    }
    s.sendA([numbered('a', 1), numbered('a', 2)]);
    s.sendB([numbered('b', 3)]);
    const gotA: number[] = [], gotB: number[] = [];
    await until(() => {
      gotB.push(...s.receiveB().map(numberOf));
      gotA.push(...s.receiveA().map(numberOf));
      return gotB.length >= 2 && gotA.length >= 1;
    }, 10_000, 'traffic');
    expect(gotB).toEqual([1, 2]);
    expect(gotA).toEqual([3]);
    for (const g of [s.a, s.b]) {
      const km = g.keymanager!.counters;
      expect(km.rxerrors).toBe(0);
      expect(km.negotiations_expired).toBe(0);
      // No NAT between them: the endpoints are where they were configured.
      expect(g.dataplane.counters().endpoint_changes).toBe(0);
    }
  });
});

describe('NAT-T configuration', () => {
  it('reads nat-t-port, nat-keepalive-interval and a route\'s nat-traversal, and hands them to the key manager', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const c = parseConfig(fs.readFileSync(path.join(import.meta.dirname, 'configs', 'good', 'every-setting.json'), 'utf8'));
    expect(c).toMatchObject({ natTPort: 14500, natKeepaliveInterval: 15 });
    expect(c.routes.map((r) => r.natTraversal)).toEqual(['force']);
    const { keyManagerConfig } = await import('../controlplane/gateway.js');
    const km = keyManagerConfig(c);
    expect(km.natTPort).toBe(14500);
    expect(km.routes.map((r) => r.natTraversal)).toEqual(['force']);
    // The defaults: 4500, 20 s, off.
    const d = gateway().config;
    expect(d).toMatchObject({ natTPort: 4500, natKeepaliveInterval: 20 });
    expect(d.routes.map((r) => r.natTraversal)).toEqual(['off']);
  });
});
