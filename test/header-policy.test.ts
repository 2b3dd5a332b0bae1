// IP headers a gateway refuses to forward although they parse (issue 10,
// item 8; dataplane/net/header_policy.h), through a real gateway in
// data-plane mode on memory wires: IPv4 loose and strict source routes
// (RFC 7126) and IPv6 payload length 0 (jumbograms, RFC 2675), from a host on
// the private side before encapsulation, and from behind the peer after
// decapsulation (and in the outer header). Each drop is counted by its
// reason in the data plane, the YANG state (checked by yanglint) and the
// metrics.
import crypto from 'node:crypto';
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { parseConfig } from '../controlplane/config/index.js';
import { wires } from '../controlplane/dataplane.js';
import { Gateway } from '../controlplane/gateway.js';
import { GatewayMetrics } from '../controlplane/metrics.js';
import { gatewayState, STATE_TOP } from '../controlplane/state.js';
import { yanglintDocument } from './config-yanglint.js';
import { refSeal, type RefSa } from './support/esp-reference.js';
import { buildIpv4, buildIpv6, internetChecksum } from './support/ip-packets.js';
import { ethernet } from './support/gateway-harness.js';
import { describeNeeding } from './support/requires.js';
import { until } from '../controlplane/demo/memory-two-sites.js';

const log = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });
const GW_PRIV_MAC = '02:00:00:0d:00:01';
const HOST_MAC = '02:00:00:0d:00:02';
const GW_PUB_MAC = '02:00:00:0d:01:01';
const PEER_MAC = '02:00:00:0d:01:02';
const LSRR = 131, SSRR = 137, RECORD_ROUTE = 7, NOP = 1;

// An IPv4 packet with `options` (padded with end-of-list to 4 octets).
function ipv4WithOptions(options: number[], o: { src: string; dst: string; protocol?: number; payload?: Buffer }): Buffer {
  const opts = Buffer.alloc(Math.ceil(options.length / 4) * 4);
  Buffer.from(options).copy(opts);
  const plain = buildIpv4({ src: o.src, dst: o.dst, protocol: o.protocol, payload: o.payload ?? Buffer.alloc(16) });
  const p = Buffer.concat([plain.subarray(0, 20), opts, plain.subarray(20)]);
  p[0] = 0x40 | ((20 + opts.length) / 4);
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(0, 10);
  p.writeUInt16BE(internetChecksum(p.subarray(0, 20 + opts.length)), 10);
  return p;
}

// A route option (LSRR, SSRR, record route) naming one address.
const routeOption = (type: number) => [type, 7, 4, 192, 0, 2, 77];

// An IPv6 packet whose payload length says 0 with `extra` octets behind the
// header (a jumbogram's hop-by-hop header would be there).
function ipv6PayloadLengthZero(src: string, dst: string, extra = 24): Buffer {
  const p = buildIpv6({ src, dst, nextHeader: 0, payload: Buffer.alloc(extra) });
  p.writeUInt16BE(0, 4);
  return p;
}

let gw: Gateway | undefined;
const created: string[] = [];
afterEach(() => {
  gw?.close();
  gw = undefined;
  for (const w of created.splice(0)) wires.destroy(w);
});

function wire(name: string): string {
  const w = `${name}-${process.pid}-${crypto.randomBytes(2).toString('hex')}`;
  wires.create(w, { ends: [{ queues: 1 }, { queues: 1 }] });
  created.push(w);
  return w;
}

// IPv4 frames of `protocol` that came out of a wire (not the gateway's own ARP or ND).
function receiveIpv4(w: string, protocol: number): Buffer[] {
  const out: Buffer[] = [];
  for (let got = wires.receive(w, 1, 0); got.length; got = wires.receive(w, 1, 0)) out.push(...got);
  return out.filter((f) => f.readUInt16BE(12) === 0x0800 && f[14 + 9] === protocol);
}

/** A gateway for site 10.1.0.0/16 with a route to site-b 10.2.0.0/16 (and fd00:2::/32). */
function start() {
  const priv = wire('hp-priv'), pub = wire('hp-pub');
  // One inbound SA per route: what comes out of an SA must be from its route's net.
  const inbound: RefSa = { aead: 'aes-gcm-16-icv', spi: 8193, keymat: crypto.randomBytes(20) };
  const inbound6: RefSa = { aead: 'aes-gcm-16-icv', spi: 8194, keymat: crypto.randomBytes(20) };
  const sa = (spi: number, keymat: Buffer = crypto.randomBytes(20)) =>
    ({ route: 'site-b', queue: 1, spi, aead: 'aes-gcm-16-icv', key: keymat.subarray(0, 16).toString('hex'), salt: keymat.subarray(16).toString('hex') });
  gw = new Gateway(parseConfig({
    'vitesse-gateway:gateway': {
      'private-interface': { device: priv, driver: 'memory', mac: GW_PRIV_MAC, address: ['10.1.0.1', 'fd00:1::1'], 'next-hop': { address: '10.1.0.2', mac: HOST_MAC } },
      'public-interface': { device: pub, driver: 'memory', mac: GW_PUB_MAC, queue: [{ id: 1, address: '192.0.2.1' }], 'next-hop': { address: '192.0.2.254', mac: PEER_MAC } },
      route: [{ id: 'site-b', net: '10.2.0.0/16', gateway: [{ queue: 1, address: '198.51.100.1' }] },
        { id: 'site-b6', net: 'fd00:2::/32', gateway: [{ queue: 1, address: '198.51.100.1' }] }],
      'data-plane': { 'inbound-sa': [sa(8193, inbound.keymat), { ...sa(8194, inbound6.keymat), route: 'site-b6' }], 'outbound-sa': [sa(4097), { ...sa(4098), route: 'site-b6' }] },
    },
  }), { logger: log });
  gw.start();
  gw.dataplane.commit(); // the static next hops, before the first frame
  return { gw, priv, pub, inbound, inbound6 };
}

const fromHost = (ip: Buffer) => ethernet(GW_PRIV_MAC, HOST_MAC, ip[0] >> 4 === 6 ? 0x86dd : 0x0800, ip);
const toPublic = (outer: Buffer) => ethernet(GW_PUB_MAC, PEER_MAC, 0x0800, outer);
const espFrame = (sa: RefSa, seq: bigint, inner: Buffer) =>
  toPublic(buildIpv4({ src: '198.51.100.1', dst: '192.0.2.1', protocol: 50, payload: refSeal(sa, seq, inner) }));

async function settled(g: Gateway, cond: (c: Record<string, number>) => boolean, what: string) {
  await until(() => cond(g.dataplane.counters()), 5000, what).catch((e) => {
    throw new Error(`${e.message}: ${JSON.stringify(g.dataplane.counters())}`);
  });
}

async function scrape(g: Gateway): Promise<string> {
  return new GatewayMetrics(g).scrape();
}

const metric = (text: string, side: string, reason: string) =>
  Number(new RegExp(`^vitesse_drops_total\\{[^}]*interface="${side}",reason="${reason}",queue="1"\\} (\\d+)$`, 'm').exec(text)?.[1]);

describeNeeding(['yanglint'], 'source routes and jumbograms are not forwarded', () => {
  it('private side: LSRR and SSRR (even behind a NOP) and IPv6 payload length 0 are dropped before encapsulation', async () => {
    const s = start();
    const host = { src: '10.1.0.2', dst: '10.2.0.9' };
    wires.send(s.priv, 1, [
      fromHost(ipv4WithOptions(routeOption(LSRR), host)),
      fromHost(ipv4WithOptions([NOP, ...routeOption(SSRR)], host)),
      fromHost(ipv4WithOptions(routeOption(RECORD_ROUTE), host)), // not a source route: forwarded
      fromHost(ipv4WithOptions([RECORD_ROUTE, 40, 4], host)), // option longer than the header
      fromHost(ipv6PayloadLengthZero('fd00:1::2', 'fd00:2::9')),
      fromHost(buildIpv4({ ...host, payload: Buffer.alloc(16) })),
      fromHost(buildIpv6({ src: 'fd00:1::2', dst: 'fd00:2::9', payload: Buffer.alloc(16) })),
    ]);
    const out: Buffer[] = [];
    await settled(s.gw, (c) => out.push(...receiveIpv4(s.pub, 50)) >= 3 && c.private_rx_packets === 7, 'the frames');
    const c = s.gw.dataplane.counters();
    expect([c.private_drop_source_route, c.private_drop_jumbogram, c.private_drop_bad_header, c.encapsulated_packets]).toEqual([2, 1, 1, 3]);
    expect([...out, ...receiveIpv4(s.pub, 50)]).toHaveLength(3);

    const state = gatewayState(s.gw);
    expect(state['private-router']).toMatchObject({ 'source-route-errors': '2', 'jumbogram-errors': '1', 'bad-header-errors': '1' });
    expect((state['private-interface'] as Record<string, string>)['rx-errors']).toBe('4');
    expect(yanglintDocument({ [STATE_TOP]: gatewayState(s.gw) }, 'get').messages).toBe('');
    const text = await scrape(s.gw);
    expect([metric(text, 'private', 'source_route'), metric(text, 'private', 'jumbogram')]).toEqual([2, 1]);
  });

  it('public side: decrypted source-routed and payload-length-0 packets, and an outer source route, are dropped', async () => {
    const s = start();
    const peer = { src: '10.2.0.7', dst: '10.1.0.2' };
    const fine = buildIpv4({ ...peer, payload: Buffer.alloc(16, 1) });
    const recordRoute = ipv4WithOptions(routeOption(RECORD_ROUTE), peer);
    const frames = [
      espFrame(s.inbound, 1n, ipv4WithOptions(routeOption(LSRR), peer)),
      espFrame(s.inbound, 2n, ipv4WithOptions([NOP, NOP, ...routeOption(SSRR)], peer)),
      espFrame(s.inbound6, 1n, ipv6PayloadLengthZero('fd00:2::7', 'fd00:1::2')),
      espFrame(s.inbound, 3n, fine),
      espFrame(s.inbound, 4n, recordRoute),
    ];
    // Genuine ESP, but its outer header carries a loose source route.
    const outerLsrr = ipv4WithOptions(routeOption(LSRR), { src: '198.51.100.1', dst: '192.0.2.1', protocol: 50, payload: refSeal(s.inbound, 5n, fine) });
    wires.send(s.pub, 1, [...frames, toPublic(outerLsrr)]);
    const out: Buffer[] = [];
    await settled(s.gw, (c) => out.push(...receiveIpv4(s.priv, 17)) >= 2 && c.public_drop_source_route + c.public_drop_jumbogram === 4, 'the frames');
    const c = s.gw.dataplane.counters();
    expect([c.public_drop_source_route, c.public_drop_jumbogram, c.decapsulated_packets]).toEqual([3, 1, 5]);
    // The two that passed, as sent but for the TTL (and its checksum).
    const delivered = [...out, ...receiveIpv4(s.priv, 17)].map((f) => f.subarray(14, 14 + f.readUInt16BE(16)));
    const headerless = (p: Buffer) => Buffer.concat([p.subarray(0, 8), p.subarray(12)]);
    expect(delivered.map(headerless)).toEqual([fine, recordRoute].map(headerless));
    expect(delivered.map((p) => p[8])).toEqual([63, 63]);

    const state = gatewayState(s.gw);
    expect(state['public-router']).toMatchObject({ 'source-route-errors': '3', 'jumbogram-errors': '1' });
    expect((state['public-interface'] as Record<string, string>)['rx-errors']).toBe('4');
    expect(yanglintDocument({ [STATE_TOP]: gatewayState(s.gw) }, 'get').messages).toBe('');
    const text = await scrape(s.gw);
    expect([metric(text, 'public', 'source_route'), metric(text, 'public', 'jumbogram')]).toEqual([3, 1]);
  });
});
