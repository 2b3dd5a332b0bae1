// Numbered UDP flows for the scale-out scenario (bench/failover.ts), run
// inside a lab namespace as its own process (`node udp-flows.js ...`):
//
//   echo PORT                         echo every datagram back to its sender
//   send DST PORT SPORT FLOWS PPS     FLOWS flows from source ports SPORT...,
//                                     PPS datagrams a second each, until SIGTERM;
//                                     then one JSON line: per flow what came back.
//                                     SIGUSR2 prints `mark N`: N datagrams sent per
//                                     flow so far (an event's place in the stream,
//                                     whatever the timer's drift on a loaded machine)
//
// Each datagram carries its flow and sequence number and a pattern derived
// from them, so that an echo that differs in any byte counts as corrupt.
import dgram from 'node:dgram';

const SIZE = 200;

function payload(flow: number, seq: number): Buffer {
  const b = Buffer.alloc(SIZE);
  b.writeUInt32BE(flow, 0);
  b.writeUInt32BE(seq, 4);
  for (let i = 8; i < SIZE; i++) b[i] = (flow * 31 + seq * 7 + i) & 0xff;
  return b;
}

export interface FlowReport {
  sport: number;
  sent: number;
  /** Distinct sequence numbers echoed intact. */
  received: number;
  corrupt: number;
  /** Sequence numbers sent but never echoed, as [first, last] ranges. */
  lost: Array<[number, number]>;
  /** The longest time between two echoes of this flow, ms. */
  maxGapMs: number;
}

// The echo's one socket takes every flow: with the default buffer (~200 KB,
// a few hundred datagrams) a busy machine that leaves it unscheduled for a
// few bursts overflowed it (hostB's UDP RcvbufErrors), which looked like loss
// in the tunnel. 4 MiB is Debian's rmem_max; the kernel caps it there.
const ECHO_BUFFER = 4 << 20;

function echo(port: number): void {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: ECHO_BUFFER });
  s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
  s.bind(port);
}

function send(dst: string, port: number, sport: number, flows: number, pps: number): void {
  const state = Array.from({ length: flows }, (_, i) => {
    const sock = dgram.createSocket('udp4');
    const f = { sock, sent: 0, got: new Map<number, number>(), corrupt: 0, last: 0, maxGap: 0 };
    sock.on('message', (msg) => {
      if (msg.length !== SIZE || msg.readUInt32BE(0) !== i) return void f.corrupt++;
      const seq = msg.readUInt32BE(4);
      if (!payload(i, seq).equals(msg)) return void f.corrupt++;
      if (f.got.has(seq)) return;
      const now = performance.now();
      if (f.last) f.maxGap = Math.max(f.maxGap, now - f.last);
      f.last = now;
      f.got.set(seq, now);
    });
    sock.bind(sport + i);
    return f;
  });
  const timer = setInterval(() => {
    state.forEach((f, i) => f.sock.send(payload(i, f.sent++), port, dst));
  }, 1000 / pps);
  process.on('SIGUSR2', () => process.stdout.write(`mark ${state[0]?.sent ?? 0}\n`));
  process.on('SIGTERM', () => {
    clearInterval(timer);
    // Echoes in flight still come back.
    setTimeout(() => {
      const report: FlowReport[] = state.map((f, i) => {
        const lost: Array<[number, number]> = [];
        for (let s = 0; s < f.sent; s++) {
          if (f.got.has(s)) continue;
          const prev = lost.at(-1);
          if (prev && prev[1] === s - 1) prev[1] = s;
          else lost.push([s, s]);
        }
        return { sport: sport + i, sent: f.sent, received: f.got.size, corrupt: f.corrupt, lost, maxGapMs: Math.round(f.maxGap) };
      });
      process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(0));
    }, 1000);
  });
  process.stdout.write('sending\n');
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'echo') echo(Number(args[0]));
else if (mode === 'send') send(args[0], Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4]));
