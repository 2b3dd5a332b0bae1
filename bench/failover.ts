// `vitesse bench failover [--driver af-packet|af-xdp] [--json]`: scale-out
// with BGP and ECMP (docs/scale-out.md) on real interfaces, real BIRD and
// `vitesse run` gateways (controlplane/demo/ecmp-sites.ts): two gateways per
// site, each site's router spreading flows over them by L4 hash.
//
// Flows from many source ports go from hostA to hostB and are echoed back.
// Router A's nftables sets record which A gateway carried each flow, each
// way. Then gateway a1 is killed with SIGKILL under the flows: its BIRD dies
// with it, router A stops choosing it at once, b1 withdraws once liveness says
// a1 is down, and every flow resumes through a2. The outage is each flow's
// longest time without an echo. a1 is started again and carries flows again.
// Also run by test/realif-ecmp.test.ts, which asserts what happened to each
// flow, not the times. Needs root, bird (bird2) and nft (nftables).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import { spawnGateway, type GatewayProcess } from '../controlplane/demo/gateway-process.js';
import { buildEcmpSites, GATEWAYS, type EcmpLab, type GatewayName } from '../controlplane/demo/ecmp-sites.js';
import type { Driver } from '../controlplane/demo/two-sites.js';
import type { FlowReport } from './udp-flows.js';
import { runDrain } from './drain.js';
import { flowSets, PORT, startEcho, startFlows, type Carried } from './lab-flows.js';
import { delta, snapshot, type Counters, type Snapshot } from './lab-counters.js';

const spec: Record<string, OptionSpec> = {
  driver: { type: 'string', default: 'af-packet', help: 'packet I/O driver of the gateways: af-packet or af-xdp' },
  flows: { type: 'number', default: 64, help: 'flows (source ports), each way' },
  pps: { type: 'number', default: 50, help: 'datagrams per second per flow' },
  json: { type: 'boolean', help: 'print the figures as one JSON object on the last line' },
  help: { type: 'boolean' },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type { Carried } from './lab-flows.js';

export interface Phase {
  flows: FlowReport[];
  carried: Carried;
}

export interface FailoverOptions {
  driver?: Driver;
  flows?: number;
  pps?: number;
}

export interface FailoverResult {
  driver: Driver;
  flows: number;
  pps: number;
  /** Before the kill: flows spread over both A gateways. */
  spread: Phase;
  /** Under SIGKILL of a1: the whole stream, and who carried what once routing settled. */
  failover: Phase & {
    birdOutlived: boolean;
    settled: Carried;
    /** Datagrams each flow had sent when a1 was killed, and when router B had stopped choosing b1. */
    killedAt: number;
    withdrawnBAt: number;
  };
  /** a1 restarted. */
  rejoined: Phase;
  /** SIGKILL → router A's route without a1 / router B's without b1, ms. */
  withdraw_a_ms: number;
  withdraw_b_ms: number;
  /** Per flow: the longest time without an echo, ms (max, median over flows). */
  outage_max_ms: number;
  outage_median_ms: number;
  /** a2's BIRD killed alone: how often its gateway started it again, and when router A chose a2 again, ms. */
  /** Every gateway's changes of what it announces, and of its peer, ms from the first log line. */
  announcements: Array<{ gateway: GatewayName; ms: number; msg: string; announced?: unknown; withdrawn?: unknown }>;
  bird_restarts: number;
  bird_back_ms: number;
  /** Per phase: the drop, error and failure counters that moved (bench/lab-counters.ts), and the neighbour tables at its end. */
  lossCounters: Record<'warmup' | 'spread' | 'failover' | 'rejoined', { moved: Counters; neighbours: Snapshot['neighbours']; read: Snapshot['read'] }>;
  /** a1's "gateway started" → both routers choose both gateways again, ms. */
  rejoin_ms: number;
}

const NFT = `table inet vflow {
  set out1 { type inet_service; flags dynamic; }
  set out2 { type inet_service; flags dynamic; }
  set in1 { type inet_service; flags dynamic; }
  set in2 { type inet_service; flags dynamic; }
  chain flows {
    type filter hook forward priority 0; policy accept;
    oifname "lan1" udp dport ${PORT} add @out1 { udp sport }
    oifname "lan2" udp dport ${PORT} add @out2 { udp sport }
    iifname "lan1" udp sport ${PORT} add @in1 { udp dport }
    iifname "lan2" udp sport ${PORT} add @in2 { udp dport }
  }
}
`;

export async function runFailover(o: FailoverOptions = {}): Promise<FailoverResult> {
  const driver = o.driver ?? 'af-packet';
  const flows = o.flows ?? 64, pps = o.pps ?? 50;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-failover-'));
  let lab: EcmpLab | null = null;
  const procs = new Map<GatewayName, GatewayProcess>();
  try {
    lab = buildEcmpSites({ driver, dir, livenessInterval: 1, livenessFailures: 3, negotiationTtl: 1 });
    const l = lab;
    l.lab.exec(l.ns.rA, ['nft', '-f', '-'], NFT);
    l.startRouters();
    startEcho(l);
    const run = (g: GatewayName) => {
      const p = spawnGateway(l.lab, l.ns[g], l.configFile[g], `ecmp-${g}`, ['--socket', path.join(dir, `${g}.sock`), '--lock-dir', dir, '--metrics-listen', 'none']);
      procs.set(g, p);
      return p;
    };
    await Promise.all(GATEWAYS.map((g) => run(g).started));
    const hops = async (ns: string, net: string) => {
      const r = JSON.parse(await l.lab.execAsync(ns, ['ip', '-j', 'route', 'show', net])) as Array<{ dev?: string; nexthops?: Array<{ dev: string }> }>;
      return r.flatMap((e) => (e.nexthops ? e.nexthops.map((h) => h.dev) : e.dev ? [e.dev] : [])).sort();
    };
    const until = async (what: string, ok: () => Promise<boolean>, ms: number) => {
      const end = performance.now() + ms;
      while (!(await ok())) {
        if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(20);
      }
      return performance.now();
    };
    const both = async () => (await hops(l.ns.rA, '10.2.0.0/16')).join() === 'lan1,lan2' && (await hops(l.ns.rB, '10.1.0.0/16')).join() === 'lan1,lan2';
    await until('both sites to route over both gateways', both, 60_000);

    const { flush, carried } = flowSets(l);

    const sockets = () => Object.fromEntries([...procs.keys()].map((g) => [g, path.join(dir, `${g}.sock`)]));
    const snap = () => snapshot(l.lab, l.ns, sockets());
    const lossCounters = {} as FailoverResult['lossCounters'];
    const phase = async (name: keyof FailoverResult['lossCounters'], from: Snapshot) => {
      const to = await snap();
      lossCounters[name] = { moved: delta(from, to), neighbours: to.neighbours, read: to.read };
    };

    // Warm-up, not measured: every router, host and gateway resolves its
    // neighbours on these paths (the kernel queues only a few packets per
    // unresolved neighbour).
    let from = await snap();
    let stop = await startFlows(l, flows, pps);
    await sleep(1000);
    await stop();
    await phase('warmup', from);

    // 1. Spread.
    await flush();
    from = await snap();
    stop = await startFlows(l, flows, pps);
    await sleep(4000);
    const spread: Phase = { flows: await stop(), carried: await carried() };
    await phase('spread', from);

    // 2. SIGKILL of a1 under the flows.
    await flush();
    from = await snap();
    stop = await startFlows(l, flows, pps);
    await sleep(2000);
    const a1 = procs.get('a1')!;
    const birdPid = Number(a1.log.find((x) => x.msg === 'bird started')?.pid);
    const killedAt = await stop.mark();
    const killed = performance.now();
    a1.child.kill('SIGKILL');
    const withdrawA = await until('router A to stop choosing a1', async () => (await hops(l.ns.rA, '10.2.0.0/16')).join() === 'lan2', 10_000);
    const withdrawB = await until('router B to stop choosing b1', async () => (await hops(l.ns.rB, '10.1.0.0/16')).join() === 'lan2', 30_000);
    const withdrawnBAt = await stop.mark();
    let birdOutlived = true;
    try {
      process.kill(birdPid, 0);
    } catch {
      birdOutlived = false;
    }
    const before = await carried();
    await flush();
    await sleep(3000);
    const settled = await carried();
    const failover = { flows: await stop(), carried: before, settled, birdOutlived, killedAt, withdrawnBAt };
    await phase('failover', from);

    // 3. a1 restarted: it rejoins.
    await a1.exited;
    const restarted = await run('a1').started;
    const rejoinedAt = await until('both sites to route over both gateways again', both, 60_000);
    await flush();
    from = await snap();
    stop = await startFlows(l, flows, pps);
    await sleep(4000);
    const rejoined: Phase = { flows: await stop(), carried: await carried() };
    await phase('rejoined', from);

    // 4. BIRD alone killed (a2's): the router stops choosing a2, the gateway starts BIRD again, a2 is chosen again.
    const a2 = procs.get('a2')!;
    const a2Bird = Number(a2.log.find((x) => x.msg === 'bird started')?.pid);
    const birdKilled = performance.now();
    process.kill(a2Bird, 'SIGKILL');
    await until('router A to stop choosing a2', async () => (await hops(l.ns.rA, '10.2.0.0/16')).join() === 'lan1', 10_000);
    const birdBack = await until('router A to choose a2 again', async () => (await hops(l.ns.rA, '10.2.0.0/16')).join() === 'lan1,lan2', 30_000);
    const birdRestarts = a2.log.filter((x) => x.msg === 'bird started').length - 1;

    // Every change of what a gateway announces, in order (for reading a run).
    const t0 = Math.min(...[...procs.values()].flatMap((p) => p.log.map((x) => Number(x.time ?? Infinity))));
    const announcements = [...procs.entries()].flatMap(([g, p]) => p.log.filter((x) => x.msg === 'announcements updated' || x.msg === 'peer down: no answer to liveness probes' || x.msg === 'peer up again')
      .map((x) => ({ gateway: g, ms: Number(x.time) - t0, msg: String(x.msg), announced: x.announced, withdrawn: x.withdrawn })))
      .sort((a, b) => a.ms - b.ms);

    const gaps = failover.flows.map((f) => f.maxGapMs).sort((a, b) => a - b);
    return {
      driver, flows, pps, spread, failover, rejoined,
      announcements,
      lossCounters,
      bird_restarts: birdRestarts,
      rejoin_ms: Math.round(rejoinedAt - restarted),
      bird_back_ms: Math.round(birdBack - birdKilled),
      withdraw_a_ms: Math.round(withdrawA - killed),
      withdraw_b_ms: Math.round(withdrawB - killed),
      outage_max_ms: gaps.at(-1) ?? 0,
      outage_median_ms: gaps[Math.floor(gaps.length / 2)] ?? 0,
    };
  } finally {
    for (const p of procs.values()) p.child.kill('SIGKILL');
    lab?.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench failover [options]\n\nTwo gateways per site behind BIRD and kernel ECMP; one is killed with SIGKILL under\nnumbered UDP flows and started again. Then one is drained (vitesse drain) under\nthe same flows, its peer listing both. Needs root, bird (bird2) and nft.\n\n${usageText(spec)}\nexamples:\n  vitesse bench failover --json\n  vitesse bench failover --driver af-xdp --flows 128 --pps 100\n`);
    return 0;
  }
  const driver = String(options.driver);
  if (driver !== 'af-packet' && driver !== 'af-xdp') throw new UsageError(`--driver: "${driver}" is not af-packet or af-xdp`);
  const r = await runFailover({ driver, flows: Number(options.flows), pps: Number(options.pps) });
  // Then `vitesse drain` of a1 under the same streams (bench/drain.ts: the multi-peer lab).
  const d = await runDrain({ driver, flows: Number(options.flows), pps: Number(options.pps) });
  const inWindow = (f: FlowReport) => f.lost.reduce((n, [first, last]) => n + Math.max(0, last - Math.max(first, d.windowFrom) + 1), 0);
  const lost = r.failover.flows.reduce((n, f) => n + f.sent - f.received, 0);
  const figures = {
    driver: r.driver, flows: r.flows, pps: r.pps,
    withdraw_a_ms: r.withdraw_a_ms, withdraw_b_ms: r.withdraw_b_ms,
    outage_max_ms: r.outage_max_ms, outage_median_ms: r.outage_median_ms, bird_back_ms: r.bird_back_ms, rejoin_ms: r.rejoin_ms,
    failover_lost: lost, failover_sent: r.failover.flows.reduce((n, f) => n + f.sent, 0),
    drain_exit: d.exitCode, drain_withdraw_ms: d.withdraw_ms, drain_takeout_ms: d.takeout_ms, drain_ms: d.drained_ms,
    drain_lost: d.stream.reduce((n, f) => n + inWindow(f), 0), drain_sent: d.stream.reduce((n, f) => n + f.sent - d.windowFrom, 0),
    drain_packets_after_ask: Number(d.summary.packets ?? -1),
  };
  process.stdout.write(`SIGKILL of a1: router A stopped choosing it after ${figures.withdraw_a_ms} ms, router B stopped choosing b1 after ${figures.withdraw_b_ms} ms\n`
    + `per-flow outage: median ${figures.outage_median_ms} ms, max ${figures.outage_max_ms} ms (${lost} of ${figures.failover_sent} datagrams lost)\n`
    + `vitesse drain of a1 (exit ${d.exitCode}): router A stopped choosing it after ${d.withdraw_ms} ms, b1 took its pair out after ${d.takeout_ms} ms, drained (idle for the grace) after ${d.drained_ms} ms; `
    + `${figures.drain_lost} of ${figures.drain_sent} datagrams lost from 1 s before the drain to 2 s after\n`);
  if (options.json) process.stdout.write(JSON.stringify(figures) + '\n');
  return 0;
}
