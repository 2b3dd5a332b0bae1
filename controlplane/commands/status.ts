// `vitesse status --name NAME`: a human summary of a running gateway, from
// its management API: routes and their SAs (ages), packet and bit rates over
// a short sample, next hops, and every error counter that is not zero (with
// how much it grew during the sample); with --json the same as one JSON
// object (StatusReport). Exit codes as `vitesse config`.
import type { Command } from '../cli/command.js';
import { parseArgs, usageText, UsageError } from '../cli/args.js';
import { qualified } from '../api/schema.js';
import { EXIT, apiTarget, connectionSpec, talk } from './config.js';
import { COUNTER_TABLE } from '../counter-table.js';

const spec = {
  ...connectionSpec,
  sample: { type: 'number', default: 1, help: 'seconds between the two readings rates are computed from (0: no rates)' },
  json: { type: 'boolean', help: 'print the same as one JSON object (docs/api.md §5 describes it)' },
  help: { type: 'boolean' },
} as const;

const HELP = `usage: vitesse status --name NAME [--sample SECONDS] [--json]

Summarises a running gateway: its routes with their SAs (count and age)
and traffic rates; per route, like wg show, its peer (public key or psk),
endpoint, last handshake, key-exchange protocol (vitesse-ske or
vita-ske-v5), last packet received, up or down, and each SA's
age, bytes and sequence number; in data-plane mode each SA's sequence
numbers (next outbound, inbound window top, reserved on disk), the
interfaces' rates, the
next hops, and every error counter that is not zero (with its growth during
the sample). With --json, the same as one JSON object, for scripts and
monitoring.

${usageText(spec)}

exit codes: 0 done, 1 the gateway refused or failed, 2 usage error, 3 the
gateway cannot be reached.

examples:
  vitesse status --name site-a
  vitesse status --name site-a --sample 5
  vitesse status --socket /run/vitesse/site-a.sock --sample 0
  vitesse status --name site-a --json
`;

type Json = Record<string, any>;

const GATEWAY = `/restconf/data/${qualified('gateway')}?content=config`;
const STATE = `/restconf/data/${qualified('gateway-state')}`;

const n = (v: unknown) => Number(v ?? 0);

function rate(value: number, unit: string): string {
  const prefixes = ['', 'k', 'M', 'G', 'T'];
  let i = 0;
  while (Math.abs(value) >= 1000 && i < prefixes.length - 1) { value /= 1000; i++; }
  return `${value.toFixed(value >= 100 || i === 0 ? 0 : 1)} ${prefixes[i]}${unit}`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => '  ' + r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

const saKey = (sa: Json) => `${sa.direction}/${sa.queue}/${sa.spi}`;

// The data plane's error and drop counters (counter-table.ts), by their
// leaves: every kind but traffic, and of the driver's only its drops.
const DATAPLANE_ERRORS = COUNTER_TABLE.filter((c) => c.kind !== 'traffic' && (c.kind !== 'driver' || c.metric === 'drops')).map((c) => c.yang);
// An SA's error counters (the others are its traffic and sequence numbers).
const SA_ERRORS = ['decrypt-errors', 'replay-errors', 'truncated-errors', 'trailer-errors', 'next-header-errors', 'encapsulation-errors', 'sequence-unreserved-errors', 'sequence-exhausted-errors'];

/** Every error or drop counter of the state, by a readable name. */
function errorCounters(state: Json): Map<string, number> {
  const out = new Map<string, number>();
  const add = (name: string, v: unknown) => { if (v !== undefined) out.set(name, (out.get(name) ?? 0) + n(v)); };
  for (const iface of ['private-interface', 'public-interface']) add(`${iface}/rx-errors`, state[iface]?.['rx-errors']);
  // (The next hops' drops keep their short names: private-next-hop/drops.)
  for (const leaf of DATAPLANE_ERRORS) add(leaf.replace('/next-hop/', '/'), leaf.split('/').reduce((o: Json | undefined, k) => o?.[k], state));
  for (const hop of ['private-next-hop', 'public-next-hop']) {
    for (const leaf of ['unsolicited-claims', 'mac-changes-rate-limited']) add(`${hop}/${leaf}`, state[hop]?.['next-hop']?.[leaf]);
  }
  for (const [leaf, v] of Object.entries(state['key-manager'] ?? {})) {
    if (leaf.endsWith('errors') || leaf.endsWith('ratelimited') || leaf === 'negotiations-expired') add(`key-manager/${leaf}`, v);
  }
  for (const sa of state.sa ?? []) {
    for (const leaf of SA_ERRORS) if (sa[leaf] !== undefined) add(`route ${sa.route}/${leaf}`, sa[leaf]);
  }
  // Kept per route (over its SAs past and present), so it survives rekeys.
  for (const route of state.route ?? []) add(`route ${route.id}/inbound-policy-errors`, route['inbound-policy-errors']);
  for (const l of state['management-listener'] ?? []) {
    for (const leaf of ['connections-refused', 'connections-timed-out', 'requests-failed']) add(`listener ${l.name}/${leaf}`, l[leaf]);
  }
  return out;
}

interface Rate { 'packets-per-second': number; 'bits-per-second': number }
interface NextHop { address: string | null; resolved: boolean; mac: string | null }

/**
 * Data-plane mode: where an SA's sequence numbers stand (a peer's must
 * agree: ESN, the next number it expects), and how far outbound ones are
 * reserved on disk. Numbers as the state gives them (64-bit: strings).
 */
interface SequenceNumbers {
  direction: string;
  route: string;
  queue: number;
  spi: number;
  esn: boolean;
  /** Outbound: the next number to send (null: exhausted); inbound: the top of the replay window (null: unknown). */
  at: string | number | null;
  /** Outbound: reserved on disk up to this number. */
  'reserved-sequence': string | number | null;
}

/**
 * A route's peer, like `wg show` shows one (key-manager mode): where, when
 * last heard from, alive or not (who: the route's `peer`). Times are ISO
 * 8601 (null: never).
 */
interface PeerState {
  /** address:port per queue ([v6]:port), and whether it was learned (NAT traversal) or configured. */
  /** nat-detected: present for public-key routes with an active outbound SA (route/peer-endpoint/nat-detected). */
  endpoints: { queue: number; endpoint: string; learned: boolean; 'nat-detected'?: boolean }[];
  /** null: the gateway does not report it (data-plane mode). */
  up: boolean | null;
  'down-since': string | null;
  'last-handshake': string | null;
  'last-received': string | null;
  'liveness-probes': { sent: number; failed: number };
  /** Every peer of the route told us it drains (vitesse drain there); absent: not reported. */
  draining?: boolean;
  /** Octets each way over all the route's SAs, past and present. */
  bytes: { inbound: number; outbound: number };
  /** A route with several peers: each one (route/peer), with whether flows may go through it. */
  peers?: { peer: string; usable: boolean; draining?: boolean; up: boolean | null; 'down-since': string | null; endpoints: PeerState['endpoints'] }[];
}

/** One SA of a route: its age (seconds), traffic and sequence number (outbound: next to send; inbound: window top). */
interface RouteSa {
  direction: string;
  queue: number;
  spi: number;
  age: number | null;
  packets: number;
  bytes: number;
  sequence: string | null;
}

/** What `vitesse status` shows, as data: `--json` prints it, the text is made from it (docs/api.md §5). */
export interface StatusReport {
  gateway: string;
  mode: string;
  queues: number;
  /** Seconds between the two readings; 0: one reading, no rates. */
  'sample-seconds': number;
  'next-hops': { private: NextHop | null; public: NextHop | null };
  routes: {
    id: string;
    net: string;
    sas: { inbound: number; outbound: number };
    /** Per outbound SA, seconds since it was installed (null if unknown). */
    'outbound-sa-ages': (number | null)[];
    /** Encrypted (outbound) and decrypted (inbound) traffic; only with a sample. */
    traffic?: { outbound: Rate; inbound: Rate };
    /** The peer's public key (base64), "psk" for a route authenticated by its pre-shared key alone, "-" in data-plane mode. */
    peer: string;
    /** The route's key-exchange protocol (its `protocol` leaf: "vitesse-ske" or "vita-ske-v5"), "-" in data-plane mode. */
    protocol: string;
    /** Key-manager mode: the route's peer's endpoint and liveness. */
    'peer-state'?: PeerState;
    /** The route's SAs now. */
    'sa-list': RouteSa[];
  }[];
  /** Data-plane mode, with SAs: each SA's sequence numbers. */
  'sequence-numbers'?: SequenceNumbers[];
  /** Frames and bits received and sent per interface; only with a sample. */
  interfaces?: { private: { rx: Rate; tx: Rate }; public: { rx: Rate; tx: Rate } };
  /** Every error or drop counter that is not zero. */
  errors: { counter: string; 'since-start': number; 'during-sample'?: number }[];
}

/** The report of one gateway from its configuration and two readings of its state `seconds` apart. */
export function statusReport(name: string, config: Json, before: Json, after: Json, seconds: number): StatusReport {
  const routes: Json[] = config.route ?? [];
  const hop = (side: string): NextHop | null => {
    const h = after[`${side}-next-hop`]?.['next-hop'];
    return h ? { address: h.address ?? null, resolved: Boolean(h.resolved), mac: h.mac ?? null } : null;
  };
  const sas: Json[] = after.sa ?? [];
  const earlier = new Map<string, Json>((before.sa ?? []).map((sa: Json) => [saKey(sa), sa]));
  const perSecond = (sa: Json, field: string) => {
    const b = earlier.get(saKey(sa));
    return b && seconds > 0 ? Math.max(0, n(sa[field]) - n(b[field])) / seconds : 0;
  };
  const traffic = (list: Json[]): Rate => ({
    'packets-per-second': list.reduce((a, sa) => a + perSecond(sa, 'packets'), 0),
    'bits-per-second': list.reduce((a, sa) => a + perSecond(sa, 'bytes'), 0) * 8,
  });
  const iface = (side: string) => {
    const d = (leaf: string) => Math.max(0, n(after[`${side}-interface`]?.[leaf]) - n(before[`${side}-interface`]?.[leaf])) / seconds;
    return {
      rx: { 'packets-per-second': d('rx-packets'), 'bits-per-second': d('rx-bytes') * 8 },
      tx: { 'packets-per-second': d('tx-packets'), 'bits-per-second': d('tx-bytes') * 8 },
    };
  };
  const errorsBefore = errorCounters(before);
  return {
    gateway: name,
    mode: String(after.mode),
    queues: n(config.queues ?? 1),
    'sample-seconds': seconds,
    'next-hops': { private: hop('private'), public: hop('public') },
    routes: routes.map((r) => {
      const mine = sas.filter((sa) => sa.route === r.id);
      const inbound = mine.filter((sa) => sa.direction === 'inbound');
      const outbound = mine.filter((sa) => sa.direction === 'outbound');
      const state: Json | undefined = (after.route ?? []).find((x: Json) => x.id === r.id);
      return {
        id: String(r.id),
        net: String(r.net),
        sas: { inbound: inbound.length, outbound: outbound.length },
        'outbound-sa-ages': outbound.map((sa) => (sa.age === undefined ? null : n(sa.age))),
        ...(seconds > 0 ? { traffic: { outbound: traffic(outbound), inbound: traffic(inbound) } } : {}),
        peer: state?.['peer-public-key'] ?? (after.mode === 'data-plane' ? '-' : 'psk'),
        // The configuration may leave the default out.
        protocol: after.mode === 'data-plane' ? '-' : String(r.protocol ?? 'vitesse-ske'),
        ...(state && state['peer-up'] !== undefined ? { 'peer-state': peerState(state) } : {}),
        'sa-list': mine.map((sa): RouteSa => ({
          direction: String(sa.direction),
          queue: n(sa.queue),
          spi: n(sa.spi),
          age: sa.age === undefined ? null : n(sa.age),
          packets: n(sa.packets),
          bytes: n(sa.bytes),
          sequence: (sa.direction === 'outbound' ? sa['next-sequence'] : sa['window-top']) ?? null,
        })),
      };
    }),
    ...(after.mode === 'data-plane' && sas.length ? {
      'sequence-numbers': sas.map((sa): SequenceNumbers => ({
        direction: String(sa.direction),
        route: String(sa.route),
        queue: n(sa.queue),
        spi: n(sa.spi),
        esn: sa.esn !== false,
        at: (sa.direction === 'outbound' ? sa['next-sequence'] : sa['window-top']) ?? null,
        'reserved-sequence': sa['reserved-sequence'] ?? null,
      })),
    } : {}),
    ...(seconds > 0 ? { interfaces: { private: iface('private'), public: iface('public') } } : {}),
    errors: [...errorCounters(after)].filter(([, v]) => v > 0).map(([counter, v]) => ({
      counter,
      'since-start': v,
      ...(seconds > 0 ? { 'during-sample': Math.max(0, v - (errorsBefore.get(counter) ?? 0)) } : {}),
    })),
  };
}

function peerState(state: Json): PeerState {
  const endpoint = (e: Json) => `${String(e.address).includes(':') ? `[${e.address}]` : e.address}:${e.port}`;
  return {
    endpoints: (state['peer-endpoint'] ?? []).map((e: Json) => ({
      queue: n(e.queue), endpoint: endpoint(e), learned: e.learned === true,
      ...(typeof e['nat-detected'] === 'boolean' ? { 'nat-detected': e['nat-detected'] } : {}),
    })),
    up: typeof state['peer-up'] === 'boolean' ? state['peer-up'] : null,
    'down-since': state['peer-down-since'] ?? null,
    'last-handshake': state['last-handshake'] ?? null,
    'last-received': state['last-received'] ?? null,
    'liveness-probes': { sent: n(state['liveness-probes-sent']), failed: n(state['liveness-probes-failed']) },
    bytes: { inbound: n(state['inbound-bytes']), outbound: n(state['outbound-bytes']) },
    ...(typeof state['peer-draining'] === 'boolean' ? { draining: state['peer-draining'] } : {}),
    ...(Array.isArray(state.peer) ? {
      peers: state.peer.map((x: Json) => ({
        peer: String(x['public-key']), usable: x.usable === true, ...(typeof x['peer-draining'] === 'boolean' ? { draining: x['peer-draining'] } : {}),
        up: typeof x['peer-up'] === 'boolean' ? x['peer-up'] : null,
        'down-since': x['peer-down-since'] ?? null,
        endpoints: (x['peer-endpoint'] ?? []).map((e: Json) => ({ queue: n(e.queue), endpoint: endpoint(e), learned: e.learned === true })),
      })),
    } : {}),
  };
}

/** "12 s ago", "3 min ago", or "never". */
function ago(iso: string | null, now: number): string {
  if (iso === null) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function octets(v: number): string {
  return rate(v, 'B');
}

/** The routes' peers, like `wg show`: one block per route. */
function peerBlocks(report: StatusReport, now: number): string[] {
  const lines: string[] = [];
  for (const r of report.routes) {
    // (Data-plane mode has no peer state; its SAs are in the sequence-number table.)
    if (!r['peer-state']) continue;
    lines.push(`route ${r.id} (${r.net})`);
    const p = r['peer-state'];
    lines.push(`  peer: ${r.peer}`);
    for (const e of p.endpoints) {
      const notes = [...(e.learned ? ['learned'] : []), ...(e['nat-detected'] === undefined ? [] : [e['nat-detected'] ? 'NAT detected' : 'no NAT'])];
      lines.push(`  endpoint${p.endpoints.length > 1 ? ` (queue ${e.queue})` : ''}: ${e.endpoint}${notes.length ? ` (${notes.join(', ')})` : ''}`);
    }
    const status = p.up === null ? 'unknown' : p.up ? 'up' : p['down-since'] ? `down since ${p['down-since']} (${ago(p['down-since'], now)})` : 'down (never heard from)';
    lines.push(`  peer status: ${status}${p.draining ? ', draining (vitesse drain at the peer): not announced' : ''}`);
    lines.push(`  latest handshake: ${ago(p['last-handshake'], now)}`);
    lines.push(`  key exchange: ${r.protocol}`);
    lines.push(`  last received: ${ago(p['last-received'], now)}`);
    lines.push(`  liveness probes: ${p['liveness-probes'].sent} sent, ${p['liveness-probes'].failed} failed`);
    // Several peers: each one, and whether the route's flows go through it.
    for (const x of p.peers ?? []) {
      const st = x.up === null ? 'unknown' : x.up ? 'up' : x['down-since'] ? `down since ${x['down-since']} (${ago(x['down-since'], now)})` : 'down (never heard from)';
      lines.push(`  peer ${x.peer}: ${st}, ${x.usable ? 'carries flows' : x.draining ? 'no flows (draining)' : 'no flows (down or draining)'}, endpoint ${x.endpoints.map((e) => e.endpoint).join(', ') || '-'}`);
    }
    lines.push(`  transfer: ${octets(p.bytes.inbound)} received, ${octets(p.bytes.outbound)} sent`);
    for (const sa of r['sa-list']) {
      const seq = sa.sequence === null ? '' : `, ${sa.direction === 'outbound' ? 'next sequence' : 'window top'} ${sa.sequence}`;
      lines.push(`  ${sa.direction} SA ${sa.spi} (queue ${sa.queue}): age ${sa.age === null ? '?' : `${sa.age} s`}, ${sa.packets} packets, ${octets(sa.bytes)}${seq}`);
    }
    lines.push('');
  }
  return lines;
}

/** The report as text for a human. */
export function summarise(report: StatusReport, now = Date.now()): string {
  const lines: string[] = [];
  const { routes, queues } = report;
  const seconds = report['sample-seconds'];
  lines.push(`gateway ${report.gateway}: ${report.mode} mode, ${queues} queue${queues === 1 ? '' : 's'}, ${routes.length} route${routes.length === 1 ? '' : 's'}`);
  const hop = (side: 'private' | 'public') => {
    const h = report['next-hops'][side];
    if (!h) return `${side} -`;
    return `${side} ${h.address ?? '?'} ${h.resolved ? `→ ${h.mac}` : 'unresolved'}`;
  };
  lines.push(`next hops: ${hop('private')}, ${hop('public')}`);
  lines.push('');

  const traffic = (r: Rate) => `${rate(r['packets-per-second'], 'pkt/s')} ${rate(r['bits-per-second'], 'bit/s')}`;
  if (routes.length) {
    const rows = [['ROUTE', 'NET', 'SAS IN/OUT', 'OUTBOUND SA AGE', ...(seconds > 0 ? ['OUT', 'IN'] : [])]];
    for (const r of routes) {
      const ages = r['outbound-sa-ages'].map((age) => (age === null ? '?' : `${age} s`)).join(', ') || (report.mode === 'key-manager' ? 'none (negotiating)' : 'none');
      rows.push([r.id, r.net, `${r.sas.inbound}/${r.sas.outbound}`, ages, ...(r.traffic ? [traffic(r.traffic.outbound), traffic(r.traffic.inbound)] : [])]);
    }
    lines.push('routes:', table(rows), '');
  } else {
    lines.push('routes: none', '');
  }
  lines.push(...peerBlocks(report, now));

  if (report['sequence-numbers']) {
    const rows = [['SA', 'ROUTE', 'QUEUE', 'SPI', 'ESN', 'NEXT OUT / TOP IN', 'RESERVED TO']];
    for (const sa of report['sequence-numbers']) {
      const at = sa.at ?? (sa.direction === 'outbound' ? 'exhausted' : '?');
      rows.push([sa.direction, sa.route, String(sa.queue), String(sa.spi), sa.esn ? 'yes' : 'no', String(at), sa['reserved-sequence'] === null ? '-' : String(sa['reserved-sequence'])]);
    }
    lines.push('sequence numbers:', table(rows), '');
  }

  if (report.interfaces) {
    const rows = [['INTERFACE', 'RX', '', 'TX', '']];
    for (const side of ['private', 'public'] as const) {
      const { rx, tx } = report.interfaces[side];
      rows.push([side, rate(rx['packets-per-second'], 'pkt/s'), rate(rx['bits-per-second'], 'bit/s'), rate(tx['packets-per-second'], 'pkt/s'), rate(tx['bits-per-second'], 'bit/s')]);
    }
    lines.push(`traffic (over ${seconds} s):`, table(rows), '');
  }

  if (report.errors.length) {
    const rows = [['COUNTER', 'SINCE START', ...(seconds > 0 ? [`LAST ${seconds} S`] : [])]];
    for (const e of report.errors) rows.push([e.counter, String(e['since-start']), ...(e['during-sample'] !== undefined ? [`+${e['during-sample']}`] : [])]);
    lines.push('errors:', table(rows));
  } else {
    lines.push('errors: none');
  }
  return lines.join('\n') + '\n';
}

export const statusCommand: Command = {
  summary: 'summarise a running gateway: routes, SAs, rates, errors',
  async run(argv) {
    const { options, positional } = parseArgs(argv, spec);
    if (options.help) {
      process.stdout.write(HELP);
      return EXIT.ok;
    }
    if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
    const seconds = Number(options.sample);
    if (!(seconds >= 0 && seconds <= 3600)) throw new UsageError(`--sample: ${options.sample} is not 0..3600 seconds`);
    const target = apiTarget(options);
    const name = options.name !== undefined ? String(options.name) : 'socket' in target ? target.socket : target.url;
    return talk('status', target, async (client) => {
      const config = ((await client.get(GATEWAY)) as Json)[qualified('gateway')] as Json;
      const before = ((await client.get(STATE)) as Json)[qualified('gateway-state')] as Json;
      let after = before;
      if (seconds > 0) {
        await new Promise((r) => setTimeout(r, seconds * 1000));
        after = ((await client.get(STATE)) as Json)[qualified('gateway-state')] as Json;
      }
      const report = statusReport(name, config, before, after, seconds);
      process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : summarise(report));
    });
  },
};
