// `vitesse bench scaling` and softbench's per-worker figures (issue 15
// target 6): each worker's packets, CPU and wall time come back and add up,
// the CPU-ceiling loops run one thread per CPU, and the benchmark's JSON has
// what docs/dataplane.md quotes. Figures are not judged here.
import { describe, expect, it } from 'vitest';
import { run } from '../bench/scaling.js';
import { UsageError } from '../controlplane/cli/args.js';
import * as testkit from '../controlplane/testkit.js';
import { workerRates } from '../bench/softbench-workers.js';
import { captured } from './support/cli-capture.js';

const capture = (argv: string[]) => captured(() => run(argv));

describe('softbench per worker', () => {
  it('two queues: each worker carried its half, with its own CPU and wall time; the aggregate is the sum of their rates', () => {
    const r = testkit.softbench({ packetSize: 60, packets: 40_000, routes: 1, queues: 2 });
    expect(r.packets).toBe(40_000);
    expect(r.perQueue).toHaveLength(2);
    expect(r.perQueue.map((q) => q.packets)).toEqual([20_000, 20_000]);
    for (const q of r.perQueue) {
      expect(q.cpuSeconds).toBeGreaterThan(0);
      expect(q.seconds).toBeGreaterThan(0);
      expect(q.seconds).toBeLessThanOrEqual(r.seconds + 1e-9);
    }
    const w = workerRates(r);
    expect(w.workers.map((x) => x.packets)).toEqual([20_000, 20_000]);
    expect(w.aggregate_mpps_cpu).toBeCloseTo(w.workers[0].mpps_cpu + w.workers[1].mpps_cpu, 2);
  });
});

describe('cpu ceiling', () => {
  it('runs one pinned thread per CPU given, each the iterations asked, with CPU and wall time', () => {
    for (const loop of ['aes', 'alu', 'latency'] as const) {
      const t = testkit.ceiling.run({ loop, cpus: [0, -1], iterations: 100_000 });
      expect(t.map((x) => x.cpu)).toEqual([0, -1]);
      for (const x of t) {
        expect(x.iterations).toBe(100_000);
        expect(x.cpuSeconds).toBeGreaterThan(0);
        expect(x.seconds).toBeGreaterThan(0);
      }
    }
  });

  it('refuses an unknown loop and an empty CPU list', () => {
    expect(() => testkit.ceiling.run({ loop: 'float' as 'aes', cpus: [0], iterations: 10 })).toThrow(/aes, alu or latency/);
    expect(() => testkit.ceiling.run({ loop: 'alu', cpus: [], iterations: 10 })).toThrow(/1\.\.64 threads/);
  });
});

describe('vitesse bench scaling', () => {
  it('--json ends with the topology, the load, the ceiling per loop and softbench per worker', async () => {
    const { code, out } = await capture(['--rounds', '1', '--packets', '20000', '--iterations', '100000', '--cpus', '0,0', '--json']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    const r = JSON.parse(lines[lines.length - 1]);
    expect(r.topology.cpus.length).toBeGreaterThan(0);
    expect(r.topology.cpus[0]).toHaveProperty('thread_siblings');
    expect(r.load).toHaveProperty('loadavg_before');
    expect(Object.keys(r.ceiling).sort()).toEqual(['aes', 'alu', 'latency']);
    for (const c of Object.values(r.ceiling) as Array<{ two_threads_m_per_cpu_s: number[]; ratio_cpu: number }>) {
      expect(c.two_threads_m_per_cpu_s).toHaveLength(2);
      expect(c.ratio_cpu).toBeGreaterThan(0);
    }
    expect(r.softbench.q2_worker_mpps_cpu).toHaveLength(2);
    expect(r.softbench.lost).toBe(0);
    expect(out).toMatch(/--queues 2 \/ --queues 1: ×/);
  });

  it('refuses bad options by name', async () => {
    await expect(capture(['--cpus', '0'])).rejects.toThrow(UsageError);
    await expect(capture(['--rounds', '0'])).rejects.toThrow(/--rounds/);
  });
});
