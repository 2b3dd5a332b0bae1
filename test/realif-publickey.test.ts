// Public-key routes end to end: two `vitesse run` gateways in namespaces
// (controlplane/demo/two-sites.ts, af-packet and af-xdp), each with a static key made by
// `vitesse keygen --private --out` and its peer's public key from
// `vitesse pubkey`, one route with a psk file on top and one without. Tunnel
// up, ping both ways over both routes, SAs roll over (sa-ttl 4 s) with
// traffic still flowing, the state shows the peer's public key and the API
// no key material; then gateway B restarted with a wrong peer key, then with
// a wrong psk: refused and counted (authentication-errors) at both ends, no
// traffic; then right again: traffic resumes.
// Needs root, ip, ping, yanglint and the compiled CLI.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../controlplane/api/client.js';
import { waitForTunnel } from '../controlplane/demo/demo.js';
import { spawnGateway, vitesseBin, type GatewayProcess } from '../controlplane/demo/gateway-process.js';
import { ADDR, buildTwoSites, type Driver, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import { yanglintDocument } from './config-yanglint.js';
import { missing } from './support/requires.js';

const why = missing('root', 'ip', 'ping', 'yanglint', 'cli');
const SA_TTL = 4;
const NEGOTIATION_TTL = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function cli(args: string[], input = ''): string {
  const r = spawnSync(process.execPath, [vitesseBin, ...args], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vitesse ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

describe.skipIf(why).each(['af-packet', 'af-xdp'] as Driver[])(`public-key routes between two vitesse run gateways over %s${why ? ` [skipped: ${why}]` : ''}`, (driver) => {
  let lab: TwoSiteLab;
  let dir: string;
  const procs: Partial<Record<'A' | 'B', GatewayProcess>> = {};
  const keys = { A: { priv: '', pub: '' }, B: { priv: '', pub: '' } };
  let pskFile = { A: '', B: '' };

  const file = (n: string) => path.join(dir, n);
  // Site `me`'s configuration with public-key routes: the IPv4 route with a
  // psk file on top, the IPv6 one with public keys alone.
  const config = (me: 'A' | 'B', o: { peerKey?: string; psk?: string } = {}) => {
    const c = structuredClone(me === 'A' ? lab.configA : lab.configB) as Json;
    const g = c['vitesse-gateway:gateway'];
    const other = me === 'A' ? 'B' : 'A';
    g['private-key-file'] = keys[me].priv;
    g.route = g.route.map((r: Json, i: number) => {
      const { gateway, 'preshared-key': _psk, ...rest } = r;
      const peer: Json = { 'public-key': o.peerKey ?? keys[other].pub, endpoint: gateway };
      if (i === 0) peer['preshared-key-file'] = o.psk ?? pskFile[me];
      return { ...rest, peer: [peer] };
    });
    const f = file(`gw${me}.json`);
    fs.writeFileSync(f, JSON.stringify(c, null, 2));
    return f;
  };
  const start = async (me: 'A' | 'B', f: string) => {
    const p = spawnGateway(lab.lab, me === 'A' ? lab.ns.gwA : lab.ns.gwB, f, `pk-gw${me}`, [
      '--socket', file(`gw${me}.sock`), '--lock-dir', dir, '--metrics-listen', 'none',
    ]);
    procs[me] = p;
    await p.started;
  };
  const stop = async (me: 'A' | 'B') => {
    const p = procs[me];
    if (!p) return;
    p.child.kill('SIGTERM');
    await p.exited;
    procs[me] = undefined;
  };
  const state = async (me: 'A' | 'B'): Promise<Json> =>
    ((await new ApiClient({ socket: file(`gw${me}.sock`) }).get('/restconf/data/vitesse-gateway:gateway-state')) as Json)['vitesse-gateway:gateway-state'];
  const counter = async (me: 'A' | 'B', leaf: string) => Number((await state(me))['key-manager'][leaf]);
  const received = async (ns: string, dst: string, count: number) => {
    let out: string;
    try {
      out = await lab.lab.execAsync(ns, ['ping', '-c', String(count), '-i', '0.25', '-W', '1', dst]);
    } catch (e) {
      out = (e as { stdout?: string }).stdout ?? '';
    }
    return Number(/(\d+) received/.exec(out)?.[1] ?? 0);
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-pk-'));
    lab = buildTwoSites({ driver, saTtl: SA_TTL, negotiationTtl: NEGOTIATION_TTL, prefix: 'vpk' });
    for (const me of ['A', 'B'] as const) {
      keys[me].priv = file(`${me}.key`);
      cli(['keygen', '--private', '--out', keys[me].priv]);
      keys[me].pub = cli(['pubkey'], fs.readFileSync(keys[me].priv, 'utf8'));
    }
    // One psk for the IPv4 route, in a file at each end (as if copied over).
    pskFile = { A: file('A-site-b.psk'), B: file('B-site-a.psk') };
    cli(['keygen', '--out', pskFile.A]);
    fs.copyFileSync(pskFile.A, pskFile.B);
    fs.chmodSync(pskFile.B, 0o600);
    await start('A', config('A'));
    await start('B', config('B'));
    await waitForTunnel(lab, performance.now());
  });

  afterAll(async () => {
    await stop('A');
    await stop('B');
    lab?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tunnel up: ping both ways over both routes, through SA rollovers', async () => {
    const negotiated = async () => (await counter('A', 'keypairs-negotiated')) + (await counter('B', 'keypairs-negotiated'));
    const before = await negotiated();
    // Start-up may cost a stray message (one end knocked before the other listened); rollover none.
    const errorsBefore = { A: await counter('A', 'rxerrors'), B: await counter('B', 'rxerrors') };
    // 3 × sa-ttl of pings each way: SAs roll over meanwhile.
    const pings = await Promise.all([
      received(lab.ns.hostA, ADDR.hostB, 48), received(lab.ns.hostB, ADDR.hostA, 48),
      received(lab.ns.hostA, ADDR.hostB6, 48), received(lab.ns.hostB, ADDR.hostA6, 48),
    ]);
    // Rollover loses nothing (a reply may be late on a loaded machine: at most one).
    for (const n of pings) expect(n).toBeGreaterThanOrEqual(47);
    expect(await negotiated() - before).toBeGreaterThanOrEqual(2 * 2); // two routes, at least two rounds each
    for (const me of ['A', 'B'] as const) {
      const km = (await state(me))['key-manager'];
      expect(Number(km.rxerrors), JSON.stringify(km)).toBe(errorsBefore[me]);
    }
  });

  it('the state shows the peer\'s public key; the API shows no private key or psk', async () => {
    for (const me of ['A', 'B'] as const) {
      const other = me === 'A' ? 'B' : 'A';
      const s = await state(me);
      for (const r of s.route) expect(r['peer-public-key']).toBe(keys[other].pub);
      // The state with the new leaf is valid against the model.
      const lint = yanglintDocument({ 'vitesse-gateway:gateway-state': s }, 'get');
      expect(lint.messages).toBe('');
      expect(lint.ok).toBe(true);
      const client = new ApiClient({ socket: file(`gw${me}.sock`) });
      const all = JSON.stringify(await client.get('/restconf/data'));
      expect(all).toContain(keys[other].pub);
      expect(all).toContain(keys[me].priv); // the file's name, not its contents
      const secret = fs.readFileSync(keys[me].priv, 'utf8').trim();
      const psk = fs.readFileSync(pskFile[me], 'utf8').trim();
      expect(all).not.toContain(secret);
      expect(all).not.toContain(psk);
      const status = spawnSync(process.execPath, [vitesseBin, 'status', '--socket', file(`gw${me}.sock`), '--sample', '0'], { encoding: 'utf8' }).stdout;
      expect(status).toContain(keys[other].pub);
      expect(status).not.toContain(secret);
    }
  });

  it('B with a wrong peer key for A, then with a wrong psk: refused and counted at both ends, no traffic; right again: traffic', async () => {
    const wrongKey = cli(['pubkey'], cli(['keygen', '--private']));
    const wrongPsk = file('wrong.psk');
    cli(['keygen', '--out', wrongPsk]);
    for (const variant of [{ peerKey: wrongKey }, { psk: wrongPsk }]) {
      await stop('B');
      await start('B', config('B', variant));
      const errorsA = await counter('A', 'authentication-errors');
      // A rekeys on its own schedule; B, new, initiates at once: wait for both to try.
      await sleep(3 * 1000 * NEGOTIATION_TTL);
      // With the wrong peer key both routes fail; with the wrong psk, the IPv4 route (the one with the psk).
      expect(await received(lab.ns.hostB, ADDR.hostA, 4)).toBe(0);
      expect(await counter('A', 'authentication-errors')).toBeGreaterThan(errorsA);
      expect(await counter('B', 'authentication-errors')).toBeGreaterThan(0);
      // With the wrong psk, the IPv6 route (no psk) still negotiates.
      if (variant.peerKey) expect(await counter('B', 'keypairs-negotiated')).toBe(0);
      else expect(await counter('B', 'keypairs-negotiated')).toBeGreaterThan(0);
      if (variant.psk) expect(await received(lab.ns.hostB, ADDR.hostA6, 4)).toBeGreaterThan(0);
    }
    await stop('B');
    await start('B', config('B'));
    await waitForTunnel(lab, performance.now());
    expect(await received(lab.ns.hostB, ADDR.hostA, 4)).toBeGreaterThan(0);
    expect(await counter('B', 'rxerrors')).toBe(0);
  });
});
