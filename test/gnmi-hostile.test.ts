// The gNMI server against hostile and careless clients, on a `vitesse run`
// gateway (capture-file interfaces: no privileges needed) with small caps
// (--max-connections 4, --gnmi-max-subscriptions 8, --connection-timeout 1):
// oversized requests and paths, deep and malformed elements, encodings it
// does not speak, bytes that are no protobuf, misuse of the Subscribe
// stream, more streams and connections than allowed, handshakes never
// finished, plain-text HTTP/2. Each is refused with its gRPC code (naming
// the path where there is one) and counted in gateway-state/gnmi and
// management-listener[name='gnmi'] (yanglint checks that document against
// the model); the gateway keeps serving throughout.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApiClient } from '../controlplane/api/client.js';
import { describeNeeding } from './support/requires.js';
import { collect, connect, gpath, makeCredentials, type GnmiTestClient, type Json } from './support/gnmi-client.js';
import { yanglintDocument } from './config-yanglint.js';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'vitesse.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

function config(): string {
  const side = (device: string, n: number, extra: object) => ({
    device, driver: 'pcap', mac: `02:00:00:0f:0${n}:01`, 'next-hop': { address: n ? '192.0.2.254' : '10.1.0.2', mac: `02:00:00:0f:0${n}:02` }, ...extra,
  });
  return JSON.stringify({
    'vitesse-gateway:gateway': {
      'private-interface': side('priv', 0, { address: ['10.1.0.1'] }),
      'public-interface': side('pub', 1, { queue: [{ id: 1, address: '192.0.2.1' }] }),
      route: [{ id: 'site-b', net: '10.2.0.0/16', gateway: [{ queue: 1, address: '198.51.100.1' }], spi: 1001, 'preshared-key': crypto.randomBytes(32).toString('hex') }],
    },
  });
}

describeNeeding(['cli', 'openssl', 'yanglint'], 'gNMI under hostile input', () => {
  let dir: string;
  let creds: ReturnType<typeof makeCredentials>;
  let child: ChildProcess;
  let exited = false;
  let port = 0;
  let api: ApiClient;
  let c: GnmiTestClient;
  const clients: GnmiTestClient[] = [];
  const sockets: net.Socket[] = [];
  let stderr = '';

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-gnmi-hostile-'));
    creds = makeCredentials(dir);
    const file = path.join(dir, 'gw.json');
    fs.writeFileSync(file, config(), { mode: 0o600 });
    const socket = path.join(dir, 'gw.sock');
    child = spawn(process.execPath, [bin, 'run', '--config', file, '--name', 'gnmi-hostile', '--lock-dir', path.join(dir, 'lock'), '--socket', socket,
      '--metrics-listen', 'none', '--gnmi-listen', '127.0.0.1:0', '--api-tls-cert', creds.certFile, '--api-tls-key', creds.keyFile, '--api-token-file', creds.tokenFile,
      '--max-connections', '4', '--gnmi-max-subscriptions', '8', '--connection-timeout', '1']);
    child.on('exit', () => { exited = true; });
    child.stderr!.on('data', (d) => (stderr += d));
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await until(() => exited || /"msg":"gNMI listening/.test(out), 30_000, 'the gateway');
    expect(exited, stderr).toBe(false);
    port = JSON.parse(out.split('\n').find((l) => l.includes('gNMI listening'))!).port;
    api = new ApiClient({ socket });
    c = connect(`127.0.0.1:${port}`, creds.cert, creds.token);
    clients.push(c);
  }, 40_000);

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    for (const x of clients) x.close();
    if (child && !exited) {
      child.kill('SIGTERM');
      await until(() => exited, 10_000, 'the gateway to stop');
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const gnmiState = async (): Promise<Json> => ((await api.request('GET', '/restconf/data/vitesse-gateway:gateway-state/gnmi')).body as Json)['vitesse-gateway:gnmi'];
  const listener = async (): Promise<Json> => ((await api.request('GET', "/restconf/data/vitesse-gateway:gateway-state/management-listener=gnmi")).body as Json)['vitesse-gateway:management-listener'][0];
  const refusedGet = (req: Json) => c.get(req).then(() => { throw new Error(`accepted: ${JSON.stringify(req).slice(0, 200)}`); }, (e: grpc.ServiceError) => e);

  it('paths: too many or too long elements, keys where there are none, reserved and unknown names, foreign modules and origins', async () => {
    const before = Number((await gnmiState())['requests-refused']);
    const cases: Array<[Json, grpc.status, string]> = [
      [{ elem: Array.from({ length: 17 }, () => ({ name: 'gateway-state' })) }, grpc.status.INVALID_ARGUMENT, 'more than 16'],
      [{ elem: Array.from({ length: 5000 }, () => ({ name: 'x' })) }, grpc.status.INVALID_ARGUMENT, 'more than 16'],
      [{ elem: [{ name: 'gateway-state' }, { name: 'r'.repeat(500) }] }, grpc.status.INVALID_ARGUMENT, 'longer than 128'],
      [{ elem: [{ name: 'gateway-state' }, { name: 'route', key: { id: 'x'.repeat(2000) } }] }, grpc.status.INVALID_ARGUMENT, 'longer than 1024'],
      [{ elem: [{ name: 'gateway-state', key: { id: '1' } }] }, grpc.status.INVALID_ARGUMENT, 'takes no key'],
      [{ elem: [{ name: 'gateway-state' }, { name: 'mode', key: { id: '1' } }] }, grpc.status.INVALID_ARGUMENT, 'not a list'],
      [{ elem: [{ name: 'gateway-state' }, { name: 'route', key: { name: 'site-b' } }] }, grpc.status.INVALID_ARGUMENT, 'keyed by id'],
      [{ elem: [{ name: 'gateway-state' }, { name: '__proto__' }] }, grpc.status.INVALID_ARGUMENT, 'not a node name'],
      [{ elem: [{ name: 'gateway-state' }, { name: 'constructor' }] }, grpc.status.INVALID_ARGUMENT, 'not a node name'],
      [{ elem: [{ name: 'gateway-state' }, { name: '*' }] }, grpc.status.INVALID_ARGUMENT, 'wildcard'],
      [{ elem: [{ name: 'gateway-state' }, { name: 'mode' }, { name: 'below' }] }, grpc.status.NOT_FOUND, '/gateway-state/mode/below'],
      [{ elem: [{ name: 'openconfig-interfaces:interfaces' }] }, grpc.status.NOT_FOUND, 'unknown module'],
      [{ elem: [{ name: 'interfaces' }] }, grpc.status.NOT_FOUND, '/interfaces'],
      [{ origin: 'openconfig', elem: [{ name: 'gateway-state' }] }, grpc.status.NOT_FOUND, 'unknown origin'],
      [{ element: ['gateway-state'] }, grpc.status.INVALID_ARGUMENT, 'deprecated'],
    ];
    for (const [p, code, text] of cases) {
      const e = await refusedGet({ path: [p] });
      expect({ code: e.code, details: e.details }, JSON.stringify(p).slice(0, 120)).toMatchObject({ code, details: expect.stringContaining(text) });
    }
    expect(Number((await gnmiState())['requests-refused'])).toBe(before + cases.length);
    // The prefix counts as part of the path.
    expect((await refusedGet({ prefix: { elem: Array.from({ length: 10 }, () => ({ name: 'a' })) }, path: [{ elem: Array.from({ length: 10 }, () => ({ name: 'a' })) }] })).code).toBe(grpc.status.INVALID_ARGUMENT);
    // A key "*" or no key is every entry; a module-qualified name is the same node.
    const all = await c.get({ path: [gpath('/vitesse-gateway:gateway-state/route[id=*]')] });
    expect(all.notification[0].update).toHaveLength(1);
  });

  it('oversized requests, too many paths, encodings it does not speak, bytes that are no protobuf, Set', async () => {
    const big = await refusedGet({ path: [{ elem: [{ name: 'gateway-state' }, { name: 'route', key: { id: 'x'.repeat(100_000) } }] }] });
    expect(big.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await refusedGet({ path: Array.from({ length: 65 }, () => gpath('/gateway-state/mode')) })).details).toContain('more than 64');
    for (const encoding of ['ASCII', 'BYTES', 7]) {
      const e = await refusedGet({ path: [gpath('/gateway-state/mode')], encoding });
      expect({ code: e.code, details: e.details }).toMatchObject({ code: grpc.status.UNIMPLEMENTED, details: expect.stringContaining('encoding') });
    }
    expect((await refusedGet({ path: [gpath('/gateway-state')], type: 'CONFIG' })).code).toBe(grpc.status.NOT_FOUND);
    // A frame of garbage where a GetRequest should be.
    const garbage = await new Promise<grpc.ServiceError | null>((resolve) => {
      c.raw.makeUnaryRequest('/gnmi.gNMI/Get', (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a, 0x99]), (e: grpc.ServiceError | null) => resolve(e));
    });
    expect(garbage?.code).toBe(grpc.status.INTERNAL);
    await expect(new Promise((resolve, reject) => c.raw.Set({}, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))))).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    // Still serving.
    expect((await c.get({ path: [gpath('/gateway-state/mode')] })).notification[0].update).toHaveLength(1);
  });

  it('Subscribe misuse: no list first, two lists, a poll on a stream, intervals below the minimum, too many paths', async () => {
    const cases: Array<[Json[], grpc.status, string]> = [
      [[{ poll: {} }], grpc.status.INVALID_ARGUMENT, 'first message'],
      [[{}], grpc.status.INVALID_ARGUMENT, 'subscribe or a poll'],
      [[{ subscribe: { subscription: [{ path: gpath('/gateway-state/mode'), mode: 'ON_CHANGE' }] } }, { subscribe: { subscription: [{ path: gpath('/gateway-state/mode') }] } }], grpc.status.INVALID_ARGUMENT, 'one SubscriptionList'],
      [[{ subscribe: { subscription: [{ path: gpath('/gateway-state/mode'), mode: 'ON_CHANGE' }] } }, { poll: {} }], grpc.status.INVALID_ARGUMENT, 'Poll on a STREAM'],
      [[{ subscribe: { subscription: [{ path: gpath('/gateway-state'), mode: 'SAMPLE', sample_interval: '1000000' }] } }], grpc.status.INVALID_ARGUMENT, 'below this target\'s minimum of 1000 ms'],
      [[{ subscribe: { subscription: [{ path: gpath('/gateway-state'), mode: 'ON_CHANGE', heartbeat_interval: '1' }] } }], grpc.status.INVALID_ARGUMENT, 'heartbeat_interval'],
      [[{ subscribe: { subscription: Array.from({ length: 65 }, () => ({ path: gpath('/gateway-state/mode') })) } }], grpc.status.INVALID_ARGUMENT, 'more than 64'],
      [[{ subscribe: { subscription: [] } }], grpc.status.INVALID_ARGUMENT, 'names no path'],
      [[{ subscribe: { encoding: 'ASCII', subscription: [{ path: gpath('/gateway-state') }] } }], grpc.status.UNIMPLEMENTED, 'encoding'],
      [[{ subscribe: { subscription: [{ path: gpath('/gateway-state/route[id=site-b]/nothing') }] } }], grpc.status.NOT_FOUND, '/gateway-state/route[id=site-b]/nothing'],
    ];
    for (const [messages, code, text] of cases) {
      const stream = c.subscribe();
      const s = collect(stream);
      for (const m of messages) stream.write(m);
      const end = await s.ended;
      expect({ code: end.code, details: end.details }, JSON.stringify(messages).slice(0, 120)).toMatchObject({ code, details: expect.stringContaining(text) });
    }
    expect((await gnmiState()).subscriptions).toBe(0);
  });

  it('ONCE and POLL answer with sync_response; polls faster than the minimum interval are merged', async () => {
    const once = c.subscribe();
    const o = collect(once);
    once.write({ subscribe: { mode: 'ONCE', subscription: [{ path: gpath('/gateway-state/route') }, { path: gpath('/gateway-state/mode') }] } });
    expect((await o.ended).code).toBe(grpc.status.OK);
    expect(o.responses.map((r) => r.response)).toEqual(['update', 'sync_response']);
    expect(o.responses[0].update.update).toHaveLength(2);
    const poll = c.subscribe();
    const p = collect(poll);
    poll.write({ subscribe: { mode: 'POLL', subscription: [{ path: gpath('/gateway-state/mode') }] } });
    await until(() => p.responses.filter((r) => r.sync_response).length === 1, 20_000, 'the first poll');
    for (let i = 0; i < 50; i++) poll.write({ poll: {} });
    await until(() => p.responses.filter((r) => r.sync_response).length === 2, 20_000, 'the second poll');
    await sleep(1500);
    // Fifty polls within one minimum interval: one more answer, not fifty.
    expect(p.responses.filter((r) => r.sync_response).length).toBe(2);
    poll.cancel();
    await p.ended;
  });

  it('more streams than --gnmi-max-subscriptions are refused (RESOURCE_EXHAUSTED) and counted; the others go on', async () => {
    const before = Number((await gnmiState())['subscriptions-refused']);
    const open = Array.from({ length: 8 }, () => {
      const stream = c.subscribe();
      const s = collect(stream);
      stream.write({ subscribe: { subscription: [{ path: gpath('/gateway-state/mode'), mode: 'ON_CHANGE' }] } });
      return { stream, ...s };
    });
    await until(() => open.every((x) => x.responses.some((r) => r.sync_response)), 10_000, 'eight subscriptions');
    const extra = Array.from({ length: 3 }, () => {
      const stream = c.subscribe();
      const s = collect(stream);
      stream.write({ subscribe: { subscription: [{ path: gpath('/gateway-state/mode') }] } });
      return s;
    });
    for (const x of extra) expect(await x.ended).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details: expect.stringContaining('--gnmi-max-subscriptions') });
    const state = await gnmiState();
    expect(state.subscriptions).toBe(8);
    expect(Number(state['subscriptions-refused'])).toBe(before + 3);
    for (const x of open) x.stream.cancel();
    await until(async () => (await gnmiState()).subscriptions === 0, 10_000, 'the subscriptions closed');
  });

  it('connections: at most --max-connections, handshakes and silence past --connection-timeout closed, no plain text', async () => {
    // The earlier tests' client goes idle too and is closed after the same timeout: wait for that first, so that
    // the count below moves for the idle socket of this test alone.
    await until(async () => (await listener()).connections === 0, 10_000, 'the earlier connections to close');
    const before = await listener();
    // A TCP connection that never starts TLS: closed after the timeout (1 s), counted.
    const idle = net.connect(port, '127.0.0.1');
    sockets.push(idle);
    idle.on('error', () => {});
    const closed = new Promise((r) => idle.once('close', r));
    await closed;
    await until(async () => Number((await listener())['connections-timed-out']) === Number(before['connections-timed-out']) + 1, 20_000, 'the idle connection counted');
    // Plain-text HTTP/2 (h2c) does not get a gRPC answer.
    const h2 = http2.connect(`http://127.0.0.1:${port}`);
    const h2answer = await new Promise<string>((resolve) => {
      h2.on('error', () => resolve('error'));
      const req = h2.request({ ':method': 'POST', ':path': '/gnmi.gNMI/Capabilities', 'content-type': 'application/grpc' });
      req.on('error', () => resolve('error'));
      req.on('close', () => resolve('closed'));
      req.on('response', () => resolve('answered'));
      req.end();
    });
    expect(h2answer).not.toBe('answered');
    h2.destroy();
    // Fill the cap (4) with connections that each hold a subscription (so none is idle): the fifth is closed at once and counted.
    await until(async () => (await listener()).connections === 0, 10_000, 'idle connections closed');
    const holders = Array.from({ length: 4 }, () => {
      const x = connect(`127.0.0.1:${port}`, creds.cert, creds.token);
      clients.push(x);
      const stream = x.subscribe();
      const got = collect(stream);
      stream.write({ subscribe: { subscription: [{ path: gpath('/gateway-state/mode'), mode: 'ON_CHANGE' }] } });
      return { x, stream, got };
    });
    await until(() => holders.every((h) => h.got.responses.some((r) => r.sync_response)), 10_000, 'four subscriptions');
    expect((await listener()).connections).toBe(4);
    const refusedBefore = Number((await listener())['connections-refused']);
    const fifth = net.connect(port, '127.0.0.1');
    fifth.on('error', () => {});
    sockets.push(fifth);
    await new Promise((r) => fifth.once('close', r));
    expect(Number((await listener())['connections-refused'])).toBe(refusedBefore + 1);
    for (const h of holders) h.stream.cancel();
    // TLS up but no HTTP/2 preface, no call: closed after the timeout too, and counted.
    await until(async () => (await listener()).connections === 0, 10_000, 'the subscribers\' connections closed');
    const timedOut = Number((await listener())['connections-timed-out']);
    const silent = tls.connect({ port, host: '127.0.0.1', ca: creds.cert, servername: 'localhost', ALPNProtocols: ['h2'] });
    silent.on('error', () => {});
    silent.resume(); // reading, so that the gateway's close is seen
    sockets.push(silent);
    await new Promise((r) => silent.once('close', r));
    expect(Number((await listener())['connections-timed-out'])).toBe(timedOut + 1);
  }, 30_000);

  it('the token as the password metadata (Telegraf, pygnmi) is accepted; a wrong one is UNAUTHENTICATED', async () => {
    const withPassword = (password: string) => {
      const x = connect(`127.0.0.1:${port}`, creds.cert, null);
      clients.push(x);
      const m = new grpc.Metadata();
      m.set('username', 'telegraf');
      m.set('password', password);
      return new Promise<Json>((resolve, reject) => x.raw.Get({ path: [gpath('/gateway-state/mode')] }, m, (e: Error | null, r: Json) => (e ? reject(e) : resolve(r))));
    };
    expect((await withPassword(creds.token)).notification[0].update).toHaveLength(1);
    const before = Number((await gnmiState())['requests-unauthenticated']);
    await expect(withPassword(creds.token.slice(1))).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(Number((await gnmiState())['requests-unauthenticated'])).toBe(before + 1);
  });

  it('the gateway still serves; its gNMI state is valid against the model', async () => {
    const fresh = connect(`127.0.0.1:${port}`, creds.cert, creds.token);
    clients.push(fresh);
    expect((await fresh.get({ path: [gpath('/gateway-state/route[id=site-b]')] })).notification[0].update).toHaveLength(1);
    expect(exited).toBe(false);
    const state = (await api.request('GET', '/restconf/data/vitesse-gateway:gateway-state')).body;
    const verdict = yanglintDocument(state, 'get');
    expect(verdict.messages).toBe('');
    expect(verdict.ok).toBe(true);
    expect(Number(((state as Json)['vitesse-gateway:gateway-state'].gnmi)['updates-sent'])).toBeGreaterThan(0);
  });

  it('vitesse run refuses --gnmi-listen without the TLS files, and bad gNMI options (exit 2)', () => {
    const file = path.join(dir, 'gw.json');
    const run = (args: string[]) => spawnSync(process.execPath, [bin, 'run', '--config', file, '--name', 'gnmi-opts', '--lock-dir', path.join(dir, 'lock2'), '--socket', 'none', '--metrics-listen', 'none', ...args], { encoding: 'utf8' });
    const tlsArgs = ['--api-tls-cert', creds.certFile, '--api-tls-key', creds.keyFile, '--api-token-file', creds.tokenFile];
    const cases: Array<[string[], RegExp]> = [
      [['--gnmi-listen', '127.0.0.1:0'], /gNMI \(--gnmi-listen\) needs all of --api-tls-cert, --api-tls-key, --api-token-file/],
      [['--gnmi-listen', 'nowhere', ...tlsArgs], /--gnmi-listen: "nowhere" is not host:port/],
      [['--gnmi-listen', '127.0.0.1:0', '--gnmi-max-subscriptions', '0', ...tlsArgs], /--gnmi-max-subscriptions: "0"/],
      [['--gnmi-listen', '127.0.0.1:0', '--gnmi-min-sample-interval', '0.01', ...tlsArgs], /--gnmi-min-sample-interval: "0.01"/],
    ];
    for (const [args, message] of cases) {
      const r = run(args);
      expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status: 2, stderr: expect.stringMatching(message) });
    }
  });
});
