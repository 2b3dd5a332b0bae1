// `vitesse bench softbench` comparisons that need several runs side by side:
// the route-count curve (`--routes 1,10,100,1000,10000`) and Vita's own
// benchmark (`--vita PATH`, its program/vita/test.snabb). Runs alternate
// (point by point, or ours then Vita's) round after round, so that a
// neighbour's load on a shared machine falls on every side alike; each side's
// median over the rounds is reported. Never run in CI or tests: Vita needs
// root and its own build.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { softbench, type PublicLink, type SoftbenchOptions } from '../controlplane/testkit.js';

export interface Run {
  /** Mpps per CPU-second of the busiest worker. */
  mpps: number;
  /** Mpps over wall-clock time after the warm-up, first packets out to the last (as Vita's gauge measures). */
  wallMpps: number;
  lost: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Wall-clock Mpps after the warm-up; over the whole run when the run was too short to tell. */
export function steadyMpps(r: { steadySeconds: number; steadyPackets: number; packets: number; seconds: number }): number {
  return r.steadySeconds > 0 && r.steadyPackets > 0 ? r.steadyPackets / r.steadySeconds / 1e6 : r.packets / r.seconds / 1e6;
}

export function once(o: SoftbenchOptions): Run {
  const r = softbench(o);
  const seconds = r.cpuSeconds > 0 ? r.cpuSeconds : r.seconds;
  return { mpps: r.packets / seconds / 1e6, wallMpps: steadyMpps(r), lost: r.sent - r.packets };
}

export interface CurveOptions {
  packetSize: number | 'IMIX';
  packets: number;
  routes: number[];
  queues: number;
  cpus?: number[];
  rounds: number;
  publicLink?: PublicLink;
  json: boolean;
}

/** The rate at each route count, relative to the first (normally 1 route). */
export function routeCurve(o: CurveOptions): number {
  const runs = o.routes.map(() => [] as Run[]);
  // Every other round runs the points in reverse order: a run's position
  // in its round moves its rate (the first of a round ran up to 15% faster
  // than the same point run again second, 2026-12-07), and alternating
  // the order gives every point the same share of each position in pairs
  // of rounds, as ABBA does for two builds.
  for (let i = 0; i < o.rounds; i++) {
    const order = o.routes.map((_, k) => k);
    if (i % 2 === 1) order.reverse();
    for (const k of order) {
      runs[k].push(once({ packetSize: o.packetSize, packets: o.packets, routes: o.routes[k], queues: o.queues, cpus: o.cpus, publicLink: o.publicLink }));
    }
  }
  const base = median(runs[0].map((r) => r.mpps));
  const baseWall = median(runs[0].map((r) => r.wallMpps));
  let lost = 0;
  const points = o.routes.map((routes, k) => {
    const mpps = median(runs[k].map((r) => r.mpps));
    const wall = median(runs[k].map((r) => r.wallMpps));
    lost += runs[k].reduce((s, r) => s + r.lost, 0);
    // Each round's ratio to the first point's run of the same round: runs
    // seconds apart share the machine's state, so a neighbour's load that
    // moves between rounds cancels out of the ratio instead of into it.
    const roundRatios = runs[k].map((r, i) => r.mpps / runs[0][i].mpps);
    return {
      routes,
      mpps: round(mpps, 3),
      wall_mpps: round(wall, 3),
      ratio: round(mpps / base, 3),
      wall_ratio: round(wall / baseWall, 3),
      round_ratio: round(median(roundRatios), 3),
      round_ratios: roundRatios.map((x) => round(x, 3)),
      runs: runs[k].map((r) => round(r.mpps, 3)),
      wall_runs: runs[k].map((r) => round(r.wallMpps, 3)),
    };
  });
  process.stdout.write(
    `softbench route curve: ${o.packetSize} B, ${o.rounds} interleaved rounds of ${o.packets} packets (every other round in reverse order), ${o.queues} queue(s) ` +
      `(median Mpps per worker CPU-second; wall-clock; ratio to ${o.routes[0]} route(s))\n`,
  );
  for (const p of points) {
    process.stdout.write(
      `  ${String(p.routes).padStart(6)} routes  ${p.mpps.toFixed(3)} Mpps  wall ${p.wall_mpps.toFixed(3)}  ratio ${p.ratio.toFixed(3)} (wall ${p.wall_ratio.toFixed(3)})` +
        `  per round ${p.round_ratio.toFixed(3)} (${Math.min(...p.round_ratios).toFixed(3)}–${Math.max(...p.round_ratios).toFixed(3)})\n`,
    );
  }
  if (o.json) {
    process.stdout.write(JSON.stringify({ packet_size: o.packetSize, packets: o.packets, queues: o.queues, rounds: o.rounds, lost, points }) + '\n');
  }
  return lost === 0 ? 0 : 1;
}

export interface VitaRun {
  mpps: number;
  seconds: number;
  packets: number;
  /** CPU time of all of Vita's processes for the whole run (start-up included). */
  cpuSeconds: number;
}

/** Vita's source directory and snabb binary for its program/vita/test.snabb; throws naming what is missing. */
export function vitaPaths(testSnabb: string): { file: string; src: string; snabb: string } {
  const file = path.resolve(testSnabb);
  if (!fs.existsSync(file)) throw new Error(`--vita: ${file}: no such file (Vita's program/vita/test.snabb)`);
  const src = path.resolve(path.dirname(file), '..', '..');
  const snabb = path.join(src, 'snabb');
  if (!fs.existsSync(snabb)) throw new Error(`--vita: ${snabb}: no snabb binary next to ${file} (build Vita first)`);
  return { file, src, snabb };
}

/**
 * One run of Vita's software benchmark: `snabb snsh test.snabb SIZE N ROUTES
 * [CPU]`, run from its source directory (where snabb lives). Its gauge
 * reports wall-clock Mpps from the first packet to the last. The shell's
 * `times` after it gives the CPU time of the whole run (Vita's processes
 * are all its descendants): start-up and key exchange included, which a
 * second, shorter run takes out (compareVita).
 */
export function runVita(testSnabb: string, packetSize: number | 'IMIX', packets: number, routes: number, cpu?: number): VitaRun {
  const { file, src, snabb } = vitaPaths(testSnabb);
  const args = ['snsh', path.relative(src, file), String(packetSize), String(packets), String(routes)];
  if (cpu !== undefined) args.push(String(cpu));
  const r = spawnSync('/bin/sh', ['-c', '"$0" "$@"; times', snabb, ...args], { cwd: src, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  // `times`: the shell's own user and system time, then its children's.
  const times = [...out.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)];
  const children = times[times.length - 1];
  const cpuSeconds = children ? Number(children[1]) * 60 + Number(children[2]) + Number(children[3]) * 60 + Number(children[4]) : NaN;
  const processed = /SoftBench: Processed ([\d.]+) million packets in ([\d.]+) seconds/.exec(out);
  const rate = /SoftBench: ([\d.]+) Mpps/.exec(out);
  if (!processed || !rate) {
    throw new Error(`--vita: ${snabb} ${args.join(' ')} printed no SoftBench result (exit ${r.status ?? r.signal}): ${out.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return { mpps: Number(rate[1]), seconds: Number(processed[2]), packets: Number(processed[1]) * 1e6, cpuSeconds };
}

export interface VitaOptions {
  vita: string;
  sizes: Array<number | 'IMIX'>;
  packets: number;
  routes: number;
  cpus?: number[];
  rounds: number;
  /** Ours with each public link (the harness), every round, before Vita's runs. */
  publicLinks?: PublicLink[];
  json: boolean;
}

/** Ours and Vita's, alternating, one route, one core; the ratios of wall-clock and of CPU-time medians. */
export function compareVita(o: VitaOptions): number {
  let lost = 0;
  const results: object[] = [];
  const links: PublicLink[] = o.publicLinks?.length ? o.publicLinks : ['loopback'];
  for (const packetSize of o.sizes) {
    // Vita's CPU per packet: the CPU time of a run of N packets less that
    // of a run of N/8 (start-up, key exchange and warm-up are in both),
    // medians over the rounds, over the 7N/8 packets between them.
    const short = Math.max(1, Math.round(o.packets / 8));
    const ours: Run[][] = links.map(() => []), vita: VitaRun[] = [], vitaShort: VitaRun[] = [];
    for (let i = 0; i < o.rounds; i++) {
      links.forEach((publicLink, k) => ours[k].push(once({ packetSize, packets: o.packets, routes: o.routes, queues: 1, cpus: o.cpus, publicLink })));
      vita.push(runVita(o.vita, packetSize, o.packets, o.routes, o.cpus?.[0]));
      vitaShort.push(runVita(o.vita, packetSize, short, o.routes, o.cpus?.[0]));
    }
    const v = median(vita.map((r) => r.mpps));
    const vitaCpuSeconds = median(vita.map((r) => r.cpuSeconds)) - median(vitaShort.map((r) => r.cpuSeconds));
    const vitaCpu = vitaCpuSeconds > 0 ? (o.packets - short) / vitaCpuSeconds / 1e6 : null;
    links.forEach((publicLink, k) => {
      lost += ours[k].reduce((s, r) => s + r.lost, 0);
      const wall = median(ours[k].map((r) => r.wallMpps));
      const cpu = median(ours[k].map((r) => r.mpps));
      const row = {
        packet_size: packetSize,
        public_link: publicLink,
        vitesse_wall_mpps: round(wall, 3),
        vitesse_mpps: round(cpu, 3),
        vita_mpps: round(v, 3),
        ratio: round(wall / v, 3),
        vita_cpu_mpps: vitaCpu === null ? null : round(vitaCpu, 3),
        cpu_ratio: vitaCpu === null ? null : round(cpu / vitaCpu, 3),
        vitesse_wall_runs: ours[k].map((r) => round(r.wallMpps, 3)),
        vitesse_runs: ours[k].map((r) => round(r.mpps, 3)),
        vita_runs: vita.map((r) => round(r.mpps, 3)),
        vita_cpu_seconds: vita.map((r) => round(r.cpuSeconds, 3)),
        vita_short_cpu_seconds: vitaShort.map((r) => round(r.cpuSeconds, 3)),
      };
      results.push(row);
      process.stdout.write(
        `softbench --vita: ${packetSize} B, ${o.routes} route(s), public link ${publicLink}, ${o.rounds} interleaved rounds of ${o.packets} packets: ` +
          `wall-clock Vitesse ${row.vitesse_wall_mpps} Mpps, Vita ${row.vita_mpps} Mpps: ${row.ratio}×; ` +
          `per CPU-second Vitesse ${row.vitesse_mpps} (its worker), Vita ${row.vita_cpu_mpps ?? '?'} (all its processes): ${row.cpu_ratio ?? '?'}×\n`,
      );
    });
  }
  if (o.json) process.stdout.write(JSON.stringify({ rounds: o.rounds, packets: o.packets, routes: o.routes, lost, results }) + '\n');
  return lost === 0 ? 0 : 1;
}
