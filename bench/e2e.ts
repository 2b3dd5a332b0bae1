// `vitesse bench e2e --driver af-xdp|af-packet [--json]`: the gateway pair
// end to end on real interfaces, next to what the same veths carry without
// it, all in one run over one topology (controlplane/demo/two-sites.ts):
//
//   hostA ── gwA ══ net ══ gwB ── hostB
//
// A native generator thread (testkit.io.blast) sends UDP from hostA to hostB
// through hostA's interface with the chosen driver, and a native sink thread
// (testkit.io.sink) counts what reaches hostB's interface with the same
// driver. Measured, at 60-byte and 1400-byte frames:
//   raw      the driver alone over one veth pair: hostA's generator into a
//            sink on gwA's private interface (no forwarding at all);
//   kernel   plain Linux IP forwarding in gwA, net and gwB;
//   gateway  two Vitesse gateways (one queue each, in this process) with ESP
//            between them; net still forwards in the kernel.
// Then TCP through the tunnel (and through the kernel path) with iperf3.
// Rates are what the sink received per second while frames arrived; the
// generator sends as fast as it can, so what it offers beyond the slowest
// stage is dropped on the way (veth queues, socket rings) and counted.
// Needs root (namespaces, veth pairs, raw sockets, XDP).
import fs from 'node:fs';
import os from 'node:os';
import pino from 'pino';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import { parseConfig } from '../controlplane/config/index.js';
import { waitForTunnel } from '../controlplane/demo/demo.js';
import { commandMissing } from '../controlplane/demo/lab.js';
import { ADDR, buildTwoSites, type Driver, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import { Gateway } from '../controlplane/gateway.js';
import * as testkit from '../controlplane/testkit.js';
import type { IoLinkSpec } from '../controlplane/testkit.js';
import { parseMac } from '../controlplane/slowpath/address.js';
import { udpFrame } from '../controlplane/udp.js';
import { BUCKETS, perfMissing, record, workerTids, type Bucket } from './worker-profile.js';

const spec: Record<string, OptionSpec> = {
  driver: { type: 'string', default: 'af-xdp', help: 'packet I/O driver of the gateways, the generator and the sink: af-xdp or af-packet' },
  seconds: { type: 'number', default: 3, help: 'duration of each rate measurement' },
  pps: { type: 'number', default: 0, help: 'offered rate in frames per second for every measurement (0: as fast as the generator can)' },
  'iperf-seconds': { type: 'number', default: 5, help: 'duration of each iperf3 run (0: no iperf3)' },
  perf: { type: 'boolean', help: "profile the gateway workers with perf during the gateway rates: their CPU per frame by where it goes" },
  json: { type: 'boolean', help: 'print the figures as one JSON object on the last line' },
  help: { type: 'boolean' },
};

const SIZES = [60, 1400] as const;
const IDLE_SECONDS = 3;
const TUNNEL_MTU = 1440;

type Mode = 'raw' | 'kernel' | 'gateway';

export interface E2eRow {
  mode: Mode;
  size: number;
  sent_pps: number;
  received_pps: number;
  received_gbps: number;
  loss_pct: number;
  // CPU time per frame of the generator thread (per frame sent), the sink
  // thread and, in gateway mode, the two gateways' worker threads (per frame
  // received at the sink), system calls included. Unlike the rates these
  // hardly depend on what else the machine runs. Softirq work the kernel
  // accounts to no thread (veth, XDP redirects, net's forwarding) is not in them.
  tx_cpu_ns: number;
  rx_cpu_ns: number;
  gateway_cpu_ns?: number;
  /**
   * With --perf, gateway rows: gateway_cpu_ns split by where perf saw the
   * workers' time (bench/worker-profile.ts), and the top symbols.
   */
  profile_ns?: Record<Bucket, number>;
  profile_top?: { symbol: string; pct: number; bucket: Bucket }[];
  profile_samples?: number;
}

export interface E2eResult {
  driver: Driver;
  seconds: number;
  /** Offered rate (frames/s), 0: flat out. */
  pps: number;
  /** The machine's 1-minute load average when the run started: rates on a busy machine are lower. */
  loadavg: number;
  cpus: number;
  /** Received packets per second with 60-byte frames, in millions. */
  mpps_60: Record<Mode, number>;
  /** Received Gbit/s with 1400-byte frames (frame bytes, no Ethernet preamble or FCS). */
  gbps_1400: Record<Mode, number>;
  /** The gateway pair's rate as a fraction of the raw driver rate. */
  gateway_vs_raw: { mpps_60: number; gbps_1400: number };
  /** iperf3 TCP through the tunnel and through the kernel path, Gbit/s (null: not measured). */
  iperf3_gbps: { gateway: number | null; kernel: number | null };
  rows: E2eRow[];
  /** Gateway counters that explain losses (drops, punts), per gateway, non-zero only. */
  gateway_counters: Record<string, Record<string, number>>;
  /**
   * The gateway workers' CPU per frame beyond what the raw driver costs per
   * frame in the same run: gateway_cpu_ns minus the raw row's generator and
   * sink CPU per frame, twice (a frame crosses four driver operations in the
   * two gateways: two receives, two transmits), in ns. Compare with
   * softbench's per-packet cost (issue 15 target 3).
   */
  gateway_beyond_raw_ns: { 60: number; 1400: number };
  /**
   * With --perf: gateway_beyond_raw_ns without the `stack` bucket (other
   * namespaces' IP forwarding and host stacks, which the kernel runs in the
   * workers' system calls and charges to them), in ns.
   */
  gateway_beyond_raw_without_stack_ns?: { 60: number; 1400: number };
  /**
   * With --perf: softbench's CPU per 60-byte packet in this run (one worker,
   * one route: route, encrypt, decrypt, forward), and the gateways' own code
   * per 60-byte frame (the `vitesse` bucket) as a multiple of it: issue 15
   * target 3 asks for at most 3.
   */
  softbench_ns_60?: number;
  vitesse_vs_softbench_60?: number;
  /** CPU of the two gateways' workers with the tunnel up and no traffic, % of one core per worker (no --busywait). */
  idle_cpu_pct_per_worker: number;
  /** How the driver runs on these veths (af-xdp): native or generic XDP, zero-copy or copy, the TX budget per kick. */
  driver_mode: Record<string, number>;
}

type TrafficResult = { packets: number; bytes: number; activeSeconds: number; elapsedSeconds: number; cpuSeconds: number };

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench e2e [options]\n\nThe gateway pair over veth pairs in network namespaces, next to the raw\ndriver rate and plain kernel forwarding over the same veths (needs root).\n\n${usageText(spec)}\n\nexamples:\n  sudo vitesse bench e2e\n  sudo vitesse bench e2e --driver af-packet --pps 100000 --iperf-seconds 0 --json\n`);
    return 0;
  }
  const driver = String(options.driver);
  if (driver !== 'af-xdp' && driver !== 'af-packet') throw new UsageError(`--driver: "${driver}" is not af-xdp or af-packet`);
  const seconds = Number(options.seconds);
  if (!(seconds > 0 && seconds <= 600)) throw new UsageError('--seconds must be in (0, 600]');
  const pps = Number(options.pps);
  if (!(pps >= 0 && pps <= 1e9)) throw new UsageError('--pps must be in [0, 1e9]');
  const iperfSeconds = Number(options['iperf-seconds']);
  if (!(iperfSeconds >= 0 && iperfSeconds <= 600)) throw new UsageError('--iperf-seconds must be in [0, 600]');
  const missing = prerequisite(iperfSeconds > 0) ?? (options.perf && perfMissing() ? 'needs perf for --perf (Debian: linux-perf)' : undefined);
  if (missing) {
    process.stderr.write(`vitesse bench e2e: ${missing}\n`);
    return 1;
  }
  const say = (line: string) => {
    if (!options.json) process.stdout.write(line + '\n');
  };
  const result = await measure(driver, seconds, pps, iperfSeconds, say, Boolean(options.perf));
  process.stdout.write(table(result) + '\n');
  if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
  return 0;
}

function prerequisite(iperf: boolean): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'needs root: it creates network namespaces and veth pairs and opens raw packet and XDP sockets on them';
  }
  const missing = ['ip', 'ping', 'ethtool', ...(iperf ? ['iperf3'] : [])].filter(commandMissing);
  if (missing.length) return `needs ${missing.join(', ')} (or --iperf-seconds 0 without iperf3)`;
  return undefined;
}

async function measure(driver: Driver, seconds: number, pps: number, iperfSeconds: number, say: (l: string) => void, perf = false): Promise<E2eResult> {
  const loadavg = Number(os.loadavg()[0].toFixed(2));
  say(`building hostA — gwA — net — gwB — hostB (driver ${driver})…`);
  const lab = buildTwoSites({ driver, mtu: TUNNEL_MTU, prefix: 'vbench' });
  const gateways: Gateway[] = [];
  const rows: E2eRow[] = [];
  const iperf: E2eResult['iperf3_gbps'] = { gateway: null, kernel: null };
  const counters: E2eResult['gateway_counters'] = {};
  let idlePct = 0;
  let driverMode: Record<string, number> = {};
  try {
    const L = lab.lab, ns = lab.ns;
    const mac = {
      hostA: L.mac(ns.hostA, 'eth0'), hostB: L.mac(ns.hostB, 'eth0'),
      gwAPrivate: L.mac(ns.gwA, 'private'), gwBPrivate: L.mac(ns.gwB, 'private'),
      netA: L.mac(ns.net, 'siteA'), netB: L.mac(ns.net, 'siteB'),
    };
    // hostA → hostB, addressed to gwA's private interface: what a host
    // behind the gateway sends (the generator needs no ARP).
    const frame = (size: number) =>
      udpFrame({ srcMac: parseMac(mac.hostA), dstMac: parseMac(mac.gwAPrivate), src: ADDR.hostA, dst: ADDR.hostB, srcPort: 5555, dstPort: 6666, payload: Buffer.alloc(size - 42), ipId: 1 });
    const generator: IoLinkSpec = { driver, ifname: 'eth0', netns: ns.hostA };

    driverMode = probeDriverMode({ driver, ifname: 'private', netns: ns.gwA });
    say('raw driver rate, hostA → gwA\'s private interface:');
    for (const size of SIZES) rows.push(await rate('raw', size, frame(size), generator, { driver, ifname: 'private', netns: ns.gwA }, seconds, pps, say));

    say('plain kernel forwarding, hostA → gwA → net → gwB → hostB:');
    const undo = kernelForwarding(lab, mac.hostB);
    try {
      for (const size of SIZES) rows.push(await rate('kernel', size, frame(size), generator, { driver, ifname: 'eth0', netns: ns.hostB }, seconds, pps, say));
      if (iperfSeconds) iperf.kernel = await iperf3(lab, iperfSeconds, 'kernel', say);
    } finally {
      undo();
    }

    say('two Vitesse gateways, hostA → gwA ══ESP══ gwB → hostB:');
    const logger = pino({ level: process.env.VITESSE_BENCH_LOG ?? 'warn' });
    // Static next hops: a host whose interface a sink holds (XDP) does not answer ARP.
    const withNextHops = (config: object, privateMac: string, publicMac: string) => {
      const c = structuredClone(config) as { 'vitesse-gateway:gateway': Record<string, { 'next-hop': { mac?: string } }> };
      c['vitesse-gateway:gateway']['private-interface']['next-hop'].mac = privateMac;
      c['vitesse-gateway:gateway']['public-interface']['next-hop'].mac = publicMac;
      return c;
    };
    for (const [name, config, gwNs] of [
      ['gwA', withNextHops(lab.configA, mac.hostA, mac.netA), ns.gwA],
      ['gwB', withNextHops(lab.configB, mac.hostB, mac.netB), ns.gwB],
    ] as const) {
      const link = (device: string) => ({ driver, ifname: device, netns: gwNs });
      const gw = new Gateway(parseConfig(config), { logger: logger.child({ gw: name }), links: { private: link('private'), public: link('public') } });
      gateways.push(gw);
      gw.start();
    }
    await waitForTunnel(lab, performance.now());
    // Idle: the tunnel is up, nothing flows (key exchange and ARP are rare).
    const idle0 = workerCpuSeconds(), idleT0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    idlePct = (100 * (workerCpuSeconds() - idle0)) / ((performance.now() - idleT0) / 1000) / gateways.length;
    say(`  idle (tunnel up, no traffic): ${idlePct.toFixed(2)}% of a core per gateway worker`);
    for (const size of SIZES) rows.push(await rate('gateway', size, frame(size), generator, { driver, ifname: 'eth0', netns: ns.hostB }, seconds, pps, say, perf));
    if (iperfSeconds) iperf.gateway = await iperf3(lab, iperfSeconds, 'gateway', say);
    gateways.forEach((g, i) => {
      counters[i ? 'gwB' : 'gwA'] = Object.fromEntries(Object.entries(g.dataplane.counters()).filter(([k, v]) => v > 0 && !/_(rx|tx)_(packets|bytes)$/.test(k)));
    });
  } finally {
    for (const g of gateways) g.close();
    lab.cleanup();
  }
  const pick = (mode: Mode, size: number) => rows.find((r) => r.mode === mode && r.size === size)!;
  const by = (size: number, f: (r: E2eRow) => number) =>
    Object.fromEntries((['raw', 'kernel', 'gateway'] as const).map((m) => [m, Number(f(pick(m, size)).toFixed(3))])) as Record<Mode, number>;
  const mpps = by(60, (r) => r.received_pps / 1e6);
  const beyond = (size: number) => {
    const raw = pick('raw', size), gw = pick('gateway', size);
    return (gw.gateway_cpu_ns ?? 0) - 2 * (raw.tx_cpu_ns + raw.rx_cpu_ns);
  };
  const gbps = by(1400, (r) => r.received_gbps);
  let softbenchNs: number | undefined;
  if (perf) {
    const sb = testkit.softbench({ packetSize: 60, packets: 2_000_000, routes: 1, queues: 1 });
    softbenchNs = Math.round((sb.cpuSeconds * 1e9) / sb.packets);
    say(`softbench in the same run: ${softbenchNs} ns of CPU per 60-byte packet`);
  }
  const vitesse60 = pick('gateway', 60).profile_ns?.vitesse;
  const withoutStack = (size: number) => {
    const raw = pick('raw', size), gw = pick('gateway', size);
    return Math.round((gw.gateway_cpu_ns ?? 0) - (gw.profile_ns?.stack ?? 0) - 2 * (raw.tx_cpu_ns + raw.rx_cpu_ns));
  };
  return {
    driver,
    seconds,
    pps,
    loadavg,
    cpus: os.cpus().length,
    mpps_60: mpps,
    gbps_1400: gbps,
    gateway_vs_raw: { mpps_60: Number((mpps.gateway / mpps.raw).toFixed(3)), gbps_1400: Number((gbps.gateway / gbps.raw).toFixed(3)) },
    iperf3_gbps: iperf,
    rows,
    gateway_counters: counters,
    gateway_beyond_raw_ns: { 60: beyond(60), 1400: beyond(1400) },
    ...(perf
      ? {
          gateway_beyond_raw_without_stack_ns: { 60: withoutStack(60), 1400: withoutStack(1400) },
          softbench_ns_60: softbenchNs,
          vitesse_vs_softbench_60: softbenchNs && vitesse60 !== undefined ? Number((vitesse60 / softbenchNs).toFixed(2)) : undefined,
        }
      : {}),
    idle_cpu_pct_per_worker: Number(idlePct.toFixed(3)),
    driver_mode: driverMode,
  };
}

// One rate measurement: a sink on `to`, the generator on `from`.
async function rate(mode: Mode, size: number, frame: Buffer, from: IoLinkSpec, to: IoLinkSpec, seconds: number, pps: number, say: (l: string) => void, perf = false): Promise<E2eRow> {
  const sink = testkit.io.sink({ spec: to, seconds: seconds + 3, idleStop: 0.5 }) as Promise<TrafficResult>;
  await new Promise((r) => setTimeout(r, 200));
  const recording = perf ? record(workerTids()) : undefined;
  const workers0 = workerCpuSeconds();
  const sent = (await testkit.io.blast({ spec: from, frame, seconds, pps })) as TrafficResult;
  const got = await sink;
  const workers = workerCpuSeconds() - workers0;
  const profile = recording ? await recording.stop() : undefined;
  const per = (n: number, s: number) => (s > 0 ? n / s : 0);
  const row: E2eRow = {
    mode,
    size,
    sent_pps: Math.round(per(sent.packets, sent.elapsedSeconds)),
    received_pps: Math.round(per(got.packets, got.activeSeconds)),
    received_gbps: Number(per(got.bytes * 8, got.activeSeconds * 1e9).toFixed(3)),
    loss_pct: Number((sent.packets ? (100 * (sent.packets - got.packets)) / sent.packets : 0).toFixed(1)),
    tx_cpu_ns: Math.round(per(sent.cpuSeconds * 1e9, sent.packets)),
    rx_cpu_ns: Math.round(per(got.cpuSeconds * 1e9, got.packets)),
    ...(mode === 'gateway' ? { gateway_cpu_ns: Math.round(per(workers * 1e9, got.packets)) } : {}),
  };
  if (profile && row.gateway_cpu_ns !== undefined) {
    const total = row.gateway_cpu_ns;
    row.profile_ns = Object.fromEntries(BUCKETS.map((b) => [b, Math.round(profile.shares[b] * total)])) as Record<Bucket, number>;
    row.profile_top = profile.top;
    row.profile_samples = profile.samples;
    say(`    where it goes (perf, ${profile.samples} samples): ${BUCKETS.map((b) => `${b} ${row.profile_ns![b]}`).join(', ')} ns`);
  }
  say(`  ${mode.padEnd(7)} ${String(size).padStart(4)} B: ${(row.received_pps / 1e6).toFixed(3)} Mpps, ${row.received_gbps.toFixed(2)} Gbit/s received (${(row.sent_pps / 1e6).toFixed(3)} Mpps offered)` +
    (row.gateway_cpu_ns !== undefined ? `, gateway workers ${row.gateway_cpu_ns} ns CPU per frame` : ''));
  return row;
}

// CPU time so far of this process's gateway worker threads (named
// vitesse-q<N> by the data plane), from /proc, in seconds: the scheduler's
// run time in ns (schedstat) where the kernel keeps it, else user + system
// time in 10 ms ticks (too coarse for the idle figure).
export function workerCpuSeconds(): number {
  const tick = 100; // USER_HZ, 100 on every Linux architecture we run on
  let total = 0;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      if (!fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith('vitesse-q')) continue;
      if (fs.existsSync(`/proc/self/task/${tid}/schedstat`)) {
        total += Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
        continue;
      }
      const fields = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / tick; // utime, stime (fields 14, 15)
    } catch {
      // the thread ended between listing and reading
    }
  }
  return total;
}

// What the driver makes of this interface, from a link opened and closed on
// it before the measurements (the gateways get the same): af-xdp's
// xdp_native, zero_copy and tx_budget; nothing for af-packet.
function probeDriverMode(spec: IoLinkSpec): Record<string, number> {
  if (spec.driver !== 'af-xdp') return {};
  const link = testkit.io.open(spec);
  try {
    const c = link.counters();
    return { xdp_native: c.xdp_native, zero_copy: c.zero_copy, tx_budget: c.tx_budget };
  } finally {
    link.close();
  }
}

// Turns gwA, net and gwB into plain Linux routers for hostA ↔ hostB; returns
// what undoes it (the gateways' interfaces carry no kernel addresses).
function kernelForwarding(lab: TwoSiteLab, hostBMac: string): () => void {
  const L = lab.lab, ns = lab.ns;
  // [namespace, command, what undoes it (null: goes with an address flushed later)]
  const steps: [string, string[], string[] | null][] = [
    [ns.gwA, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'], ['sysctl', '-qw', 'net.ipv4.ip_forward=0']],
    [ns.gwB, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'], ['sysctl', '-qw', 'net.ipv4.ip_forward=0']],
    [ns.gwA, ['ip', 'addr', 'add', `${ADDR.gwAPrivate}/24`, 'dev', 'private'], ['ip', 'addr', 'flush', 'dev', 'private']],
    [ns.gwA, ['ip', 'addr', 'add', `${ADDR.gwAPublic}/24`, 'dev', 'public'], ['ip', 'addr', 'flush', 'dev', 'public']],
    [ns.gwB, ['ip', 'addr', 'add', `${ADDR.gwBPrivate}/24`, 'dev', 'private'], ['ip', 'addr', 'flush', 'dev', 'private']],
    [ns.gwB, ['ip', 'addr', 'add', `${ADDR.gwBPublic}/24`, 'dev', 'public'], ['ip', 'addr', 'flush', 'dev', 'public']],
    [ns.gwA, ['ip', 'route', 'add', 'default', 'via', ADDR.netA], null],
    [ns.gwB, ['ip', 'route', 'add', 'default', 'via', ADDR.netB], null],
    [ns.net, ['ip', 'route', 'add', '10.1.0.0/16', 'via', ADDR.gwAPublic], ['ip', 'route', 'del', '10.1.0.0/16']],
    [ns.net, ['ip', 'route', 'add', '10.2.0.0/16', 'via', ADDR.gwBPublic], ['ip', 'route', 'del', '10.2.0.0/16']],
    // hostB's interface is the sink's, and an XDP sink answers no ARP.
    [ns.gwB, ['ip', 'neigh', 'replace', ADDR.hostB, 'lladdr', hostBMac, 'dev', 'private', 'nud', 'permanent'], null],
  ];
  const done: [string, string[]][] = [];
  const undo = () => {
    for (const [n, argv] of done.splice(0).reverse()) {
      try {
        L.exec(n, argv);
      } catch {
        // best effort: the namespaces go away at the end anyway
      }
    }
  };
  try {
    for (const [n, command, reverse] of steps) {
      L.exec(n, command);
      if (reverse) done.push([n, reverse]);
    }
  } catch (e) {
    undo();
    throw e;
  }
  return undo;
}

async function iperf3(lab: TwoSiteLab, seconds: number, what: string, say: (l: string) => void): Promise<number | null> {
  const server = lab.lab.spawn(lab.ns.hostB, ['iperf3', '-s', '-1', '-p', '5301']);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const out = await lab.lab.execAsync(lab.ns.hostA, ['iperf3', '-c', ADDR.hostB, '-p', '5301', '-t', String(seconds), '-J']);
    const bps = (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
    say(`  iperf3 TCP through the ${what} path: ${(bps / 1e9).toFixed(2)} Gbit/s`);
    return Number((bps / 1e9).toFixed(3));
  } catch (e) {
    say(`  iperf3 through the ${what} path failed: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
    return null;
  } finally {
    server.kill('SIGKILL');
  }
}

function table(r: E2eResult): string {
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  const rates = [
    ['', 'raw driver', 'kernel fwd', 'gateways', 'gateways/raw'],
    ['Mpps at 60 B', r.mpps_60.raw.toFixed(3), r.mpps_60.kernel.toFixed(3), r.mpps_60.gateway.toFixed(3), pct(r.gateway_vs_raw.mpps_60)],
    ['Gbit/s at 1400 B', r.gbps_1400.raw.toFixed(2), r.gbps_1400.kernel.toFixed(2), r.gbps_1400.gateway.toFixed(2), pct(r.gateway_vs_raw.gbps_1400)],
    ['iperf3 TCP Gbit/s', '', r.iperf3_gbps.kernel?.toFixed(2) ?? '-', r.iperf3_gbps.gateway?.toFixed(2) ?? '-', ''],
  ];
  const cpu = [
    ['CPU ns per frame', 'generator', 'sink', 'gateway workers', 'loss %'],
    ...r.rows.map((x) => [`${x.mode} ${x.size} B`, String(x.tx_cpu_ns), String(x.rx_cpu_ns), x.gateway_cpu_ns === undefined ? '' : String(x.gateway_cpu_ns), x.loss_pct.toFixed(1)]),
  ];
  const layout = (rows: string[][]) => {
    const widths = rows[0].map((_, c) => Math.max(...rows.map((l) => l[c].length)));
    return rows.map((l) => l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  };
  return [
    `driver ${r.driver}, ${r.seconds} s per rate, ${r.pps ? `${r.pps} frames/s offered` : 'generator flat out'}, load average ${r.loadavg} on ${r.cpus} CPUs`,
    ...layout(rates),
    '',
    ...layout(cpu),
    '',
    `gateway workers beyond the raw driver: ${r.gateway_beyond_raw_ns[60]} ns per frame at 60 B, ${r.gateway_beyond_raw_ns[1400]} ns at 1400 B` +
      (r.gateway_beyond_raw_without_stack_ns ? ` (without other namespaces' stacks run in their system calls: ${r.gateway_beyond_raw_without_stack_ns[60]} and ${r.gateway_beyond_raw_without_stack_ns[1400]} ns)` : ''),
    ...r.rows.filter((x) => x.profile_ns).map((x) => `  ${x.size} B per frame: ${BUCKETS.map((b) => `${b} ${x.profile_ns![b]}`).join(', ')} ns`),
    ...(r.softbench_ns_60 !== undefined ? [`  the gateways' own code at 60 B: ×${r.vitesse_vs_softbench_60} of softbench's ${r.softbench_ns_60} ns per packet in this run`] : []),
    `idle gateway worker: ${r.idle_cpu_pct_per_worker.toFixed(2)}% of a core` +
      (Object.keys(r.driver_mode).length ? `; driver mode ${Object.entries(r.driver_mode).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''),
  ].join('\n');
}
