// Idle and slow clients against a running gateway's listeners — the API's
// Unix socket, the API over TLS, the metrics — as `vitesse run` child
// processes (capture-file interfaces, so no privileges are needed). Before,
// a metrics connection that never sent a byte stayed open forever, and
// 20,600 idle pre-handshake TLS connections used every file descriptor,
// after which the API, `vitesse config`, the metrics and SIGHUP reload all
// failed with EMFILE. Checked here:
//
// - each listener holds at most --max-connections; more are closed at once
//   and counted (connections-refused), while the other listeners answer;
// - connections that send nothing, dribble their headers, or never finish
//   (or never use) a TLS handshake are closed after --connection-timeout
//   and counted (connections-timed-out);
// - with RLIMIT_NOFILE low (prlimit), the caps are fitted to it: TLS and
//   metrics floods are refused while the Unix API answers, `vitesse config
//   set` saves, and SIGHUP reloads;
// - with a cap the operator set too high, a flood does reach the descriptor
//   limit: the gateway keeps running, and SIGHUP still reloads (a reserved
//   descriptor reads the file).
// Counters are read from gateway-state/management-listener and the metrics.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNeeding, missing } from './support/requires.js';
import { stopProcess, untilRunning, watchProcess, type WatchedProcess } from './support/gateway-process.js';
import { sleep } from '../controlplane/demo/memory-two-sites.js';

/** Waits until `cond` holds (it may be async), polling every 20 ms. */
async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'vitesse.js');
const STATE = '/restconf/data/vitesse-gateway:gateway-state/management-listener';

function config(mtu: number): string {
  const side = (device: string, n: number, extra: object) => ({
    device, driver: 'pcap', mac: `02:00:00:0e:0${n}:01`, 'next-hop': { address: n ? '192.0.2.254' : '10.1.0.2', mac: `02:00:00:0e:0${n}:02` }, ...extra,
  });
  return JSON.stringify({
    'vitesse-gateway:gateway': {
      mtu,
      'private-interface': side('priv', 0, { address: ['10.1.0.1'] }),
      'public-interface': side('pub', 1, { queue: [{ id: 1, address: '192.0.2.1' }] }),
      route: [{ id: 'site-b', net: '10.2.0.0/16', gateway: [{ queue: 1, address: '198.51.100.1' }], spi: 1001, 'preshared-key': crypto.randomBytes(32).toString('hex') }],
    },
  }, null, 2);
}

let dir: string;
let cert: Buffer;
let certFile: string, keyFile: string, tokenFile: string;
const token = crypto.randomBytes(32).toString('hex');
const children: ChildProcess[] = [];
const clients: Array<net.Socket> = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-idle-'));
  if (missing('openssl')) return; // every test here is skipped, saying so
  certFile = path.join(dir, 'api.crt');
  keyFile = path.join(dir, 'api.key');
  tokenFile = path.join(dir, 'token');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl cannot make the test certificate: ${r.error?.message ?? r.stderr}`);
  cert = fs.readFileSync(certFile);
  fs.writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const c of children) c.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface Gateway extends WatchedProcess {
  child: ChildProcess;
  socket: string;
  file: string;
  tlsPort: number;
  metricsPort: number;
}

async function startGateway(name: string, args: string[], nofile?: number): Promise<Gateway> {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, config(1400), { mode: 0o600 });
  const socket = path.join(dir, `${name}.sock`);
  // Locks of its own: another run of this suite beside it uses the same names.
  const run = [process.execPath, bin, 'run', '--config', file, '--name', name, '--lock-dir', path.join(dir, 'lock'), '--socket', socket, '--metrics-listen', '127.0.0.1:0',
    '--api-listen', '127.0.0.1:0', '--api-tls-cert', certFile, '--api-tls-key', keyFile, '--api-token-file', tokenFile, ...args];
  const child = nofile ? spawn('prlimit', [`--nofile=${nofile}:${nofile}`, '--', ...run]) : spawn(run[0], run.slice(1));
  children.push(child);
  const gw: Gateway = Object.assign(watchProcess(child), { child, socket, file, tlsPort: 0, metricsPort: 0 });
  await untilRunning(gw, `gateway ${name} to start`);
  gw.tlsPort = gw.logs.find((l) => l.msg === 'management API listening (TLS, bearer token)')!.port;
  gw.metricsPort = Number(gw.logs.find((l) => l.msg === 'metrics listening at /metrics')!.listen.split(':')[1]);
  return gw;
}

const stop = (gw: Gateway) => stopProcess(gw.child, gw);

/** A connection that sends nothing; `closed` says when the gateway closed it. */
interface Idle { socket: net.Socket; closed: boolean }

function idle(target: { port: number } | { path: string }): Promise<Idle> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(target as net.NetConnectOpts);
    clients.push(socket);
    const c: Idle = { socket, closed: false };
    socket.on('close', () => { c.closed = true; });
    socket.on('error', () => { /* reset by the gateway: closed */ });
    socket.once('connect', () => resolve(c));
    socket.once('error', (e) => { if (!c.closed) reject(e); });
  });
}

function request(gw: Gateway, p: string, via: 'unix' | 'tls' = 'unix'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const done = (res: http.IncomingMessage) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    };
    const req = via === 'unix'
      ? http.request({ socketPath: gw.socket, path: p, agent: false }, done)
      : https.request({ host: '127.0.0.1', port: gw.tlsPort, path: p, ca: cert, headers: { authorization: `Bearer ${token}` }, agent: false }, done);
    req.on('error', reject);
    req.end();
  });
}

type Listener = 'api-socket' | 'api-tls' | 'metrics';
interface ListenerState { connections: number; refused: number; timedOut: number; failed: number }

async function listeners(gw: Gateway, via: 'unix' | 'tls' = 'unix'): Promise<Record<Listener, ListenerState>> {
  const r = await request(gw, STATE, via);
  expect(r.status, r.body).toBe(200);
  const out: Record<string, ListenerState> = {};
  for (const l of JSON.parse(r.body)['vitesse-gateway:management-listener']) {
    out[l.name] = { connections: l.connections, refused: Number(l['connections-refused']), timedOut: Number(l['connections-timed-out']), failed: Number(l['requests-failed']) };
  }
  return out as Record<Listener, ListenerState>;
}

const target = (gw: Gateway, l: Listener) => (l === 'api-socket' ? { path: gw.socket } : { port: l === 'api-tls' ? gw.tlsPort : gw.metricsPort });

describeNeeding(['cli', 'openssl'], 'listener connection caps', () => {
  it('each listener holds --max-connections idle connections, refuses and counts the rest, and the others still answer', async () => {
    const cap = 8, extra = 5;
    const gw = await startGateway('caps', ['--max-connections', String(cap), '--connection-timeout', '120']);
    try {
      for (const l of ['metrics', 'api-tls', 'api-socket'] as const) {
        const via = l === 'api-socket' ? 'tls' : 'unix'; // ask a listener that is not full
        const before = (await listeners(gw, via))[l];
        const conns: Idle[] = [];
        for (let i = 0; i < cap + extra; i++) conns.push(await idle(target(gw, l)));
        await until(() => conns.filter((c) => c.closed).length >= extra, 10_000, `${l}: the gateway to close ${extra} connections over the cap`);
        const state = (await listeners(gw, via))[l];
        expect({ l, open: state.connections, refused: state.refused - before.refused }).toEqual({ l, open: cap, refused: extra });
        expect(conns.filter((c) => c.closed).length, l).toBe(extra);
        expect(conns.slice(0, cap).every((c) => !c.closed), `${l}: the first ${cap} stay open`).toBe(true);
        // The other listeners are not affected.
        if (l !== 'api-socket') expect((await request(gw, '/restconf/data/vitesse-gateway:gateway/mtu')).status).toBe(200);
        if (l !== 'api-tls') expect((await request(gw, '/restconf/data/vitesse-gateway:gateway/mtu', 'tls')).status).toBe(200);
        for (const c of conns) c.socket.destroy();
        await until(async () => (await listeners(gw, via))[l].connections === 0, 10_000, `${l}: the connections to close`);
      }
      // The same counts in the metrics.
      const scrape = await new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: gw.metricsPort, path: '/metrics', agent: false }, (res) => {
          let t = '';
          res.on('data', (c) => (t += c)).on('end', () => resolve(t));
        }).on('error', reject);
      });
      for (const l of ['metrics', 'api-tls', 'api-socket']) {
        expect(scrape).toContain(`vitesse_management_connections_refused_total{listener="${l}"} ${extra}`);
      }
      // And among the errors `vitesse status` lists.
      const status = await new Promise<string>((resolve) => {
        execFile(process.execPath, [bin, 'status', '--socket', gw.socket, '--sample', '0'], { encoding: 'utf8' }, (_e, stdout) => resolve(stdout));
      });
      for (const l of ['metrics', 'api-tls', 'api-socket']) expect(status).toMatch(new RegExp(`listener ${l}/connections-refused\\s+${extra}\\b`));
      expect(gw.exited).toBe(false);
    } finally {
      await stop(gw);
    }
  }, 90_000);
});

describeNeeding(['cli', 'openssl'], 'listener timeouts', () => {
  it('closes and counts connections that send nothing, dribble their headers, or sit on a finished TLS handshake', async () => {
    const gw = await startGateway('timeouts', ['--connection-timeout', '1']);
    try {
      const before = await listeners(gw);
      const silent: Record<Listener, Idle[]> = { metrics: [], 'api-tls': [], 'api-socket': [] };
      for (const l of Object.keys(silent) as Listener[]) for (let i = 0; i < 3; i++) silent[l].push(await idle(target(gw, l)));
      // Headers a byte at a time, each sooner than the timeout: only the header deadline ends it.
      const dribblers: Idle[] = [];
      const timers: NodeJS.Timeout[] = [];
      for (const l of ['metrics', 'api-socket'] as const) {
        const c = await idle(target(gw, l));
        c.socket.write('GET /metrics HTTP/1.1\r\n');
        let n = 0;
        timers.push(setInterval(() => { if (!c.closed) c.socket.write(`X-${n++}: y\r\n`); }, 200));
        dribblers.push(c);
      }
      // A TLS connection that completes its handshake and then says nothing.
      const quiet = tls.connect({ host: '127.0.0.1', port: gw.tlsPort, ca: cert });
      clients.push(quiet);
      let quietClosed = false;
      quiet.on('close', () => { quietClosed = true; }).on('error', () => {});
      await new Promise((r) => quiet.once('secureConnect', r));
      try {
        const all = [...Object.values(silent).flat(), ...dribblers];
        await until(() => all.every((c) => c.closed) && quietClosed, 20_000, 'the gateway to close every idle or slow connection')
          .catch((e) => { throw new Error(`${e.message}: open: ${JSON.stringify({ silent: Object.fromEntries(Object.entries(silent).map(([l, cs]) => [l, cs.filter((c) => !c.closed).length])), dribblers: dribblers.filter((c) => !c.closed).length, quiet: !quietClosed })}`); });
      } finally {
        for (const t of timers) clearInterval(t);
      }
      const after = await listeners(gw);
      const timedOut = (l: Listener) => after[l].timedOut - before[l].timedOut;
      expect({ metrics: timedOut('metrics'), 'api-tls': timedOut('api-tls'), 'api-socket': timedOut('api-socket') }).toEqual({ metrics: 4, 'api-tls': 4, 'api-socket': 4 });
      // A client that takes less than the timeout is served as before.
      expect((await request(gw, '/restconf/data/vitesse-gateway:gateway/mtu', 'tls')).body).toBe('{"vitesse-gateway:mtu":1400}\n');
      expect(gw.exited).toBe(false);
    } finally {
      await stop(gw);
    }
  }, 90_000);
});

describeNeeding(['cli', 'openssl', 'prlimit'], 'file descriptors', () => {
  const NOFILE = 128;

  function vitesse(args: string[], input: string): Promise<{ code: number; stderr: string }> {
    return new Promise((resolve) => {
      const child = execFile(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 }, (err, _stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr });
      });
      child.stdin!.end(input);
    });
  }

  async function reload(gw: Gateway, mtu: number): Promise<void> {
    const reloaded = gw.logs.filter((l) => l.msg === 'configuration reloaded').length;
    fs.writeFileSync(gw.file, config(mtu));
    gw.child.kill('SIGHUP');
    await until(() => gw.exited || gw.logs.filter((l) => l.msg === 'configuration reloaded' || String(l.msg).startsWith('configuration not reloaded')).length > reloaded, 15_000, 'the reload');
    expect(gw.logs.filter((l) => String(l.msg).startsWith('configuration not reloaded')).map((l) => l.msg)).toEqual([]);
  }

  it(`with RLIMIT_NOFILE ${NOFILE}, caps fit the limit: TLS and metrics floods are refused while the Unix API changes and saves, and SIGHUP reloads`, async () => {
    const gw = await startGateway('fitted', ['--connection-timeout', '120'], NOFILE);
    try {
      const fitted = gw.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('at most '));
      expect(fitted, 'the warning that caps were lowered').toBeDefined();
      const cap = fitted!.maxConnections as number;
      expect(cap * 3).toBeLessThan(NOFILE);
      const flood: Idle[] = [];
      for (let i = 0; i < NOFILE; i++) {
        flood.push(await idle({ port: gw.tlsPort }));
        flood.push(await idle({ port: gw.metricsPort }));
      }
      await until(async () => {
        const s = await listeners(gw);
        return s['api-tls'].refused === NOFILE - cap && s.metrics.refused === NOFILE - cap;
      }, 20_000, 'every connection over the caps refused');
      const s = await listeners(gw);
      expect([s['api-tls'].connections, s.metrics.connections]).toEqual([cap, cap]);
      // `vitesse config` over the Unix socket changes the running configuration and saves the file.
      const set = await vitesse(['config', 'set', '--socket', gw.socket, '/mtu', '-'], '1300');
      expect(set, set.stderr).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(fs.readFileSync(gw.file, 'utf8'))['vitesse-gateway:gateway'].mtu).toBe(1300);
      await reload(gw, 1280);
      expect((await request(gw, '/restconf/data/vitesse-gateway:gateway/mtu')).body).toBe('{"vitesse-gateway:mtu":1280}\n');
      expect(gw.logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('cannot accept'))).toEqual([]);
      expect(gw.exited).toBe(false);
      for (const c of flood) c.socket.destroy();
    } finally {
      await stop(gw);
    }
  }, 120_000);

  it('with a cap set above the limit, a TLS flood reaches EMFILE: the gateway survives and SIGHUP still reloads', async () => {
    const gw = await startGateway('emfile', ['--max-connections', '1000', '--connection-timeout', '120'], NOFILE);
    try {
      expect(gw.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('--max-connections 1000 on 3 listeners can use every descriptor'))).toBe(true);
      const flood: Idle[] = [];
      for (let i = 0; i < NOFILE + 50; i++) flood.push(await idle({ port: gw.tlsPort }));
      // Far below the cap, yet the gateway closes connections: it has no descriptor left to
      // accept them with (libuv accepts and closes them on a descriptor it keeps for this).
      await until(() => flood.filter((c) => c.closed).length >= 50, 20_000, 'the gateway to run out of descriptors');
      // Every descriptor is taken: the reload reads the file with a reserved one.
      await reload(gw, 1300);
      expect(gw.exited).toBe(false);
      for (const c of flood) c.socket.destroy();
      await until(async () => {
        try {
          return (await request(gw, '/restconf/data/vitesse-gateway:gateway/mtu')).body === '{"vitesse-gateway:mtu":1300}\n';
        } catch {
          return false;
        }
      }, 20_000, 'the API to answer with the reloaded configuration');
    } finally {
      await stop(gw);
    }
  }, 120_000);
});
