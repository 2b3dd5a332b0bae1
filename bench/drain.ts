// `vitesse drain` under numbered flows (docs/scale-out.md, "Drain"), on real
// interfaces, real BIRD and `vitesse run` gateways: the multi-peer lab of
// controlplane/demo/ecmp-sites.ts (site A: a1 and a2 behind router A's
// ECMP; site B: b1, whose route lists a1 and a2 as peers).
//
// Flows from many source ports go from hostA to hostB and are echoed back;
// router A's nftables sets record which A gateway carried each flow each
// way (towards B: router A's choice; back: b1's choice of pair). Under the
// flows, `vitesse drain` (the CLI, as an operator or ExecStop runs it) drains
// a1: a1 withdraws its announcement (router A moves the A→B direction to a2),
// tells b1, which takes a1's pair out of its flow hash (the B→A direction
// moves to a2), and a1 forwards what still comes until it is idle. Then the
// drain is cancelled and a1 carries flows again. Run by
// test/realif-ecmp.test.ts (0 datagrams lost, who carried what) and by
// `vitesse bench failover` (the times, for reading).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApiClient } from '../controlplane/api/client.js';
import { spawnGateway, vitesseBin, type GatewayProcess } from '../controlplane/demo/gateway-process.js';
import { buildEcmpSites, GATEWAYS, MULTI_PEER_GATEWAYS, type EcmpLab, type GatewayName } from '../controlplane/demo/ecmp-sites.js';
import type { Driver } from '../controlplane/demo/two-sites.js';
import type { FlowReport } from './udp-flows.js';
import { flowSets, PORT, startEcho, startFlows } from './lab-flows.js';
import { delta, snapshot, type Counters, type Snapshot } from './lab-counters.js';
import { until, type Condition } from './lab-wait.js';

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// out*/in*: every flow seen (emptied between phases, never under a measured
// stream: flushing a set under traffic was seen to lose datagrams at the
// router); now*: flows seen in the last second (elements time out), read
// under the stream instead.
const RECENT_MS = 1000;
const NFT = `table inet vflow {
  set out1 { type inet_service; flags dynamic; }
  set out2 { type inet_service; flags dynamic; }
  set in1 { type inet_service; flags dynamic; }
  set in2 { type inet_service; flags dynamic; }
  set nowout1 { type inet_service; flags dynamic,timeout; timeout ${RECENT_MS}ms; }
  set nowout2 { type inet_service; flags dynamic,timeout; timeout ${RECENT_MS}ms; }
  set nowin1 { type inet_service; flags dynamic,timeout; timeout ${RECENT_MS}ms; }
  set nowin2 { type inet_service; flags dynamic,timeout; timeout ${RECENT_MS}ms; }
  chain flows {
    type filter hook forward priority 0; policy accept;
    oifname "lan1" udp dport ${PORT} add @out1 { udp sport } update @nowout1 { udp sport }
    oifname "lan2" udp dport ${PORT} add @out2 { udp sport } update @nowout2 { udp sport }
    iifname "lan1" udp sport ${PORT} add @in1 { udp dport } update @nowin1 { udp dport }
    iifname "lan2" udp sport ${PORT} add @in2 { udp dport } update @nowin2 { udp dport }
  }
}
`;

/** Per A gateway: the source ports of the flows it carried towards B (out) and back (in); as bench/failover.ts's. */
export interface Carried {
  out: Record<'a1' | 'a2', number[]>;
  in: Record<'a1' | 'a2', number[]>;
}

export interface DrainResult {
  flows: number;
  pps: number;
  /** The whole stream, from before the drain to after it. */
  stream: FlowReport[];
  /**
   * The first sequence number of the drain's window: sent 1 s before the
   * drain was asked for (2 s into the stream), to the end of the stream, 2 s
   * after it was drained. The stream's first datagrams are not in it: a new
   * sender's first bursts are now and then lost on this lab before any
   * drain (docs/scale-out.md, limits).
   */
  windowFrom: number;
  /** The sequence number sent when the drain was asked for. */
  askedAt: number;
  /** Who carried what before the drain and until it finished, and once it had. */
  before: Carried;
  settled: Carried;
  /** `vitesse drain`'s exit code, output lines and --json summary. */
  exitCode: number;
  output: string[];
  summary: Record<string, unknown>;
  /** b1's view of a1 once drained: usable false (its pair out of the hash), draining true. */
  b1PeerA1: { usable: boolean; draining: boolean };
  /** a1 counted the drain's messages; b1 refused none. */
  a1Counters: Record<string, string>;
  b1Counters: Record<string, string>;
  /** After --cancel: b1 uses a1 again, router A chooses it again, and it carries flows each way. */
  cancelled: { usable: boolean; rejoined: Carried };
  /** Each gateway's counters after the stream (gateway-state without its lists), for reading a run: where a datagram was dropped. */
  counters: Record<string, unknown>;
  /** The hosts' UDP counters (/proc/net/snmp) after the stream: a datagram the echo or a flow's socket dropped is counted there, not lost by the gateways. */
  udp: Record<'hostA' | 'hostB', Record<string, number>>;
  /** Drain asked → router A no longer routes via a1 / b1 took a1 out / the CLI exited (drained), ms. */
  withdraw_ms: number;
  takeout_ms: number;
  drained_ms: number;
  /** Each gateway's vitesse_bgp_announced_prefixes once drained (null: absent). */
  announcedMetric: Record<string, number | null>;
  /** The drop, error and failure counters that moved (bench/lab-counters.ts) in the warm-up and in the stream, and the neighbour tables at their ends. */
  lossCounters: Record<'warmup' | 'stream', { moved: Counters; neighbours: Snapshot['neighbours']; read: Snapshot['read'] }>;
}

/**
 * `paired`: the paired lab instead (a1–b1, a2–b2, one peer per route): a1 was
 * b1's route's only peer, so b1 withdraws that route and router B moves the
 * B→A direction to b2 (the take-out time is router B's).
 */
export async function runDrain(o: { driver?: Driver; flows?: number; pps?: number; grace?: number; paired?: boolean } = {}): Promise<DrainResult> {
  const driver = o.driver ?? 'af-packet';
  const flows = o.flows ?? 64, pps = o.pps ?? 50, grace = o.grace ?? 2;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-drain-'));
  let lab: EcmpLab | null = null;
  const procs = new Map<GatewayName, GatewayProcess>();
  try {
    const paired = o.paired === true;
    lab = buildEcmpSites({ driver, dir, livenessInterval: 1, livenessFailures: 3, negotiationTtl: 1, multiPeer: !paired, prefix: paired ? 'vdrainp' : 'vdrain' });
    const l = lab;
    const gateways = paired ? GATEWAYS : MULTI_PEER_GATEWAYS;
    const keyOfA1 = paired ? null : JSON.parse(fs.readFileSync(l.configFile.b1, 'utf8'))['vitesse-gateway:gateway'].route[0].peer[0]['public-key'] as string;
    l.lab.exec(l.ns.rA, ['nft', '-f', '-'], NFT);
    l.startRouters();
    startEcho(l);
    const socket = (g: GatewayName) => path.join(dir, `${g}.sock`);
    for (const g of gateways) {
      // Metrics on each gateway's own namespace's loopback (read for vitesse_bgp_announced_prefixes).
      procs.set(g, spawnGateway(l.lab, l.ns[g], l.configFile[g], `drain-${g}`, ['--socket', socket(g), '--lock-dir', dir, '--metrics-listen', '127.0.0.1:9301']));
    }
    await Promise.all([...procs.values()].map((p) => p.started));
    const hops = async (ns: string, net: string) => {
      const r = JSON.parse(await l.lab.execAsync(ns, ['ip', '-j', 'route', 'show', net])) as Array<{ dev?: string; nexthops?: Array<{ dev: string }> }>;
      return r.flatMap((e) => (e.nexthops ? e.nexthops.map((h) => h.dev) : e.dev ? [e.dev] : [])).sort();
    };
    const state = async (g: GatewayName) => ((await new ApiClient({ socket: socket(g) }).get('/restconf/data/vitesse-gateway:gateway-state')) as Record<string, any>)['vitesse-gateway:gateway-state'];
    // b1's view of a1: its pair (several peers), or its route's only peer (paired: usable while b1 announces the route).
    const peerA1 = async () => {
      const route = (await state('b1')).route?.[0] ?? {};
      if (paired) return { usable: route['peer-draining'] !== true && (await hops(l.ns.rB, '10.1.0.0/16')).includes('lan1'), draining: route['peer-draining'] === true };
      const p = (route.peer ?? []).find((x: any) => x['public-key'] === keyOfA1) ?? {};
      return { usable: p.usable === true, draining: p['peer-draining'] === true };
    };
    // Each condition with what it saw: a timeout names those still false
    // (one was seen once after --cancel: docs/scale-out.md, limits). b1's
    // route entry is kept whole, peers and their draining/usable included.
    const ready = async (): Promise<Condition[]> => {
      const [ra, a1, b1] = await Promise.all([hops(l.ns.rA, '10.2.0.0/16'), peerA1(), state('b1')]);
      const route = b1.route?.[0] ?? null;
      const last: Condition = paired
        ? { name: 'router B routes over lan1 and lan2', ok: false, seen: await hops(l.ns.rB, '10.1.0.0/16') }
        : { name: 'b1 sends on two outbound SAs', ok: false, seen: (b1.sa ?? []).filter((sa: any) => sa.direction === 'outbound').map((sa: any) => ({ spi: sa.spi, peer: sa.peer })) };
      last.ok = paired ? (last.seen as string[]).join() === 'lan1,lan2' : (last.seen as unknown[]).length === 2;
      return [
        { name: 'router A routes over lan1 and lan2', ok: ra.join() === 'lan1,lan2', seen: ra },
        { name: 'b1 uses a1', ok: a1.usable, seen: { a1, route } },
        last,
      ];
    };
    await until('router A to route over both A gateways and b1 to have both pairs up', ready, 60_000);

    const { flush, carried } = flowSets(l);

    const snap = () => snapshot(l.lab, l.ns, Object.fromEntries(gateways.map((g) => [g, socket(g)])));
    const lossCounters = {} as DrainResult['lossCounters'];
    const phase = async (name: keyof DrainResult['lossCounters'], from: Snapshot) => {
      const to = await snap();
      lossCounters[name] = { moved: delta(from, to), neighbours: to.neighbours, read: to.read };
    };

    // Warm-up, not measured: neighbours resolved on every path.
    let from = await snap();
    let stop = await startFlows(l, flows, pps);
    await sleep(1000);
    await stop();
    await phase('warmup', from);

    // The stream: 2 s before the drain, the drain, 2 s after it.
    await flush();
    await sleep(1000);
    from = await snap();
    stop = await startFlows(l, flows, pps);
    const streamStart = performance.now();
    await sleep(2000);
    const asked = performance.now();
    const askedAt = Math.floor(((asked - streamStart) / 1000) * pps);
    const cli = execFileAsync(process.execPath, [vitesseBin, 'drain', '--socket', socket('a1'), '--grace', String(grace), '--timeout', '60', '--json'], { encoding: 'utf8' })
      .then((r) => ({ code: 0, stdout: r.stdout }), (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: `${e.stdout ?? ''}${e.stderr ?? ''}` }));
    const withdrawn = until('router A to stop choosing the drained a1', async () => {
      const ra = await hops(l.ns.rA, '10.2.0.0/16');
      return [{ name: 'router A routes over lan2 only', ok: ra.join() === 'lan2', seen: ra }];
    }, 30_000);
    const takenOut = until(paired ? 'router B to stop choosing b1 (b1 withdrew the drained a1\'s route)' : 'b1 to take the drained a1 out of its flow hash', async () => {
      const a1 = await peerA1();
      return [{ name: 'b1 no longer uses a1', ok: !a1.usable, seen: a1 }];
    }, 30_000);
    const r = await cli;
    const drainedAt = performance.now();
    const [withdrawAt, takeoutAt] = await Promise.all([withdrawn, takenOut]);
    const before = await carried();
    await sleep(2000);
    const settled = await carried('now');
    const stream = await stop();
    await phase('stream', from);
    const udpOf = async (ns: string) => {
      const lines = (await l.lab.execAsync(ns, ['cat', '/proc/net/snmp'])).split('\n').filter((x) => x.startsWith('Udp:'));
      const [names, values] = lines.map((x) => x.split(/\s+/).slice(1));
      return Object.fromEntries(names.map((n, i) => [n, Number(values[i])]));
    };
    const udp = { hostA: await udpOf(l.ns.hostA), hostB: await udpOf(l.ns.hostB) };
    const output = r.stdout.trim().split('\n');
    const summary = output.at(-1)?.startsWith('{') ? JSON.parse(output.at(-1)!) as Record<string, unknown> : {};
    const peer = await peerA1();
    const a1Counters = (await state('a1'))['key-manager'] as Record<string, string>;
    const b1Counters = (await state('b1'))['key-manager'] as Record<string, string>;
    const counters: Record<string, unknown> = {};
    for (const g of gateways) {
      const all = await state(g);
      counters[g] = Object.fromEntries(Object.entries(all).filter(([, v]) => !Array.isArray(v)));
    }
    const announcedMetric: Record<string, number | null> = {};
    for (const g of gateways) {
      const text = await l.lab.execAsync(l.ns[g], [process.execPath, '-e', "fetch('http://127.0.0.1:9301/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"]);
      const m = /^vitesse_bgp_announced_prefixes (\d+)$/m.exec(text);
      announcedMetric[g] = m ? Number(m[1]) : null;
    }

    // Cancelled: b1 takes a1 back, router A chooses it again, it carries flows again.
    await execFileAsync(process.execPath, [vitesseBin, 'drain', '--socket', socket('a1'), '--cancel']);
    await until('router A to choose a1 again and b1 to use it', ready, 60_000);
    await flush();
    stop = await startFlows(l, flows, pps);
    await sleep(3000);
    await stop();
    const rejoined = await carried();

    return {
      flows, pps, stream, before, settled, askedAt, windowFrom: Math.max(0, askedAt - pps),
      exitCode: r.code, output, summary,
      b1PeerA1: { usable: peer.usable, draining: peer.draining },
      a1Counters, b1Counters, counters, announcedMetric, udp, lossCounters,
      cancelled: { usable: (await peerA1()).usable, rejoined },
      withdraw_ms: Math.round(withdrawAt - asked),
      takeout_ms: Math.round(takeoutAt - asked),
      drained_ms: Math.round(drainedAt - asked),
    };
  } finally {
    for (const p of procs.values()) p.child.kill('SIGKILL');
    lab?.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
