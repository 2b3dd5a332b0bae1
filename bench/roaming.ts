// `vitesse bench roaming [--driver af-packet|af-xdp] [--mode key-manager|data-plane]
// [--nat-traversal force|auto] [--rounds N] [--interval MS] [--json]`: how long
// traffic takes to resume after the NAT in front of gateway A forgets its
// bindings and moves to another address (roaming), on real interfaces
// (controlplane/demo/nat-sites.ts, the lab of test/realif-nat.test.ts):
//
//   hostA ── gwA ══ nat ══ gwB ── hostB
//
// Both hosts ping each other every --interval ms. Each round flushes the
// NAT's conntrack table and moves its masquerade to the other of its two
// addresses; then, from the moment that returns: when gateway B's data plane
// moved A's endpoint (A's next authenticated ESP-in-UDP packet, polled every
// 5 ms), and when the first echo reply came in each direction (ping -D's
// epoch times). B → A resumes only once A has sent something (B's packets go
// to the forgotten binding until then), so with A pinging too both
// directions come back within about one --interval. Also run by
// test/realif-nat.test.ts, which asserts the counts, not the times.
// Needs root, nft and conntrack.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import pino from 'pino';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import { parseConfig } from '../controlplane/config/index.js';
import { buildNatSites, NAT_ADDR, type NatSiteLab } from '../controlplane/demo/nat-sites.js';
import type { Driver } from '../controlplane/demo/two-sites.js';
import { encodeKey } from '../controlplane/exchange/identity.js';
import { keyPairFromPrivate } from '../controlplane/exchange/primitives.js';
import { Gateway } from '../controlplane/gateway.js';

const spec: Record<string, OptionSpec> = {
  driver: { type: 'string', default: 'af-packet', help: 'packet I/O driver of the gateways: af-packet or af-xdp' },
  mode: { type: 'string', default: 'key-manager', help: 'key-manager (public-key routes, B learns A from its key exchange) or data-plane (explicit SAs)' },
  'nat-traversal': { type: 'string', default: 'auto', help: 'the routes\' nat-traversal in key-manager mode: auto or force' },
  rounds: { type: 'number', default: 5, help: 'rebindings (each flushes the NAT\'s bindings and moves its address)' },
  interval: { type: 'number', default: 100, help: 'milliseconds between echo requests, each way' },
  json: { type: 'boolean', help: 'print the figures as one JSON object on the last line' },
  help: { type: 'boolean' },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RoamingOptions {
  driver?: Driver;
  mode?: 'key-manager' | 'data-plane';
  natTraversal?: 'force' | 'auto';
  rounds?: number;
  intervalMs?: number;
}

export interface RoamingRound {
  /** The NAT's new outside address. */
  address: string;
  /** Rebinding → B's data plane moved A's endpoint there. */
  endpoint_moved_ms: number;
  /** Rebinding → the first echo reply at hostA (A → B → A) and at hostB (B → A → B). */
  a_to_b_resumed_ms: number;
  b_to_a_resumed_ms: number;
  /** B's data plane endpoint moves during the round (1: the packet that moved it was A's first through the new binding). */
  endpoint_changes: number;
}

export interface RoamingFigures {
  driver: Driver;
  mode: 'key-manager' | 'data-plane';
  nat_traversal: 'force' | 'auto';
  interval_ms: number;
  rounds: RoamingRound[];
  /** Over the rounds: the slower direction's resume time. */
  resumed_ms: { median: number; max: number };
}

/** Echo replies' arrival times (epoch ms), from a `ping -D` in `ns`. */
function pinger(lab: NatSiteLab, ns: string, dst: string, intervalMs: number): { child: ChildProcess; replies: number[] } {
  const replies: number[] = [];
  const child = lab.lab.spawn(ns, ['ping', '-D', '-n', '-i', String(intervalMs / 1000), '-W', '1', dst]);
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    for (const m of chunk.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)) replies.push(Math.round(Number(m[1]) * 1000));
  });
  return { child, replies };
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | false): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs the scenario and returns its figures; throws if traffic does not resume. */
export async function runRoaming(o: RoamingOptions = {}): Promise<RoamingFigures> {
  const driver = o.driver ?? 'af-packet';
  const mode = o.mode ?? 'key-manager';
  const natTraversal = o.natTraversal ?? 'auto';
  const rounds = o.rounds ?? 5;
  const intervalMs = o.intervalMs ?? 100;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-roaming-'));
  const keys = (me: string) => {
    const priv = crypto.randomBytes(32);
    const file = path.join(dir, `${me}.key`);
    fs.writeFileSync(file, `${priv.toString('base64')}\n`, { mode: 0o600 });
    return { privateKeyFile: file, publicKey: encodeKey(keyPairFromPrivate(priv).publicKey) };
  };
  const lab = buildNatSites({
    driver, prefix: 'vroam',
    ...(mode === 'key-manager' ? { publicKeys: { a: keys('a'), b: keys('b') }, natTraversal } : {}),
  });
  const logger = pino({ level: process.env.VITESSE_BENCH_LOG ?? 'silent' });
  const gateways: Gateway[] = [];
  const pingers: ChildProcess[] = [];
  try {
    const start = (name: string, config: object, ns: string) => {
      const link = (device: string) => ({ driver, ifname: device, netns: ns });
      const gw = new Gateway(parseConfig(config), { logger: logger.child({ gw: name }), links: { private: link('private'), public: link('public') } });
      gateways.push(gw);
      gw.start();
      return gw;
    };
    start('gwA', lab.configA, lab.ns.gwA);
    const gwB = start('gwB', lab.configB, lab.ns.gwB);
    const fromA = pinger(lab, lab.ns.hostA, NAT_ADDR.hostB, intervalMs);
    const fromB = pinger(lab, lab.ns.hostB, NAT_ADDR.hostA, intervalMs);
    pingers.push(fromA.child, fromB.child);
    await until('the tunnel up both ways', 30_000, () => fromA.replies.length > 0 && fromB.replies.length > 0);
    const endpoint = () => gwB.dataplane.endpoints().find((e) => e.route === 'site-a');

    const out: RoamingRound[] = [];
    for (let i = 0; i < rounds; i++) {
      const address = i % 2 === 0 ? NAT_ADDR.natOutside2 : NAT_ADDR.natOutside;
      const changes = endpoint()?.changes ?? 0;
      lab.rebind(address);
      const t0 = Date.now();
      const moved = await until(`B's endpoint moved to ${address}`, 30_000, () => endpoint()?.address === address && Date.now());
      const a = await until('an echo reply at hostA', 30_000, () => fromA.replies.find((t) => t > t0));
      const b = await until('an echo reply at hostB', 30_000, () => fromB.replies.find((t) => t > t0));
      out.push({
        address,
        endpoint_moved_ms: moved - t0,
        a_to_b_resumed_ms: a - t0,
        b_to_a_resumed_ms: b - t0,
        endpoint_changes: (endpoint()?.changes ?? 0) - changes,
      });
      await sleep(500); // steady again before the next round
    }
    const slower = out.map((r) => Math.max(r.a_to_b_resumed_ms, r.b_to_a_resumed_ms));
    return {
      driver, mode, nat_traversal: mode === 'key-manager' ? natTraversal : 'force', interval_ms: intervalMs, rounds: out,
      resumed_ms: { median: median(slower), max: Math.max(...slower) },
    };
  } finally {
    for (const p of pingers) p.kill('SIGKILL');
    for (const gw of gateways) gw.close();
    lab.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const HELP = `usage: vitesse bench roaming [options] [--json]

How long traffic takes to resume after the NAT in front of gateway A
forgets its bindings and moves to another address (conntrack flush, new
masquerade address), on real interfaces in network namespaces (needs root,
nft, conntrack). Both hosts ping each other; each round reports when
gateway B moved A's endpoint and when each direction had its first reply.

${usageText(spec)}

examples:
  vitesse bench roaming
  vitesse bench roaming --driver af-xdp --nat-traversal force --rounds 10 --json
`;

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const driver = String(options.driver);
  if (driver !== 'af-packet' && driver !== 'af-xdp') throw new UsageError(`--driver: "${driver}" is not af-packet or af-xdp`);
  const mode = String(options.mode);
  if (mode !== 'key-manager' && mode !== 'data-plane') throw new UsageError(`--mode: "${mode}" is not key-manager or data-plane`);
  const natTraversal = String(options['nat-traversal']);
  if (natTraversal !== 'auto' && natTraversal !== 'force') throw new UsageError(`--nat-traversal: "${natTraversal}" is not auto or force`);
  const rounds = Number(options.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds: must be a positive integer, got ${String(options.rounds)}`);
  const intervalMs = Number(options.interval);
  if (!Number.isFinite(intervalMs) || intervalMs < 10) throw new UsageError(`--interval: must be at least 10 ms, got ${String(options.interval)}`);
  const f = await runRoaming({ driver, mode, natTraversal, rounds, intervalMs });
  process.stdout.write(`roaming (${driver}, ${mode}${mode === 'key-manager' ? `, nat-traversal ${natTraversal}` : ''}, echo every ${intervalMs} ms each way):\n`);
  for (const [i, r] of f.rounds.entries()) {
    process.stdout.write(`  round ${i + 1} (to ${r.address}): endpoint moved after ${r.endpoint_moved_ms} ms; traffic resumed A → B after ${r.a_to_b_resumed_ms} ms, B → A after ${r.b_to_a_resumed_ms} ms\n`);
  }
  process.stdout.write(`  resumed (the slower direction): median ${f.resumed_ms.median} ms, max ${f.resumed_ms.max} ms\n`);
  if (options.json) process.stdout.write(JSON.stringify(f) + '\n');
  return 0;
}
