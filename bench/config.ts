// `vitesse bench config --routes N [--json]`: what a large configuration costs
// the control plane, measured the way the gateway spends it.
//
//   load      read and check the file as `vitesse run` does (JSON text, the
//             loader's checks, the model's constraints, yang-js, build)
//   start     load, then the gateway (memory driver: no root, no interfaces)
//             with its data plane and key manager started, then the API
//   change    one-route changes through the real API over its Unix socket
//             (PATCH of a route's pre-shared key, in key-exchange mode, or of
//             an outbound SA's key, in data-plane mode): edit, validate,
//             diff, save, apply, each timed from request to answer
//   block     the longest the event loop stood still during a change
//             (perf_hooks.monitorEventLoopDelay): how long key exchange, ARP,
//             ICMP and metrics would have waited; also the event loop's busy
//             time (eventLoopUtilization) and the process's CPU time per
//             change, which a busy machine does not stretch as it does wall
//             time
//
// The generated configuration has N routes with distinct nets, SPIs,
// pre-shared keys and gateway addresses (and, with --data-plane, an inbound
// and an outbound SA per route instead of SPIs and keys).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pino from 'pino';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import { ApiClient } from '../controlplane/api/client.js';
import { YANG_JSON } from '../controlplane/api/schema.js';
import { startApi } from '../controlplane/api/server.js';
import { loadConfig } from '../controlplane/config/index.js';
import { TOP } from '../controlplane/config/defaults.js';
import { wires } from '../controlplane/dataplane.js';
import { Gateway } from '../controlplane/gateway.js';

const spec: Record<string, OptionSpec> = {
  routes: { type: 'number', default: 20_000, help: 'routes in the generated configuration (1..65536)' },
  changes: { type: 'number', default: 5, help: 'one-route changes through the API (each a different route)' },
  'data-plane': { type: 'boolean', help: 'explicit SAs (data-plane mode) instead of key exchange' },
  json: { type: 'boolean', help: 'print one JSON object on the last line' },
  help: { type: 'boolean' },
};

const hex = (octets: number) => crypto.randomBytes(octets).toString('hex');

/** 10.0.0.0/24, 10.0.1.0/24, … (the i-th /24 of 10.0.0.0/8). */
const netOf = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.0/24`;
/** Distinct remote gateways from 198.18.0.1 (RFC 2544's benchmarking range, a /15). */
const gatewayOf = (i: number) => {
  const n = i + 1;
  return `198.${18 + ((n >> 16) & 1)}.${(n >> 8) & 255}.${n & 255}`;
};

/** An RFC 7951 configuration of `routes` routes on memory wires. */
export function generateConfig(routes: number, opts: { dataPlane: boolean; privateWire: string; publicWire: string }): Record<string, unknown> {
  const route = [];
  for (let i = 0; i < routes; i++) {
    const r: Record<string, unknown> = { id: `r${i}`, net: netOf(i), gateway: [{ queue: 1, address: gatewayOf(i) }] };
    if (!opts.dataPlane) {
      r.spi = 1000 + i;
      r['preshared-key'] = hex(32);
    }
    route.push(r);
  }
  const gateway: Record<string, unknown> = {
    'private-interface': {
      device: opts.privateWire, driver: 'memory', mac: '02:00:00:c0:00:01',
      address: ['172.16.0.1'], 'next-hop': { address: '172.16.0.2', mac: '02:00:00:c0:00:02' },
    },
    'public-interface': {
      device: opts.publicWire, driver: 'memory', mac: '02:00:00:c0:01:01',
      queue: [{ id: 1, address: '192.0.2.1' }], 'next-hop': { address: '192.0.2.254', mac: '02:00:00:c0:01:02' },
    },
    route,
  };
  if (opts.dataPlane) {
    const sa = (i: number, spi: number) => ({ route: `r${i}`, queue: 1, spi, aead: 'aes-gcm-16-icv', key: hex(16), salt: hex(4) });
    gateway['data-plane'] = {
      'inbound-sa': Array.from({ length: routes }, (_, i) => sa(i, 1000 + 2 * i)),
      'outbound-sa': Array.from({ length: routes }, (_, i) => sa(i, 1001 + 2 * i)),
    };
  }
  return { [TOP]: gateway };
}

/** CPU time of the whole process (user and system), in ms: unlike wall time, not stretched by a busy machine. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** A PATCH over the API socket, with no client timeout (a change took minutes before the fix). */
function request(socket: string, where: string, body: unknown): Promise<{ status: number; body: string }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: where, method: 'PATCH', headers: { 'content-type': YANG_JSON, 'content-length': String(payload.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench config [options]\n${usageText(spec)}\n\nexamples:\n  vitesse bench config --routes 20000 --json\n  vitesse bench config --routes 5000 --changes 10 --data-plane\n`);
    return 0;
  }
  const routes = options.routes as number;
  const changes = options.changes as number;
  const dataPlane = Boolean(options['data-plane']);
  if (!(Number.isInteger(routes) && routes >= 1 && routes <= 65536)) throw new UsageError('--routes must be 1..65536');
  if (!(Number.isInteger(changes) && changes >= 1 && changes <= Math.min(routes, 1000))) throw new UsageError('--changes must be 1..1000 and at most --routes');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-bench-config-'));
  const id = `${process.pid}-${crypto.randomBytes(2).toString('hex')}`;
  const privateWire = `benchcfg-priv-${id}`;
  const publicWire = `benchcfg-pub-${id}`;
  wires.create(privateWire, { ends: [{ queues: 1 }, { queues: 1 }] });
  wires.create(publicWire, { ends: [{ queues: 1 }, { queues: 1 }] });
  const file = path.join(dir, 'gateway.json');
  fs.writeFileSync(file, JSON.stringify(generateConfig(routes, { dataPlane, privateWire, publicWire }), null, 2) + '\n', { mode: 0o600 });
  const log = pino({ level: 'silent' });
  let gw: Gateway | null = null;
  let api: Awaited<ReturnType<typeof startApi>> | null = null;
  try {
    const t0 = performance.now();
    const c0 = cpuMs();
    const config = await loadConfig(file);
    const t1 = performance.now();
    const c1 = cpuMs();
    gw = new Gateway(config, { logger: log });
    gw.start();
    const t2 = performance.now();
    api = await startApi(gw, { socket: path.join(dir, 'api.sock'), configFile: file, log });
    const t3 = performance.now();
    const client = new ApiClient({ socket: api.socket! });

    process.stderr.write(`config: ${routes} routes loaded in ${round(t1 - t0)} ms, started in ${round(t3 - t0)} ms; changing ${changes}\n`);
    const changeMs: number[] = [];
    const changeCpuMs: number[] = [];
    const changeLoopMs: number[] = [];
    const blockMs: number[] = [];
    for (let c = 0; c < changes; c++) {
      // Routes spread over the list, so a linear scan does not get off lightly.
      const i = Math.floor(((c + 0.5) * routes) / changes);
      const [where, body] = dataPlane
        ? [`data-plane/outbound-sa=r${i},1`, { 'vitesse-gateway:outbound-sa': [{ route: `r${i}`, queue: 1, key: hex(16) }] }]
        : [`route=r${i}`, { 'vitesse-gateway:route': [{ id: `r${i}`, 'preshared-key': hex(32) }] }];
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const s = performance.now();
      const cs = cpuMs();
      const elu = performance.eventLoopUtilization();
      const r = await request(api.socket!, `/restconf/data/${TOP}/${where}`, body);
      changeMs.push(performance.now() - s);
      changeCpuMs.push(cpuMs() - cs);
      changeLoopMs.push(performance.eventLoopUtilization(elu).active);
      h.disable();
      blockMs.push(h.max / 1e6);
      if (r.status !== 204) throw new Error(`the change of route r${i} was refused: HTTP ${r.status} ${r.body}`);
    }
    const s = performance.now();
    await client.get(`/restconf/data/vitesse-gateway:gateway-state`);
    const stateMs = performance.now() - s;

    const result = {
      routes,
      mode: dataPlane ? 'data-plane' : 'key-exchange',
      load_ms: round(t1 - t0),
      load_cpu_ms: round(c1 - c0),
      gateway_ms: round(t2 - t1),
      start_ms: round(t3 - t0),
      change_ms: round(median(changeMs)),
      change_max_ms: round(Math.max(...changeMs)),
      change_cpu_ms: round(median(changeCpuMs)),
      change_event_loop_ms: round(median(changeLoopMs)),
      event_loop_max_block_ms: round(Math.max(...blockMs)),
      // The first change reads every route; the later ones only what they change.
      event_loop_block_median_ms: round(median(blockMs)),
      changes,
      state_ms: round(stateMs),
      file_bytes: fs.statSync(file).size,
    };
    process.stdout.write(
      `config: ${routes} routes (${result.mode}), ${Math.round(result.file_bytes / 1024)} KiB\n` +
        `  load ${result.load_ms} ms, gateway ${result.gateway_ms} ms, start ${result.start_ms} ms\n` +
        `  one-route change ${result.change_ms} ms (median of ${changes}; max ${result.change_max_ms} ms)\n` +
        `    ${result.change_event_loop_ms} ms of event-loop time, blocked at most ${result.event_loop_max_block_ms} ms at a time (median ${result.event_loop_block_median_ms} ms); ${result.change_cpu_ms} ms of process CPU\n` +
        `  GET gateway-state ${result.state_ms} ms\n`,
    );
    if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } finally {
    await api?.close();
    gw?.close();
    wires.destroy(privateWire);
    wires.destroy(publicWire);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
