// `vitesse drain` as operators and systemd's ExecStop run it: `node
// bin/vitesse.js drain` in a child process against an in-process gateway
// (two sites over the memory driver, the real data plane), checking output,
// exit codes and what the peer did: drained (exit 0, the peer marks us
// draining and shows it in its state), not drained in time because traffic
// still flows (exit 1 and why), the gateway not running (exit 3), cancel.
// bin/ runs dist/: build it first (npx tsc -p tsconfig.json).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toJson } from '../controlplane/config/index.js';
import { startApi, type ApiServer } from '../controlplane/api/server.js';
import { ApiClient } from '../controlplane/api/client.js';
import { livePrefixes } from '../controlplane/bgp/announcer.js';
import { Drain } from '../controlplane/drain.js';
import { gatewayState } from '../controlplane/state.js';
import { statusReport, summarise } from '../controlplane/commands/status.js';
import { yanglintDocument } from './config-yanglint.js';
import { RouteId } from '../controlplane/exchange/types.js';
import { numbered, twoSites, until, type TwoSites } from '../controlplane/demo/memory-two-sites.js';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'vitesse.js');

let s: TwoSites;
let dir: string;
let socket: string;
let server: ApiServer;
const logged: Array<Record<string, unknown>> = [];

function vitesse(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

beforeAll(async () => {
  for (const src of ['controlplane/commands/drain.ts', 'controlplane/cli.ts']) {
    const built = path.join(root, 'dist', src.replace(/\.ts$/, '.js'));
    if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(path.join(root, src)).mtimeMs) throw new Error(`${built} is missing or older than ${src}: build first`);
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-drain-cli-'));
  s = twoSites();
  const file = path.join(dir, 'a.json');
  fs.writeFileSync(file, JSON.stringify(toJson(s.configA, { secrets: true })), { mode: 0o600 });
  socket = path.join(dir, 'a.sock');
  const log = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  server = await startApi(s.a, { socket, configFile: file, log, operations: { drain: new Drain(s.a, null, log) } });
  s.a.start();
  s.b.start();
  await until(() => s.a.sas().some((x) => x.direction === 'outbound') && s.b.sas().some((x) => x.direction === 'outbound'), 10_000, 'outbound SAs');
});

afterAll(async () => {
  await server?.close();
  s?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const routeAtB = () => s.configB.routes[0].id as RouteId;

describe('vitesse drain', () => {
  it('exits 3 with the reason when the gateway is not running', async () => {
    const r = await vitesse(['drain', '--socket', path.join(dir, 'none.sock'), '--timeout', '1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^vitesse drain: cannot reach the gateway at .*none\.sock/);
  });

  it('under traffic that does not stop: exit 1 at --timeout, saying traffic still flows; the peer was told and acknowledged', async () => {
    // What B would announce over BGP: the route, while A is in service.
    expect(livePrefixes(s.b)).toEqual([s.configB.routes[0].net]);
    let n = 0;
    const sender = setInterval(() => s.sendA([numbered('a', ++n)]), 20);
    try {
      const r = await vitesse(['drain', '--socket', socket, '--grace', '5', '--timeout', '2', '--json']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/not drained within 2 s: traffic still flows \(last packet \d+\.\d s ago, grace 5 s\); the gateway stays drained/);
      expect(r.stdout).toMatch(/peers: 1 of 1 acknowledged/);
      const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      expect(summary).toMatchObject({ drained: false, withdrawn: true, peers: 1, peers_acknowledged: 1, peers_unanswered: 0 });
      expect(summary.packets).toBeGreaterThan(0);
    } finally {
      clearInterval(sender);
    }
    // The peer marks us draining, in its state too.
    expect(s.b.keymanager!.routeDraining(routeAtB())).toBe(true);
    const route = (gatewayState(s.b).route as Array<Record<string, unknown>>)[0];
    expect(route['peer-draining']).toBe(true);
    expect(s.b.keymanager!.counters).toMatchObject({ drains_accepted: 1, drain_errors: 0 });
    // A was the route's only peer: B no longer announces it (its site's router moves the flows).
    expect(livePrefixes(s.b)).toEqual([]);
    // Both states, with gateway-state/drain and peer-draining, are valid against the model.
    for (const gw of [s.a, s.b]) expect(yanglintDocument({ 'vitesse-gateway:gateway-state': gatewayState(gw) }, 'get')).toEqual({ ok: true, messages: '' });
    expect(gatewayState(s.a).drain).toMatchObject({ draining: true, withdrawn: true, peers: 1, 'peers-acknowledged': 1, 'peers-told': 0 });
    // And in vitesse status.
    const state = gatewayState(s.b);
    expect(summarise(statusReport('b', toJson(s.configB)['vitesse-gateway:gateway'] as never, state, state, 0))).toMatch(/^  peer status: up, draining \(vitesse drain at the peer\): not announced$/m);
  });

  it('with no traffic: exit 0 once idle for --grace, with progress lines and a JSON summary; --cancel puts it back in service at the peer', async () => {
    const r = await vitesse(['drain', '--socket', socket, '--grace', '0.5', '--timeout', '20', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('draining: announcements being withdrawn, peers being told');
    expect(lines.some((l) => /withdrawn: yes; peers: 1 of 1 acknowledged; traffic: \d+ packets since the drain, idle/.test(l))).toBe(true);
    expect(lines.at(-2)).toMatch(/^drained: no packet for \d+\.\d s; the gateway keeps running, drained, until stopped$/);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ drained: true, withdrawn: true, peers: 1, peers_acknowledged: 1 });

    const c = await vitesse(['drain', '--socket', socket, '--cancel']);
    expect(c.code).toBe(0);
    await until(() => !s.b.keymanager!.routeDraining(routeAtB()), 20_000, 'the peer to take us back');
    expect((gatewayState(s.b).route as Array<Record<string, unknown>>)[0]['peer-draining']).toBe(false);
    expect(livePrefixes(s.b)).toEqual([s.configB.routes[0].net]);
  });

  it('the operation is audited (who asked, at warn) and refuses a malformed input', async () => {
    const asked = logged.filter((l) => l.msg === 'drain asked for' || l.msg === 'drain cancel asked for');
    expect(asked.map((l) => [l.msg, l.draining])).toEqual([['drain asked for', true], ['drain cancel asked for', false]]);
    for (const l of asked) expect(l.peer).toEqual(expect.any(String));
    const bad = await new ApiClient({ socket }).request('POST', '/restconf/operations/vitesse-gateway:drain', { 'vitesse-gateway:input': { cancel: 'yes' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/not a boolean/);
  });

  it('usage errors exit 2', async () => {
    const r = await vitesse(['drain', '--socket', socket, '--grace', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--grace/);
  });
});
