// `vitesse bench tcp [--vita SNABB]`: TCP through two gateways, Vitesse's and
// (with --vita) Vita's, on one veth topology (controlplane/demo/two-sites.ts),
// in interleaved rounds so that a neighbour's load falls on both alike
// (issue 15 target 4):
//
//   hostA ── gwA ══ net ══ gwB ── hostB
//
// Each round runs iperf3 hostA → hostB and hostB → hostA (-R) through two
// Vitesse gateways (in this process, one queue each), then the same through
// two Vita nodes (`snabb vita --xdp`, one per gateway namespace, its own key
// exchange with a preshared key, as its vethtest.sh does). The figure per
// round is the mean of both directions; the ratio is Vitesse's over Vita's in
// the same round. CPU: the gateways' data-plane CPU seconds per GB carried
// (Vitesse's worker threads; all of Vita's processes), steadier than rates on
// a shared machine.
//
// Vita's XDP driver pins its map under /sys/fs/bpf/snabb/<ifname>; `ip netns
// exec` gives a process a fresh sysfs without a BPF file system, so each Vita
// runs after mounting its own (private to its mount namespace). Needs root,
// iperf3; a benchmark, never run by tests or CI.
import fs from 'node:fs';
import os from 'node:os';
import { execFileSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import pino from 'pino';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import { parseConfig } from '../controlplane/config/index.js';
import { waitForTunnel } from '../controlplane/demo/demo.js';
import { commandMissing } from '../controlplane/demo/lab.js';
import { ADDR, buildTwoSites, type Driver, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import { Gateway } from '../controlplane/gateway.js';
import { workerCpuSeconds } from './e2e.js';

const spec: Record<string, OptionSpec> = {
  vita: { type: 'string', help: "Vita's snabb binary (e.g. vita/src/snabb): run two Vita nodes beside the Vitesse gateways" },
  driver: { type: 'string', default: 'af-xdp', help: "Vitesse's packet I/O driver: af-xdp or af-packet (Vita: its XDP driver)" },
  'xdp-mode': { type: 'string', default: 'auto', help: "with af-xdp: auto, native or generic (XDP in the driver, or on the skb)" },
  'host-offloads': {
    type: 'string',
    default: 'off',
    help: "off: the hosts' veth pairs without TSO/GSO/checksum offload at both ends, as Vita needs (like for like); on: each round also runs Vitesse with the hosts' kernel defaults, af-packet on the private interfaces (Vita keeps them off: it cannot take super-frames); vethtest: for both, the hosts' ends as Vita's vethtest.sh sets them (rx and tx checksum offload off) and the gateways' ends at the kernel's defaults, Vitesse with af-packet on the private interfaces",
  },
  'nat-t': {
    type: 'string',
    default: 'off',
    help: "on: each round also runs Vitesse with ESP in UDP (both routes nat-traversal force), af-packet on the public interfaces and the public veth pairs' transmit offloads on (tx-udp-segmentation: gwA's ESP-in-UDP super-frames cross net as one skb), the hosts' offloads as for the like-for-like row; both: also the same without coalescing; off: no such row. With --host-offloads on, also a row with both at once: the hosts' kernel defaults and ESP in UDP super-frames, af-packet on all four interfaces",
  },
  'kernel-forwarding': {
    type: 'boolean',
    help: "each round also runs the kernel's own IP forwarding in the gateways' namespaces in place of the gateways (no encryption, no copy to user space; hosts as for the like-for-like row): the topology's ceiling on this machine, which no gateway that takes frames into user space reaches",
  },
  'tx-gso': { type: 'string', default: 'on', help: "with --host-offloads on or vethtest: on, off or both (af-packet's coalescing of TCP segments into super-frames for the hosts; both: one run each per round)" },
  rounds: { type: 'number', default: 3, help: 'interleaved rounds (Vitesse, then Vita, each round)' },
  seconds: { type: 'number', default: 5, help: 'duration of each iperf3 run' },
  json: { type: 'boolean', help: 'print the figures as one JSON object on the last line' },
  help: { type: 'boolean' },
};

const TUNNEL_MTU = 1440;

type Impl = 'vitesse' | 'vita' | 'kernel';
/**
 * off: hosts' offloads off at both ends (as Vita needs); on: the kernel's
 * defaults, af-packet coalescing; vethtest: as Vita's vethtest.sh (hosts'
 * ends rx/tx checksum offload off, gateways' ends the kernel's defaults);
 * -no-coalescing: the same without af-packet's coalescing.
 */
type Hosts = 'off' | 'on' | 'on-no-coalescing' | 'vethtest' | 'vethtest-no-coalescing';

export interface TcpRun {
  impl: Impl;
  round: number;
  /** The hosts' offloads in this run (Vita's: off, or vethtest), and Vitesse's driver. */
  host_offloads: Hosts;
  driver: Driver | `${Driver}/${Driver}` | 'vita-xdp' | 'kernel';
  /** Both Vitesse gateways' private interfaces: super-frames cut (rx) and coalesced (tx) by af-packet. */
  gso?: { rx_gso_frames: number; tx_gso_frames: number; tx_gso_segments: number };
  /** --nat-t rows: ESP in UDP, af-packet on the public side, with or without its coalescing into UDP super-frames. */
  nat_t?: 'coalescing' | 'no-coalescing';
  /** Vitesse: both gateways' non-zero drop counters over the run (frames lost inside the gateways, e.g. tx_ring_full), by counter name. */
  drops?: Record<string, number>;
  /** --nat-t rows: both gateways' public interfaces, the same counters. */
  public_gso?: { rx_gso_frames: number; tx_gso_frames: number; tx_gso_segments: number };
  /** iperf3 Gbit/s received, hostA → hostB and hostB → hostA. */
  a_to_b_gbps: number | null;
  b_to_a_gbps: number | null;
  mean_gbps: number | null;
  retransmits: number;
  /** Data-plane CPU seconds of both gateways together per GB received (both directions). */
  cpu_s_per_gb: number | null;
  /** The same CPU with the tunnel up and no traffic, in % of one core (both gateways together); null for the kernel's forwarding. */
  idle_cpu_pct: number | null;
  /** cpu_s_per_gb without what the gateways burn idle over the same time. */
  cpu_s_per_gb_beyond_idle: number | null;
}

export interface TcpResult {
  driver: Driver;
  xdp_mode: string;
  host_offloads: 'on' | 'off' | 'vethtest';
  tx_gso: 'on' | 'off' | 'both';
  seconds: number;
  rounds: number;
  loadavg_before: number[];
  loadavg_after: number[];
  cpus: number;
  runs: TcpRun[];
  /** Medians over the rounds of the mean of both directions, Gbit/s. */
  vitesse_gbps: number | null;
  vita_gbps: number | null;
  /** Median over the rounds of Vitesse / Vita in the same round (both with the hosts' offloads off: like for like). */
  ratio: number | null;
  /** With --host-offloads on: Vitesse (af-packet) with the hosts' default offloads, and its ratio to Vita (offloads off) in the same round. */
  vitesse_host_offloads_gbps?: number | null;
  ratio_host_offloads?: number | null;
  vitesse_host_offloads_cpu_s_per_gb?: number | null;
  /** With --tx-gso both: the same without af-packet's coalescing. */
  vitesse_host_offloads_no_coalescing_gbps?: number | null;
  ratio_host_offloads_no_coalescing?: number | null;
  vitesse_host_offloads_no_coalescing_cpu_s_per_gb?: number | null;
  /** With --host-offloads vethtest --tx-gso both: Vitesse without coalescing (vitesse_gbps and ratio are with it). */
  vitesse_no_coalescing_gbps?: number | null;
  ratio_no_coalescing?: number | null;
  vitesse_no_coalescing_cpu_s_per_gb?: number | null;
  /** With --nat-t: Vitesse with ESP in UDP and af-packet's UDP super-frames on the public side, and its ratio to Vita in the same round. */
  nat_t?: 'off' | 'on' | 'both';
  vitesse_nat_t_gbps?: number | null;
  ratio_nat_t?: number | null;
  vitesse_nat_t_cpu_s_per_gb?: number | null;
  /** With --nat-t both: the same without coalescing. */
  vitesse_nat_t_no_coalescing_gbps?: number | null;
  ratio_nat_t_no_coalescing?: number | null;
  vitesse_nat_t_no_coalescing_cpu_s_per_gb?: number | null;
  /** With --nat-t and --host-offloads on: both at once (the hosts' super-frames on the private side, ESP in UDP super-frames on the public one, af-packet on all four interfaces), and its ratio to Vita in the same round. */
  vitesse_all_offloads_gbps?: number | null;
  ratio_all_offloads?: number | null;
  vitesse_all_offloads_cpu_s_per_gb?: number | null;
  /**
   * With --kernel-forwarding: the kernel's IP forwarding in place of the
   * gateways (the topology's ceiling), its ratio to Vita in the same round
   * (the highest ratio any gateway could reach here), and Vitesse's
   * like-for-like row as a fraction of it in the same round.
   */
  kernel_gbps?: number | null;
  ratio_kernel?: number | null;
  vitesse_of_kernel?: number | null;
  vitesse_cpu_s_per_gb: number | null;
  vita_cpu_s_per_gb: number | null;
  vitesse_cpu_s_per_gb_beyond_idle: number | null;
  vita_cpu_s_per_gb_beyond_idle: number | null;
  vitesse_idle_cpu_pct: number | null;
  vita_idle_cpu_pct: number | null;
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench tcp [options]\n\nTCP (iperf3, both directions) through two Vitesse gateways and, with --vita,\ntwo Vita nodes on the same veth topology, interleaved (needs root).\n\n${usageText(spec)}\n\nexamples:\n  sudo vitesse bench tcp\n  sudo vitesse bench tcp --vita /opt/vita/src/snabb --rounds 5 --json\n`);
    return 0;
  }
  const driver = String(options.driver);
  if (driver !== 'af-xdp' && driver !== 'af-packet') throw new UsageError(`--driver: "${driver}" is not af-xdp or af-packet`);
  const xdpMode = String(options['xdp-mode']);
  if (!['auto', 'native', 'generic'].includes(xdpMode)) throw new UsageError(`--xdp-mode: "${xdpMode}" is not auto, native or generic`);
  const rounds = Number(options.rounds);
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 100)) throw new UsageError('--rounds must be 1..100');
  const seconds = Number(options.seconds);
  if (!(seconds > 0 && seconds <= 600)) throw new UsageError('--seconds must be in (0, 600]');
  const hostOffloads = String(options['host-offloads']);
  if (hostOffloads !== 'on' && hostOffloads !== 'off' && hostOffloads !== 'vethtest') throw new UsageError(`--host-offloads: "${hostOffloads}" is not on, off or vethtest`);
  const txGso = String(options['tx-gso']);
  if (txGso !== 'on' && txGso !== 'off' && txGso !== 'both') throw new UsageError(`--tx-gso: "${txGso}" is not on, off or both`);
  const natT = String(options['nat-t']);
  if (natT !== 'on' && natT !== 'off' && natT !== 'both') throw new UsageError(`--nat-t: "${natT}" is not on, off or both`);
  if (natT !== 'off' && hostOffloads === 'vethtest') throw new UsageError('--nat-t: not with --host-offloads vethtest (its rows keep the hosts as for the like-for-like row)');
  const vita = options.vita === undefined ? undefined : String(options.vita);
  if (vita !== undefined) {
    try {
      fs.accessSync(vita, fs.constants.X_OK);
    } catch {
      throw new UsageError(`--vita: "${vita}" is not an executable (Vita's snabb binary)`);
    }
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    process.stderr.write('vitesse bench tcp: needs root: it creates network namespaces and veth pairs and runs gateways on them\n');
    return 1;
  }
  const missing = ['ip', 'ping', 'ethtool', 'iperf3', ...(vita ? ['mount'] : [])].filter(commandMissing);
  if (missing.length) {
    process.stderr.write(`vitesse bench tcp: needs ${missing.join(', ')}\n`);
    return 1;
  }
  const say = (line: string) => {
    if (!options.json) process.stdout.write(line + '\n');
  };
  const hosts: Hosts[] = hostOffloads === 'vethtest' ? [] : ['off'];
  if (hostOffloads !== 'off') {
    if (txGso !== 'off') hosts.push(hostOffloads);
    if (txGso !== 'on') hosts.push(`${hostOffloads}-no-coalescing`);
  }
  const natTRows: NonNullable<TcpRun['nat_t']>[] = natT === 'off' ? [] : natT === 'on' ? ['coalescing'] : ['coalescing', 'no-coalescing'];
  const kernel = options['kernel-forwarding'] === true;
  const result = await measure({ driver, xdpMode, hostOffloads, txGso, hosts, natT, natTRows, kernel, rounds, seconds, vita }, say);
  process.stdout.write(summary(result) + '\n');
  if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
  return result.runs.every((r) => r.mean_gbps !== null) ? 0 : 1;
}

interface Plan {
  driver: Driver;
  xdpMode: string;
  hostOffloads: 'on' | 'off' | 'vethtest';
  txGso: 'on' | 'off' | 'both';
  /** Vitesse's runs per round, by the hosts' offloads. */
  hosts: Hosts[];
  natT: 'off' | 'on' | 'both';
  natTRows: NonNullable<TcpRun['nat_t']>[];
  /** --kernel-forwarding: a row per round with the kernel's forwarding in place of the gateways. */
  kernel: boolean;
  rounds: number;
  seconds: number;
  vita: string | undefined;
}

// The hosts' veth pairs (both ends: the host's and the gateway's private
// interface), as the lab leaves them (offloads off) or at the kernel's
// defaults, recorded when the lab was built with them.
const OFFLOADS = ['rx', 'tx', 'tso', 'gso', 'gro'] as const;
function hostVeths(lab: TwoSiteLab): [string, string][] {
  return [[lab.ns.hostA, 'eth0'], [lab.ns.gwA, 'private'], [lab.ns.gwB, 'private'], [lab.ns.hostB, 'eth0']];
}
function readOffloads(lab: TwoSiteLab): Map<string, string[]> {
  const names: Record<(typeof OFFLOADS)[number], string> = { rx: 'rx-checksumming', tx: 'tx-checksumming', tso: 'tcp-segmentation-offload', gso: 'generic-segmentation-offload', gro: 'generic-receive-offload' };
  const m = new Map<string, string[]>();
  for (const [ns, dev] of hostVeths(lab)) {
    const k = lab.lab.exec(ns, ['ethtool', '-k', dev]);
    m.set(`${ns}/${dev}`, OFFLOADS.flatMap((o) => [o, new RegExp(`^${names[o]}: on`, 'm').test(k) ? 'on' : 'off']));
  }
  return m;
}
function setOffloads(lab: TwoSiteLab, setting: 'off' | 'on' | 'vethtest', defaults: Map<string, string[]>): void {
  for (const [ns, dev] of hostVeths(lab)) {
    const d = defaults.get(`${ns}/${dev}`)!;
    let argv = d;
    if (setting === 'off') argv = [...d.slice(0, 2), 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']; // as the lab sets them
    else if (setting === 'vethtest' && dev === 'eth0') argv = [...d, 'rx', 'off', 'tx', 'off']; // vethtest.sh: ethtool --offload … rx off tx off
    lab.lab.exec(ns, ['ethtool', '-K', dev, ...argv]);
  }
}
// The public veth pairs (gateway — net, both ends): their transmit offloads
// on (checksum, TSO, GSO and with them tx-udp-segmentation) for the --nat-t
// rows, off again (as the lab leaves them) for the others. GRO stays off.
function setPublicOffloads(lab: TwoSiteLab, on: boolean): void {
  for (const [ns, dev] of [[lab.ns.gwA, 'public'], [lab.ns.net, 'siteA'], [lab.ns.net, 'siteB'], [lab.ns.gwB, 'public']]) {
    lab.lab.exec(ns, ['ethtool', '-K', dev, 'tx', on ? 'on' : 'off', 'tso', on ? 'on' : 'off', 'gso', on ? 'on' : 'off', 'gro', 'off']);
    if (on) lab.lab.exec(ns, ['ethtool', '-K', dev, 'tx-udp-segmentation', 'on']);
  }
}
// A site's configuration with ESP in UDP on every route.
function withNatT(config: unknown): unknown {
  const c = structuredClone(config) as { 'vitesse-gateway:gateway': { route: Record<string, unknown>[] } };
  for (const r of c['vitesse-gateway:gateway'].route) r['nat-traversal'] = 'force';
  return c;
}
const settingOf = (hosts: Hosts) => (hosts.startsWith('vethtest') ? 'vethtest' : hosts.startsWith('on') ? 'on' : 'off');

async function measure(plan: Plan, say: (l: string) => void): Promise<TcpResult> {
  const { driver, xdpMode, rounds, seconds, vita } = plan;
  const loadBefore = os.loadavg().map((x) => Number(x.toFixed(2)));
  say(`building hostA — gwA — net — gwB — hostB (Vitesse driver ${driver}${plan.hostOffloads === 'on' ? ', and af-packet with the hosts\' default offloads' : ''}${vita ? `, Vita --xdp with the hosts' offloads ${plan.hostOffloads === 'vethtest' ? 'as vethtest.sh sets them' : 'off'}` : ''})…`);
  const lab = buildTwoSites({ driver, mtu: TUNNEL_MTU, prefix: 'vtcp', hostOffloads: plan.hostOffloads !== 'off' });
  const runs: TcpRun[] = [];
  try {
    // Both gateways carry inner packets up to the tunnel MTU; the hosts send
    // no bigger ones (as Vita's vethtest.sh sets them), so neither side's
    // figure depends on path-MTU discovery.
    for (const h of [lab.ns.hostA, lab.ns.hostB]) lab.lab.exec(h, ['ip', 'link', 'set', 'eth0', 'mtu', String(TUNNEL_MTU)]);
    const defaults = plan.hostOffloads !== 'off' ? readOffloads(lab) : null;
    const vitaSetting = plan.hostOffloads === 'vethtest' ? 'vethtest' : 'off';
    for (let round = 1; round <= rounds; round++) {
      for (const hosts of plan.hosts) {
        if (defaults) setOffloads(lab, settingOf(hosts), defaults);
        // With super-frames to read or write, the private interfaces need
        // af-packet; the public ones keep --driver.
        runs.push(await vitesseRound(lab, hosts === 'off' ? driver : 'af-packet', driver, xdpMode, hosts, round, seconds, say));
      }
      if (plan.natTRows.length) {
        if (defaults) setOffloads(lab, 'off', defaults);
        setPublicOffloads(lab, true);
        for (const natT of plan.natTRows) runs.push(await vitesseRound(lab, driver, 'af-packet', xdpMode, 'off', round, seconds, say, natT));
        if (plan.hostOffloads === 'on' && defaults) {
          // Everything an operator can turn on at once: the hosts' super-frames
          // cut and coalesced on the private side, ESP in UDP sent and received
          // as UDP super-frames on the public one (af-packet on all four).
          setOffloads(lab, 'on', defaults);
          runs.push(await vitesseRound(lab, 'af-packet', 'af-packet', xdpMode, 'on', round, seconds, say, 'coalescing'));
        }
        setPublicOffloads(lab, false);
      }
      if (defaults) setOffloads(lab, vitaSetting, defaults);
      if (plan.kernel) runs.push(await kernelRound(lab, round, seconds, say));
      if (vita) runs.push(await vitaRound(lab, vita, vitaSetting, round, seconds, say));
    }
  } finally {
    lab.cleanup();
  }
  const median = (xs: number[]) => {
    if (!xs.length) return null;
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return Number((s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2).toFixed(3));
  };
  const of = (impl: Impl, f: (r: TcpRun) => number | null, hosts: Hosts = plan.hosts[0], natT?: TcpRun['nat_t']) =>
    runs.filter((r) => r.impl === impl && (impl !== 'vitesse' || (r.host_offloads === hosts && r.nat_t === natT))).map(f).filter((x): x is number => x !== null);
  const ratiosOf = (hosts: Hosts, natT?: TcpRun['nat_t'], numerator: Impl = 'vitesse', denominator: Impl = 'vita') => {
    const ratios: number[] = [];
    const rowOf = (impl: Impl, round: number) =>
      runs.find((r) => r.impl === impl && r.round === round && (impl !== 'vitesse' || (r.host_offloads === hosts && r.nat_t === natT)))?.mean_gbps;
    for (let round = 1; round <= rounds; round++) {
      const a = rowOf(numerator, round);
      const b = rowOf(denominator, round);
      if (a && b) ratios.push(a / b);
    }
    return ratios;
  };
  const ratios = ratiosOf(plan.hosts[0]);
  // A Vitesse row's median throughput, ratio to Vita and CPU per GB, under `key`.
  const rowFields = (hosts: Hosts, natT: TcpRun['nat_t'], key: string) => ({
    [`vitesse_${key}_gbps`]: median(of('vitesse', (r) => r.mean_gbps, hosts, natT)),
    [`ratio_${key}`]: median(ratiosOf(hosts, natT)),
    [`vitesse_${key}_cpu_s_per_gb`]: median(of('vitesse', (r) => r.cpu_s_per_gb, hosts, natT)),
  });
  const withHosts = (hosts: Hosts, key: string) => (plan.hosts.includes(hosts) ? rowFields(hosts, undefined, key) : {});
  const natTRow = (natT: NonNullable<TcpRun['nat_t']>, key: string) => (plan.natTRows.includes(natT) ? rowFields('off', natT, key) : {});
  return {
    driver,
    xdp_mode: xdpMode,
    host_offloads: plan.hostOffloads,
    tx_gso: plan.txGso,
    seconds,
    rounds,
    loadavg_before: loadBefore,
    loadavg_after: os.loadavg().map((x) => Number(x.toFixed(2))),
    cpus: os.cpus().length,
    runs,
    vitesse_gbps: median(of('vitesse', (r) => r.mean_gbps)),
    vita_gbps: median(of('vita', (r) => r.mean_gbps)),
    ratio: median(ratios),
    vitesse_cpu_s_per_gb: median(of('vitesse', (r) => r.cpu_s_per_gb)),
    vita_cpu_s_per_gb: median(of('vita', (r) => r.cpu_s_per_gb)),
    vitesse_cpu_s_per_gb_beyond_idle: median(of('vitesse', (r) => r.cpu_s_per_gb_beyond_idle)),
    vita_cpu_s_per_gb_beyond_idle: median(of('vita', (r) => r.cpu_s_per_gb_beyond_idle)),
    vitesse_idle_cpu_pct: median(of('vitesse', (r) => r.idle_cpu_pct)),
    vita_idle_cpu_pct: median(of('vita', (r) => r.idle_cpu_pct)),
    ...withHosts('on', 'host_offloads'),
    ...withHosts('on-no-coalescing', 'host_offloads_no_coalescing'),
    ...withHosts('vethtest-no-coalescing', 'no_coalescing'),
    ...(plan.kernel
      ? {
          kernel_gbps: median(of('kernel', (r) => r.mean_gbps)),
          ratio_kernel: median(ratiosOf(plan.hosts[0], undefined, 'kernel', 'vita')),
          vitesse_of_kernel: median(ratiosOf(plan.hosts[0], undefined, 'vitesse', 'kernel')),
        }
      : {}),
    nat_t: plan.natT,
    ...natTRow('coalescing', 'nat_t'),
    ...(plan.hostOffloads === 'on' && plan.natTRows.length ? rowFields('on', 'coalescing', 'all_offloads') : {}),
    ...natTRow('no-coalescing', 'nat_t_no_coalescing'),
  };
}

async function vitesseRound(lab: TwoSiteLab, privateDriver: Driver, publicDriver: Driver, xdpMode: string, hosts: Hosts, round: number, seconds: number, say: (l: string) => void, natT?: TcpRun['nat_t']): Promise<TcpRun> {
  const logger = pino({ level: process.env.VITESSE_BENCH_LOG ?? 'warn' });
  const gateways: Gateway[] = [];
  try {
    for (const [name, config, ns] of [['gwA', lab.configA, lab.ns.gwA], ['gwB', lab.configB, lab.ns.gwB]] as const) {
      const link = (device: string, driver: Driver) => ({
        driver,
        ifname: device,
        netns: ns,
        ...(driver === 'af-xdp' ? { xdpMode } : {}),
        ...(hosts.endsWith('-no-coalescing') || natT === 'no-coalescing' ? { txGso: false } : {}),
      });
      const gw = new Gateway(parseConfig(natT ? withNatT(config) : config), { logger: logger.child({ gw: name }), links: { private: link('private', privateDriver), public: link('public', publicDriver) } });
      gateways.push(gw);
      gw.start();
    }
    await waitForTunnel(lab, performance.now());
    const gso = (side: 'private' | 'public') => {
      const t = { rx_gso_frames: 0, tx_gso_frames: 0, tx_gso_segments: 0 };
      for (const g of gateways) {
        const c = g.dataplane.counters();
        t.rx_gso_frames += c[`${side}_rx_gso_frames`];
        t.tx_gso_frames += c[`${side}_tx_gso_frames`];
        t.tx_gso_segments += c[`${side}_tx_gso_segments`];
      }
      return t;
    };
    const diff = (a: ReturnType<typeof gso>, b: ReturnType<typeof gso>) => ({ rx_gso_frames: a.rx_gso_frames - b.rx_gso_frames, tx_gso_frames: a.tx_gso_frames - b.tx_gso_frames, tx_gso_segments: a.tx_gso_segments - b.tx_gso_segments });
    const dropCounters = () => {
      const d: Record<string, number> = {};
      for (const g of gateways) {
        for (const [k, v] of Object.entries(g.dataplane.counters() as unknown as Record<string, number>)) {
          if (/drop|ring_full|exhausted|oversize/.test(k)) d[k] = (d[k] ?? 0) + v;
        }
      }
      // What the kernel dropped on the gateways' public veths (on transmit: the peer's backlog was full).
      for (const ns of [lab.ns.gwA, lab.ns.gwB]) d.public_veth_tx_dropped = (d.public_veth_tx_dropped ?? 0) + lab.lab.stats(ns, 'public').txDropped;
      return d;
    };
    const before = gso('private'), publicBefore = gso('public'), dropsBefore = dropCounters();
    const driver = privateDriver === publicDriver ? privateDriver : (`${privateDriver}/${publicDriver}` as const);
    const run = await directions(lab, 'vitesse', hosts, driver, round, seconds, workerCpuSeconds, say, natT);
    run.gso = diff(gso('private'), before);
    const dropsAfter = dropCounters();
    const drops: Record<string, number> = Object.fromEntries(Object.entries(dropsAfter).map(([k, v]) => [k, v - (dropsBefore[k] ?? 0)]).filter(([, v]) => v !== 0));
    run.drops = drops;
    if (Object.keys(drops).length) say(`    dropped in the gateways: ${Object.entries(drops).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    if (privateDriver === 'af-packet') say(`    super-frames cut by the gateways ${run.gso.rx_gso_frames}, coalesced ${run.gso.tx_gso_frames} (from ${run.gso.tx_gso_segments} frames)`);
    if (natT) {
      run.nat_t = natT;
      run.public_gso = diff(gso('public'), publicBefore);
      say(`    public side: UDP super-frames sent ${run.public_gso.tx_gso_frames} (from ${run.public_gso.tx_gso_segments} frames), received and cut ${run.public_gso.rx_gso_frames}`);
    }
    return run;
  } finally {
    for (const g of gateways) g.close();
  }
}

// The kernel's own forwarding in the gateways' namespaces, in place of the
// gateways: the same veth hops, hosts and net, with neither encryption nor a
// copy into user space. A gateway's frames cross the same hops and more
// (AF_XDP or a packet socket copies each one out and back), so this rate
// bounds what any such gateway carries on this topology and machine.
async function kernelRound(lab: TwoSiteLab, round: number, seconds: number, say: (l: string) => void): Promise<TcpRun> {
  const L = lab.lab, ns = lab.ns;
  const sides = [
    { gw: ns.gwA, priv: `${ADDR.gwAPrivate}/24`, pub: `${ADDR.gwAPublic}/24`, far: '10.2.0.0/16', next: ADDR.netA, near: '10.1.0.0/16', self: ADDR.gwAPublic },
    { gw: ns.gwB, priv: `${ADDR.gwBPrivate}/24`, pub: `${ADDR.gwBPublic}/24`, far: '10.1.0.0/16', next: ADDR.netB, near: '10.2.0.0/16', self: ADDR.gwBPublic },
  ];
  try {
    for (const s of sides) {
      L.address(s.gw, 'private', s.priv);
      L.address(s.gw, 'public', s.pub);
      L.exec(s.gw, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      L.route(s.gw, s.far, s.next);
      L.route(ns.net, s.near, s.self);
    }
    return await directions(lab, 'kernel', 'off', 'kernel', round, seconds, null, say);
  } finally {
    // Back as the gateways need them: no kernel addresses, no forwarding.
    // Each step on its own, so that one that fails (a setup cut short)
    // neither skips the others nor hides the error that cut it short.
    const undo = (where: string, argv: string[]) => {
      try {
        L.exec(where, argv);
      } catch {
        // nothing to undo
      }
    };
    for (const s of sides) {
      undo(ns.net, ['ip', 'route', 'del', s.near]);
      undo(s.gw, ['sysctl', '-qw', 'net.ipv4.ip_forward=0']);
      for (const dev of ['private', 'public']) undo(s.gw, ['ip', 'addr', 'flush', 'dev', dev]);
    }
  }
}

async function vitaRound(lab: TwoSiteLab, snabb: string, vitaSetting: 'off' | 'vethtest', round: number, seconds: number, say: (l: string) => void): Promise<TcpRun> {
  const key = crypto.randomBytes(32).toString('hex');
  const node = (side: 'A' | 'B') => {
    const a = side === 'A';
    const ns = a ? lab.ns.gwA : lab.ns.gwB;
    // Vita names its apps after route ids and splits them at '-': ids are plain words.
    return {
      name: `vtcp-${process.pid}-${round}-${side}`,
      ns,
      config: [
        `public-interface4 { ifname public; ip ${a ? ADDR.gwAPublic : ADDR.gwBPublic}; mac ${lab.lab.mac(ns, 'public')}; nexthop-ip ${a ? ADDR.netA : ADDR.netB}; }`,
        `private-interface4 { ifname private; ip ${a ? ADDR.gwAPrivate : ADDR.gwBPrivate}; mac ${lab.lab.mac(ns, 'private')}; nexthop-ip ${a ? ADDR.hostA : ADDR.hostB}; }`,
        `route4 { id site${a ? 'B' : 'A'}; gateway { ip ${a ? ADDR.gwBPublic : ADDR.gwAPublic}; } net "${a ? '10.2.0.0/16' : '10.1.0.0/16'}"; preshared-key ${key}; spi 1001; }`,
      ].join('\n') + '\n',
    };
  };
  const nodes = [node('A'), node('B')];
  const children: ChildProcess[] = [];
  try {
    for (const n of nodes) {
      const child = lab.lab.spawn(n.ns, ['sh', '-c', 'mount -t bpf bpf /sys/fs/bpf && exec "$0" vita --xdp --name "$1"', snabb, n.name]);
      let log = '';
      child.stderr?.on('data', (d) => (log = (log + d).slice(-2000)));
      child.stdout?.on('data', (d) => (log = (log + d).slice(-2000)));
      child.on('exit', (code) => {
        if (code) say(`  vita ${n.name} exited ${code}: ${log.trim().split('\n').slice(-3).join(' | ')}`);
      });
      children.push(child);
    }
    for (const n of nodes) await snabbConfig(snabb, n.name, n.config);
    await waitForTunnel(lab, performance.now());
    const names = nodes.map((n) => n.name);
    return await directions(lab, 'vita', vitaSetting, 'vita-xdp', round, seconds, () => processCpuSeconds(names), say);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await stopProcesses(nodes.map((n) => n.name));
    // Vita leaves its XDP program on the interfaces; the next Vitesse round attaches its own.
    for (const n of nodes) for (const dev of ['private', 'public']) {
      try {
        lab.lab.exec(n.ns, ['ip', 'link', 'set', 'dev', dev, 'xdp', 'off']);
      } catch {
        // none attached
      }
    }
  }
}

// Waits until the node answers `snabb config`, then loads its configuration.
async function snabbConfig(snabb: string, name: string, config: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 300; i++) {
    try {
      execFileSync(snabb, ['config', 'get', name, '/'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
    } catch (e) {
      last = String((e as { stderr?: Buffer }).stderr ?? e).trim();
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      execFileSync(snabb, ['config', 'set', name, '/'], { input: config, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60000 });
    } catch (e) {
      const err = e as { stderr?: Buffer; stdout?: Buffer; status?: number; signal?: string };
      throw new Error(`vita ${name}: snabb config set failed (status ${err.status}, signal ${err.signal}): ${String(err.stderr ?? '').trim()} ${String(err.stdout ?? '').trim()}\n${config}`);
    }
    return;
  }
  throw new Error(`vita ${name}: snabb config did not answer within 30 s (${last.split('\n').slice(-1)[0]})`);
}

// The processes (leader, workers, supervisors) whose command line names `names`.
function processesOf(names: string[]): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (names.some((n) => cmd.includes(n))) pids.push(Number(p));
    } catch {
      // gone
    }
  }
  return pids;
}

function processCpuSeconds(names: string[]): number {
  let total = 0;
  for (const pid of processesOf(names)) {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ ticks
    } catch {
      // gone
    }
  }
  return total;
}

async function stopProcesses(names: string[]): Promise<void> {
  for (let i = 0; i < 50 && processesOf(names).length; i++) await new Promise((r) => setTimeout(r, 100));
  for (const pid of processesOf(names)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

const IDLE_SECONDS = 2;

async function directions(lab: TwoSiteLab, impl: Impl, hosts: Hosts, driver: TcpRun['driver'], round: number, seconds: number, cpu: (() => number) | null, say: (l: string) => void, natT?: TcpRun['nat_t']): Promise<TcpRun> {
  // Idle first (tunnel up, no traffic): what the gateways burn anyway. The
  // kernel's forwarding has no threads of its own to measure (its work is
  // softirq, charged to whichever thread runs): no CPU figures for it.
  let idleRate = 0;
  if (cpu) {
    const idle0 = cpu(), idleT0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    idleRate = (cpu() - idle0) / ((performance.now() - idleT0) / 1000);
  }
  const cpu0 = cpu?.() ?? 0, t0 = performance.now();
  const ab = await iperf3(lab, seconds, false);
  const ba = await iperf3(lab, seconds, true);
  const cpuSeconds = (cpu?.() ?? 0) - cpu0;
  const elapsed = (performance.now() - t0) / 1000;
  const bytes = (ab?.bytes ?? 0) + (ba?.bytes ?? 0);
  const run: TcpRun = {
    impl,
    round,
    host_offloads: hosts,
    driver,
    a_to_b_gbps: ab ? Number((ab.bps / 1e9).toFixed(3)) : null,
    b_to_a_gbps: ba ? Number((ba.bps / 1e9).toFixed(3)) : null,
    mean_gbps: ab && ba ? Number(((ab.bps + ba.bps) / 2e9).toFixed(3)) : null,
    retransmits: (ab?.retransmits ?? 0) + (ba?.retransmits ?? 0),
    cpu_s_per_gb: cpu && bytes ? Number((cpuSeconds / (bytes / 1e9)).toFixed(3)) : null,
    idle_cpu_pct: cpu ? Number((100 * idleRate).toFixed(2)) : null,
    cpu_s_per_gb_beyond_idle: cpu && bytes ? Number(((cpuSeconds - idleRate * elapsed) / (bytes / 1e9)).toFixed(3)) : null,
  };
  const label = `${impl === 'vita' ? 'vita' : impl === 'kernel' ? "kernel forwarding (the topology's ceiling)" : `vitesse ${driver}`}${hosts === 'off' ? '' : hosts.startsWith('on') ? " hosts' offloads on" : ' vethtest'}${hosts.endsWith('-no-coalescing') ? ', no coalescing' : ''}${natT ? `, ESP in UDP${natT === 'no-coalescing' ? ' without' : ' with'} UDP super-frames` : ''}`;
  const cpuText = cpu ? `, ${run.cpu_s_per_gb ?? '-'} CPU-s per GB (${run.cpu_s_per_gb_beyond_idle ?? '-'} beyond idle; idle ${run.idle_cpu_pct}% of a core)` : '';
  say(`  round ${round} ${label}: A→B ${run.a_to_b_gbps ?? '-'} Gbit/s, B→A ${run.b_to_a_gbps ?? '-'} Gbit/s, ${run.retransmits} retransmits${cpuText}`);
  return run;
}

async function iperf3(lab: TwoSiteLab, seconds: number, reverse: boolean): Promise<{ bps: number; bytes: number; retransmits: number } | null> {
  const server = lab.lab.spawn(lab.ns.hostB, ['iperf3', '-s', '-1', '-p', '5301']);
  try {
    await new Promise((r) => setTimeout(r, 300));
    // A stalled connection (a gateway that stopped forwarding) ends the run
    // as failed instead of hanging the benchmark.
    const out = await lab.lab.execAsync(lab.ns.hostA, ['timeout', String(seconds + 20), 'iperf3', '-c', ADDR.hostB, '-p', '5301', '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])]);
    const end = (JSON.parse(out) as { end: { sum_received: { bits_per_second: number; bytes: number }; sum_sent: { retransmits?: number } } }).end;
    return { bps: end.sum_received.bits_per_second, bytes: end.sum_received.bytes, retransmits: end.sum_sent.retransmits ?? 0 };
  } catch {
    return null;
  } finally {
    server.kill('SIGKILL');
  }
}

function summary(r: TcpResult): string {
  return [
    `TCP through two gateways, iperf3 ${r.seconds} s each way, ${r.rounds} interleaved round(s), Vitesse driver ${r.driver}; load average ${r.loadavg_before.join(' ')} before, ${r.loadavg_after.join(' ')} after, ${r.cpus} CPUs`,
    r.host_offloads === 'vethtest'
      ? `  hosts' ends as Vita's vethtest.sh sets them (rx/tx checksum offload off), gateways' ends at the kernel's defaults, for both; Vitesse af-packet on the private interfaces${r.tx_gso === 'off' ? ' without coalescing' : ''}`
      : `  hosts' offloads off (like for like: Vita cannot take super-frames)`,
    `  Vitesse: ${r.vitesse_gbps ?? '-'} Gbit/s (median of the rounds' means of both directions), ${r.vitesse_cpu_s_per_gb ?? '-'} CPU-s per GB (worker threads; ${r.vitesse_cpu_s_per_gb_beyond_idle ?? '-'} beyond idle, idle ${r.vitesse_idle_cpu_pct ?? '-'}% of a core)`,
    ...(r.runs.some((x) => x.impl === 'vita')
      ? [
          `  Vita:    ${r.vita_gbps ?? '-'} Gbit/s, ${r.vita_cpu_s_per_gb ?? '-'} CPU-s per GB (all its processes; ${r.vita_cpu_s_per_gb_beyond_idle ?? '-'} beyond idle, idle ${r.vita_idle_cpu_pct ?? '-'}% of a core)`,
          `  Vitesse / Vita, same round: ×${r.ratio ?? '-'} (median)`,
        ]
      : []),
    ...(r.kernel_gbps !== undefined
      ? [`  kernel forwarding in place of the gateways (no encryption, no copy to user space; the topology's ceiling): ${r.kernel_gbps ?? '-'} Gbit/s; ${r.runs.some((x) => x.impl === 'vita') ? `/ Vita same round: ×${r.ratio_kernel ?? '-'} (the most any gateway could reach here); ` : ''}Vitesse / kernel same round: ${r.vitesse_of_kernel ?? '-'}`]
      : []),
    ...(r.vitesse_no_coalescing_gbps !== undefined
      ? [`  Vitesse without coalescing: ${r.vitesse_no_coalescing_gbps ?? '-'} Gbit/s, ${r.vitesse_no_coalescing_cpu_s_per_gb ?? '-'} CPU-s per GB; / Vita same round: ×${r.ratio_no_coalescing ?? '-'} (median)`]
      : []),
    ...(r.vitesse_nat_t_gbps !== undefined || r.vitesse_nat_t_no_coalescing_gbps !== undefined
      ? [
          `  ESP in UDP (nat-traversal force), af-packet on the public interfaces with the public veths' transmit offloads on, ${r.driver} on the private ones, hosts as above:`,
          ...(r.vitesse_nat_t_gbps !== undefined
            ? [`  Vitesse with UDP super-frames: ${r.vitesse_nat_t_gbps ?? '-'} Gbit/s, ${r.vitesse_nat_t_cpu_s_per_gb ?? '-'} CPU-s per GB; / Vita same round: ×${r.ratio_nat_t ?? '-'} (median)`]
            : []),
          ...(r.vitesse_nat_t_no_coalescing_gbps !== undefined
            ? [`  Vitesse without coalescing: ${r.vitesse_nat_t_no_coalescing_gbps ?? '-'} Gbit/s, ${r.vitesse_nat_t_no_coalescing_cpu_s_per_gb ?? '-'} CPU-s per GB; / Vita same round: ×${r.ratio_nat_t_no_coalescing ?? '-'} (median)`]
            : []),
          ...(r.vitesse_all_offloads_gbps !== undefined
            ? [`  Vitesse with both, the hosts' default offloads and UDP super-frames (af-packet on all four interfaces): ${r.vitesse_all_offloads_gbps ?? '-'} Gbit/s, ${r.vitesse_all_offloads_cpu_s_per_gb ?? '-'} CPU-s per GB; / Vita same round: ×${r.ratio_all_offloads ?? '-'} (median)`]
            : []),
        ]
      : []),
    ...(r.host_offloads === 'on'
      ? [
          `  hosts' offloads on (the kernel's defaults) for Vitesse only, af-packet on the private interfaces, ${r.driver} on the public ones; Vita keeps them off (it cannot take super-frames)`,
          ...(r.vitesse_host_offloads_gbps !== undefined
            ? [`  Vitesse: ${r.vitesse_host_offloads_gbps ?? '-'} Gbit/s, ${r.vitesse_host_offloads_cpu_s_per_gb ?? '-'} CPU-s per GB; / Vita same round: ×${r.ratio_host_offloads ?? '-'} (median)`]
            : []),
          ...(r.vitesse_host_offloads_no_coalescing_gbps !== undefined
            ? [`  Vitesse without coalescing: ${r.vitesse_host_offloads_no_coalescing_gbps ?? '-'} Gbit/s, ${r.vitesse_host_offloads_no_coalescing_cpu_s_per_gb ?? '-'} CPU-s per GB; / Vita same round: ×${r.ratio_host_offloads_no_coalescing ?? '-'} (median)`]
            : []),
        ]
      : []),
  ].join('\n');
}
