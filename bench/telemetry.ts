// `vitesse bench telemetry --routes N [--seconds S] [--json]`: what gNMI
// streaming telemetry costs the gateway at N routes (issue 14's target: less
// than 5% of one core to sample every route's counters each second).
//
// A gateway in data-plane mode (explicit SAs: every route has an inbound and
// an outbound SA, so the state is full size) on memory wires, its gNMI
// server on 127.0.0.1 with TLS and a token, and a gRPC client in a child
// process (telemetry-client.ts) so that decoding is not counted. Measured
// is this process's CPU time (process.cpuUsage: user + system, every
// thread), less what it spends idle over the same time (the baseline), and
// the same for the event loop's thread alone (*_loop_cpu_ms: the gNMI work,
// gRPC and TLS run there; the data plane's idle workers, whose CPU varies
// with the machine's load, do not). Per sample means per sample the gateway
// sent (distinct timestamps at the client):
//
//   get        a full Get of gateway-state (JSON_IETF): time at the client
//              and CPU at the gateway, per Get
//   sample     SAMPLE of /gateway-state/route every second, JSON_IETF (one
//              update per route): CPU per sample, and as % of one core
//   sample_proto  the same with PROTO (one update per leaf), for comparison
//   on_change  ON_CHANGE of /gateway-state/sa (2N SAs, checked every 250 ms,
//              nothing changing): % of one core
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import { DEFAULT_LIMITS } from '../controlplane/api/listeners.js';
import { loadConfig } from '../controlplane/config/index.js';
import { wires } from '../controlplane/dataplane.js';
import { Gateway } from '../controlplane/gateway.js';
import { startGnmi, type GnmiServer } from '../controlplane/gnmi/index.js';
import { generateConfig } from './config.js';

const spec: Record<string, OptionSpec> = {
  routes: { type: 'number', default: 10_000, help: 'routes (each with an inbound and an outbound SA), 1..65536' },
  seconds: { type: 'number', default: 10, help: 'how long each subscription is measured' },
  json: { type: 'boolean', help: 'print one JSON object on the last line' },
  help: { type: 'boolean' },
};

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
// The event loop's thread alone (/proc/self/task/PID/stat utime + stime): the gNMI work and its TLS run
// there, while the data plane's idle workers, which make the process's own idle CPU vary, do not.
const TICK_MS = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100);
const loopCpuMs = () => {
  const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
};
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Phase { cpuMs: number; loopMs: number; wallMs: number; lines: Array<Record<string, any>> }

/** Runs the client with `args`; the CPU and time of this process from its "synced" line (or its start) to its exit. */
function client(args: string[]): Promise<Phase> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'telemetry-client.js');
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Array<Record<string, any>> = [];
  let c0 = cpuMs(), l0 = loopCpuMs(), t0 = performance.now();
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const all = (partial + d).split('\n');
    partial = all.pop()!;
    for (const l of all) {
      const o = JSON.parse(l);
      if (o.task === 'synced') {
        c0 = cpuMs();
        l0 = loopCpuMs();
        t0 = performance.now();
      } else lines.push(o);
    }
  });
  return new Promise((resolve, reject) => child.on('exit', (code) => {
    const phase = { cpuMs: cpuMs() - c0, loopMs: loopCpuMs() - l0, wallMs: performance.now() - t0, lines };
    if (code === 0) resolve(phase);
    else reject(new Error(`telemetry client ${args[3]} exited with ${code}`));
  }));
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench telemetry [options]\n${usageText(spec)}\n\nexamples:\n  vitesse bench telemetry --routes 10000 --json\n`);
    return 0;
  }
  const routes = options.routes as number;
  const seconds = options.seconds as number;
  if (!(Number.isInteger(routes) && routes >= 1 && routes <= 65536)) throw new UsageError('--routes must be 1..65536');
  if (!(Number.isFinite(seconds) && seconds >= 2 && seconds <= 600)) throw new UsageError('--seconds must be 2..600');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-bench-telemetry-'));
  const id = `${process.pid}-${crypto.randomBytes(2).toString('hex')}`;
  const privateWire = `benchtel-priv-${id}`;
  const publicWire = `benchtel-pub-${id}`;
  wires.create(privateWire, { ends: [{ queues: 1 }, { queues: 1 }] });
  wires.create(publicWire, { ends: [{ queues: 1 }, { queues: 1 }] });
  let gw: Gateway | null = null;
  let gnmi: GnmiServer | null = null;
  try {
    const certFile = path.join(dir, 'gnmi.crt'), keyFile = path.join(dir, 'gnmi.key'), tokenFile = path.join(dir, 'gnmi.token');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile,
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl cannot make the benchmark's certificate: ${r.error?.message ?? r.stderr}`);
    fs.writeFileSync(tokenFile, crypto.randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    const file = path.join(dir, 'gateway.json');
    fs.writeFileSync(file, JSON.stringify(generateConfig(routes, { dataPlane: true, privateWire, publicWire })), { mode: 0o600 });
    const log = pino({ level: 'silent' });
    gw = new Gateway(await loadConfig(file), { logger: log });
    gw.start();
    gnmi = await startGnmi(gw, { listen: '127.0.0.1:0', certFile, keyFile, tokenFile, log, limits: { ...DEFAULT_LIMITS, timeoutMs: 60_000 } });
    const target = `127.0.0.1:${gnmi.port}`;
    const base = [target, certFile, tokenFile];
    process.stderr.write(`telemetry: ${routes} routes, ${2 * routes} SAs; measuring\n`);

    // Idle: what the gateway spends with no client (its timers, the data plane's idle workers).
    await sleep(500);
    const i0 = cpuMs(), il0 = loopCpuMs(), it0 = performance.now();
    await sleep(Math.min(seconds, 5) * 1000);
    const idlePerMs = (cpuMs() - i0) / (performance.now() - it0);
    const loopIdlePerMs = (loopCpuMs() - il0) / (performance.now() - it0);
    const net = (p: Phase) => Math.max(0, p.cpuMs - idlePerMs * p.wallMs);
    const loopNet = (p: Phase) => Math.max(0, p.loopMs - loopIdlePerMs * p.wallMs);

    const gets = 5;
    const get = await client([...base, 'get', String(gets)]);
    const getLine = get.lines[0];
    const sample = await client([...base, 'sample', String(seconds), 'JSON_IETF', '/gateway-state/route']);
    const proto = await client([...base, 'sample', String(Math.max(2, Math.round(seconds / 2))), 'PROTO', '/gateway-state/route']);
    const change = await client([...base, 'onchange', String(Math.max(2, Math.round(seconds / 2))), '/gateway-state/sa']);

    // The samples the gateway sent (a client that reads too slowly makes it skip some), not the seconds.
    const samples = (p: Phase) => Math.max(1, p.lines[0].samples ?? Math.round(p.wallMs / 1000));
    const result = {
      routes,
      sas: 2 * routes,
      idle_cpu_percent: round(idlePerMs * 100, 2),
      idle_loop_cpu_percent: round(loopIdlePerMs * 100, 2),
      get_ms: round(median(getLine.times)),
      get_cpu_ms: round(net(get) / gets),
      get_loop_cpu_ms: round(loopNet(get) / gets),
      get_updates: getLine.updates,
      get_json_bytes: getLine.bytes,
      sample_cpu_ms: round(net(sample) / samples(sample)),
      // Per sample over the 1 s interval: what every-second sampling costs, even if the client made the gateway skip some.
      sample_cpu_percent: round(net(sample) / samples(sample) / 10, 2),
      sample_updates_per_second: round(sample.lines[0].updates / (sample.wallMs / 1000), 0),
      samples: sample.lines[0].samples,
      sample_loop_cpu_ms: round(loopNet(sample) / samples(sample)),
      sample_proto_cpu_ms: round(net(proto) / samples(proto)),
      sample_proto_cpu_percent: round(net(proto) / samples(proto) / 10, 2),
      sample_proto_loop_cpu_ms: round(loopNet(proto) / samples(proto)),
      sample_proto_updates_per_second: round(proto.lines[0].updates / (proto.wallMs / 1000), 0),
      samples_proto: proto.lines[0].samples,
      on_change_cpu_percent: round((net(change) / change.wallMs) * 100, 2),
      seconds,
    };
    process.stdout.write(
      `telemetry: ${routes} routes, ${result.sas} SAs (data-plane mode); gateway idle ${result.idle_cpu_percent}% of a core\n` +
        `  Get of gateway-state (JSON_IETF): ${result.get_ms} ms at the client, ${result.get_cpu_ms} ms of gateway CPU (${result.get_loop_cpu_ms} ms on the event loop's thread); ${result.get_updates} updates, ${Math.round(result.get_json_bytes / 1024)} KiB of JSON\n` +
        `  SAMPLE /gateway-state/route every 1 s, JSON_IETF: ${result.sample_cpu_ms} ms of CPU per sample = ${result.sample_cpu_percent}% of a core (event loop's thread: ${result.sample_loop_cpu_ms} ms; ${result.sample_updates_per_second} updates/s, ${result.samples} samples)\n` +
        `  the same in PROTO (an update per leaf): ${result.sample_proto_cpu_ms} ms per sample = ${result.sample_proto_cpu_percent}% of a core (event loop's thread: ${result.sample_proto_loop_cpu_ms} ms; ${result.sample_proto_updates_per_second} updates/s, ${result.samples_proto} samples)\n` +
        `  ON_CHANGE /gateway-state/sa (checked every 250 ms, no change): ${result.on_change_cpu_percent}% of a core\n`,
    );
    if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } finally {
    await gnmi?.close();
    gw?.close();
    wires.destroy(privateWire);
    wires.destroy(publicWire);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
