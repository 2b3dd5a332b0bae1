// `vitesse bench softbench --nat-t`: ESP in UDP (RFC 3948) against plain ESP
// in the same run, at 60-byte frames and IMIX. The two kinds alternate run
// by run (plain, UDP, plain, UDP, ...) so that a neighbour's load falls on
// both alike, and each side's median over the rounds is compared.
import { softbench, type PublicLink, type SoftbenchOptions } from '../controlplane/testkit.js';

export interface NatTOptions {
  packets: number;
  routes: number;
  queues: number;
  cpus?: number[];
  rounds: number;
  publicLink?: PublicLink;
  json: boolean;
}

const SIZES: Array<number | 'IMIX'> = [60, 'IMIX'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Mpps per CPU-second of the busiest worker (as softbench reports it), and the frames lost. */
function once(o: SoftbenchOptions): { mpps: number; lost: number } {
  const r = softbench(o);
  const seconds = r.cpuSeconds > 0 ? r.cpuSeconds : r.seconds;
  return { mpps: r.packets / seconds / 1e6, lost: r.sent - r.packets };
}

export function compareNatT(o: NatTOptions): number {
  const results = [];
  let lost = 0;
  for (const packetSize of SIZES) {
    const plain: number[] = [], udp: number[] = [];
    for (let i = 0; i < o.rounds; i++) {
      for (const natT of [false, true]) {
        const r = once({ packetSize, packets: o.packets, routes: o.routes, queues: o.queues, cpus: o.cpus, natT, publicLink: o.publicLink });
        (natT ? udp : plain).push(r.mpps);
        lost += r.lost;
      }
    }
    const p = median(plain), u = median(udp);
    const row = {
      packet_size: packetSize,
      plain_mpps: round(p, 3),
      nat_t_mpps: round(u, 3),
      ratio: round(u / p, 3),
      plain_runs: plain.map((x) => round(x, 3)),
      nat_t_runs: udp.map((x) => round(x, 3)),
    };
    results.push(row);
    process.stdout.write(
      `softbench --nat-t: ${packetSize} B, ${o.rounds} interleaved rounds of ${o.packets} packets: ` +
        `plain ESP ${row.plain_mpps} Mpps, ESP in UDP ${row.nat_t_mpps} Mpps (median per worker CPU-second): ${(row.ratio * 100).toFixed(1)}%\n`,
    );
  }
  if (o.json) process.stdout.write(JSON.stringify({ rounds: o.rounds, packets: o.packets, routes: o.routes, queues: o.queues, lost, results }) + '\n');
  return lost === 0 ? 0 : 1;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
