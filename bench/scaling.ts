// `vitesse bench scaling`: does softbench scale from one worker to two on
// this machine, and if not, is it the machine or the workers? (issue 15
// target 6). In one run, interleaved round by round so a neighbour's load
// falls on both alike:
//   * the CPU topology (/sys: which CPUs are one core's hyper-threads, lscpu
//     when installed) and how loaded the machine was (load average, and the
//     CPU time others used and the hypervisor stole during the run);
//   * the machine's own ceiling: plain CPU-bound loops (pipeline/cpu_ceiling.h)
//     on one CPU, then on two at once, per thread CPU-second and wall-clock;
//   * softbench --queues 1 and --queues 2 with each worker's own rates
//     (softbench-workers.ts).
// Ratios per CPU-second say what two cores give when each worker has its
// core; wall-clock ratios are meaningless while others use the CPUs.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { parseArgs, usageText, UsageError } from '../controlplane/cli/args.js';
import { ceiling, softbench, type CeilingThread } from '../controlplane/testkit.js';
import { workerRates, round, type WorkerRates } from './softbench-workers.js';

const spec = {
  packets: { type: 'number', default: 4_000_000, help: 'softbench frames per worker' },
  'packet-size': { type: 'number', default: 60, help: 'softbench frame size in bytes' },
  rounds: { type: 'number', default: 5, help: 'interleaved rounds of each kind (medians reported)' },
  cpus: { type: 'string', default: '0,1', help: 'the two CPUs to use' },
  iterations: { type: 'number', default: 50_000_000, help: 'rounds of each ceiling loop per thread' },
  json: { type: 'boolean', help: 'print one JSON object on the last line' },
  help: { type: 'boolean' },
} as const;

const LOOPS = ['aes', 'alu', 'latency'] as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function readText(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function topology() {
  const dir = '/sys/devices/system/cpu';
  const cpus = fs.readdirSync(dir).filter((n) => /^cpu\d+$/.test(n)).sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  const perCpu = cpus.map((c) => ({
    cpu: Number(c.slice(3)),
    thread_siblings: readText(`${dir}/${c}/topology/thread_siblings_list`),
    core_id: readText(`${dir}/${c}/topology/core_id`),
    package_id: readText(`${dir}/${c}/topology/physical_package_id`),
  }));
  const cpuinfo = readText('/proc/cpuinfo') ?? '';
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1];
  const hypervisor = /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo);
  let lscpu: Record<string, string> | undefined;
  try {
    const text = execFileSync('lscpu', { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    lscpu = {};
    for (const line of text.split('\n')) {
      const m = /^([^:]+):\s*(.*)$/.exec(line);
      if (m && /^(Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|Hypervisor vendor|Virtualization type|L2 cache|L3 cache)$/.test(m[1])) lscpu[m[1]] = m[2];
    }
  } catch {
    lscpu = undefined; // util-linux not installed: /sys says the same
  }
  return { model, hypervisor, cpus: perCpu, lscpu };
}

/** /proc/stat's total jiffies per state (user+nice+system+irq+softirq = busy; steal: the hypervisor's). */
function cpuStat(): { busy: number; idle: number; steal: number } {
  const line = (readText('/proc/stat') ?? '').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line;
  return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
}

function processCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function ceilingRound(loop: (typeof LOOPS)[number], cpus: number[], iterations: number) {
  const one = ceiling.run({ loop, cpus: [cpus[0]], iterations });
  const two = ceiling.run({ loop, cpus, iterations });
  const rate = (t: CeilingThread, s: number) => t.iterations / s / 1e6;
  const oneCpu = rate(one[0], one[0].cpuSeconds);
  const twoCpu = two.map((t) => rate(t, t.cpuSeconds));
  return {
    one_cpu: oneCpu,
    one_wall: rate(one[0], one[0].seconds),
    two_cpu: twoCpu,
    two_wall: two.map((t) => rate(t, t.seconds)),
    ratio_cpu: twoCpu.reduce((s, x) => s + x, 0) / oneCpu,
    ratio_wall: two.reduce((s, t) => s + rate(t, t.seconds), 0) / rate(one[0], one[0].seconds),
  };
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec as any);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench scaling [options]\n${usageText(spec as any)}\n\nexamples:\n  vitesse bench scaling\n  vitesse bench scaling --rounds 7 --packets 4000000 --cpus 0,1 --json\n`);
    return 0;
  }
  const packets = options.packets as number;
  const packetSize = options['packet-size'] as number;
  const rounds = options.rounds as number;
  const iterations = options.iterations as number;
  const cpus = String(options.cpus).split(',').map((c) => Number(c));
  if (!(Number.isInteger(packets) && packets > 0)) throw new UsageError('--packets must be a positive integer');
  if (!(Number.isInteger(packetSize) && packetSize >= 60 && packetSize <= 1514)) throw new UsageError('--packet-size must be 60..1514');
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new UsageError('--rounds must be a positive integer');
  if (!(Number.isInteger(iterations) && iterations > 0)) throw new UsageError('--iterations must be a positive integer');
  if (cpus.length !== 2 || !cpus.every((c) => Number.isInteger(c) && c >= 0)) throw new UsageError('--cpus: two CPU numbers, e.g. 0,1');

  const topo = topology();
  const loadBefore = readText('/proc/loadavg');
  const stat0 = cpuStat();
  const own0 = processCpuSeconds();
  const t0 = Date.now();

  const ceilings: Record<string, ReturnType<typeof ceilingRound>[]> = {};
  const q1: WorkerRates[] = [], q2: WorkerRates[] = [];
  let lost = 0;
  for (let i = 0; i < rounds; i++) {
    for (const loop of LOOPS) (ceilings[loop] ??= []).push(ceilingRound(loop, cpus, iterations));
    for (const queues of [1, 2]) {
      const r = softbench({ packetSize, packets: packets * queues, routes: 1, queues, cpus: cpus.slice(0, queues) });
      lost += r.sent - r.packets;
      (queues === 1 ? q1 : q2).push(workerRates(r));
    }
  }

  const seconds = (Date.now() - t0) / 1000;
  const stat1 = cpuStat();
  const own = processCpuSeconds() - own0;
  const hz = 100; // USER_HZ: /proc/stat counts in 1/100 s on Linux
  const busySeconds = (stat1.busy - stat0.busy) / hz;
  const load = {
    loadavg_before: loadBefore,
    loadavg_after: readText('/proc/loadavg'),
    seconds: round(seconds, 1),
    cpus_online: topo.cpus.length,
    // What the machine's CPUs did during the run besides this benchmark.
    others_busy_cpus: round(Math.max(0, busySeconds - own) / seconds, 2),
    steal_cpus: round((stat1.steal - stat0.steal) / hz / seconds, 3),
  };

  const ceilingSummary = Object.fromEntries(
    Object.entries(ceilings).map(([loop, rs]) => [
      loop,
      {
        one_thread_m_per_cpu_s: round(median(rs.map((r) => r.one_cpu)), 1),
        two_threads_m_per_cpu_s: [0, 1].map((t) => round(median(rs.map((r) => r.two_cpu[t])), 1)),
        ratio_cpu: round(median(rs.map((r) => r.ratio_cpu)), 3),
        ratio_wall: round(median(rs.map((r) => r.ratio_wall)), 3),
      },
    ]),
  );
  const sb = {
    q1_mpps_cpu: round(median(q1.map((r) => r.aggregate_mpps_cpu)), 3),
    q1_mpps_wall: round(median(q1.map((r) => r.aggregate_mpps_wall)), 3),
    q2_worker_mpps_cpu: [0, 1].map((w) => round(median(q2.map((r) => r.workers[w].mpps_cpu)), 3)),
    q2_worker_mpps_wall: [0, 1].map((w) => round(median(q2.map((r) => r.workers[w].mpps_wall)), 3)),
    q2_aggregate_mpps_cpu: round(median(q2.map((r) => r.aggregate_mpps_cpu)), 3),
    q2_aggregate_mpps_wall: round(median(q2.map((r) => r.aggregate_mpps_wall)), 3),
    ratio_cpu: 0,
    ratio_wall: 0,
    ratio_cpu_rounds: q1.map((r, i) => round(q2[i].aggregate_mpps_cpu / r.aggregate_mpps_cpu, 3)),
    lost,
  };
  sb.ratio_cpu = round(median(sb.ratio_cpu_rounds), 3);
  sb.ratio_wall = round(median(q1.map((r, i) => q2[i].aggregate_mpps_wall / r.aggregate_mpps_wall)), 3);

  const siblings = topo.cpus.map((c) => `cpu${c.cpu}: ${c.thread_siblings}`).join(', ');
  process.stdout.write(
    `scaling: ${topo.model ?? 'cpu'}${topo.hypervisor ? ' (virtual machine)' : ''}; thread siblings ${siblings}\n` +
      `  load: ${load.loadavg_before} before, ${load.loadavg_after} after; others used ${load.others_busy_cpus} CPUs, steal ${load.steal_cpus} CPUs over ${load.seconds} s\n` +
      Object.entries(ceilingSummary)
        .map(([loop, c]) => `  ceiling ${loop.padEnd(7)} 1 thread ${c.one_thread_m_per_cpu_s} M/CPU-s; 2 threads ${c.two_threads_m_per_cpu_s.join(' + ')} M/CPU-s: ×${c.ratio_cpu} per CPU-second, ×${c.ratio_wall} wall\n`)
        .join('') +
      `  softbench ${packetSize} B, --queues 1: ${sb.q1_mpps_cpu} Mpps per CPU-second (${sb.q1_mpps_wall} wall)\n` +
      `  softbench ${packetSize} B, --queues 2: workers ${sb.q2_worker_mpps_cpu.join(' + ')} Mpps per own CPU-second = ${sb.q2_aggregate_mpps_cpu} (${sb.q2_aggregate_mpps_wall} wall)\n` +
      `  --queues 2 / --queues 1: ×${sb.ratio_cpu} per CPU-second (rounds ${sb.ratio_cpu_rounds.join(', ')}), ×${sb.ratio_wall} wall; medians of ${rounds}\n`,
  );
  if (options.json) process.stdout.write(JSON.stringify({ topology: topo, load, ceiling: ceilingSummary, softbench: sb, packet_size: packetSize, rounds }) + '\n');
  return lost === 0 ? 0 : 1;
}
