// Where a gateway worker's CPU goes per frame (issue 15 target 3), for
// `vitesse bench e2e --perf`: `perf record` on the workers' threads while a
// rate is measured, each sample's symbol put into one of a few buckets, and
// each bucket's share of the workers' CPU per frame given in ns.
//
// Without IRQ time accounting (CONFIG_IRQ_TIME_ACCOUNTING, off in common
// kernels) the kernel charges softirq work to whatever thread runs when it
// is done: a worker's transmit on a veth pair runs the peer namespace's
// receive, and with it net's IP forwarding (gwA) or hostB's stack (gwB), in
// the worker's system call. Those are the `stack` bucket: neither the
// gateway's nor its driver's work, but counted in its CPU time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';

export const BUCKETS = ['vitesse', 'copy', 'xsk_veth', 'skb', 'stack', 'syscall_poll', 'other_kernel'] as const;
export type Bucket = (typeof BUCKETS)[number];

// First match wins; kernel symbols only ([.] user-space samples are `vitesse`:
// the addon and the libc calls it makes).
const KERNEL: [Bucket, RegExp][] = [
  ['copy', /(memcpy|memmove|copy_(to|from)_user|_copy_|csum_partial|skb_pp_cow|skb_copy)/],
  ['xsk_veth', /(xsk|xp_|veth|xdp|bpf_|__dev_direct_xmit|sock_wfree|enqueue_to_backlog)/],
  ['stack', /^(__)?(ip_|ip6_|ipv4_|ipv6_|inet|fib|tcp|udp|raw_|icmp|nf_|neigh|arp_|rt_|dst_|__ip|ip_route|__netif_receive|netif_receive|__netif_rx|netif_rx|process_backlog|net_rx_action|napi_|__napi|gro_|dev_gro|skb_segment|__skb_gso|skb_mac_gso|inet_gso|tcp4_gso|sk_|sock_def|__sk|eth_type_trans|__dev_queue_xmit|dev_queue_xmit|dev_hard_start_xmit|validate_xmit|netif_skb_features|__dev_forward|dev_forward|sch_direct|__qdisc|qdisc_|ip_forward|ip_finish|__ip_finish|ip_output|ip_rcv|ip_local)/],
  ['skb', /(skb|slab|kmem_cache|kmalloc|kfree|page_pool|__alloc_pages|free_unref|build_skb|napi_build)/],
  ['syscall_poll', /(syscall|entry_SYSCALL|sys_poll|do_poll|poll_|_poll$|sys_sendto|sys_recvfrom|__sys_|sock_poll|eventfd|fdget|fput|exit_to_user|syscall_exit|select_estimate|schedule|finish_task_switch|hrtimer|__x64_sys|sock_sendmsg|sock_recvmsg)/],
];

export function bucketOf(symbol: string, user: boolean): Bucket {
  if (user) return 'vitesse';
  for (const [b, re] of KERNEL) if (re.test(symbol)) return b;
  return 'other_kernel';
}

/** perf report -n --stdio lines ("  31.85%  1234  [k] __pi_memcpy") → share per bucket (sums to 1), the top symbols, the samples. */
export function classify(report: string): { shares: Record<Bucket, number>; top: { symbol: string; pct: number; bucket: Bucket }[]; samples: number } {
  // The top symbols overall, and the gateway's own (user-space) ones among them.
  const shares = Object.fromEntries(BUCKETS.map((b) => [b, 0])) as Record<Bucket, number>;
  const top: { symbol: string; pct: number; bucket: Bucket }[] = [];
  let total = 0, samples = 0;
  for (const line of report.split('\n')) {
    const m = /^\s*([\d.]+)%\s+(?:(\d+)\s+)?\[([k.])\]\s+(.+?)\s*$/.exec(line);
    if (!m) continue;
    const pct = Number(m[1]);
    samples += Number(m[2] ?? 0);
    const bucket = bucketOf(m[4], m[3] === '.');
    shares[bucket] += pct;
    total += pct;
    if (top.length < 15 || (bucket === 'vitesse' && top.filter((t) => t.bucket === 'vitesse').length < 10)) top.push({ symbol: m[4], pct, bucket });
  }
  for (const b of BUCKETS) shares[b] = total > 0 ? shares[b] / total : 0;
  return { shares, top, samples };
}

export function perfMissing(): boolean {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
}

/** Thread ids of this process's gateway workers (named vitesse-q<N>). */
export function workerTids(): number[] {
  const tids: number[] = [];
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      if (fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith('vitesse-q')) tids.push(Number(tid));
    } catch {
      // ended
    }
  }
  return tids;
}

export interface Recording {
  stop(): Promise<{ shares: Record<Bucket, number>; top: { symbol: string; pct: number; bucket: Bucket }[]; samples: number }>;
}

/** Starts `perf record` (software cpu-clock: VMs rarely expose PMU counters) on the given threads. */
export function record(tids: number[]): Recording {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-perf-'));
  const data = path.join(dir, 'perf.data');
  const child: ChildProcess = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '4999', '-t', tids.join(','), '-o', data], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
      try {
        const report = execFileSync('perf', ['report', '-i', data, '--sort', 'sym', '-n', '--stdio', '--percentage', 'relative', '-q'], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
        return classify(report);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
