// The inbound policy (RFC 4301 §5.2) against the real data plane and the
// real gateway. The attack (issue 10, item 1): a peer, or any host behind
// it, holds a valid SA for its route `site-a` (net 10.1.0.0/16) and seals
// inner packets that claim to come from elsewhere (our own site, another
// site, 172.16.5.5, 255.255.255.255) or go to broadcast and multicast
// addresses, or an IPv6 packet on an IPv4-only route. Authentic ESP all of
// it: only the inner headers give it away. Each must be dropped in the batch
// it came in, counted as inbound_policy / inbound-policy-errors (per route),
// while the legitimate packets of the same batch pass. And (item 8) a
// decrypted packet for the gateway's own address goes to the slow path,
// which answers it back through the tunnel.
//
// The same attack over real interfaces with the key exchange is in
// test/realif-policy.test.ts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../controlplane/api/client.js';
import { startApi } from '../controlplane/api/server.js';
import { toJson } from '../controlplane/config/index.js';
import { GatewayMetrics } from '../controlplane/metrics.js';
import { statusReport, summarise } from '../controlplane/commands/status.js';
import type { SaState } from '../controlplane/dataplane.js';
import { FIRST_QUEUE, RouteId, Spi } from '../controlplane/exchange/types.js';
import { SaLedger } from '../controlplane/sa-ledger.js';
import { refSeal, type RefSa } from './support/esp-reference.js';
import { ethernet, makeHarness, pollUntilIdle, type Harness } from './support/gateway-harness.js';
import { buildIpv4, buildIpv6, internetChecksum } from './support/ip-packets.js';
import { GW_A_PRIV_MAC, HOST_A_MAC, sleep, twoSites, until, type TwoSites } from '../controlplane/demo/memory-two-sites.js';
import { yanglintDocument } from './config-yanglint.js';
import { itNeeding } from './support/requires.js';

const GW_PRIV_MAC = '02:00:00:00:00:01';
const GW_PUB_MAC = '02:00:00:00:01:01';
const HOST_MAC = '02:00:00:00:00:02';
const PEER_MAC = '02:00:00:00:01:02';
const SITE_A: RefSa = { aead: 'aes-gcm-16-icv', spi: 0x3001, keymat: crypto.randomBytes(20) };
const SITE_C: RefSa = { aead: 'aes-gcm-16-icv', spi: 0x3003, keymat: crypto.randomBytes(20) };

let h: Harness | undefined;
let sites: TwoSites | undefined;
afterEach(() => {
  h?.close();
  h = undefined;
  sites?.close();
  sites = undefined;
});

/**
 * Gateway B of site 10.2.0.0/16 in data-plane mode: route site-a (10.1.0.0/16
 * from 192.0.2.1) and site-c (10.3.0.0/16 and fd00:3::/48, a route with a
 * list of prefixes, from 192.0.2.3), an inbound SA each.
 */
function gatewayB(): Harness {
  const harness = makeHarness({
    mtu: 1500,
    private: { mac: GW_PRIV_MAC, ipv4: '10.2.0.1', ipv6: 'fd00:2::1' },
    public: { mac: GW_PUB_MAC, addresses: ['192.0.2.2'] },
  });
  const gw = harness.gw;
  gw.setRoutes([
    { id: RouteId('site-a'), net: '10.1.0.0/16', gateways: ['192.0.2.1'] },
    { id: RouteId('site-c'), net: ['10.3.0.0/16', 'fd00:3::/48'], gateways: ['192.0.2.3'] },
  ]);
  for (const [route, sa] of [['site-a', SITE_A], ['site-c', SITE_C]] as const) {
    gw.addInboundSa({ queue: FIRST_QUEUE, route: RouteId(route), spi: Spi(sa.spi), aead: sa.aead, keymat: sa.keymat });
  }
  gw.setNextHop('private', HOST_MAC);
  gw.setNextHop('public', PEER_MAC);
  return harness;
}

/** An inner UDP packet carrying `tag` (so that what comes out can be told apart). */
function udp(src: string, dst: string, tag: number): Buffer {
  const payload = Buffer.alloc(24);
  payload.writeUInt16BE(4000, 0);
  payload.writeUInt16BE(5000, 2);
  payload.writeUInt16BE(payload.length, 4);
  payload.writeUInt32BE(tag, 8);
  return src.includes(':') ? buildIpv6({ src, dst, payload }) : buildIpv4({ src, dst, payload });
}

function echoRequest(src: string, dst: string, id: number): Buffer {
  const body = Buffer.alloc(16, 0x61);
  body[0] = 8;
  body[1] = 0;
  body.writeUInt16BE(0, 2);
  body.writeUInt32BE((id << 16) | 1, 4);
  body.writeUInt16BE(internetChecksum(body), 2);
  return buildIpv4({ src, dst, protocol: 1, payload: body });
}

/** Authentic ESP from the peer gateway `from` to B, sealed with `sa`. */
function esp(sa: RefSa, from: string, seq: bigint, inner: Buffer): Buffer {
  const sealed = refSeal(sa, seq, inner);
  const ip = buildIpv4({ src: from, dst: '192.0.2.2', protocol: 50, payload: sealed });
  return ethernet(GW_PUB_MAC, PEER_MAC, 0x0800, ip);
}

const tagOf = (f: Buffer) => (f.readUInt16BE(12) === 0x0800 ? f.readUInt32BE(14 + 20 + 8) : f.readUInt32BE(14 + 40 + 8));

describe('inbound policy in the data plane (gateway harness)', () => {
  it('drops every packet of the batch that the SA\'s route may not carry, counted per SA; the legitimate ones pass, in order', () => {
    h = gatewayB();
    const legit = [
      udp('10.1.0.5', '10.2.0.9', 1),
      udp('10.1.255.254', '10.2.0.10', 2),
      udp('10.1.0.6', '10.2.0.255', 3), // a subnet-directed broadcast cannot be told here (no prefix length)
    ];
    const forged = [
      udp('10.2.0.77', '10.2.0.9', 101), // B's own site
      udp('172.16.5.5', '10.2.0.9', 102), // nobody's
      udp('10.3.0.7', '10.2.0.9', 103), // another site's (site-c)
      udp('255.255.255.255', '10.2.0.9', 104), // broadcast source
      udp('224.0.0.5', '10.2.0.9', 105), // multicast source
      udp('10.1.0.5', '255.255.255.255', 106), // limited broadcast
      udp('10.1.0.5', '224.0.0.5', 107), // OSPF's all-routers
      udp('10.1.0.5', '239.255.255.250', 108), // SSDP
      udp('10.1.0.5', '240.0.0.1', 109), // reserved
      udp('fd00:1::5', 'fd00:2::9', 110), // IPv6 on an IPv4-only route
      udp('fd00:3::5', 'fd00:2::9', 111), // IPv6 from site-c's prefix, on site-a's SA
    ];
    // One batch, forged and legitimate interleaved.
    const inner = [forged[0], legit[0], ...forged.slice(1, 6), legit[1], ...forged.slice(6), legit[2]];
    const frames = inner.map((p, i) => esp(SITE_A, '192.0.2.1', BigInt(i + 1), p));
    expect(h.sendPublic(frames)).toBe(frames.length);
    pollUntilIdle(h.gw);

    const out = h.receivePrivate();
    expect(out.map(tagOf)).toEqual([1, 2, 3]);
    const c = h.gw.counters();
    expect(c.decapsulated_packets).toBe(frames.length);
    expect(c.public_drop_inbound_policy).toBe(forged.length);
    expect(c.private_tx_packets).toBe(legit.length);
    const sa = h.gw.sas().find((s) => s.spi === SITE_A.spi)!;
    expect(sa.policyErrors).toBe(forged.length);
    expect(sa.packets).toBe(frames.length); // authentic: decrypted, then refused
    expect(sa.decryptErrors + sa.replayErrors + sa.truncatedErrors + sa.trailerErrors + sa.nextHeaderErrors).toBe(0);
    expect(h.gw.sas().find((s) => s.spi === SITE_C.spi)!.policyErrors).toBe(0);
  });

  it('checks every prefix of a route with several, each of its own IP version', () => {
    h = gatewayB();
    const inner = [
      udp('10.3.1.1', '10.2.0.9', 1),
      udp('fd00:3::7', 'fd00:2::9', 2),
      udp('fd00:3:0:ffff::1', 'fd00:2::9', 3),
      udp('fd00:3:1::1', 'fd00:2::9', 201), // outside fd00:3::/48
      udp('10.1.0.5', '10.2.0.9', 202), // site-a's, on site-c's SA
      udp('fd00:3::7', 'ff02::1', 203), // all nodes
      udp('ff02::1', 'fd00:2::9', 204), // a multicast source
      udp('fd00:3::7', 'ff05::1:3', 205), // site-local multicast
    ];
    h.sendPublic(inner.map((p, i) => esp(SITE_C, '192.0.2.3', BigInt(i + 1), p)));
    pollUntilIdle(h.gw);
    expect(h.receivePrivate().map(tagOf)).toEqual([1, 2, 3]);
    expect(h.gw.counters().public_drop_inbound_policy).toBe(5);
    expect(h.gw.sas().find((s) => s.spi === SITE_C.spi)!.policyErrors).toBe(5);
  });

  it('masks host bits of a route\'s nets (the configuration refuses them; the data plane means the network)', () => {
    h = gatewayB();
    h.gw.setRoutes([
      { id: RouteId('site-a'), net: '10.1.0.0/16', gateways: ['192.0.2.1'] },
      { id: RouteId('site-c'), net: ['10.3.77.5/16', 'fd00:3::1:2/48'], gateways: ['192.0.2.3'] },
    ]);
    const inner = [udp('10.3.1.1', '10.2.0.9', 1), udp('fd00:3:0:ffff::1', 'fd00:2::9', 2), udp('10.4.0.1', '10.2.0.9', 201)];
    h.sendPublic(inner.map((p, i) => esp(SITE_C, '192.0.2.3', BigInt(i + 1), p)));
    pollUntilIdle(h.gw);
    expect(h.receivePrivate().map(tagOf)).toEqual([1, 2]);
    expect(h.gw.counters().public_drop_inbound_policy).toBe(1);
  });

  it('an SA whose route is gone admits nothing', () => {
    h = gatewayB();
    h.gw.setRoutes([{ id: RouteId('site-c'), net: '10.3.0.0/16', gateways: ['192.0.2.3'] }]);
    h.sendPublic([esp(SITE_A, '192.0.2.1', 1n, udp('10.1.0.5', '10.2.0.9', 1))]);
    pollUntilIdle(h.gw);
    expect(h.receivePrivate()).toEqual([]);
    expect(h.gw.counters().public_drop_inbound_policy).toBe(1);
  });

  it('hands decrypted packets for its own addresses to the slow path instead of forwarding them', () => {
    h = gatewayB();
    h.sendPublic([
      esp(SITE_A, '192.0.2.1', 1n, echoRequest('10.1.0.5', '10.2.0.1', 7)), // B's private address
      esp(SITE_A, '192.0.2.1', 2n, echoRequest('10.1.0.5', '192.0.2.2', 8)), // B's public address
      esp(SITE_A, '192.0.2.1', 3n, udp('10.1.0.5', '10.2.0.9', 1)),
      esp(SITE_A, '192.0.2.1', 4n, echoRequest('172.16.5.5', '10.2.0.1', 9)), // policy first: dropped
    ]);
    pollUntilIdle(h.gw);
    expect(h.receivePrivate().map(tagOf)).toEqual([1]);
    const punts = h.gw.punts();
    expect(punts.map((p) => [p.reason, p.side])).toEqual([['tunnel', 'public'], ['tunnel', 'public']]);
    expect(h.gw.counters().public_drop_inbound_policy).toBe(1);
  });
});

// B's state after the attack, for yanglint below.
let stateForYanglint: object | undefined;

describe('inbound policy between two gateways with the key exchange (memory wires)', () => {
  it('host A\'s forged sources never reach host B; B counts them for route site-a in its state (API, YANG) and metrics; a ping of B\'s private address through the tunnel is answered by B', async () => {
    sites = twoSites();
    const { a, b } = sites;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-policy-'));
    const file = path.join(dir, 'b.json');
    fs.writeFileSync(file, JSON.stringify(toJson(sites.configB, { secrets: true })), { mode: 0o600 });
    const api = await startApi(b, { socket: path.join(dir, 'b.sock'), configFile: file, log: pino({ level: 'silent' }) });
    try {
      a.start();
      b.start();
      await until(() => a.sas().some((s) => s.direction === 'outbound') && b.sas().some((s) => s.direction === 'outbound'), 10_000, 'SAs both ways');
      const fromHostA = (inner: Buffer) => ethernet(GW_A_PRIV_MAC, HOST_A_MAC, inner[0] >> 4 === 6 ? 0x86dd : 0x0800, inner);
      const forged = [
        udp('255.255.255.255', '10.2.0.2', 101),
        udp('10.2.0.77', '10.2.0.2', 102), // B's own site
        udp('10.9.0.1', '10.2.0.2', 103), // another site
        udp('172.16.5.5', '10.2.0.2', 104),
      ];
      // (Forged broadcast and multicast destinations do not get this far: A
      // has no route for them. The harness tests above seal them directly.)
      // Legitimate, mixed in: to host B, and to 10.2.255.255 (the broadcast
      // address of a /16 at B's site, but B's private address has no prefix
      // length: for B it is a unicast address like any other).
      const legit = [udp('10.1.0.2', '10.2.0.2', 1), udp('10.1.0.2', '10.2.255.255', 2)];
      const sent = [legit[0], ...forged.slice(0, 2), legit[1], ...forged.slice(2)];
      expect(sites.sendA(sent.map(fromHostA))).toBe(sent.length);
      await until(() => b.dataplane.counters().public_drop_inbound_policy >= forged.length, 20_000, 'B to drop the forged packets');
      await sleep(50);
      expect(sites.receiveB().map(tagOf)).toEqual([1, 2]);
      expect(b.dataplane.counters().public_drop_inbound_policy).toBe(forged.length);

      // Item 8: host A pings B's private address through the tunnel; B answers.
      expect(sites.sendA([fromHostA(echoRequest('10.1.0.2', '10.2.0.1', 42))])).toBe(1);
      const replies: Buffer[] = [];
      await until(() => {
        replies.push(...sites!.receiveAllA());
        return replies.some((f) => f.readUInt16BE(12) === 0x0800 && f[14 + 9] === 1 && f[14 + 20] === 0);
      }, 5000, 'an echo reply at host A');
      const reply = replies.find((f) => f[14 + 9] === 1 && f[14 + 20] === 0)!;
      expect([...reply.subarray(14 + 12, 14 + 16)].join('.')).toBe('10.2.0.1');
      expect([...reply.subarray(14 + 16, 14 + 20)].join('.')).toBe('10.1.0.2');
      expect(reply.readUInt16BE(14 + 20 + 4)).toBe(42);
      // The request was not forwarded to host B.
      const atB = sites.receiveAllB().filter((f) => f.readUInt16BE(12) === 0x0800);
      expect(atB.filter((f) => f[14 + 9] === 1)).toEqual([]);

      const client = new ApiClient({ socket: api.socket! });
      const state = ((await client.get('/restconf/data/vitesse-gateway:gateway-state')) as any)['vitesse-gateway:gateway-state'];
      expect(state['public-router']['inbound-policy-errors']).toBe(String(forged.length));
      const route = state.route.find((r: { id: string }) => r.id === 'site-a');
      expect(route['inbound-policy-errors']).toBe(String(forged.length));
      expect(route['inbound-sas']).toBeGreaterThanOrEqual(1);
      expect(route['outbound-sas']).toBe(1);
      expect(Number(route['inbound-packets'])).toBe(b.sas().filter((s) => s.direction === 'inbound').reduce((n, s) => n + s.packets, 0));
      expect(Number(route['outbound-packets'])).toBeGreaterThanOrEqual(1); // the echo reply
      const one = ((await client.get('/restconf/data/vitesse-gateway:gateway-state/route=site-a')) as any)['vitesse-gateway:route'];
      expect(one[0]['inbound-policy-errors']).toBe(String(forged.length));
      stateForYanglint = { 'vitesse-gateway:gateway-state': state };

      const metrics = await new GatewayMetrics(b, { processMetrics: false }).scrape();
      expect(metrics).toMatch(/^vitesse_drops_total\{interface="public",reason="inbound_policy",queue="1"\} 4$/m);
      expect(metrics).toMatch(/^vitesse_route_inbound_policy_errors_total\{route="site-a",queue="1"\} 4$/m);

      const summary = summarise(statusReport('b', { route: [{ id: 'site-a', net: '10.1.0.0/16' }] }, state, state, 0));
      expect(summary).toMatch(/route site-a\/inbound-policy-errors\s+4/);
    } finally {
      await api.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});


describe('B\'s state after the attack, judged by an independent YANG implementation', () => {
  itNeeding(['yanglint'], 'is valid for yanglint (-t get), route list and inbound-policy-errors included', () => {
    expect(stateForYanglint).toBeDefined();
    const verdict = yanglintDocument(stateForYanglint, 'get');
    expect(verdict.messages).toBe('');
    expect(verdict.ok).toBe(true);
  });
});

describe('per-route inbound-policy errors across rekeys', () => {
  it('keep what removed SAs counted (the SA ledger), so the route\'s counter never goes back', () => {
    const route = RouteId('site-a');
    const sa = (spi: number, policyErrors: number): SaState => ({
      queue: FIRST_QUEUE, spi: Spi(spi), route, direction: 'inbound', packets: 10, bytes: 1000,
      decryptErrors: 0, replayErrors: 0, truncatedErrors: 0, trailerErrors: 0, nextHeaderErrors: 0, policyErrors, encapErrors: 0, sequenceExhausted: 0, sequenceUnreserved: 0, esn: true, seq: 0n,
    });
    let live: SaState[] = [sa(0x1000, 3)];
    const ledger = new SaLedger(() => live);
    ledger.installed('inbound', FIRST_QUEUE, route, Spi(0x1000), 'aes-gcm-16-icv');
    const errors = () => ledger.routeTraffic([route]).find((t) => t.direction === 'inbound')!.policyErrors;
    expect(errors()).toBe(3);
    ledger.installed('inbound', FIRST_QUEUE, route, Spi(0x1001), 'aes-gcm-16-icv');
    live = [sa(0x1000, 3), sa(0x1001, 2)];
    expect(errors()).toBe(5);
    ledger.removing('inbound', FIRST_QUEUE, Spi(0x1000));
    live = [sa(0x1001, 2)];
    expect(errors()).toBe(5);
    live = [sa(0x1001, 4)];
    expect(errors()).toBe(7);
  });
});
