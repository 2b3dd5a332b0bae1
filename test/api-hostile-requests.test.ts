// Requests built to pollute prototypes or crash the API, sent with a real
// HTTP client to `vitesse run` child processes on real interfaces (two sites
// in network namespaces, af-packet): `…/private-interface/__proto__/polluted`
// used to answer 201 and set Object.prototype.polluted (prom-client then
// threw and the process exited), `DELETE …/__proto__/hasOwnProperty` to
// answer 500 and crash. After each attack: the answer is a 4xx naming the
// segment or member, the gateway's built-in prototypes are as they were (a
// watcher loaded into the gateway process reports them, see
// test/support/prototype-watch.mjs), the API and the metrics still answer,
// and at the end the tunnel still forwards (ping host A → host B).
//
// Needs root, ip, ping and the compiled CLI (test/support/requires.ts).
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForTunnel } from '../controlplane/demo/demo.js';
import { vitesseBin } from '../controlplane/demo/gateway-process.js';
import { buildTwoSites, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import { watchProcess, type WatchedProcess } from './support/gateway-process.js';
import { describeNeeding } from './support/requires.js';
import { until } from '../controlplane/demo/memory-two-sites.js';

const root = path.resolve(import.meta.dirname, '..');
const watcher = path.join(root, 'test', 'support', 'prototype-watch.mjs');

const GW = '/restconf/data/vitesse-gateway:gateway';
const YANG = 'application/yang-data+json';

interface Gw extends WatchedProcess {
  child: ChildProcess;
  socket: string;
}

interface Reply { status: number; body: string }

/** The error messages of a RESTCONF error reply, one a line. */
function messages(r: Reply): string {
  const errors = (JSON.parse(r.body) as { 'ietf-restconf:errors': { error: Array<{ 'error-message': string }> } })['ietf-restconf:errors'].error;
  return errors.map((e) => e['error-message']).join('\n');
}

function request(socketPath: string, method: string, p: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: p, headers: body === undefined ? {} : { 'content-type': YANG } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describeNeeding(['root', 'ip', 'ping', 'cli'], 'hostile API requests against a running gateway', () => {
  let lab: TwoSiteLab;
  let dir: string;
  const gws: Gw[] = [];
  let a: Gw;

  function start(side: 'a' | 'b', config: object): Gw {
    const file = path.join(dir, `${side}.json`);
    fs.writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
    const socket = path.join(dir, `${side}.sock`);
    const ns = side === 'a' ? lab.ns.gwA : lab.ns.gwB;
    const child = lab.lab.spawn(ns, [process.execPath, '--import', watcher, vitesseBin, 'run', '--config', file, '--name', `api${process.pid}${side}`,
      '--socket', socket, '--metrics-listen', '127.0.0.1:0']);
    const gw: Gw = Object.assign(watchProcess(child), { child, socket });
    gws.push(gw);
    return gw;
  }

  /** What the gateway's prototype watcher says has changed ({} if nothing). */
  async function prototypesChanged(gw: Gw): Promise<unknown> {
    const before = gw.stderr.split('PROTOTYPES ').length;
    gw.child.kill('SIGUSR2');
    await until(() => gw.stderr.split('PROTOTYPES ').length > before && gw.stderr.endsWith('\n'), 20_000, 'the prototype report');
    const last = gw.stderr.split('PROTOTYPES ').at(-1)!.split('\n')[0];
    return JSON.parse(last);
  }

  async function scrapeMetrics(gw: Gw): Promise<number> {
    const line = gw.logs.find((l) => l.msg === 'metrics listening at /metrics')!;
    const script = `require('http').get('http://${line.listen}/metrics', (r) => { r.resume(); r.on('end', () => console.log(r.statusCode)); })`;
    return Number((await lab.lab.execAsync(lab.ns.gwA, [process.execPath, '-e', script])).trim());
  }

  /** The gateway still runs, its prototypes are clean, its API and metrics answer. */
  async function stillWell(what: string): Promise<void> {
    expect(a.exited, `${what}: the gateway exited: ${a.stderr}`).toBe(false);
    expect(await prototypesChanged(a), what).toEqual({});
    const mtu = await request(a.socket, 'GET', `${GW}/mtu`);
    expect(mtu, what).toEqual({ status: 200, body: '{"vitesse-gateway:mtu":1440}\n' });
    expect(await scrapeMetrics(a), `${what}: metrics`).toBe(200);
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-hostile-'));
    lab = buildTwoSites({ driver: 'af-packet', prefix: 'api' });
    a = start('a', lab.configA);
    start('b', lab.configB);
    await until(() => gws.every((g) => g.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('running'))), 30_000,
      `both gateways to start (${gws.map((g) => g.stderr).join(' | ')})`);
    await waitForTunnel(lab, performance.now());
  }, 60_000);

  afterAll(async () => {
    for (const g of gws) g.child.kill('SIGTERM');
    await Promise.all(gws.map((g) => Promise.race([g.end, new Promise((r) => setTimeout(r, 5000))])));
    lab?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses reserved names in paths, naming the segment; looks nodes up as own properties only', async () => {
    const attacks: Array<[string, string, string | undefined, number, RegExp]> = [
      ['PUT', `${GW}/private-interface/__proto__/polluted`, '{"vitesse-gateway:polluted":"yes"}', 400, /segment 3 \("__proto__"\) is not a node name: __proto__, constructor, prototype are reserved/],
      ['DELETE', `${GW}/private-interface/__proto__/hasOwnProperty`, undefined, 400, /"__proto__"/],
      ['PATCH', `${GW}/private-interface/__proto__`, '{"vitesse-gateway:__proto__":{"polluted":"yes"}}', 400, /"__proto__"/],
      ['PUT', `${GW}/constructor/prototype/polluted`, '{"vitesse-gateway:polluted":"yes"}', 400, /segment 2 \("constructor"\)/],
      ['POST', `${GW}/route/prototype`, '{"vitesse-gateway:polluted":"yes"}', 400, /"prototype"/],
      ['PUT', `${GW}/private-interface/%5F%5Fproto%5F%5F/polluted`, '{"vitesse-gateway:polluted":"yes"}', 400, /"__proto__"/],
      ['PUT', `${GW}/vitesse-gateway:__proto__/polluted`, '{"vitesse-gateway:polluted":"yes"}', 400, /"vitesse-gateway:__proto__"/],
      ['GET', `${GW}/private-interface/__proto__`, undefined, 400, /"__proto__"/],
      // Inherited members are not data: absent, as any unknown node.
      ['GET', `${GW}/private-interface/toString`, undefined, 404, /no such data node/],
      ['GET', `${GW}/hasOwnProperty`, undefined, 404, /no such data node/],
      ['DELETE', `${GW}/private-interface/hasOwnProperty`, undefined, 409, /no such data node/],
      ['DELETE', `${GW}/valueOf`, undefined, 409, /no such data node/],
      ['PUT', `${GW}/toString/x`, '{"vitesse-gateway:x":1}', 409, /no such data node/],
    ];
    for (const [method, p, body, status, says] of attacks) {
      const r = await request(a.socket, method, p, body);
      expect({ method, p, status: r.status }).toEqual({ method, p, status });
      expect(messages(r), `${method} ${p}`).toMatch(says);
      await stillWell(`${method} ${p}`);
    }
  }, 120_000);

  it('refuses bodies with reserved member names anywhere, naming where', async () => {
    const attacks: Array<[string, string, string, RegExp]> = [
      ['PATCH', `${GW}/private-interface`, '{"vitesse-gateway:private-interface":{"__proto__":{"polluted":"yes"}}}', /at \/vitesse-gateway:private-interface\/__proto__ is not a node name/],
      ['PATCH', GW, '{"vitesse-gateway:gateway":{"constructor":{"prototype":{"polluted":"yes"}}}}', /at \/vitesse-gateway:gateway\/constructor /],
      ['PATCH', GW, '{"vitesse-gateway:gateway":{"route":[{"id":"site-b","__proto__":{"polluted":"yes"}}]}}', /at \/vitesse-gateway:gateway\/route\/0\/__proto__ /],
      ['PUT', `${GW}/private-interface/next-hop`, '{"vitesse-gateway:next-hop":{"address":"10.1.0.2","__proto__":{"hasOwnProperty":null}}}', /next-hop\/__proto__ /],
      ['POST', GW, '{"__proto__":{"polluted":"yes"}}', /at \/__proto__ /],
      ['PUT', `${GW}/mtu`, '{"vitesse-gateway:prototype":1400}', /"vitesse-gateway:prototype" is not a node name|prototype/],
    ];
    for (const [method, p, body, says] of attacks) {
      const r = await request(a.socket, method, p, body);
      expect({ method, body, status: r.status }).toEqual({ method, body, status: 400 });
      expect(messages(r), `${method} ${p} ${body}`).toMatch(says);
      await stillWell(`${method} ${p} ${body}`);
    }
  }, 120_000);

  it('refuses a body nested a million deep with the depth limit, and never quotes a malformed body', async () => {
    const deep = await request(a.socket, 'PUT', `${GW}/mtu`, `{"vitesse-gateway:mtu":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`);
    expect(deep.status).toBe(400);
    expect(messages(deep)).toMatch(/nested deeper than 32 levels of objects and arrays \(the limit\), at line 1, column \d+/);
    await stillWell('a deep body');
    const key = crypto.randomBytes(32).toString('hex');
    const unquoted = await request(a.socket, 'PUT', `${GW}/route=site-b/preshared-key`, key);
    expect(unquoted.status).toBe(400);
    expect(messages(unquoted)).toMatch(/the body is not JSON: .*a string is quoted/);
    for (let i = 0; i + 8 <= key.length; i += 4) expect(unquoted.body).not.toContain(key.slice(i, i + 8));
    expect(a.logs.map((l) => JSON.stringify(l)).join('\n')).not.toContain(key.slice(0, 8));
    await stillWell('an unquoted key');
  }, 60_000);

  it('takes constructor and prototype as list key values: ordinary route ids', async () => {
    for (const [i, id] of ['constructor', 'prototype', 'toString', 'hasOwnProperty'].entries()) {
      const entry = { id, net: `10.${7 + i}.0.0/16`, spi: 7001 + i, gateway: [{ queue: 1, address: '203.0.113.9' }], 'preshared-key': crypto.randomBytes(32).toString('hex') };
      const put = await request(a.socket, 'PUT', `${GW}/route=${id}`, JSON.stringify({ 'vitesse-gateway:route': [entry] }));
      expect({ id, status: put.status, body: put.body }).toEqual({ id, status: 201, body: '' });
      const got = await request(a.socket, 'GET', `${GW}/route=${id}/net`);
      expect(JSON.parse(got.body)).toEqual({ 'vitesse-gateway:net': entry.net });
      expect((await request(a.socket, 'DELETE', `${GW}/route=${id}`)).status).toBe(204);
      await stillWell(`route ${id}`);
    }
  }, 60_000);

  it('after all of it, the gateway still forwards, logged no uncaught exception, and counted no failed request', async () => {
    await waitForTunnel(lab, performance.now());
    await lab.lab.execAsync(lab.ns.hostA, ['ping', '-c', '3', '-i', '0.2', '-W', '1', '10.2.0.2']);
    expect(a.exited).toBe(false);
    expect(a.stderr.replace(/PROTOTYPES \{\}\n/g, '')).toBe('');
    const state = JSON.parse((await request(a.socket, 'GET', '/restconf/data/vitesse-gateway:gateway-state/management-listener')).body);
    const socketListener = state['vitesse-gateway:management-listener'].find((l: { name: string }) => l.name === 'api-socket');
    expect(socketListener['requests-failed']).toBe('0');
  }, 60_000);
});
