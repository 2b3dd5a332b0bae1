// The inbound policy (RFC 4301 §5.2) end to end on real interfaces with the
// key exchange (issue 10, items 1 and 8):
//
//   hostA ── gwA ══ net ══ gwB ── hostB      (controlplane/demo/two-sites.ts)
//
// Host A forges packets to host B from addresses that are not its site's:
// 255.255.255.255, ff02::1, another site's, B's own site's. Gateway A
// tunnels them (it does not judge its own LAN's sources); gateway B
// decrypts them with site-a's SAs and must not deliver any: host B's
// interface (captured with a packet socket) sees only the legitimate
// packets sent with them, and B's state (through its API) and metrics
// count the forged ones per route. Then host A pings B's private addresses
// through the tunnel, and B itself answers.
//
// Needs root, ip, ping and yanglint; skipped with the reason otherwise.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../controlplane/api/client.js';
import { startApi, type ApiServer } from '../controlplane/api/server.js';
import { parseConfig, toJson } from '../controlplane/config/index.js';
import { waitForTunnel } from '../controlplane/demo/demo.js';
import { ADDR, buildTwoSites, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import { Gateway } from '../controlplane/gateway.js';
import { GatewayMetrics, serveMetrics, type MetricsServer } from '../controlplane/metrics.js';
import * as testkit from '../controlplane/testkit.js';
import { ethernet } from './support/gateway-harness.js';
import { buildIpv4, buildIpv6 } from './support/ip-packets.js';
import { yanglintDocument } from './config-yanglint.js';
import { missing } from './support/requires.js';

const why = missing('root', 'ip', 'ping', 'yanglint');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PORT = 5077;

/** A UDP datagram to host B's port PORT carrying `tag`. */
function datagram(src: string, dst: string, tag: number): Buffer {
  const payload = Buffer.alloc(24);
  payload.writeUInt16BE(4000, 0);
  payload.writeUInt16BE(PORT, 2);
  payload.writeUInt16BE(payload.length, 4);
  payload.writeUInt32BE(tag, 8);
  return src.includes(':') ? buildIpv6({ src, dst, payload }) : buildIpv4({ src, dst, payload });
}

/** The tag of one of our datagrams in a frame, or null. */
function tagOf(f: Buffer): number | null {
  const type = f.readUInt16BE(12);
  const [proto, l4] = type === 0x0800 ? [f[14 + 9], 14 + (f[14] & 0x0f) * 4] : type === 0x86dd ? [f[14 + 6], 14 + 40] : [0, 0];
  if (proto !== 17 || f.length < l4 + 12 || f.readUInt16BE(l4 + 2) !== PORT) return null;
  return f.readUInt32BE(l4 + 8);
}

describe.skipIf(why)(`inbound policy on real interfaces (af-packet), with the key exchange${why ? ` [skipped: ${why}]` : ''}`, () => {
  let lab: TwoSiteLab;
  let gwA: Gateway;
  let gwB: Gateway;
  let dir: string;
  let api: ApiServer;
  let metrics: MetricsServer;
  const logger = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });

  const start = (name: string, config: object, ns: string) => {
    const link = (device: string) => ({ driver: 'af-packet' as const, ifname: device, netns: ns });
    const gw = new Gateway(parseConfig(config), { logger: logger.child({ gw: name }), links: { private: link('private'), public: link('public') } });
    gw.start();
    return gw;
  };
  const ping = async (ns: string, args: string[]) => {
    try {
      return await lab.lab.execAsync(ns, ['ping', ...args]);
    } catch (e) {
      return (e as { stdout?: string }).stdout ?? ''; // ping exits 1 when a reply is missing
    }
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-realif-policy-'));
    lab = buildTwoSites({ driver: 'af-packet', prefix: 'vpolicy' });
    gwA = start('gwA', lab.configA, lab.ns.gwA);
    gwB = start('gwB', lab.configB, lab.ns.gwB);
    await waitForTunnel(lab, performance.now());
    // The IPv6 route negotiates its own SAs.
    for (let i = 0; i < 50 && !/1 received/.test(await ping(lab.ns.hostA, ['-c', '1', '-W', '0.3', ADDR.hostB6])); i++);
    const file = path.join(dir, 'gwB.json');
    fs.writeFileSync(file, JSON.stringify(toJson(gwB.currentConfig, { secrets: true })), { mode: 0o600 });
    api = await startApi(gwB, { socket: path.join(dir, 'gwB.sock'), configFile: file, log: logger });
    metrics = await serveMetrics(new GatewayMetrics(gwB, { processMetrics: false }), '127.0.0.1:0');
  }, 60_000);

  afterAll(async () => {
    await api?.close();
    await metrics?.close();
    gwA?.close();
    gwB?.close();
    lab?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('forged sources from host A never reach host B; B counts them per route in its state (API, YANG) and metrics', async () => {
    const aMac = lab.lab.mac(lab.ns.hostA, 'eth0');
    const gwAMac = (lab.configA as any)['vitesse-gateway:gateway']['private-interface'].mac as string;
    const fromA = (ip: Buffer) => ethernet(gwAMac, aMac, ip[0] >> 4 === 6 ? 0x86dd : 0x0800, ip);
    const legit = [datagram(ADDR.hostA, ADDR.hostB, 1), datagram(ADDR.hostA6, ADDR.hostB6, 2)];
    const forged = [
      datagram('255.255.255.255', ADDR.hostB, 101),
      datagram('10.9.0.1', ADDR.hostB, 102), // a site nobody routes
      datagram('10.2.0.77', ADDR.hostB, 103), // B's own site
      datagram('ff02::1', ADDR.hostB6, 104), // all nodes, as a source
      datagram('fd00:9::1', ADDR.hostB6, 105),
    ];
    const forgedV4 = 3, forgedV6 = 2;
    const before = gwB.dataplane.counters().public_drop_inbound_policy;

    const hostA = testkit.io.open({ driver: 'af-packet', ifname: 'eth0', netns: lab.ns.hostA });
    const hostB = testkit.io.open({ driver: 'af-packet', ifname: 'eth0', netns: lab.ns.hostB });
    const seen: number[] = [];
    try {
      const sent = [legit[0], ...forged.slice(0, 3), legit[1], ...forged.slice(3)].map(fromA);
      expect(hostA.send(sent)).toBe(sent.length);
      const t0 = performance.now();
      while (performance.now() - t0 < 3000) {
        for (const f of hostB.receive(64, 50) as Buffer[]) {
          const tag = tagOf(f);
          if (tag !== null) seen.push(tag);
        }
        if (gwB.dataplane.counters().public_drop_inbound_policy - before >= forged.length && seen.length >= legit.length) break;
      }
      await sleep(200); // anything late would still show
      for (const f of hostB.receive(64, 0) as Buffer[]) {
        const tag = tagOf(f);
        if (tag !== null) seen.push(tag);
      }
    } finally {
      hostA.close();
      hostB.close();
    }
    expect(seen.sort((x, y) => x - y)).toEqual([1, 2]);
    expect(gwB.dataplane.counters().public_drop_inbound_policy - before).toBe(forged.length);

    const client = new ApiClient({ socket: api.socket! });
    const state = ((await client.get('/restconf/data/vitesse-gateway:gateway-state')) as any)['vitesse-gateway:gateway-state'];
    const route = (id: string) => state.route.find((r: { id: string }) => r.id === id);
    expect(route('site-a')['inbound-policy-errors']).toBe(String(forgedV4));
    expect(route('site-a-v6')['inbound-policy-errors']).toBe(String(forgedV6));
    expect(state['public-router']['inbound-policy-errors']).toBe(String(forged.length));
    expect(route('site-a')['outbound-sas']).toBe(1);
    expect(yanglintDocument({ 'vitesse-gateway:gateway-state': state }, 'get').messages).toBe('');

    const text = await new Promise<string>((resolve, reject) => {
      http.get(`http://127.0.0.1:${metrics.address.port}/metrics`, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect(text).toMatch(new RegExp(`^vitesse_route_inbound_policy_errors_total\\{route="site-a",queue="1"\\} ${forgedV4}$`, 'm'));
    expect(text).toMatch(new RegExp(`^vitesse_route_inbound_policy_errors_total\\{route="site-a-v6",queue="1"\\} ${forgedV6}$`, 'm'));
    expect(text).toMatch(new RegExp(`^vitesse_drops_total\\{interface="public",reason="inbound_policy",queue="1"\\} ${forged.length}$`, 'm'));
  });

  it('host A\'s ping of gateway B\'s private addresses through the tunnel is answered by B (IPv4 and IPv6)', async () => {
    const [v4, v6] = await Promise.all([
      ping(lab.ns.hostA, ['-c', '3', '-i', '0.2', '-W', '2', ADDR.gwBPrivate]),
      ping(lab.ns.hostA, ['-c', '3', '-i', '0.2', '-W', '2', ADDR.gwBPrivate6]),
    ]);
    expect(v4).toMatch(/3 packets transmitted, 3 received/);
    expect(v6).toMatch(/3 packets transmitted, 3 received/);
    // B answered them itself (before, the requests went on to host B, whose
    // kernel dropped them: not its address).
    const slow = gwB.slowpath.counters();
    expect(Object.entries(slow.icmp.sent).filter(([k]) => k.startsWith('0.')).reduce((n, [, v]) => n + v, 0)).toBeGreaterThanOrEqual(3);
    expect(Object.entries(slow.icmpv6.sent).filter(([k]) => k.startsWith('129.')).reduce((n, [, v]) => n + v, 0)).toBeGreaterThanOrEqual(3);
  });
});
