// `vitesse config …` and `vitesse status` as operators' scripts run them:
// `node bin/vitesse.js` in a child process, against an in-process gateway's
// API socket, checking output and exit codes (0 ok, 1 refused, 2 usage,
// 3 unreachable). bin/ runs dist/: build it first (npx tsc -p tsconfig.json).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../controlplane/cli.js';
import { toJson } from '../controlplane/config/index.js';
import { startApi, type ApiServer } from '../controlplane/api/server.js';
import { statusReport, summarise } from '../controlplane/commands/status.js';
import { twoSites, until, type TwoSites } from '../controlplane/demo/memory-two-sites.js';
import { watchProcess } from './support/gateway-process.js';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'vitesse.js');

let s: TwoSites;
let dir: string;
let socket: string;
let server: ApiServer;

/** dist/ must be at least as new as the sources the CLI runs, or this would test old code. */
function checkBuilt(): void {
  const sources = ['controlplane/cli.ts', 'controlplane/commands/config.ts', 'controlplane/commands/status.ts', 'controlplane/commands/run.ts',
    'controlplane/metrics.ts', 'controlplane/state.ts', 'controlplane/sa-ledger.ts', 'controlplane/gateway.ts',
    ...fs.readdirSync(path.join(root, 'controlplane/api')).map((f) => `controlplane/api/${f}`)];
  for (const src of sources.filter((f) => f.endsWith('.ts'))) {
    const built = path.join(root, 'dist', src.replace(/\.ts$/, '.js'));
    if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(path.join(root, src)).mtimeMs) {
      throw new Error(`${path.relative(root, built)} is missing or older than ${src}: run npx tsc -p tsconfig.json first`);
    }
  }
}

function vitesse(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

/** main() of the CLI in this process, with its stdout and stderr captured. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((c) => { stdout += c; return true; });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((c) => { stderr += c; return true; });
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const config = (...args: string[]) => vitesse(['config', ...args.slice(0, 1), '--socket', socket, ...args.slice(1)]);

beforeAll(async () => {
  checkBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-cli-'));
  s = twoSites();
  const file = path.join(dir, 'a.json');
  fs.writeFileSync(file, JSON.stringify(toJson(s.configA, { secrets: true })), { mode: 0o600 });
  socket = path.join(dir, 'a.sock');
  server = await startApi(s.a, { socket, configFile: file, log: pino({ level: 'silent' }) });
  s.a.start();
  s.b.start();
  await until(() => s.a.sas().some((x) => x.direction === 'outbound'), 10_000, 'outbound SA');
});

afterAll(async () => {
  await server?.close();
  s?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('vitesse config', () => {
  it('reads configuration and state as JSON', async () => {
    const route = await config('get-config', '/route=site-b');
    expect(route.stderr).toBe('');
    expect(route.code).toBe(0);
    expect(JSON.parse(route.stdout)).toEqual({ 'vitesse-gateway:route': [(toJson(s.configA)['vitesse-gateway:gateway'] as any).route[0]] });

    const mtu = await config('get', '/mtu');
    expect(JSON.parse(mtu.stdout)).toEqual({ 'vitesse-gateway:mtu': s.a.currentConfig.mtu });

    const all = await config('get', '/');
    expect(Object.keys(JSON.parse(all.stdout)).sort()).toEqual(['vitesse-gateway:gateway', 'vitesse-gateway:gateway-state']);

    const sas = await config('get-state', '/sa');
    expect(sas.code).toBe(0);
    const list = JSON.parse(sas.stdout)['vitesse-gateway:sa'];
    expect(list.map((x: any) => x.spi).sort()).toEqual(s.a.sas().map((x) => x.spi).sort());
  });

  it('adds, changes and removes a route; refusals exit 1 naming the path', async () => {
    const entry = { net: '10.3.0.0/16', gateway: [{ queue: 1, address: '203.0.113.7' }], spi: 3003, 'preshared-key': crypto.randomBytes(32).toString('hex') };
    const added = await vitesse(['config', 'add', '--socket', socket, '/route=site-c', '-'], JSON.stringify(entry));
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(s.a.currentConfig.routes.map((r) => r.id)).toEqual(['site-b', 'site-c']);

    const again = await vitesse(['config', 'add', '--socket', socket, '/route', '-'], JSON.stringify({ id: 'site-c', ...entry }));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("/vitesse-gateway:gateway/route[id='site-c']");

    const net = await vitesse(['config', 'set', '--socket', socket, '/route=site-c/net', '-'], '"10.4.0.0/16"');
    expect(net.code).toBe(0);
    expect(s.a.currentConfig.routes[1].net).toBe('10.4.0.0/16');

    const invalid = await vitesse(['config', 'set', '--socket', socket, '/route=site-c/net', '-'], '"10.4.0.0/33"');
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toBe('');
    expect(invalid.stderr).toMatch(/^vitesse config: refused: \/vitesse-gateway:gateway\/route\[id='site-c'\]\/net: .*10\.4\.0\.0\/33/m);
    expect(s.a.currentConfig.routes[1].net).toBe('10.4.0.0/16');

    const mtuFile = path.join(dir, 'mtu.json');
    fs.writeFileSync(mtuFile, '{"vitesse-gateway:mtu": 1400}');
    expect((await config('set', '/mtu', mtuFile)).code).toBe(0);
    expect(s.a.currentConfig.mtu).toBe(1400);

    const removed = await config('remove', '/route=site-c');
    expect(removed.code).toBe(0);
    expect(s.a.currentConfig.routes.map((r) => r.id)).toEqual(['site-b']);
    const missing = await config('remove', '/route=site-c');
    expect(missing.code).toBe(1);
  });

  it('exits 2 on usage errors and 3 when the gateway cannot be reached', async () => {
    // As a script sees them: a child process.
    const usage = await vitesse(['config', 'get', 'mtu', '--socket', socket]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^vitesse config: PATH "mtu" must start with "\/"/);
    const gone = await vitesse(['config', 'get', '--socket', path.join(dir, 'nobody.sock'), '/']);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain('cannot reach the gateway');

    // The rest of the matrix in this process (the same main() bin/vitesse.js calls; a child costs half a second).
    for (const args of [[], ['frobnicate', '/'], ['get'], ['set', '/mtu'], ['get', '/', 'extra'], ['get', '/', '--bogus'], ['get', '/', '--name', 'x', '--socket', 'y']]) {
      const r = await inProcess(['config', ...args, ...(args.includes('--name') ? [] : ['--socket', socket])]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(/^vitesse config: /);
    }
    expect((await inProcess(['config', 'get', '/'])).code).toBe(2); // which gateway?
    expect((await inProcess(['config', 'get', '--name', '../etc', '/'])).code).toBe(2);
    const notJson = path.join(dir, 'not.json');
    fs.writeFileSync(notJson, '{');
    expect((await inProcess(['config', 'set', '--socket', socket, '/mtu', notJson])).code).toBe(2);
    expect((await inProcess(['status', '--socket', socket, '--sample', '-1'])).code).toBe(2);
    const byName = await inProcess(['config', 'get', '--name', `no-such-gateway-${process.pid}`, '/']);
    expect(byName.code).toBe(3);
    expect(byName.stderr).toContain(`/run/vitesse/no-such-gateway-${process.pid}.sock`);
    expect((await inProcess(['status', '--socket', path.join(dir, 'nobody.sock')])).code).toBe(3);
  });

  it('has --help with examples', async () => {
    for (const cmd of ['config', 'status']) {
      const r = await vitesse([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('examples:');
      expect(r.stdout).toContain('exit codes');
    }
  });
});

describe('vitesse status', () => {
  it('summarises routes, SAs, rates and errors', async () => {
    const r = await vitesse(['status', '--socket', socket, '--sample', '0.2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/key-manager mode, 1 queue, 1 route/);
    expect(r.stdout).toMatch(/site-b\s+10\.2\.0\.0\/16\s+1\/1\s+\d+ s/);
    expect(r.stdout).toMatch(/traffic \(over 0\.2 s\)/);
    expect(r.stdout).toMatch(/^errors:/m);
  });

  it('--json prints what the text shows as one JSON object (docs/api.md §5)', async () => {
    const r = await vitesse(['status', '--socket', socket, '--sample', '0.2', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ gateway: socket, mode: 'key-manager', queues: 1, 'sample-seconds': 0.2 });
    expect(Object.keys(report).sort()).toEqual(['errors', 'gateway', 'interfaces', 'mode', 'next-hops', 'queues', 'routes', 'sample-seconds']);
    expect(report['next-hops'].public).toMatchObject({ resolved: true, mac: expect.stringMatching(/^[0-9a-f:]{17}$/) });
    expect(report.routes).toHaveLength(1);
    const [route] = report.routes;
    // (protocol: the configuration leaves it out, the default.)
    expect(route).toMatchObject({ id: 'site-b', net: '10.2.0.0/16', peer: 'psk', protocol: 'vitesse-ske', sas: { inbound: 1, outbound: 1 } });
    expect(route['outbound-sa-ages']).toEqual([expect.any(Number)]);
    // Like `wg show`: the peer (psk route), its endpoint, liveness and each SA's age, bytes and sequence number.
    expect(route.peer).toBe('psk');
    expect(route['peer-state']).toMatchObject({
      up: true, 'down-since': null, endpoints: [{ queue: 1, endpoint: expect.stringMatching(/:\d+$/), learned: false }],
      'last-handshake': expect.stringMatching(/^\d{4}-\d\d-\d\dT/), 'liveness-probes': { sent: expect.any(Number), failed: 0 },
    });
    expect(route['sa-list'].map((sa: { direction: string }) => sa.direction).sort()).toEqual(['inbound', 'outbound']);
    for (const sa of route['sa-list']) expect(sa).toMatchObject({ age: expect.any(Number), bytes: expect.any(Number), sequence: expect.stringMatching(/^\d+$/) });
    expect(route.traffic.outbound).toEqual({ 'packets-per-second': expect.any(Number), 'bits-per-second': expect.any(Number) });
    expect(report.interfaces.public.rx).toEqual({ 'packets-per-second': expect.any(Number), 'bits-per-second': expect.any(Number) });
    for (const e of report.errors) expect(e).toEqual({ counter: expect.any(String), 'since-start': expect.any(Number), 'during-sample': expect.any(Number) });

    // Without a sample: no rates, and the text shows the same routes, SAs and ages.
    const once = JSON.parse((await vitesse(['status', '--socket', socket, '--sample', '0', '--json'])).stdout);
    expect(once).not.toHaveProperty('interfaces');
    expect(once.routes[0]).not.toHaveProperty('traffic');
    const text = summarise(once);
    expect(text).toMatch(/^route site-b \(10\.2\.0\.0\/16\)\n  peer: psk\n  endpoint: \S+:\d+\n  peer status: up\n  latest handshake: \d+ s ago\n  key exchange: vitesse-ske$/m);
    expect(text).toMatch(/^  outbound SA \d+ \(queue 1\): age \d+ s, \d+ packets, .*next sequence \d+$/m);
    expect(text).toMatch(new RegExp(`site-b\\s+10\\.2\\.0\\.0/16\\s+1/1\\s+${once.routes[0]['outbound-sa-ages'][0]} s`));
    expect((await inProcess(['status', '--socket', socket, '--json=yes'])).code).toBe(2);

    // The route switched to Vita's key exchange: status says so; nat-traversal force on it is refused, naming the leaf.
    const set = (leaf: string, value: string) => vitesse(['config', 'set', '--socket', socket, `/route=site-b/${leaf}`, '-'], value);
    expect((await set('protocol', '"vita-ske-v5"')).code).toBe(0);
    const vita = JSON.parse((await vitesse(['status', '--socket', socket, '--sample', '0', '--json'])).stdout);
    expect(vita.routes[0]).toMatchObject({ id: 'site-b', peer: 'psk', protocol: 'vita-ske-v5' });
    expect(summarise(vita)).toMatch(/^  key exchange: vita-ske-v5$/m);
    const nat = await set('nat-traversal', '"force"');
    expect(nat.code).toBe(1);
    expect(nat.stderr).toContain("route[id='site-b']/nat-traversal: is force, but vita-ske-v5 runs on protocol-port with plain ESP");
    expect((await set('protocol', '"vitesse-ske"')).code).toBe(0);
  });
});

describe('vitesse run', () => {
  it('refuses a --socket in a directory that does not exist (exit 2), and creates none', async () => {
    const file = path.join(dir, 'a.json');
    const missing = path.join(dir, 'no-such-dir');
    const r = await vitesse(['run', '--config', file, '--socket', path.join(missing, 'x.sock'), '--metrics-listen', 'none']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--socket: ${missing} does not exist`);
    expect(fs.existsSync(missing)).toBe(false);
    const notDir = path.join(dir, 'a-file');
    fs.writeFileSync(notDir, '');
    const r2 = await vitesse(['run', '--config', file, '--socket', path.join(notDir, 'x.sock'), '--metrics-listen', 'none']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`--socket: ${notDir} is not a directory`);
  });

  // A gateway process on capture-file interfaces (no privileges needed), with
  // its API and metrics as an operator would start it.
  it('serves the API on --socket and metrics on --metrics-listen, saves changes, reloads on SIGHUP, cleans up on SIGTERM', async () => {
    const file = path.join(dir, 'run.json');
    const sock = path.join(dir, 'run.sock');
    const gw = (side: string, n: number) => ({ device: side, driver: 'pcap', mac: `02:00:00:0c:0${n}:01`, 'next-hop': { address: n ? '192.0.2.254' : '10.1.0.2', mac: `02:00:00:0c:0${n}:02` } });
    fs.writeFileSync(file, JSON.stringify({
      'vitesse-gateway:gateway': {
        'private-interface': { ...gw('priv', 0), address: ['10.1.0.1'] },
        'public-interface': { ...gw('pub', 1), queue: [{ id: 1, address: '192.0.2.1' }] },
        route: [{ id: 'site-b', net: '10.2.0.0/16', gateway: [{ queue: 1, address: '198.51.100.1' }], spi: 1001, 'preshared-key': crypto.randomBytes(32).toString('hex') }],
      },
    }), { mode: 0o644 });
    const child = spawn(process.execPath, [bin, 'run', '--config', file, '--name', 'cli-test', '--socket', sock, '--metrics-listen', '127.0.0.1:0', '--lock-dir', dir], { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
    const running = watchProcess(child);
    const { logs } = running;
    try {
      await until(() => logs.some((l) => l.msg === 'metrics listening at /metrics'), 15_000, `the gateway to start (stderr: ${running.stderr})`);
      const port = Number(logs.find((l) => l.msg === 'metrics listening at /metrics')!.listen.split(':').pop());
      expect(fs.statSync(sock).mode & 0o777).toBe(0o600);

      const scrape = await new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
      expect(scrape).toMatch(/^vitesse_routes 1$/m);

      // A second gateway may not take the socket of a live one: refused
      // before it starts (exit 2, a usage error the unit does not restart).
      const second = await vitesse(['run', '--config', file, '--socket', sock, '--metrics-listen', 'none', '--lock-dir', dir]);
      expect(second.code).toBe(2);
      expect(second.stderr).toContain('running process is serving it');

      // A change through the API is saved to the file, owner-only.
      expect((await vitesse(['config', 'set', '--socket', sock, '/mtu', '-'], '1300')).code).toBe(0);
      const saved = JSON.parse(fs.readFileSync(file, 'utf8'))['vitesse-gateway:gateway'];
      expect(saved.mtu).toBe(1300);
      expect(saved.route[0]['preshared-key']).toMatch(/^[0-9a-f]{64}$/);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(logs.some((l) => l.msg === 'configuration change requested' && l.settings?.includes('mtu'))).toBe(true);
      expect(logs.some((l) => l.msg === 'configuration changed')).toBe(true);

      // SIGHUP reads the file again.
      saved.mtu = 1280;
      fs.writeFileSync(file, JSON.stringify({ 'vitesse-gateway:gateway': saved }));
      child.kill('SIGHUP');
      await until(() => logs.some((l) => l.msg === 'configuration reloaded'), 20_000, 'the reload');
      const mtu = await vitesse(['config', 'get-config', '--socket', sock, '/mtu']);
      expect(JSON.parse(mtu.stdout)).toEqual({ 'vitesse-gateway:mtu': 1280 });

      // No key material in any log line.
      const text = logs.map((l) => JSON.stringify(l)).join('\n');
      expect(text).not.toContain(saved.route[0]['preshared-key']);
    } finally {
      child.kill('SIGTERM');
    }
    expect((await running.end).code).toBe(0);
    expect(fs.existsSync(sock)).toBe(false);
  });
});

describe('vitesse status on a hostile segment', () => {
  it('lists a next hop\'s unsolicited claims and refused MAC changes among the errors', () => {
    const hop = { address: '192.0.2.254', mac: '02:00:00:00:fe:01', resolved: true, drops: '0', 'unsolicited-claims': '3', 'mac-changes': '1', 'mac-changes-rate-limited': '2' };
    const state = { mode: 'key-manager', 'public-next-hop': { 'next-hop': hop } };
    const out = summarise(statusReport('gw', {}, state, state, 0));
    expect(out).toMatch(/^\s*public-next-hop\/unsolicited-claims\s+3$/m);
    expect(out).toMatch(/^\s*public-next-hop\/mac-changes-rate-limited\s+2$/m);
    expect(out).not.toMatch(/mac-changes\s+1/); // a change is not an error
  });
});

describe('vitesse keygen', () => {
  it('says to use the key as the route\'s preshared-key at both ends, and its example does that', async () => {
    const help = await vitesse(['keygen', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('"preshared-key"');
    expect(help.stdout).toMatch(/both ends/);
    // No key file: the configuration cannot refer to one.
    expect(help.stdout).not.toMatch(/vitesse keygen\s*>/);

    // The example that sets it, run as the help shows it (this gateway's socket for --name site-a).
    const example = help.stdout.split('\n').find((l) => l.includes('vitesse config set --name site-a'))!;
    expect(example).toBeDefined();
    const key = (await vitesse(['keygen'])).stdout.trim();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const command = example.trim().replace(/\s*#.*$/, '').replaceAll('$key', key).replace('--name site-a', `--socket ${socket}`).replaceAll('vitesse ', `${process.execPath} ${bin} `);
    // Asynchronously: the gateway answering it runs in this process.
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += c));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.code, r.stderr).toBe(0);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'a.json'), 'utf8'))['vitesse-gateway:gateway'];
    expect(saved.route.find((x: { id: string }) => x.id === 'site-b')['preshared-key']).toBe(key);
  });
});
