// gNMI end to end: a real gRPC client over TLS (@grpc/grpc-js, the vendored
// protos) against a pair of `vitesse run` gateways on real interfaces
// (af-packet, network namespaces: controlplane/demo/two-sites.ts), SAs
// rolling over every couple of seconds (sa-ttl 4 s).
//
//   hostA ── gwA ══ net ══ gwB ── hostB
//
// Each gateway listens for gNMI on 127.0.0.1:9339 inside its namespace; the
// test reaches it through a forwarder from a Unix socket (FORWARDER), so
// what the gateway sees is an ordinary TCP client. Checked: Capabilities;
// Get of gateway-state/route[id=…] and of the configuration equal the
// RESTCONF answers (keys redacted); SAMPLE counters grow with traffic; an
// ON_CHANGE subscription to the SAs sees every SA of a rollover installed
// and removed, in that order, once each, and one to the route sees the peer
// go down (gwB killed: peer-up false) and come back, once each; a bad token is
// UNAUTHENTICATED and an unknown path NOT_FOUND naming it; 200 concurrent
// subscriptions leave a numbered UDP stream through the tunnel whole.
// Needs root, ip, openssl and the compiled CLI; skipped with the reason otherwise.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../controlplane/api/client.js';
import { spawnGateway, type GatewayProcess } from '../controlplane/demo/gateway-process.js';
import { ADDR, buildTwoSites, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import { missing } from './support/requires.js';
import { collect, connect, FORWARDER, gpath, makeCredentials, pathString, value, type GnmiTestClient, type Json } from './support/gnmi-client.js';

const why = missing('root', 'ip', 'openssl', 'cli');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GNMI = '127.0.0.1:9339';
const SECOND = 1e9;

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await cond()) return;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

describe.skipIf(why)(`gNMI against two vitesse run gateways${why ? ` [skipped: ${why}]` : ''}`, () => {
  let lab: TwoSiteLab;
  let dir: string;
  let creds: ReturnType<typeof makeCredentials>;
  const gw: Record<'a' | 'b', { proc: GatewayProcess; api: ApiClient; gnmi: GnmiTestClient; file: string; args: string[]; ns: string; target: string }> = {} as never;
  const clients: GnmiTestClient[] = [];

  const start = (which: 'a' | 'b') => {
    const g = gw[which];
    g.proc = spawnGateway(lab.lab, g.ns, g.file, `gnmi-gw${which}`, g.args);
    return g.proc.started;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-gnmi-'));
    creds = makeCredentials(dir);
    lab = buildTwoSites({ driver: 'af-packet', saTtl: 4, negotiationTtl: 2, prefix: 'gnmi' });
    for (const which of ['a', 'b'] as const) {
      const ns = which === 'a' ? lab.ns.gwA : lab.ns.gwB;
      const file = path.join(dir, `gw${which}.json`);
      // Dead-peer detection within a few seconds: a probe after 1 s of sending with nothing back, down after 2 failed.
      const config = structuredClone(which === 'a' ? lab.configA : lab.configB) as Record<string, Record<string, unknown>>;
      Object.assign(config['vitesse-gateway:gateway'], { 'liveness-interval': 1, 'liveness-failures': 2 });
      fs.writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
      const socket = path.join(dir, `gw${which}.sock`);
      const args = ['--lock-dir', path.join(dir, 'lock'), '--socket', socket, '--metrics-listen', 'none', '--gnmi-listen', GNMI,
        '--api-tls-cert', creds.certFile, '--api-tls-key', creds.keyFile, '--api-token-file', creds.tokenFile, '--gnmi-max-subscriptions', '300'];
      const fwd = path.join(dir, `gw${which}.gnmi`);
      const forwarder = lab.lab.spawn(ns, [process.execPath, '-e', FORWARDER, fwd, ...GNMI.split(':')]);
      await new Promise<void>((resolve, reject) => {
        forwarder.stdout!.once('data', () => resolve());
        forwarder.once('exit', (code) => reject(new Error(`forwarder in ${ns} exited (${code})`)));
      });
      gw[which] = { proc: null as never, api: new ApiClient({ socket }), gnmi: connect(`unix:${fwd}`, creds.cert, creds.token), file, args, ns, target: `unix:${fwd}` };
      clients.push(gw[which].gnmi);
    }
    await Promise.all([start('a'), start('b')]);
    await until(async () => /[1-3] received/.test(await ping(lab.ns.hostA, ADDR.hostB)), 30_000, 'the tunnel up');
  }, 90_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const g of Object.values(gw)) {
      if (!g?.proc || g.proc.child.exitCode !== null || g.proc.child.signalCode !== null) continue;
      g.proc.child.kill('SIGTERM');
      await Promise.race([g.proc.exited, sleep(5000)]);
    }
    lab?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function ping(ns: string, dst: string): Promise<string> {
    try {
      return await lab.lab.execAsync(ns, ['ping', '-c', '3', '-i', '0.3', '-W', '2', dst]);
    } catch (e) {
      return (e as { stdout?: string }).stdout ?? '';
    }
  }

  async function restconf(which: 'a' | 'b', p: string): Promise<unknown> {
    const r = await gw[which].api.request('GET', p);
    expect(r.status).toBe(200);
    return r.body;
  }

  it('Capabilities: the model with its revision, JSON_IETF and PROTO', async () => {
    const caps = await gw.a.gnmi.capabilities();
    expect(caps.supported_models).toEqual([{ name: 'vitesse-gateway', organization: 'The Vitesse project', version: '2025-06-01' }]);
    expect(caps.supported_encodings).toEqual(expect.arrayContaining(['JSON_IETF', 'PROTO']));
    expect(caps.gNMI_version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('Get of gateway-state/route[id=site-b] and of the route\'s configuration equal what RESTCONF answers (keys redacted)', async () => {
    // Quiet tunnel: no counter moves between the two reads (keepalives are not route traffic).
    for (let attempt = 0; ; attempt++) {
      const before = await restconf('a', '/restconf/data/vitesse-gateway:gateway-state/route=site-b') as Json;
      const got = await gw.a.gnmi.get({ path: [gpath('/gateway-state/route[id=site-b]')], encoding: 'JSON_IETF' });
      const after = await restconf('a', '/restconf/data/vitesse-gateway:gateway-state/route=site-b') as Json;
      expect(got.notification).toHaveLength(1);
      const [u] = got.notification[0].update;
      expect(pathString(u.path)).toBe('/gateway-state/route[id=site-b]');
      if (JSON.stringify(before) !== JSON.stringify(after) && attempt < 5) continue; // an SA rolled over in between
      expect(value(u.val)).toEqual(before['vitesse-gateway:route'][0]);
      break;
    }
    const config = await gw.a.gnmi.get({ path: [gpath('/gateway/route[id=site-b]')], type: 'CONFIG', encoding: 'JSON_IETF' });
    const expected = (await restconf('a', '/restconf/data/vitesse-gateway:gateway/route=site-b') as Json)['vitesse-gateway:route'][0];
    const route = value(config.notification[0].update[0].val) as Json;
    expect(route).toEqual(expected);
    expect(route['preshared-key']).toBe('<redacted>');
    // PROTO: typed scalars, one leaf each; counter64 as uint64.
    const typed = await gw.a.gnmi.get({ path: [gpath('/gateway-state/route[id=site-b]/outbound-packets')], encoding: 'PROTO' });
    const leaf = typed.notification[0].update[0];
    expect(pathString(leaf.path)).toBe('/gateway-state/route[id=site-b]/outbound-packets');
    expect(leaf.val.value).toBe('uint_val');
    expect(Number(leaf.val.uint_val)).toBeGreaterThanOrEqual(0);
  });

  it('a bad token is UNAUTHENTICATED, an unknown path NOT_FOUND naming the path', async () => {
    const wrong = connect(gw.a.target, creds.cert, 'f'.repeat(20) + '0123456789abcdef0123456789abcdef');
    const none = connect(gw.a.target, creds.cert, null);
    clients.push(wrong, none);
    for (const c of [wrong, none]) {
      await expect(c.get({ path: [gpath('/gateway-state')] })).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      const s = collect(c.subscribe());
      expect(await s.ended).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    }
    await expect(gw.a.gnmi.get({ path: [gpath('/gateway-state/route[id=site-b]/no-such-leaf')] }))
      .rejects.toMatchObject({ code: grpc.status.NOT_FOUND, details: expect.stringContaining('/gateway-state/route[id=site-b]/no-such-leaf') });
    await expect(gw.a.gnmi.get({ path: [gpath('/gateway-state/route[id=site-z]')] }))
      .rejects.toMatchObject({ code: grpc.status.NOT_FOUND, details: expect.stringContaining('route[id=site-z]') });
    const stream = gw.a.gnmi.subscribe();
    const s = collect(stream);
    stream.write({ subscribe: { mode: 'STREAM', subscription: [{ path: gpath('/gateway-state/tunnels'), mode: 'SAMPLE', sample_interval: String(SECOND) }] } });
    expect(await s.ended).toMatchObject({ code: grpc.status.NOT_FOUND, details: expect.stringContaining('/gateway-state/tunnels') });
    const state = await restconf('a', '/restconf/data/vitesse-gateway:gateway-state/gnmi') as Json;
    expect(Number(state['vitesse-gateway:gnmi']['requests-unauthenticated'])).toBeGreaterThanOrEqual(4);
    expect(Number(state['vitesse-gateway:gnmi']['requests-refused'])).toBeGreaterThanOrEqual(3);
  });

  it('SAMPLE: a route\'s counters grow with the traffic through the tunnel', async () => {
    const stream = gw.a.gnmi.subscribe();
    const s = collect(stream);
    stream.write({ subscribe: { mode: 'STREAM', encoding: 'JSON_IETF', subscription: [{ path: gpath('/gateway-state/route[id=site-b]'), mode: 'SAMPLE', sample_interval: String(SECOND) }] } });
    await until(() => s.responses.some((r) => r.sync_response), 20_000, 'sync_response');
    const first = s.responses.find((r) => r.update)!;
    const samples = () => s.responses.filter((r) => r.update).map((r) => value(r.update.update[0].val) as Json);
    const out0 = Number(samples()[0]['outbound-packets']);
    const sent = (await ping(lab.ns.hostA, ADDR.hostB)).match(/(\d+) packets transmitted/)?.[1];
    await until(() => Number(samples().at(-1)!['outbound-packets']) >= out0 + Number(sent), 10_000, 'the pings counted in a sample');
    stream.cancel();
    const values = samples().map((v) => Number(v['outbound-packets']));
    expect(values.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]); // counters never go back across rollovers
    expect(pathString(first.update.update[0].path)).toBe('/gateway-state/route[id=site-b]');
  });

  it('ON_CHANGE: every SA of the rollovers is installed, then removed, each once, in order', async () => {
    const stream = gw.a.gnmi.subscribe();
    const s = collect(stream);
    stream.write({ subscribe: { mode: 'STREAM', encoding: 'JSON_IETF', subscription: [{ path: gpath('/gateway-state/sa'), mode: 'ON_CHANGE' }] } });
    await until(() => s.responses.some((r) => r.sync_response), 20_000, 'sync_response');
    // Traffic keeps the SAs in use while they roll over (sa-ttl 4 s).
    const traffic = lab.lab.spawn(lab.ns.hostA, ['ping', '-i', '0.2', '-c', '60', ADDR.hostB]);
    await sleep(12_000);
    stream.cancel();
    traffic.kill('SIGTERM');
    const sync = s.responses.findIndex((r) => r.sync_response);
    const initial = new Set(s.responses.slice(0, sync).flatMap((r) => r.update.update.map((u: Json) => pathString(u.path))));
    const events: Array<{ what: 'update' | 'delete'; sa: string; value?: Json }> = [];
    for (const r of s.responses.slice(sync + 1)) {
      for (const u of r.update.update ?? []) events.push({ what: 'update', sa: pathString(u.path), value: value(u.val) as Json });
      for (const d of r.update.delete ?? []) events.push({ what: 'delete', sa: pathString(d) });
    }
    const bySa = new Map<string, string[]>();
    for (const e of events) bySa.set(e.sa, [...(bySa.get(e.sa) ?? []), e.what]);
    for (const [sa, seq] of bySa) {
      // Installed after the subscription started: update, then (maybe) delete; present at the start: delete only.
      const expected = initial.has(sa) ? [['delete']] : [['update'], ['update', 'delete']];
      expect(expected, `${sa}: ${seq.join(', ')}`).toContainEqual(seq);
    }
    const installed = events.filter((e) => e.what === 'update');
    const removed = events.filter((e) => e.what === 'delete');
    // Rollovers happened: SAs new to the subscription came and went, outbound ones for site-b among them.
    expect(installed.filter((e) => e.value!.direction === 'outbound' && e.value!.route === 'site-b').length).toBeGreaterThanOrEqual(2);
    expect(removed.length).toBeGreaterThanOrEqual(2);
    // An update's value is the SA entry, keys and all (one update per entry, not per leaf).
    expect(installed[0].value).toMatchObject({ direction: expect.any(String), route: expect.any(String), queue: 1, spi: expect.any(Number) });
  }, 30_000);

  it('ON_CHANGE: the peer going down (gwB killed: peer-up false, its SAs gone) and coming back, each once', async () => {
    const stream = gw.a.gnmi.subscribe();
    const s = collect(stream);
    stream.write({ subscribe: { mode: 'STREAM', subscription: [{ path: gpath('/gateway-state/route[id=site-b]'), mode: 'ON_CHANGE' }] } });
    await until(() => s.responses.some((r) => r.sync_response), 20_000, 'sync_response');
    const states = () => s.responses.filter((r) => r.update?.update?.length).map((r) => value(r.update.update[0].val) as Json);
    const up = (v: Json) => v['peer-up'] === true && v['outbound-sas'] > 0 && v['inbound-sas'] > 0;
    const down = (v: Json) => v['peer-up'] === false;
    expect(up(states()[0]), JSON.stringify(states()[0])).toBe(true);
    gw.b.proc.child.kill('SIGKILL');
    await gw.b.proc.exited;
    // Traffic towards the dead peer: what makes gwA probe it.
    const traffic = lab.lab.spawn(lab.ns.hostA, ['ping', '-i', '0.2', '-c', '100', ADDR.hostB]);
    try {
      await until(() => states().some(down), 30_000, 'site-b\'s peer down at gwA');
      await start('b');
      await until(() => up(states().at(-1)!), 30_000, 'site-b\'s peer up again');
    } finally {
      traffic.kill('SIGTERM');
    }
    stream.cancel();
    // Each change is one update (no repeat of an unchanged state), counters and timestamps notwithstanding.
    const seen = states().map((v) => `${v['peer-up']}/${v['peer-down-since'] ?? '-'}/${v['inbound-sas']}/${v['outbound-sas']}`);
    for (let i = 1; i < seen.length; i++) expect(seen[i], seen.join(' → ')).not.toBe(seen[i - 1]);
    // Down once, then up: the peer-up leaf changed exactly twice.
    const flips = states().map((v) => v['peer-up']).filter((x, i, all) => i === 0 || x !== all[i - 1]);
    expect(flips).toEqual([true, false, true]);
  }, 90_000);

  it('200 concurrent subscriptions leave a numbered UDP stream through the tunnel whole', async () => {
    await until(async () => /[1-3] received/.test(await ping(lab.ns.hostA, ADDR.hostB)), 30_000, 'the tunnel up');
    // Four connections of 50 calls each (a connection takes 128 streams at most).
    const conns = Array.from({ length: 4 }, () => connect(gw.a.target, creds.cert, creds.token));
    clients.push(...conns);
    const subs = Array.from({ length: 200 }, (_, i) => {
      const stream = conns[i % 4].subscribe();
      const c = collect(stream);
      const mode = i % 2 ? { mode: 'SAMPLE', sample_interval: String(SECOND) } : { mode: 'ON_CHANGE' };
      stream.write({ subscribe: { mode: 'STREAM', subscription: [{ path: gpath(i % 2 ? '/gateway-state' : '/gateway-state/sa'), ...mode }] } });
      return { stream, ...c };
    });
    await until(() => subs.every((x) => x.responses.some((r) => r.sync_response)), 30_000, 'every subscription synchronised');
    const state = await restconf('a', '/restconf/data/vitesse-gateway:gateway-state/gnmi') as Json;
    expect(state['vitesse-gateway:gnmi'].subscriptions).toBe(200);

    const receiver = lab.lab.spawn(lab.ns.hostB, [process.execPath, '-e', `
      const seen = new Uint8Array(1 << 16); let n = 0, dup = 0;
      const s = require('dgram').createSocket('udp4');
      s.on('message', (m) => { const k = m.readUInt32BE(0); if (seen[k]) dup++; else n++; seen[k] = 1; });
      s.bind(7777, () => process.stdout.write('ready\\n'));
      process.on('SIGTERM', () => { process.stdout.write(JSON.stringify({ distinct: n, duplicates: dup }) + '\\n'); process.exit(0); });`]);
    let received = '';
    receiver.stdout!.on('data', (d) => (received += d));
    await until(() => received.includes('ready'), 10_000, 'the UDP receiver');
    const sender = lab.lab.spawn(lab.ns.hostA, [process.execPath, '-e', `
      const s = require('dgram').createSocket('udp4'); let sent = 0; const end = Date.now() + 8000;
      const t = setInterval(() => { for (let i = 0; i < 5; i++) { const b = Buffer.alloc(96); b.writeUInt32BE(sent++, 0); s.send(b, 7777, '${ADDR.hostB}'); }
        if (Date.now() >= end) { clearInterval(t); setTimeout(() => { process.stdout.write(JSON.stringify({ sent }) + '\\n'); process.exit(0); }, 300); } }, 10);`]);
    let sentText = '';
    sender.stdout!.on('data', (d) => (sentText += d));
    await new Promise((r) => sender.once('exit', r));
    await sleep(1000);
    const samplesBefore = subs.filter((_, i) => i % 2).map((x) => x.responses.length);
    receiver.kill('SIGTERM');
    await new Promise((r) => receiver.once('exit', r));
    for (const x of subs) x.stream.cancel();
    const { sent } = JSON.parse(sentText);
    const got = JSON.parse(received.slice(received.indexOf('{')));
    expect(sent).toBeGreaterThan(1500); // 4,000 planned; a loaded machine slows the sender, not the judgement
    expect({ lost: sent - got.distinct, duplicates: got.duplicates }).toEqual({ lost: 0, duplicates: 0 });
    // The SAMPLE subscriptions were served all along: a sample a second each, for the 8 s of the stream.
    for (const n of samplesBefore) expect(n).toBeGreaterThanOrEqual(6);
    await until(async () => ((await restconf('a', '/restconf/data/vitesse-gateway:gateway-state/gnmi')) as Json)['vitesse-gateway:gnmi'].subscriptions === 0, 10_000, 'the subscriptions closed');
  }, 120_000);
});
