// `vitesse replay --config gw.json --private-in A.pcap --public-in B.pcap
//                 --private-out C.pcap --public-out D.pcap [--json]`:
// runs a data-plane-mode gateway over packet captures instead of interfaces
// and writes what it emits. For debugging ("what does the gateway do with
// this traffic?") and for tests with captures from elsewhere.
//
// The gateway is the real one (data plane, slow path), but its worker runs
// on this thread, one pass at a time, with the slow path answering punts
// between passes — so a replay is deterministic and ends by itself: when the
// captures are exhausted and a pass moves nothing, punts nothing and takes no
// injected frame, nothing is left that could emit a frame.
import pino from 'pino';
import type { Command } from '../cli/command.js';
import { parseArgs, usageText, UsageError } from '../cli/args.js';
import { loadConfig, type GatewayConfig } from '../config/index.js';
import type { Counters, SaState } from '../dataplane.js';
import { Gateway } from '../gateway.js';
import { SequenceStateError, sequenceStateFile } from '../sequence-state.js';
import type { SlowPathCounters } from '../slowpath/slowpath.js';

const spec = {
  config: { type: 'string', help: 'RFC 7951 JSON configuration in data-plane mode (explicit SAs)' },
  'private-in': { type: 'string', help: 'capture fed to the private interface' },
  'public-in': { type: 'string', help: 'capture fed to the public interface' },
  'private-out': { type: 'string', help: 'capture of what the gateway sends on the private interface' },
  'public-out': { type: 'string', help: 'capture of what the gateway sends on the public interface' },
  'state-dir': { type: 'string', help: 'directory of the sequence state file (default: the configuration\'s)' },
  json: { type: 'boolean', help: 'print the counters as one JSON object on the last line' },
  'log-level': { type: 'string', default: 'warn', help: 'trace, debug, info, warn, error, fatal, silent' },
  help: { type: 'boolean' },
} as const;

const HELP = `usage: vitesse replay --config FILE [--private-in PCAP] [--public-in PCAP]
                      [--private-out PCAP] [--public-out PCAP] [--json]

Runs a gateway in data-plane mode over captures (classic pcap, Ethernet):
frames of --private-in and --public-in enter the private and public
interface, everything the gateway sends (forwarded, encrypted and decrypted
traffic, ICMP, ARP and ND answers) is written to --private-out and
--public-out. The configuration's interfaces and drivers are replaced by the
captures, so a production configuration can be replayed as it is (its
interfaces need a "mac"; give next hops a static "mac" too, or their
traffic is dropped until the capture answers ARP/ND). Prints the counters
when the captures are exhausted and the gateway is idle.

Outbound SAs continue their sequence numbers where the last run (replay or
vitesse run, with the same configuration file) left them: NAME.sequence.json
beside the configuration (or in --state-dir) records them, since an explicit
key must never send one number twice.

${usageText(spec)}

example:
  vitesse replay --config gw.json --private-in lan.pcap --public-in wan.pcap \\
                 --private-out lan-out.pcap --public-out wan-out.pcap
`;

export interface ReplayFiles {
  privateIn?: string;
  publicIn?: string;
  privateOut?: string;
  publicOut?: string;
  /** The sequence state file (sequence-state.ts); absent: kept in memory. */
  sequenceState?: string;
}

export interface ReplayResult {
  /** Passes of the worker over both links and its inject ring. */
  passes: number;
  /** Data-plane counters (every counter, zeros included). */
  dataplane: Counters;
  slowpath: SlowPathCounters;
  sas: SaState[];
}

/** Why this configuration cannot be replayed, or undefined if it can. */
export function replayRefusal(config: GatewayConfig): string | undefined {
  if (!config.dataPlane) {
    return 'the configuration is in key-manager mode; replay needs data-plane mode (explicit SAs under "data-plane"): a capture cannot answer a key exchange';
  }
  if (config.queues !== 1) {
    return `the configuration has ${config.queues} queues; replay runs one (a capture is one stream of frames)`;
  }
  return undefined;
}

/** Replays captures through a gateway built from `config`; resolves when the gateway is idle. */
export async function replay(config: GatewayConfig, files: ReplayFiles, logger = pino({ level: 'warn' })): Promise<ReplayResult> {
  const refusal = replayRefusal(config);
  if (refusal) throw new Error(refusal);
  const gw = new Gateway(config, {
    logger,
    sequenceState: files.sequenceState,
    links: {
      private: { driver: 'pcap', pcapIn: files.privateIn, pcapOut: files.privateOut },
      public: { driver: 'pcap', pcapIn: files.publicIn, pcapOut: files.publicOut },
    },
  });
  const dp = gw.dataplane;
  try {
    // What Gateway.start does, minus the worker threads: this thread polls.
    dp.commit();
    gw.slowpath.start();
    const injectsTaken = () => {
      const c = dp.counters();
      return c.injected_packets + c.inject_drops;
    };
    let passes = 0;
    let taken = -1;
    for (;;) {
      passes++;
      // What the timer does beside worker threads: reservations run ahead of the packets.
      gw.sequences?.tick();
      const moved = dp.pollOnce();
      const punts = dp.punts();
      if (punts.length) gw.slowpath.handle(punts);
      if (moved === 0 && punts.length === 0) {
        // A pass drains the inject ring unless it is empty (or the pool is,
        // which an idle worker's is not): no new injects taken means none left.
        const now = injectsTaken();
        if (now === taken) break;
        taken = now;
      }
      // Let timers and the punt notification run, as they would beside worker threads.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { passes, dataplane: dp.counters(), slowpath: gw.slowpath.counters(), sas: dp.sas() };
  } finally {
    gw.close(); // closes the captures: the outputs are complete on disk
  }
}

export const replayCommand: Command = {
  summary: 'run a data-plane-mode gateway over packet captures',
  async run(argv) {
    const { options, positional } = parseArgs(argv, spec);
    if (options.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
    if (!options.config) throw new UsageError('--config FILE is required');
    const file = (name: keyof typeof spec) => (options[name] === undefined ? undefined : String(options[name]));
    const files: ReplayFiles = {
      privateIn: file('private-in'), publicIn: file('public-in'), privateOut: file('private-out'), publicOut: file('public-out'),
      sequenceState: sequenceStateFile(String(options.config), file('state-dir')),
    };
    if (!files.privateIn && !files.publicIn) throw new UsageError('nothing to replay: give --private-in and/or --public-in');
    const logger = pino({ name: 'replay', level: String(options['log-level']) }, pino.destination(2));

    let config: GatewayConfig;
    try {
      config = await loadConfig(String(options.config));
    } catch (e) {
      process.stderr.write(`vitesse replay: ${e instanceof Error ? e.message : e}\n`);
      return 2;
    }
    const refusal = replayRefusal(config);
    if (refusal) {
      process.stderr.write(`vitesse replay: ${options.config}: ${refusal}\n`);
      return 2;
    }
    let result: ReplayResult;
    try {
      result = await replay(config, files, logger);
    } catch (e) {
      process.stderr.write(`vitesse replay: ${e instanceof Error ? e.message : e}\n`);
      return e instanceof SequenceStateError ? 2 : 1;
    }
    process.stdout.write(summary(result) + '\n');
    // Sequence numbers are bigints (64 bits): written as decimal strings.
    if (options.json) process.stdout.write(JSON.stringify(result, (_, v) => (typeof v === 'bigint' ? String(v) : v)) + '\n');
    return 0;
  },
};

function summary(r: ReplayResult): string {
  const c = r.dataplane;
  const nonZero = (o: Record<string, number>) => Object.entries(o).filter(([, v]) => v > 0);
  const lines = [
    `private: ${c.private_rx_packets} frames in, ${c.private_tx_packets} out    public: ${c.public_rx_packets} frames in, ${c.public_tx_packets} out    (${r.passes} passes)`,
    'data plane counters:',
    ...nonZero(c).map(([k, v]) => `  ${k.padEnd(36)} ${v}`),
    'slow path counters:',
    ...flatten(r.slowpath).filter(([, v]) => v > 0).map(([k, v]) => `  ${k.padEnd(36)} ${v}`),
    'SAs:',
    ...r.sas.map((s) => `  ${s.direction.padEnd(8)} spi ${String(s.spi).padEnd(10)} route ${s.route}: ${s.packets} packets, ${s.decryptErrors} decrypt errors, ${s.replayErrors} replay errors, ${s.truncatedErrors} truncated, ${s.trailerErrors} trailer errors, ${s.nextHeaderErrors} next-header errors, ${s.policyErrors} inbound policy errors, ` +
      (s.direction === 'outbound' ? `last sequence number ${s.seq}, reserved to ${s.limit}` : `window top ${s.seq}`) + (s.esn ? '' : ' (no ESN)')),
  ];
  return lines.join('\n');
}

function flatten(o: object, prefix = ''): [string, number][] {
  return Object.entries(o).flatMap(([k, v]) =>
    typeof v === 'number' ? [[prefix + k, v] as [string, number]] : flatten(v as object, `${prefix}${k}.`),
  );
}
