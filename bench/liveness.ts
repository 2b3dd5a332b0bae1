// `vitesse bench liveness [--driver af-packet|af-xdp] [--json]`: dead-peer
// detection and recovery times of two real gateways (`vitesse run` processes
// in the namespaces of controlplane/demo/two-sites.ts):
//
//   hostA ── gwA ══ net ══ gwB ── hostB
//
// hostA pings hostB five times a second. Gateway B is killed with SIGKILL;
// detection is the time from the kill to gateway A's "peer down" log line
// (liveness-interval of silence, then liveness-failures probes of
// negotiation-ttl each). Then B is started again; recovery is the time from
// B's "gateway started" to A's "peer up again", and to the first echo reply
// through the tunnel. Times are the gateways' own log timestamps (Date.now()
// of each process on this one machine). Also run by
// test/realif-liveness.test.ts, which asserts the counts, not the times.
// Needs root.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import { ApiClient } from '../controlplane/api/client.js';
import { qualified } from '../controlplane/api/schema.js';
import { spawnGateway, type GatewayProcess, type LogLine } from '../controlplane/demo/gateway-process.js';
import { ADDR, buildTwoSites, type Driver } from '../controlplane/demo/two-sites.js';

const spec: Record<string, OptionSpec> = {
  driver: { type: 'string', default: 'af-packet', help: 'packet I/O driver of the gateways: af-packet or af-xdp' },
  interval: { type: 'number', default: 1, help: 'liveness-interval of both gateways, seconds' },
  failures: { type: 'number', default: 3, help: 'liveness-failures of both gateways' },
  'negotiation-ttl': { type: 'number', default: 1, help: 'negotiation-ttl of both gateways, seconds (the time a probe has)' },
  json: { type: 'boolean', help: 'print the figures as one JSON object on the last line' },
  help: { type: 'boolean' },
};

const ROUTE = 'site-b';
const STATE = `/restconf/data/${qualified('gateway-state')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LivenessOptions {
  driver?: Driver;
  interval?: number;
  failures?: number;
  negotiationTtl?: number;
  /** Called with gateway A's state at each step, for a caller's checks (the test validates it). */
  onState?: (step: 'up' | 'down' | 'recovered', state: Record<string, unknown>) => void;
}

export interface LivenessFigures {
  driver: Driver;
  liveness_interval_s: number;
  liveness_failures: number;
  negotiation_ttl_s: number;
  /** SIGKILL of B → A's "peer down" log line. */
  detection_ms: number;
  /** B's "gateway started" → A's "peer up again". */
  recovery_ms: number;
  /** B's "gateway started" → the first echo reply through the tunnel. */
  traffic_recovery_ms: number;
  /** Gateway A's route state counters, from before the kill to the peer down. */
  probes_sent: number;
  probes_failed: number;
  /** The same, from before the kill to the peer up again. */
  probes_sent_until_up: number;
  probes_failed_until_up: number;
  /** A's log lines about the route's peer, from the kill on (msg only). */
  events: string[];
  /** A's route state when it reported the peer down, and when up again. */
  down_state: Record<string, unknown>;
  up_state: Record<string, unknown>;
  /** A's log lines from B's restart to the peer up, msg and route, in order. */
  recovery_log: { msg: string; route?: string; role?: string; spi?: number; outbound?: number }[];
}

type Json = Record<string, any>;

function withLiveness(config: object, o: Required<Pick<LivenessOptions, 'interval' | 'failures' | 'negotiationTtl'>>): object {
  const copy = structuredClone(config) as Record<string, Json>;
  const gw = copy['vitesse-gateway:gateway'];
  gw['sa-ttl'] = 600; // SAs outlive the test: only liveness acts
  gw['negotiation-ttl'] = o.negotiationTtl;
  gw['liveness-interval'] = o.interval;
  gw['liveness-failures'] = o.failures;
  return copy;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Runs the scenario once and returns its figures; throws if a step does not happen. */
export async function runLiveness(o: LivenessOptions = {}): Promise<LivenessFigures> {
  const driver = o.driver ?? 'af-packet';
  const settings = { interval: o.interval ?? 1, failures: o.failures ?? 3, negotiationTtl: o.negotiationTtl ?? 1 };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-liveness-'));
  const lab = buildTwoSites({ driver, prefix: 'vlive' });
  const procs: GatewayProcess[] = [];
  let pinger: ChildProcess | null = null;
  try {
    const files = { A: path.join(dir, 'gwA.json'), B: path.join(dir, 'gwB.json') };
    fs.writeFileSync(files.A, JSON.stringify(withLiveness(lab.configA, settings)), { mode: 0o600 });
    fs.writeFileSync(files.B, JSON.stringify(withLiveness(lab.configB, settings)), { mode: 0o600 });
    const sockA = path.join(dir, 'gwA.sock');
    const run = (who: 'A' | 'B') => {
      const p = spawnGateway(lab.lab, who === 'A' ? lab.ns.gwA : lab.ns.gwB, files[who], `live-gw${who}`,
        ['--socket', path.join(dir, `gw${who}.sock`), '--lock-dir', dir, '--metrics-listen', 'none']);
      procs.push(p);
      return p;
    };
    const a = run('A');
    let b = run('B');
    await Promise.all([a.started, b.started]);
    const api = new ApiClient({ socket: sockA });
    const route = async (): Promise<Json | undefined> =>
      ((await api.get(STATE)) as Json)[qualified('gateway-state')]?.route?.find((r: Json) => r.id === ROUTE);
    const fullState = async () => (await api.get(STATE)) as Json;

    // Echo replies, with their arrival times (ping -D prints the epoch).
    const replies: number[] = [];
    pinger = lab.lab.spawn(lab.ns.hostA, ['ping', '-D', '-n', '-i', '0.2', '-W', '1', ADDR.hostB]);
    pinger.stdout!.setEncoding('utf8');
    pinger.stdout!.on('data', (chunk: string) => {
      for (const m of chunk.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)) replies.push(Math.round(Number(m[1]) * 1000));
    });
    await until('the tunnel up and the peer up at A', 30_000, async () => {
      const r = await route();
      return r?.['peer-up'] === true && Number(r['inbound-packets']) > 0 && replies.length > 0;
    });
    o.onState?.('up', await fullState());
    const before = (await route())!;

    const fromKill = a.log.length;
    b.child.kill('SIGKILL');
    await b.exited;
    const killedAt = Date.now();
    const isRoute = (l: LogLine) => l.route === ROUTE;
    const downLine = await a.next((l) => isRoute(l) && l.msg === 'peer down: no answer to liveness probes', 120_000);
    const downState = (await until('peer-up false in A\'s state', 10_000, async () => {
      const r = await route();
      return r?.['peer-up'] === false ? r : undefined;
    }))!;
    o.onState?.('down', await fullState());

    const fromRestart = a.log.length;
    b = run('B');
    await b.started;
    const startedAt = Date.parse(b.log.find((l) => l.msg === 'gateway started')!.time!); // ISO 8601 in the log
    const upLine = await a.next((l) => isRoute(l) && l.msg === 'peer up again', 60_000);
    const firstReply = await until('an echo reply after B\'s restart', 30_000, async () => replies.find((t) => t > startedAt));
    const upState = (await until('peer-up true in A\'s state', 10_000, async () => {
      const r = await route();
      return r?.['peer-up'] === true ? r : undefined;
    }))!;
    o.onState?.('recovered', await fullState());

    const n = (r: Json, leaf: string) => Number(r[leaf]);
    return {
      driver,
      liveness_interval_s: settings.interval,
      liveness_failures: settings.failures,
      negotiation_ttl_s: settings.negotiationTtl,
      detection_ms: Date.parse(downLine.time!) - killedAt,
      recovery_ms: Date.parse(upLine.time!) - startedAt,
      traffic_recovery_ms: firstReply - startedAt,
      probes_sent: n(downState, 'liveness-probes-sent') - n(before, 'liveness-probes-sent'),
      probes_failed: n(downState, 'liveness-probes-failed') - n(before, 'liveness-probes-failed'),
      probes_sent_until_up: n(upState, 'liveness-probes-sent') - n(before, 'liveness-probes-sent'),
      probes_failed_until_up: n(upState, 'liveness-probes-failed') - n(before, 'liveness-probes-failed'),
      events: a.log.slice(fromKill).filter((l) => isRoute(l) && /^peer /.test(l.msg ?? '')).map((l) => l.msg!),
      down_state: downState,
      up_state: upState,
      recovery_log: a.log.slice(fromRestart, a.log.indexOf(upLine) + 1)
        .map((l) => ({
          msg: String(l.msg), route: l.route as string | undefined, role: l.role as string | undefined,
          spi: l.spi as number | undefined, outbound: l.outbound as number | undefined,
        })),
    };
  } finally {
    pinger?.kill('SIGKILL');
    for (const p of procs) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill('SIGTERM');
      await Promise.race([p.exited, sleep(5000)]);
    }
    lab.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const HELP = `usage: vitesse bench liveness [options] [--json]

Dead-peer detection and recovery between two gateways (vitesse run in
network namespaces; needs root): gateway B is killed with SIGKILL while
traffic flows, then started again.

${usageText(spec)}

examples:
  vitesse bench liveness
  vitesse bench liveness --driver af-xdp --interval 2 --failures 3 --json
`;

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const driver = String(options.driver);
  if (driver !== 'af-packet' && driver !== 'af-xdp') throw new UsageError(`--driver: "${driver}" is not af-packet or af-xdp`);
  const f = await runLiveness({
    driver, interval: Number(options.interval), failures: Number(options.failures), negotiationTtl: Number(options['negotiation-ttl']),
  });
  process.stdout.write(
    `liveness (${driver}, liveness-interval ${f.liveness_interval_s} s, liveness-failures ${f.liveness_failures}, negotiation-ttl ${f.negotiation_ttl_s} s):\n` +
    `  detection: ${f.detection_ms} ms from SIGKILL to "peer down" (${f.probes_sent} probes sent, ${f.probes_failed} failed)\n` +
    `  recovery:  ${f.recovery_ms} ms from the restart to "peer up again", ${f.traffic_recovery_ms} ms to the first echo reply\n`,
  );
  if (options.json) {
    const { down_state: _d, up_state: _u, recovery_log: _r, ...figures } = f;
    process.stdout.write(JSON.stringify(figures) + '\n');
  }
  return 0;
}
