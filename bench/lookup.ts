// `vitesse bench lookup --routes N [--json]`: Poptrie lookups per second on
// one core, for IPv4 and IPv6, against a naive binary-trie walk over the same
// routes in the same run.
//
// The tables are synthetic, with a realistic mix of prefix lengths: IPv4
// mostly /24, some /16–/23, a few shorter and longer, placed uniformly over
// 1.0.0.0–223.255.255.255 (the pessimistic case: real tables cluster, share
// nodes and compress better); IPv6 mostly /32–/48, placed inside N/8 random
// /32 allocations in 2000::/3, since prefixes scattered uniformly over 2^125
// addresses are nothing like a real table. Route values are random 1..65535,
// so leaf compression gets no help from repeated next hops.
//
// Lookups go 64 at a time (a worker's burst) through the timing loop in C++
// (testkit.route.bench), over 2^20 addresses: uniform random ones (IPv6: in
// 2000::/3), and for a second figure, addresses inside random table prefixes,
// which walk deeper. Each figure is the best of --runs runs (the median is
// printed too). The two engines' answers are compared before timing.
import { performance } from 'node:perf_hooks';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import * as testkit from '../controlplane/testkit.js';
import type { RouteBuild, RouteTable } from '../controlplane/testkit.js';

const spec: Record<string, OptionSpec> = {
  routes: { type: 'number', default: 1_000_000, help: 'prefixes in each table (IPv4 and IPv6)' },
  runs: { type: 'number', default: 5, help: 'timed runs per figure; the best is reported' },
  seconds: { type: 'number', default: 0.25, help: 'length of one timed run' },
  seed: { type: 'number', default: 1, help: 'seed of the synthetic tables and addresses' },
  json: { type: 'boolean', help: 'print one JSON result on the last line' },
  help: { type: 'boolean' },
};

type Build = RouteBuild;
const route = testkit.route;

const ADDRESSES = 1 << 20;

// mulberry32: small, seedable, plenty for synthetic data.
class Rng {
  constructor(private state: number) {}
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  fill(b: Uint8Array, from: number, to: number): void {
    for (let i = from; i < to; i++) b[i] = this.u32() & 0xff;
  }
}

// [length, or [shortest, longest] drawn uniformly; weight in 1/1000]
type Mix = [number | [number, number], number][];
const IPV4_MIX: Mix = [
  [24, 580], [23, 90], [22, 100], [21, 50], [20, 45], [19, 30], [18, 20], [17, 15], [16, 25],
  [[8, 15], 10], [[25, 32], 35],
];
const IPV6_MIX: Mix = [
  [48, 450], [32, 150], [44, 80], [40, 70], [36, 40], [29, 30], [[33, 47], 100], [56, 40], [64, 30], [128, 10],
];

function drawLength(rng: Rng, mix: Mix): number {
  let r = rng.int(1000);
  for (const [len, weight] of mix) {
    if (r < weight) return typeof len === 'number' ? len : len[0] + rng.int(len[1] - len[0] + 1);
    r -= weight;
  }
  throw new Error('prefix length mix does not add up to 1000');
}

type Family = {
  name: 'ipv4' | 'ipv6';
  width: number; // address bytes
  build: Build;
  binaryTrie: Build;
  // Writes a random prefix's address bytes at out[at..at+width) and returns its length.
  prefix(rng: Rng, out: Uint8Array, at: number): number;
  // A uniformly random address for lookups.
  address(rng: Rng, out: Uint8Array, at: number): void;
};

function ipv4(): Family {
  return {
    name: 'ipv4', width: 4, build: route.build4, binaryTrie: route.binaryTrie4,
    prefix(rng, out, at) {
      rng.fill(out, at, at + 4);
      out[at] = 1 + rng.int(223); // unicast 1.0.0.0–223.255.255.255
      return drawLength(rng, IPV4_MIX);
    },
    address(rng, out, at) {
      rng.fill(out, at, at + 4);
    },
  };
}

function ipv6(routes: number, rng: Rng): Family {
  const allocations = new Uint8Array(Math.max(1, Math.ceil(routes / 8)) * 4);
  rng.fill(allocations, 0, allocations.length);
  for (let i = 0; i < allocations.length; i += 4) allocations[i] = 0x20 | (allocations[i] & 0x1f);
  return {
    name: 'ipv6', width: 16, build: route.build6, binaryTrie: route.binaryTrie6,
    prefix(rng, out, at) {
      const a = rng.int(allocations.length / 4) * 4;
      out.set(allocations.subarray(a, a + 4), at);
      rng.fill(out, at + 4, at + 16);
      return drawLength(rng, IPV6_MIX); // shorter than /32: the builder drops the extra bits
    },
    address(rng, out, at) {
      rng.fill(out, at, at + 16);
      out[at] = 0x20 | (out[at] & 0x1f);
    },
  };
}

type Table = { records: Uint8Array; values: Uint16Array };

function synthesize(f: Family, rng: Rng, routes: number): Table {
  const record = f.width + 1;
  const records = new Uint8Array(routes * record);
  const values = new Uint16Array(routes);
  for (let i = 0; i < routes; i++) {
    records[i * record + f.width] = f.prefix(rng, records, i * record);
    values[i] = 1 + rng.int(65535);
  }
  return { records, values };
}

function uniformAddresses(f: Family, rng: Rng): Uint8Array {
  const out = new Uint8Array(ADDRESSES * f.width);
  for (let i = 0; i < ADDRESSES; i++) f.address(rng, out, i * f.width);
  return out;
}

// Addresses inside random prefixes of the table.
function routedAddresses(f: Family, rng: Rng, t: Table): Uint8Array {
  const record = f.width + 1;
  const routes = t.values.length;
  const out = new Uint8Array(ADDRESSES * f.width);
  for (let i = 0; i < ADDRESSES; i++) {
    const r = rng.int(routes) * record;
    const len = t.records[r + f.width];
    const at = i * f.width;
    rng.fill(out, at, at + f.width);
    for (let byte = 0; byte < f.width; byte++) {
      const keep = Math.max(0, Math.min(8, len - byte * 8)); // network bits in this byte
      const mask = (0xff00 >> keep) & 0xff;
      out[at + byte] = (t.records[r + byte] & mask) | (out[at + byte] & ~mask & 0xff);
    }
  }
  return out;
}

function mlpsOf(table: RouteTable, addresses: Uint8Array, seconds: number, runs: number): { best: number; median: number } {
  const figures: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = route.bench(table, addresses, seconds);
    figures.push(r.lookups / r.seconds / 1e6);
  }
  figures.sort((a, b) => a - b);
  return { best: figures[figures.length - 1], median: figures[Math.floor(figures.length / 2)] };
}

function round(x: number, digits: number): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}

const MiB = 1 << 20;

function measure(f: Family, rng: Rng, routes: number, runs: number, seconds: number) {
  const t = synthesize(f, rng, routes);
  let start = performance.now();
  const table = f.build(t.records, t.values);
  const buildSeconds = (performance.now() - start) / 1000;
  const trie = f.binaryTrie(t.records, t.values);
  const uniform = uniformAddresses(f, rng);
  const routed = routedAddresses(f, rng, t);

  for (const [what, addresses] of [['uniform', uniform], ['routed', routed]] as const) {
    const sample = addresses.subarray(0, 65536 * f.width);
    const got = table.lookupMany(sample);
    const want = trie.lookupMany(sample);
    const bad = got.findIndex((v, i) => v !== want[i]);
    if (bad >= 0) throw new Error(`${f.name}: Poptrie and binary trie disagree on ${what} address ${bad}: ${got[bad]} vs ${want[bad]}`);
  }

  start = performance.now();
  const random = mlpsOf(table, uniform, seconds, runs);
  const deep = mlpsOf(table, routed, seconds, runs);
  const baseline = mlpsOf(trie, uniform, seconds, 1).best;
  const result = {
    routes,
    mlps: round(random.best, 1),
    bytes: table.bytes,
    mlpsMedian: round(random.median, 1),
    routedMlps: round(deep.best, 1),
    baselineMlps: round(baseline, 2),
    ratio: round(random.best / baseline, 1),
    baselineBytes: trie.bytes,
    nodes: table.nodes,
    leaves: table.leaves,
    buildSeconds: round(buildSeconds, 2),
  };
  process.stdout.write(
    `${f.name}: ${routes} routes, Poptrie ${round(table.bytes / MiB, 1)} MiB (${table.nodes} nodes, ${table.leaves} leaves; built in ${result.buildSeconds} s)\n` +
      `  random addresses  ${result.mlps} Mlps (best of ${runs}; median ${result.mlpsMedian})\n` +
      `  routed addresses  ${result.routedMlps} Mlps\n` +
      `  binary trie       ${result.baselineMlps} Mlps (${round(trie.bytes / MiB, 1)} MiB): Poptrie is ${result.ratio}x faster\n`,
  );
  return result;
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench lookup [options]\n${usageText(spec)}\n\nexamples:\n  vitesse bench lookup --routes 1000000\n  vitesse bench lookup --routes 10000 --runs 3 --json\n`);
    return 0;
  }
  const routes = options.routes as number;
  const runs = options.runs as number;
  const seconds = options.seconds as number;
  if (!(Number.isInteger(routes) && routes >= 1 && routes <= 16_000_000)) throw new UsageError('--routes must be 1..16000000');
  if (!(Number.isInteger(runs) && runs >= 1 && runs <= 100)) throw new UsageError('--runs must be 1..100');
  if (!(seconds > 0 && seconds <= 60)) throw new UsageError('--seconds must be in (0, 60]');

  process.stdout.write(`lookup: popcount ${route.popcount}, ${ADDRESSES} addresses, batches of 64, one core\n`);
  const rng = new Rng((options.seed as number) >>> 0);
  const result = {
    ipv4: measure(ipv4(), rng, routes, runs, seconds),
    ipv6: measure(ipv6(routes, rng), rng, routes, runs, seconds),
    popcount: route.popcount,
  };
  if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
  return 0;
}
