// `vitesse bench io [--json]`: the raw rate of the packet I/O drivers over a
// veth pair, with no gateway: a native generator thread sends one UDP frame
// over and over through the driver on one end (testkit.io.blast) while a
// native sink thread counts what the same driver receives on the other end
// (testkit.io.sink). Reports, per driver and frame size, what the sender got
// rid of and what arrived (packets/s, Gbit/s, loss). Needs root: it creates
// two network namespaces and a veth pair, and removes them afterwards.
import * as testkit from '../controlplane/testkit.js';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import { Lab, labUnavailable } from '../controlplane/demo/lab.js';

const spec: Record<string, OptionSpec> = {
  drivers: { type: 'string', default: 'af-packet,af-xdp', help: 'drivers, comma-separated (af-packet, af-xdp)' },
  sizes: { type: 'string', default: '60,1400', help: 'frame sizes in bytes (Ethernet header included, no FCS), comma-separated' },
  seconds: { type: 'number', default: 3, help: 'duration of each run' },
  'tx-method': { type: 'string', default: 'sendmmsg', help: 'af-packet transmit: sendmmsg, ring, or both comma-separated' },
  'busy-poll': { type: 'boolean', help: 'the sink polls without sleeping (uses a whole core)' },
  json: { type: 'boolean', help: 'print the rows as one JSON array on the last line' },
  help: { type: 'boolean' },
};

export type IoBenchRow = {
  driver: string;
  tx_method?: string;
  size: number;
  sent_pps: number;
  received_pps: number;
  received_gbps: number;
  loss_pct: number;
  // CPU time per frame of the sending and the receiving thread, system calls
  // (and what the kernel does inside them) included.
  tx_cpu_ns: number;
  rx_cpu_ns: number;
  // Where the lost frames went: counted as dropped by the veth pair (its
  // queue to the receiving end was full, or, with XDP, the redirect to the
  // socket failed), and by the receiving socket (its ring full, or no free
  // buffer). An af-xdp socket drop is also a veth drop.
  veth_drops: number;
  socket_drops: number;
};

type TrafficResult = {
  packets: number; bytes: number; activeSeconds: number; elapsedSeconds: number; cpuSeconds: number; counters: Record<string, number>;
};

function udpFrame(size: number, dstMac: string, srcMac: string): Buffer {
  if (size < 42) throw new UsageError(`--sizes: ${size} is smaller than Ethernet + IPv4 + UDP headers (42)`);
  const f = Buffer.alloc(size);
  Buffer.from(dstMac.split(':').map((h) => parseInt(h, 16))).copy(f, 0);
  Buffer.from(srcMac.split(':').map((h) => parseInt(h, 16))).copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  const ip = f.subarray(14);
  ip[0] = 0x45;
  ip.writeUInt16BE(size - 14, 2);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from([10, 99, 0, 1]).copy(ip, 12);
  Buffer.from([10, 99, 0, 2]).copy(ip, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  ip.writeUInt16BE(5555, 20);
  ip.writeUInt16BE(6666, 22);
  ip.writeUInt16BE(size - 34, 24);
  return f;
}

function table(rows: IoBenchRow[]): string {
  const head = ['driver', 'size', 'sent Mpps', 'recv Mpps', 'recv Gbit/s', 'loss %', 'tx cpu ns', 'rx cpu ns', 'veth drops', 'socket drops'];
  const lines = [head, ...rows.map((r) => [
    r.driver + (r.tx_method ? ` (${r.tx_method})` : ''), String(r.size), (r.sent_pps / 1e6).toFixed(3),
    (r.received_pps / 1e6).toFixed(3), r.received_gbps.toFixed(2), r.loss_pct.toFixed(1), String(r.tx_cpu_ns), String(r.rx_cpu_ns),
    String(r.veth_drops), String(r.socket_drops),
  ])];
  const widths = head.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  return lines.map((l) => l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench io [options]\n${usageText(spec)}\n\nexamples:\n  sudo vitesse bench io\n  sudo vitesse bench io --drivers af-xdp --sizes 60 --seconds 5 --json\n`);
    return 0;
  }
  const drivers: ('af-packet' | 'af-xdp')[] = [];
  for (const d of String(options.drivers).split(',').map((s) => s.trim())) {
    if (d !== 'af-packet' && d !== 'af-xdp') throw new UsageError(`--drivers: unknown driver "${d}"`);
    drivers.push(d);
  }
  const sizes = String(options.sizes).split(',').map((s) => Number(s.trim()));
  for (const s of sizes) if (!Number.isInteger(s) || s > 1514) throw new UsageError(`--sizes: "${s}" is not a frame size up to 1514`);
  const txMethods = String(options['tx-method']).split(',').map((s) => s.trim());
  for (const m of txMethods) if (m !== 'ring' && m !== 'sendmmsg') throw new UsageError(`--tx-method: "${m}" is not ring or sendmmsg`);
  const seconds = Number(options.seconds);
  if (!(seconds > 0 && seconds <= 600)) throw new UsageError('--seconds must be in (0, 600]');
  const why = labUnavailable();
  if (why) {
    process.stderr.write(`vitesse bench io: ${why}\n`);
    return 1;
  }

  const lab = new Lab('vtio');
  const rows: IoBenchRow[] = [];
  try {
    const nsA = lab.namespace('a', { ipv6: false });
    const nsB = lab.namespace('b', { ipv6: false });
    const pair = lab.veth(nsA, 'va0', nsB, 'vb0', { kernelOffloads: true });
    for (const driver of drivers) {
      for (const txMethod of driver === 'af-packet' ? txMethods : [undefined]) {
        for (const size of sizes) {
          const frame = udpFrame(size, pair.macB, pair.macA);
          const extra = txMethod ? { txMethod } : {};
          const before = [lab.stats(nsA, pair.a), lab.stats(nsB, pair.b)];
          const sink = testkit.io.sink({ spec: { driver, ifname: pair.b, netns: nsB }, seconds: seconds + 2, busyPoll: !!options['busy-poll'], idleStop: 0.3 }) as Promise<TrafficResult>;
          await new Promise((r) => setTimeout(r, 100));
          const sent = (await testkit.io.blast({ spec: { driver, ifname: pair.a, netns: nsA, ...extra }, frame, seconds })) as TrafficResult;
          const got = await sink;
          const after = [lab.stats(nsA, pair.a), lab.stats(nsB, pair.b)];
          const c = got.counters;
          const rate = (n: number, s: number) => (s > 0 ? n / s : 0);
          rows.push({
            driver,
            ...(txMethod ? { tx_method: txMethod } : {}),
            size,
            sent_pps: Math.round(rate(sent.packets, sent.elapsedSeconds)),
            received_pps: Math.round(rate(got.packets, got.activeSeconds)),
            received_gbps: Number(rate(got.bytes * 8, got.activeSeconds * 1e9).toFixed(3)),
            loss_pct: Number((sent.packets ? (100 * (sent.packets - got.packets)) / sent.packets : 0).toFixed(2)),
            tx_cpu_ns: Math.round(rate(sent.cpuSeconds * 1e9, sent.packets)),
            rx_cpu_ns: Math.round(rate(got.cpuSeconds * 1e9, got.packets)),
            veth_drops: after[0].txDropped - before[0].txDropped + after[1].rxDropped - before[1].rxDropped,
            socket_drops: (c.rx_kernel_drops ?? 0) + (c.rx_ring_full ?? 0), // af-xdp: kernel drops include fill ring empty
          });
          if (!options.json) process.stdout.write(`${driver}${txMethod ? ` (${txMethod})` : ''} ${size} B: ${(rows[rows.length - 1].received_pps / 1e6).toFixed(3)} Mpps received\n`);
        }
      }
    }
  } finally {
    lab.cleanup();
  }
  process.stdout.write(table(rows) + '\n');
  if (options.json) process.stdout.write(JSON.stringify(rows) + '\n');
  return 0;
}
