// `npm run soak -- --minutes N [--rate N] [--every S] [--json]`: two gateways
// (real data plane, slow path, key manager, memory wires: test/support/
// two-sites.ts) carry a numbered stream each way and rekey every 2 s (sa-ttl
// 4 s) for N minutes. Every `every` seconds the stream pauses until what is in
// flight has arrived, and one line is printed: the process's memory (RSS,
// JavaScript heap after a full GC, native buffers), SA pairs negotiated so
// far, and whether the two ends agree — what A encapsulated B decapsulated
// and the reverse, what the hosts sent arrived. Goals: RSS growth under 5 MB
// over an hour, no drift.
//
// RSS growth is measured from the first sample after a warm-up (allocators
// and JIT settle in the first minute) and also given as a least-squares
// slope per hour over the samples since, so a short run still says where an
// hour would end.
import { pathToFileURL } from 'node:url';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import { numbered, twoSites, until, type TwoSites } from '../controlplane/demo/memory-two-sites.js';

const spec: Record<string, OptionSpec> = {
  minutes: { type: 'number', default: 60, help: 'how long to run' },
  rate: { type: 'number', default: 1_000, help: 'packets per second each way' },
  every: { type: 'number', default: 0, help: 'seconds between samples (default: 60, or a tenth of the run if shorter)' },
  warmup: { type: 'number', default: 0, help: 'seconds before the RSS baseline (default: 60, or a fifth of the run if shorter)' },
  json: { type: 'boolean', help: 'print one JSON result on the last line' },
  help: { type: 'boolean' },
};

const SA_TTL = 4; // rekey at about half of it: every 2 s
const MB = 1024 * 1024;

export interface SoakSample {
  seconds: number;
  rss_mb: number;
  heap_mb: number;
  external_mb: number;
  sa_pairs: number;
  sent: number; // both ways
  received: number;
  drift: number; // |A encapsulated − B decapsulated| + |B encapsulated − A decapsulated| at rest
}

export interface SoakResult {
  minutes: number;
  samples: SoakSample[];
  rss_growth_mb: number; // last sample − baseline
  rss_slope_mb_per_hour: number;
  lost: number;
  max_drift: number;
  rekeys: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gc = (globalThis as { gc?: () => void }).gc;

// Least-squares slope of y over x.
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den ? num / den : 0;
}

const pairs = (s: TwoSites) => {
  const a = s.a.keymanager!.counters, b = s.b.keymanager!.counters;
  return a.keypairs_negotiated + b.keypairs_negotiated;
};

export async function runSoak(
  o: { minutes: number; rate: number; every: number; warmup: number },
  report?: (s: SoakSample) => void,
): Promise<SoakResult> {
  const s = twoSites({ saTtl: SA_TTL, negotiationTtl: 1 });
  try {
    s.a.start();
    s.b.start();
    const outbound = (g: 'a' | 'b') => s[g].sas().some((x) => x.direction === 'outbound');
    await until(() => outbound('a') && outbound('b'), 10_000, 'first SAs');
    const pairs0 = pairs(s);
    let sent = 0, received = 0, nextA = 0, nextB = 0;
    const take = () => {
      received += s.receiveA().length + s.receiveB().length;
    };
    const samples: SoakSample[] = [];
    const t0 = performance.now();
    const end = t0 + o.minutes * 60_000;
    let nextSample = t0 + o.every * 1000;
    let sentAt = t0, due = 0;
    while (performance.now() < end) {
      const now = performance.now();
      due += ((now - sentAt) / 1000) * o.rate;
      sentAt = now;
      const n = Math.floor(due);
      if (n > 0) {
        due -= n;
        sent += s.sendA(Array.from({ length: n }, () => numbered('a', nextA++)));
        sent += s.sendB(Array.from({ length: n }, () => numbered('b', nextB++)));
      }
      take();
      if (now >= nextSample || now + 5 >= end) {
        nextSample += o.every * 1000;
        // At rest: what was sent has arrived (or never will).
        const restUntil = performance.now() + 1000;
        while (received < sent && performance.now() < restUntil) {
          await sleep(5);
          take();
        }
        const ca = s.a.dataplane.counters(), cb = s.b.dataplane.counters();
        gc?.();
        const m = process.memoryUsage();
        const sample: SoakSample = {
          seconds: Math.round((performance.now() - t0) / 1000),
          rss_mb: m.rss / MB,
          heap_mb: m.heapUsed / MB,
          external_mb: m.external / MB,
          sa_pairs: pairs(s) - pairs0,
          sent,
          received,
          drift: Math.abs(ca.encapsulated_packets - cb.decapsulated_packets) + Math.abs(cb.encapsulated_packets - ca.decapsulated_packets),
        };
        samples.push(sample);
        report?.(sample);
        sentAt = performance.now(); // the pause does not make a burst
      }
      await sleep(2);
    }
    const since = samples.filter((x) => x.seconds >= o.warmup);
    const base = since[0] ?? samples[0];
    const last = samples[samples.length - 1];
    return {
      minutes: o.minutes,
      samples,
      rss_growth_mb: last.rss_mb - base.rss_mb,
      rss_slope_mb_per_hour: slope(since.map((x) => x.seconds / 3600), since.map((x) => x.rss_mb)),
      lost: last.sent - last.received,
      max_drift: Math.max(...samples.map((x) => x.drift)),
      rekeys: last.sa_pairs,
    };
  } finally {
    s.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const { options, positional } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: npm run soak -- [options]\n${usageText(spec)}\n\nexamples:\n  npm run soak -- --minutes 60\n  npm run soak -- --minutes 5 --rate 5000 --json\n`);
    return 0;
  }
  if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const minutes = options.minutes as number;
  const rate = options.rate as number;
  if (!(minutes > 0)) throw new UsageError(`--minutes: must be positive, got ${minutes}`);
  if (!(rate > 0) || rate > 100_000) throw new UsageError(`--rate: must be from 1 to 100000, got ${rate}`);
  const every = (options.every as number) || Math.min(60, (minutes * 60) / 10);
  const warmup = (options.warmup as number) || Math.min(60, (minutes * 60) / 5);
  const json = Boolean(options.json);
  if (!gc && !json) process.stdout.write('(run node with --expose-gc for heap figures after a full GC; npm run soak does)\n');
  const line = (x: SoakSample) =>
    `${String(x.seconds).padStart(6)} s  RSS ${x.rss_mb.toFixed(1).padStart(7)} MB  heap ${x.heap_mb.toFixed(1).padStart(6)} MB  ` +
    `native buffers ${x.external_mb.toFixed(1).padStart(6)} MB  SA pairs ${String(x.sa_pairs).padStart(5)}  ` +
    `packets ${x.received}/${x.sent}  drift ${x.drift}`;
  const r = await runSoak({ minutes, rate, every, warmup }, json ? undefined : (x) => process.stdout.write(line(x) + '\n'));
  // An hour or more: the growth itself; a shorter run: where its trend ends in an hour.
  const growthOk = minutes >= 60 ? r.rss_growth_mb < 5 : r.rss_slope_mb_per_hour < 5;
  const ok = growthOk && r.max_drift === 0 && r.lost === 0;
  if (json) {
    process.stdout.write(JSON.stringify({ ...r, goal_met: ok }) + '\n');
  } else {
    process.stdout.write([
      '',
      `RSS            ${r.rss_growth_mb >= 0 ? '+' : ''}${r.rss_growth_mb.toFixed(1)} MB since the warm-up (${warmup} s); trend ${r.rss_slope_mb_per_hour.toFixed(1)} MB/hour (goal < 5)`,
      `rekeys         ${r.rekeys} SA pairs negotiated in ${minutes} min`,
      `packets        ${r.lost} lost; largest drift between the ends ${r.max_drift}`,
      `goal           ${ok ? 'met' : 'NOT met'}`,
      '',
    ].join('\n'));
  }
  return ok ? 0 : 1;
}

// `node dist/bench/soak.js …` (npm run soak) runs it directly.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`soak: ${err instanceof Error ? err.message : err}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    },
  );
}
