// Per-worker figures of a softbench run (issue 15 target 6). Each worker's
// rate is its packets per its own thread's CPU-second (what it would carry
// on a core of its own, whatever else ran on the machine) and per wall-clock
// second until its last packet; the aggregate is the sum of the workers' own
// rates. Dividing all packets by the busiest worker's CPU time instead (what
// softbench reported before) undercounts whenever the workers' shares or
// speeds differ.
import type { SoftbenchResult } from '../controlplane/testkit.js';

export interface WorkerRate {
  queue: number;
  packets: number;
  cpu_seconds: number;
  seconds: number;
  /** Mpps per this worker's own CPU-second. */
  mpps_cpu: number;
  /** Mpps per wall-clock second until its last packet. */
  mpps_wall: number;
}

export interface WorkerRates {
  workers: WorkerRate[];
  /** Sum of the workers' Mpps per own CPU-second. */
  aggregate_mpps_cpu: number;
  /** All packets per wall-clock second of the run. */
  aggregate_mpps_wall: number;
}

export function workerRates(r: SoftbenchResult): WorkerRates {
  const workers = r.perQueue.map((q, queue) => ({
    queue,
    packets: q.packets,
    cpu_seconds: round(q.cpuSeconds, 4),
    seconds: round(q.seconds, 4),
    mpps_cpu: q.cpuSeconds > 0 ? round(q.packets / q.cpuSeconds / 1e6, 3) : 0,
    mpps_wall: q.seconds > 0 ? round(q.packets / q.seconds / 1e6, 3) : 0,
  }));
  return {
    workers,
    aggregate_mpps_cpu: round(workers.reduce((s, w) => s + w.mpps_cpu, 0), 3),
    aggregate_mpps_wall: r.seconds > 0 ? round(r.packets / r.seconds / 1e6, 3) : 0,
  };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
