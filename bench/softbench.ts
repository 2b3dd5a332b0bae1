// `vitesse bench softbench`: one gateway whose public output is looped back
// into its public input (Vita's test.snabb scenario): every packet is routed,
// encrypted, decrypted and forwarded. Reports Mpps and Gbps of private-side
// frames delivered.
import { parseArgs, usageText, UsageError } from '../controlplane/cli/args.js';
import { softbench, type PublicLink } from '../controlplane/testkit.js';
import { compareNatT } from './softbench-nat-t.js';
import { compareVita, routeCurve, steadyMpps, vitaPaths } from './softbench-compare.js';
import { workerRates } from './softbench-workers.js';

const spec = {
  'packet-size': { type: 'string', default: '60', help: '60, IMIX or a frame size in bytes (60-1514); with --vita a comma-separated list' },
  packets: { type: 'number', default: 10_000_000, help: 'frames to send' },
  routes: { type: 'string', default: '1', help: 'routes (each with its own SA pair); a comma-separated list (1,10,100,1000,10000) runs the route curve, interleaved (--rounds each)' },
  queues: { type: 'number', default: 1, help: 'worker queues (one thread each)' },
  cpus: { type: 'string', help: 'pin workers to these CPUs, e.g. 0,1' },
  'nat-t': { type: 'boolean', help: 'compare ESP in UDP (RFC 3948) with plain ESP at 60 B and IMIX, interleaved (--rounds each)' },
  vita: { type: 'string', help: "Vita's program/vita/test.snabb: run Vita's benchmark beside ours, interleaved (--rounds each), one queue; needs root" },
  'public-link': { type: 'string', default: 'loopback', help: "the public side's loop: loopback (buffers handed back, like Vita's test.snabb) or memory (the copying memory wire, figures before 2026-12-07); with --vita a comma-separated list runs each" },
  rounds: { type: 'number', default: 5, help: 'with --nat-t, --vita or a --routes list: runs of each kind (the medians are reported)' },
  json: { type: 'boolean', help: 'print one JSON object on the last line' },
  help: { type: 'boolean' },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec as any);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench softbench [options]\n${usageText(spec as any)}\n\nexamples:\n  vitesse bench softbench --packet-size IMIX --packets 10000000 --routes 1\n  vitesse bench softbench --packet-size 1400 --routes 1000 --queues 2 --cpus 0,1 --json\n  vitesse bench softbench --nat-t --packets 2000000 --rounds 7 --json\n  vitesse bench softbench --routes 1,10,100,1000,10000 --packets 4000000 --rounds 5 --json\n  vitesse bench softbench --vita ~/vita/src/program/vita/test.snabb --packet-size 60,IMIX --rounds 5\n`);
    return 0;
  }
  const sizes = String(options['packet-size']).split(',').map((sizeText): number | 'IMIX' => {
    const size: number | 'IMIX' = sizeText.toUpperCase() === 'IMIX' ? 'IMIX' : Number(sizeText);
    if (size !== 'IMIX' && !(Number.isInteger(size) && size >= 60 && size <= 1514)) {
      throw new UsageError(`--packet-size: "${sizeText}" is not 60..1514 or IMIX`);
    }
    return size;
  });
  const packetSize = sizes[0];
  const packets = options.packets as number;
  const routeCounts = String(options.routes).split(',').map((text) => {
    const n = Number(text);
    if (!(Number.isInteger(n) && n >= 1 && n <= 65535)) throw new UsageError(`--routes: "${text}" is not 1..65535`);
    return n;
  });
  const routes = routeCounts[0];
  const queues = options.queues as number;
  if (!(packets > 0)) throw new UsageError('--packets must be positive');
  if (!(Number.isInteger(queues) && queues >= 1 && queues <= 64)) throw new UsageError('--queues must be 1..64');
  const cpus = options.cpus ? String(options.cpus).split(',').map((c) => Number(c)) : undefined;
  const rounds = options.rounds as number;
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new UsageError('--rounds must be a positive integer');
  const publicLinks = String(options['public-link']).split(',').map((text): PublicLink => {
    if (text !== 'loopback' && text !== 'memory') throw new UsageError(`--public-link: "${text}" is not loopback or memory`);
    return text;
  });
  const publicLink = publicLinks[0];
  if (publicLinks.length > 1 && !options.vita) throw new UsageError('--public-link: a list is for --vita only');
  if (sizes.length > 1 && !options.vita) throw new UsageError('--packet-size: a list is for --vita only');
  if (routeCounts.length > 1 && (options.vita || options['nat-t'])) throw new UsageError('--routes: a list is not for --vita or --nat-t');
  if (options.vita) {
    if (queues !== 1) throw new UsageError('--vita: one queue only (Vita\'s test.snabb runs one)');
    try {
      vitaPaths(String(options.vita));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    return compareVita({ vita: String(options.vita), sizes, packets, routes, cpus, rounds, publicLinks, json: Boolean(options.json) });
  }
  if (routeCounts.length > 1) return routeCurve({ packetSize, packets, routes: routeCounts, queues, cpus, rounds, publicLink, json: Boolean(options.json) });
  if (options['nat-t']) {
    return compareNatT({ packets, routes, queues, cpus, rounds, publicLink, json: Boolean(options.json) });
  }

  const r = softbench({ packetSize, packets, routes, queues, cpus, publicLink });
  // Rates per CPU-second of the busiest worker: on a machine shared with other
  // work, wall time measures the neighbours too. Wall-clock rates are reported
  // beside them, and with --queues > 1 each worker's own rates and their sum
  // (softbench-workers.ts).
  const perQueueSeconds = r.cpuSeconds > 0 ? r.cpuSeconds : r.seconds;
  const mpps = r.packets / perQueueSeconds / 1e6;
  const gbps = (r.bytes * 8) / perQueueSeconds / 1e9;
  const lost = r.sent - r.packets;
  const result = {
    mpps: round(mpps, 3),
    gbps: round(gbps, 3),
    packet_size: packetSize,
    routes,
    queues,
    public_link: publicLink,
    crypto_path: r.cryptoPath,
    packets: r.packets,
    lost,
    seconds: round(r.seconds, 4),
    cpu_seconds: round(r.cpuSeconds, 4),
    wall_mpps: round(steadyMpps(r), 3),
    ...workerRates(r),
  };
  process.stdout.write(
    `softbench: ${r.packets} packets of ${packetSize} bytes, ${routes} route(s), ${queues} queue(s), crypto ${r.cryptoPath}, public link ${publicLink}\n` +
      `  ${result.mpps} Mpps  ${result.gbps} Gbps per worker CPU-second  (wall after warm-up: ${result.wall_mpps} Mpps; ${result.seconds} s in all; ${lost} lost)\n` +
      (queues > 1
        ? result.workers.map((w) => `  worker ${w.queue}: ${w.packets} packets, ${w.mpps_cpu} Mpps per its CPU-second (${w.cpu_seconds} s), ${w.mpps_wall} Mpps wall (${w.seconds} s)\n`).join('') +
          `  aggregate: ${result.aggregate_mpps_cpu} Mpps (sum of the workers' own rates), ${result.aggregate_mpps_wall} Mpps wall\n`
        : ''),
  );
  if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
  return lost === 0 ? 0 : 1;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
