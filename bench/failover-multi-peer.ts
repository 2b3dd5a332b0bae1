// `vitesse bench multipeer [--driver af-packet|af-xdp] [--json]`: scale-out
// with a route that lists several peers (docs/scale-out.md,
// "Several peers per route") on real interfaces, real BIRD and `vitesse run`
// gateways (controlplane/demo/ecmp-sites.ts, multiPeer): site A has two
// gateways behind router A (BIRD, kernel ECMP); site B has one, b1, whose
// route to site A lists a1 and a2 as peers: two tunnels, one per pair.
//
// Flows from many source ports go from hostA to hostB and are echoed back.
// Router A's nftables sets record which A gateway carried each flow each
// way: towards B that is router A's ECMP choice, back from B it is b1's
// choice of pair (its flow hash). Then a1 is killed with SIGKILL under the
// flows: router A stops choosing it (its BIRD died with it), and b1's
// liveness takes the pair (b1, a1) out of the flow hashing, so every flow
// comes back through a2. a1 is started again: b1's pair with it is
// negotiated anew, usable again, and carries flows again. Each phase takes
// counter snapshots (bench/lab-counters.ts), and the sender marks (SIGUSR2)
// how far it had got at the kill and when b1 took a1 out. Run by
// test/realif-ecmp.test.ts, which asserts what happened to each flow and
// each datagram, not the times (which are returned for reading a run).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiClient } from '../controlplane/api/client.js';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import { spawnGateway, type GatewayProcess, type LogLine } from '../controlplane/demo/gateway-process.js';
import { buildEcmpSites, MULTI_PEER_GATEWAYS, type EcmpLab, type GatewayName } from '../controlplane/demo/ecmp-sites.js';
import type { Driver } from '../controlplane/demo/two-sites.js';
import type { Carried, Phase } from './failover.js';
import { flowSets, PORT, startEcho, startFlows } from './lab-flows.js';
import { delta, snapshot, type Counters, type Snapshot } from './lab-counters.js';
import { until, type Condition } from './lab-wait.js';

const METRICS_PORT = 9301;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** b1's view of one of its route's peers (gateway-state/route/peer). */
export interface PeerView {
  gateway: 'a1' | 'a2';
  up: boolean;
  usable: boolean;
}

export interface PeerMetrics {
  up: Record<'a1' | 'a2', number | null>;
  usable: Record<'a1' | 'a2', number | null>;
  routeUp: number | null;
}

export interface MultiPeerResult {
  flows: number;
  pps: number;
  spread: Phase;
  /** a1 killed: the whole stream, who carried what once b1 took a1 out, and b1's peers then. */
  failover: Phase & {
    settled: Carried;
    peers: PeerView[];
    /** Datagrams each flow had sent when a1 was killed, when router A had stopped choosing a1, and when b1 had taken a1's pair out. */
    killedAt: number;
    withdrawnAAt: number;
    takenOutAt: number;
  };
  rejoined: Phase & { peers: PeerView[] };
  /** b1's whole state document (RFC 7951 JSON) with a1 taken out, and after it rejoined. */
  states: { failover: unknown; rejoined: unknown };
  /** b1's per-peer metrics (vitesse_peer_up, vitesse_peer_usable by gateway) and vitesse_route_peer_up, a1 out and rejoined. */
  metrics: { failover: PeerMetrics; rejoined: PeerMetrics };
  /** b1's "peer not usable" / "peer usable" log lines for a1 (its pair's queue, usable). */
  b1Usable: Array<{ gateway: 'a1' | 'a2'; usable: boolean }>;
  /** SIGKILL → b1 took a1 out, ms (for reading; not asserted). */
  takeout_ms: number;
  outage_max_ms: number;
  /** Per phase: the drop, error and failure counters that moved (bench/lab-counters.ts), and the neighbour tables at its end. */
  lossCounters: Record<'warmup' | 'spread' | 'failover' | 'rejoined', { moved: Counters; neighbours: Snapshot['neighbours']; read: Snapshot['read']; sessions: Record<'rA' | 'rB', string[]> }>;
}

export async function runMultiPeerFailover(o: { driver?: Driver; flows?: number; pps?: number } = {}): Promise<MultiPeerResult> {
  const driver = o.driver ?? 'af-packet';
  const flows = o.flows ?? 64, pps = o.pps ?? 50;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-multipeer-'));
  let lab: EcmpLab | null = null;
  const procs = new Map<GatewayName, GatewayProcess>();
  try {
    lab = buildEcmpSites({ driver, dir, livenessInterval: 1, livenessFailures: 3, negotiationTtl: 1, multiPeer: true, prefix: 'vmpeer' });
    const l = lab;
    const keyOf = (g: 'a1' | 'a2') => {
      const config = JSON.parse(fs.readFileSync(l.configFile.b1, 'utf8'));
      return config['vitesse-gateway:gateway'].route[0].peer[g === 'a1' ? 0 : 1]['public-key'] as string;
    };
    const gatewayOf = (key: unknown): 'a1' | 'a2' => (key === keyOf('a1') ? 'a1' : 'a2');
    l.lab.exec(l.ns.rA, ['nft', '-f', '-'], NFT);
    l.startRouters();
    startEcho(l);
    const run = (g: GatewayName) => {
      // b1's metrics on its namespace's loopback (scraped from inside it).
      const metrics = g === 'b1' ? `127.0.0.1:${METRICS_PORT}` : 'none';
      const p = spawnGateway(l.lab, l.ns[g], l.configFile[g], `mpeer-${g}`, ['--socket', path.join(dir, `${g}.sock`), '--lock-dir', dir, '--metrics-listen', metrics]);
      procs.set(g, p);
      return p;
    };
    await Promise.all(MULTI_PEER_GATEWAYS.map((g) => run(g).started));
    const hops = async (ns: string, net: string) => {
      const r = JSON.parse(await l.lab.execAsync(ns, ['ip', '-j', 'route', 'show', net])) as Array<{ dev?: string; nexthops?: Array<{ dev: string }> }>;
      return r.flatMap((e) => (e.nexthops ? e.nexthops.map((h) => h.dev) : e.dev ? [e.dev] : [])).sort();
    };
    // b1's peers as its state reports them (route/peer).
    const b1 = new ApiClient({ socket: path.join(dir, 'b1.sock') });
    let lastState: unknown = null;
    const peers = async (): Promise<PeerView[]> => {
      lastState = await b1.get('/restconf/data/vitesse-gateway:gateway-state');
      const state = (lastState as Record<string, any>)['vitesse-gateway:gateway-state'];
      const route = (state.route ?? [])[0] ?? {};
      return (route.peer ?? []).map((p: any) => ({ gateway: gatewayOf(p['public-key']), up: p['peer-up'] === true, usable: p.usable === true }));
    };
    const b1Sending = async () => {
      const state = ((await b1.get('/restconf/data/vitesse-gateway:gateway-state')) as Record<string, any>)['vitesse-gateway:gateway-state'];
      return (state.sa ?? []).filter((sa: any) => sa.direction === 'outbound').length;
    };
    // A scrape of b1's metrics, from inside its namespace.
    const scrape = async (): Promise<PeerMetrics> => {
      const text = await l.lab.execAsync(l.ns.b1, [process.execPath, '-e', `fetch('http://127.0.0.1:${METRICS_PORT}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`]);
      const sample = (name: string, gateway?: 'a1' | 'a2') => {
        const want = gateway ? `peer="${keyOf(gateway)}"` : 'route="site-a"';
        const line = text.split('\n').find((x) => x.startsWith(`${name}{`) && x.includes(want));
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : null;
      };
      return {
        up: { a1: sample('vitesse_peer_up', 'a1'), a2: sample('vitesse_peer_up', 'a2') },
        usable: { a1: sample('vitesse_peer_usable', 'a1'), a2: sample('vitesse_peer_usable', 'a2') },
        routeUp: sample('vitesse_route_peer_up'),
      };
    };
    // Each condition with what it saw, so that a timeout names the ones still false.
    const ready = async (): Promise<Condition[]> => {
      const [ra, rb, ps, sending] = await Promise.all([hops(l.ns.rA, '10.2.0.0/16'), hops(l.ns.rB, '10.1.0.0/16'), peers(), b1Sending()]);
      return [
        { name: 'router A routes over lan1 and lan2', ok: ra.join() === 'lan1,lan2', seen: ra },
        { name: 'router B routes over lan1 (b1)', ok: rb.join() === 'lan1', seen: rb },
        { name: 'b1 has both peers up and usable', ok: ps.filter((p) => p.up && p.usable).length === 2, seen: ps },
        { name: 'b1 sends on two outbound SAs', ok: sending === 2, seen: sending },
      ];
    };
    await until('router A to route over both A gateways, router B over b1, and b1 to have both pairs up', ready, 60_000, 50);

    const { flush, carried } = flowSets(l);

    const sockets = () => Object.fromEntries([...procs.keys()].map((g) => [g, path.join(dir, `${g}.sock`)]));
    const snap = () => snapshot(l.lab, l.ns, sockets());
    const lossCounters = {} as MultiPeerResult['lossCounters'];
    const phase = async (name: keyof MultiPeerResult['lossCounters'], from: Snapshot) => {
      const to = await snap();
      // The routers' BGP and BFD sessions with their state and since when: a
      // session that went down and up within the phase shows it here.
      const sessions = async (ns: string, socket: string) => (await l.lab.execAsync(ns, ['birdc', '-s', socket, 'show', 'protocols']))
        .split('\n').filter((x) => /\b(BGP|BFD)\b/.test(x)).map((x) => x.trim().replace(/\s+/g, ' '));
      lossCounters[name] = { moved: delta(from, to), neighbours: to.neighbours, read: to.read, sessions: { rA: await sessions(l.ns.rA, l.routerSocket.A), rB: await sessions(l.ns.rB, l.routerSocket.B) } };
    };
    const usableLines = (from: number) => procs.get('b1')!.log.slice(from)
      .filter((x: LogLine) => x.msg === 'peer not usable: its flows go to the route\'s other peers' || x.msg === 'peer usable: flows may go through it');

    // Warm-up, not measured: neighbours resolved on every path.
    let from = await snap();
    let stop = await startFlows(l, flows, pps);
    await sleep(1000);
    await stop();
    await phase('warmup', from);

    // 1. Spread: router A's ECMP one way, b1's pairs the other.
    await flush();
    from = await snap();
    stop = await startFlows(l, flows, pps);
    await sleep(4000);
    const spread: Phase = { flows: await stop(), carried: await carried() };
    await phase('spread', from);

    // 2. SIGKILL of a1 under the flows: b1's liveness takes its pair out.
    await flush();
    from = await snap();
    stop = await startFlows(l, flows, pps);
    await sleep(2000);
    const mark = procs.get('b1')!.log.length;
    const a1 = procs.get('a1')!;
    const killedAt = await stop.mark();
    const killed = performance.now();
    a1.child.kill('SIGKILL');
    // Both waits run at once (b1's take-out need not come after router A's
    // withdrawal); each marks the stream when it holds.
    const routerA = async (): Promise<Condition[]> => {
      const ra = await hops(l.ns.rA, '10.2.0.0/16');
      return [{ name: 'router A routes over lan2 only', ok: ra.join() === 'lan2', seen: ra }];
    };
    const a1Out = async (): Promise<Condition[]> => {
      const ps = await peers();
      return [{ name: 'b1 shows a1 not usable', ok: ps.some((p) => p.gateway === 'a1' && !p.usable), seen: ps }];
    };
    const [[, withdrawnAAt], [takenOut, takenOutAt]] = await Promise.all([
      until('router A to stop choosing a1', routerA, 10_000, 50).then(async (t) => [t, await stop.mark()] as const),
      until('b1 to take a1 out of its flow hashing', a1Out, 60_000, 50).then(async (t) => [t, await stop.mark()] as const),
    ]);
    const before = await carried();
    await flush();
    await sleep(3000);
    const settled = await carried();
    const failover = { flows: await stop(), carried: before, settled, peers: await peers(), killedAt, withdrawnAAt, takenOutAt };
    const failoverState = lastState;
    const failoverMetrics = await scrape();
    await phase('failover', from);

    // 3. a1 restarted: its pair with b1 is negotiated anew, usable again, and carries flows.
    await a1.exited;
    await run('a1').started;
    await until('router A to route over both A gateways again, and b1 to have both pairs up', ready, 60_000, 50);
    await flush();
    from = await snap();
    stop = await startFlows(l, flows, pps);
    await sleep(4000);
    const rejoined = { flows: await stop(), carried: await carried(), peers: await peers() };
    const rejoinedState = lastState;
    const rejoinedMetrics = await scrape();
    await phase('rejoined', from);

    const gaps = failover.flows.map((f) => f.maxGapMs).sort((a, b) => a - b);
    return {
      flows, pps, spread, failover, rejoined,
      states: { failover: failoverState, rejoined: rejoinedState },
      metrics: { failover: failoverMetrics, rejoined: rejoinedMetrics },
      b1Usable: usableLines(mark).map((x) => ({ gateway: gatewayOf(x.peer), usable: x.usable === true })),
      takeout_ms: Math.round(takenOut - killed),
      outage_max_ms: gaps.at(-1) ?? 0,
      lossCounters,
    };
  } finally {
    for (const p of procs.values()) p.child.kill('SIGKILL');
    lab?.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const spec: Record<string, OptionSpec> = {
  driver: { type: 'string', default: 'af-packet', help: 'packet I/O driver of the gateways: af-packet or af-xdp' },
  flows: { type: 'number', default: 64, help: 'flows (source ports), each way' },
  pps: { type: 'number', default: 50, help: 'datagrams per second per flow' },
  json: { type: 'boolean', help: 'print the figures as one JSON object on the last line' },
  help: { type: 'boolean' },
};

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench multipeer [options]\n\nSite B's gateway lists both gateways of site A as peers; one A gateway is killed with\nSIGKILL under numbered UDP flows and started again. Needs root, bird (bird2) and nft.\n\n${usageText(spec)}\nexamples:\n  vitesse bench multipeer --json\n  vitesse bench multipeer --driver af-xdp --flows 128\n`);
    return 0;
  }
  const driver = String(options.driver);
  if (driver !== 'af-packet' && driver !== 'af-xdp') throw new UsageError(`--driver: "${driver}" is not af-packet or af-xdp`);
  const r = await runMultiPeerFailover({ driver, flows: Number(options.flows), pps: Number(options.pps) });
  const count = (p: Phase) => ({ sent: p.flows.reduce((n, f) => n + f.sent, 0), lost: p.flows.reduce((n, f) => n + f.sent - f.received, 0) });
  const figures = {
    driver, flows: r.flows, pps: r.pps,
    spread_back_a1: r.spread.carried.in.a1.length, spread_back_a2: r.spread.carried.in.a2.length,
    takeout_ms: r.takeout_ms, outage_max_ms: r.outage_max_ms,
    spread_lost: count(r.spread).lost, failover_lost: count(r.failover).lost, failover_sent: count(r.failover).sent, rejoined_lost: count(r.rejoined).lost,
  };
  process.stdout.write(`b1 hashed ${figures.spread_back_a1} flows onto a1 and ${figures.spread_back_a2} onto a2\n`
    + `SIGKILL of a1: b1 took its pair out after ${figures.takeout_ms} ms; per-flow outage max ${figures.outage_max_ms} ms (${figures.failover_lost} of ${figures.failover_sent} datagrams lost)\n`);
  if (options.json) process.stdout.write(JSON.stringify(figures) + '\n');
  return 0;
}
