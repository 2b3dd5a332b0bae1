// vita-ske v5 on real interfaces: two `vitesse run` gateways in namespaces
// (controlplane/demo/two-sites.ts), each with its IPv4 route on protocol
// vita-ske-v5 and its IPv6 route on our own vitesse-ske, both on UDP port
// 303 of the same gateways: knock → agreement → ESP both ways (ping), a
// numbered stream across rollovers every 2–2.5 s (sa-ttl 4 s) with no loss,
// a proposal recorded on the path and replayed (and truncated), and a wrong
// pre-shared key: each refused and counted (authentication-errors,
// protocol-errors, in the YANG state read over the API socket).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForTunnel } from '../controlplane/demo/demo.js';
import { spawnGateway, vitesseBin, type GatewayProcess } from '../controlplane/demo/gateway-process.js';
import { ADDR, buildTwoSites, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import * as testkit from '../controlplane/testkit.js';
import { missing } from './support/requires.js';
import { eth, udp4Packet } from './support/slowpath-frames.js';
import { udpReceiver, udpSender } from './support/udp-stream.js';

const SA_TTL = 4;
const NEGOTIATION_TTL = 1;
const STREAM_SECONDS = 16;
const STREAM_PPS = 200;
const why = missing('root', 'ip', 'ping', 'cli');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = promisify(execFile);

type Config = { 'vitesse-gateway:gateway': { route: { id: string; protocol?: string; 'preshared-key': string }[] } };

describe.skipIf(why).each([4, 6] as const)(`vita-ske v5 between two vitesse run gateways, public side over IPv%s${why ? ` [skipped: ${why}]` : ''}`, (outer) => {
  let lab: TwoSiteLab;
  let dir: string;
  const gw: Record<'A' | 'B', GatewayProcess | null> = { A: null, B: null };
  const socket = (s: 'A' | 'B') => path.join(dir, `gw${s}.sock`);
  const cli = async (args: string[]) => (await run(process.execPath, [vitesseBin, ...args])).stdout;
  const state = async (s: 'A' | 'B', at: string) => JSON.parse(await cli(['config', 'get-state', at, '--socket', socket(s)]));
  const keyManager = async (s: 'A' | 'B') => {
    const j = await state(s, '/key-manager');
    return (j['vitesse-gateway:key-manager'] ?? j['key-manager'] ?? j) as Record<string, string | number>;
  };
  // The key manager's error counters that are not zero.
  const errorsOf = (km: Record<string, string | number>) =>
    Object.fromEntries(Object.entries(km).filter(([k, v]) => (k === 'rxerrors' || k.endsWith('-errors')) && Number(v) !== 0));
  const ping = async (ns: string, dst: string) => {
    try {
      return await lab.lab.execAsync(ns, ['ping', '-c', '3', '-i', '0.3', '-W', '2', dst]);
    } catch (e) {
      return (e as { stdout?: string }).stdout ?? '';
    }
  };
  const negotiated = (s: 'A' | 'B', route: string, protocol = route.endsWith('-v6') ? 'vitesse-ske' : 'vita-ske-v5') =>
    gw[s]!.log.filter((l) => l.msg === 'SA pair negotiated' && l.route === route && l.protocol === protocol).length;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-vita-ske-'));
    lab = buildTwoSites({ driver: 'af-packet', saTtl: SA_TTL, negotiationTtl: NEGOTIATION_TTL, prefix: `vvita${outer}`, outer });
    for (const [s, config, ns] of [['A', lab.configA, lab.ns.gwA], ['B', lab.configB, lab.ns.gwB]] as const) {
      const c = structuredClone(config) as Config;
      c['vitesse-gateway:gateway'].route[0].protocol = 'vita-ske-v5'; // site-x (IPv4); site-x-v6 stays vitesse-ske
      const file = path.join(dir, `gw${s}.json`);
      fs.writeFileSync(file, JSON.stringify(c));
      gw[s] = spawnGateway(lab.lab, ns, file, `vvita${outer}-gw${s}`, ['--lock-dir', dir, '--socket', socket(s), '--metrics-listen', 'none']);
    }
    await Promise.all([gw.A!.started, gw.B!.started]);
    await waitForTunnel(lab, performance.now());
  }, 60_000);

  afterAll(async () => {
    for (const g of [gw.A, gw.B]) {
      if (!g) continue;
      g.child.kill('SIGTERM');
      await g.exited;
    }
    lab?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('knock → agreement on both routes (vita-ske-v5 and vitesse-ske on port 303), ping both ways', async () => {
    expect(await ping(lab.ns.hostA, ADDR.hostB)).toMatch(/[1-3] received/);
    expect(await ping(lab.ns.hostB, ADDR.hostA)).toMatch(/[1-3] received/);
    expect(await ping(lab.ns.hostA, ADDR.hostB6)).toMatch(/[1-3] received/);
    expect(await ping(lab.ns.hostB, ADDR.hostA6)).toMatch(/[1-3] received/);
    for (const s of ['A', 'B'] as const) {
      expect(negotiated(s, 'site-' + (s === 'A' ? 'b' : 'a'))).toBeGreaterThan(0);
      expect(negotiated(s, 'site-' + (s === 'A' ? 'b' : 'a') + '-v6')).toBeGreaterThan(0);
      // Only what a start-up race explains: a message that came after its
      // negotiation ended (the gateways start one after the other and a
      // negotiation-ttl is 1 s). Nothing failed to authenticate or parse.
      const { rxerrors, 'protocol-errors': late, ...others } = errorsOf(await keyManager(s));
      expect(others, `gw${s}`).toEqual({});
      expect(Number(rxerrors ?? 0), `gw${s}`).toBe(Number(late ?? 0));
    }
  });

  it(`a numbered UDP stream across rollovers every 2–2.5 s (${STREAM_SECONDS} s) loses nothing`, async () => {
    const before = negotiated('A', 'site-b') + negotiated('B', 'site-a');
    const errorsBefore = { A: errorsOf(await keyManager('A')), B: errorsOf(await keyManager('B')) };
    const receivers = [udpReceiver(lab.lab, lab.ns.hostA), udpReceiver(lab.lab, lab.ns.hostB)];
    await Promise.all(receivers.map((r) => r.ready));
    const senders = [
      udpSender(lab.lab, lab.ns.hostA, ADDR.hostB, ADDR.hostB6, STREAM_PPS, STREAM_SECONDS),
      udpSender(lab.lab, lab.ns.hostB, ADDR.hostA, ADDR.hostA6, STREAM_PPS, STREAM_SECONDS),
    ];
    const sent = await Promise.all(senders.map((s) => s.done));
    await sleep(1000);
    const got = await Promise.all(receivers.map((r) => r.stop()));
    const pairs = [[sent[1], got[0], 'hostB → hostA'], [sent[0], got[1], 'hostA → hostB']] as const;
    for (const [s, g, what] of pairs) {
      for (const family of ['v4', 'v6'] as const) {
        const r = g[family];
        expect(s[family], `${what} ${family}: sent`).toBeGreaterThan(STREAM_SECONDS * STREAM_PPS * 0.5);
        expect({ what, family, lost: s[family] - r.distinct, firstMissing: r.firstMissing, duplicates: r.duplicates })
          .toEqual({ what, family, lost: 0, firstMissing: [], duplicates: 0 });
      }
    }
    // vita-ske SA pairs negotiated during the stream: about one per 2–2.5 s per initiating end.
    const during = negotiated('A', 'site-b') + negotiated('B', 'site-a') - before;
    expect(during).toBeGreaterThanOrEqual(STREAM_SECONDS / SA_TTL);
    // No key-exchange message refused during the stream and its rollovers.
    for (const s of ['A', 'B'] as const) expect(errorsOf(await keyManager(s)), `gw${s}`).toEqual(errorsBefore[s]);
  });

  // Frames are forged over IPv4 only (the addresses, not the key exchange, differ over IPv6).
  if (outer === 4) it('a recorded proposal replayed, and one truncated by an octet: authentication-errors, protocol-errors', async () => {
    // Record on the path (af-packet links in `net`, on both sides) the first
    // vita-ske proposal of a rekey, then send it again, as recorded and
    // truncated, to the gateway it was for, from the same addresses.
    const side = { A: { ifname: 'siteA', gw: 'A' as const, to: ADDR.gwAPublic, from: ADDR.gwBPublic }, B: { ifname: 'siteB', gw: 'B' as const, to: ADDR.gwBPublic, from: ADDR.gwAPublic } };
    const links = { A: testkit.io.open({ driver: 'af-packet', ifname: 'siteA', netns: lab.ns.net }), B: testkit.io.open({ driver: 'af-packet', ifname: 'siteB', netns: lab.ns.net }) };
    let recorded: { payload: Buffer; towards: 'A' | 'B' } | null = null;
    try {
      const end = performance.now() + 15_000;
      while (!recorded && performance.now() < end) {
        for (const link of [links.A, links.B]) {
          for (const f of link.receive(64, 20)) {
            // IPv4, UDP to 303, route SPI 1001, type 13 (proposal); for the gateway its destination address names.
            if (f.readUInt16BE(12) !== 0x0800 || f[23] !== 17 || f.readUInt16BE(36) !== 303) continue;
            const payload = f.subarray(42);
            const towards = f.subarray(30, 34).join('.') === ADDR.gwAPublic ? 'A' : 'B';
            if (payload.length === 88 && payload.readUInt32BE(0) === 1001 && payload[4] === 13) recorded ??= { payload: Buffer.from(payload), towards };
          }
        }
        await sleep(1);
      }
      expect(recorded, 'a vita-ske proposal crossed the path within 15 s').not.toBeNull();
      await sleep(500); // its exchange completes: the responder's nonce is renewed
      const t = side[recorded!.towards];
      const before = await keyManager(t.gw);
      const gwMac = (recorded!.towards === 'A' ? lab.configA : lab.configB) as { 'vitesse-gateway:gateway': { 'public-interface': { mac: string } } };
      const netMac = (await lab.lab.execAsync(lab.ns.net, ['cat', `/sys/class/net/${t.ifname}/address`])).trim();
      const frame = (payload: Buffer) => eth(gwMac['vitesse-gateway:gateway']['public-interface'].mac, netMac, 0x0800, udp4Packet(t.from, t.to, 303, 303, payload));
      expect(links[recorded!.towards].send([frame(recorded!.payload), frame(recorded!.payload.subarray(0, 87))])).toBe(2);
      const end2 = performance.now() + 5_000;
      let after = before;
      while (performance.now() < end2) {
        await sleep(200);
        after = await keyManager(t.gw);
        if (Number(after['authentication-errors']) > Number(before['authentication-errors']) && Number(after['protocol-errors']) > Number(before['protocol-errors'])) break;
      }
      expect(Number(after['authentication-errors']) - Number(before['authentication-errors'])).toBe(1);
      expect(Number(after['protocol-errors']) - Number(before['protocol-errors'])).toBe(1);
      expect(Number(after.rxerrors) - Number(before.rxerrors)).toBe(2);
    } finally {
      links.A.close();
      links.B.close();
    }
  });

  it('a wrong pre-shared key on the vita-ske route: refused as authentication-errors', async () => {
    const before = Number((await keyManager('A'))['authentication-errors']);
    const file = path.join(dir, 'wrong-psk.json');
    fs.writeFileSync(file, JSON.stringify('ab'.repeat(32)));
    await cli(['config', 'set', '/route=site-a/preshared-key', file, '--socket', socket('B')]);
    const end = performance.now() + 8_000;
    let after = before;
    while (performance.now() < end && after === before) {
      await sleep(250);
      after = Number((await keyManager('A'))['authentication-errors']);
    }
    expect(after).toBeGreaterThan(before);
  });
});
