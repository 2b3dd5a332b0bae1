// `vitesse status --name NAME`: a human summary of a running gateway, from
// its management API: routes and their SAs (ages), packet and bit rates over
// a short sample, next hops, and every error counter that is not zero (with
// how much it grew during the sample). Exit codes as `vitesse config`.
import type { Command } from '../cli.js';
import { parseArgs, usageText, UsageError } from '../cli/args.js';
import { qualified } from '../api/schema.js';
import { EXIT, apiTarget, connectionSpec, talk } from './config.js';

const spec = {
  ...connectionSpec,
  sample: { type: 'number', default: 1, help: 'seconds between the two readings rates are computed from (0: no rates)' },
  help: { type: 'boolean' },
} as const;

const HELP = `usage: vitesse status --name NAME [--sample SECONDS]

Summarises a running gateway: its routes with their SAs (count and age)
and traffic rates, in data-plane mode each SA's sequence numbers (next
outbound, inbound window top, reserved on disk), the interfaces' rates, the
next hops, and every error counter that is not zero (with its growth during
the sample).

${usageText(spec)}

exit codes: 0 done, 1 the gateway refused or failed, 2 usage error, 3 the
gateway cannot be reached.

examples:
  vitesse status --name site-a
  vitesse status --name site-a --sample 5
  vitesse status --socket /run/vitesse/site-a.sock --sample 0
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

/** Every error or drop counter of the state, by a readable name. */
function errorCounters(state: Json): Map<string, number> {
  const out = new Map<string, number>();
  const add = (name: string, v: unknown) => { if (v !== undefined) out.set(name, (out.get(name) ?? 0) + n(v)); };
  for (const iface of ['private-interface', 'public-interface']) {
    for (const leaf of ['rx-errors', 'rx-drops', 'tx-drops', 'tx-errors']) add(`${iface}/${leaf}`, state[iface]?.[leaf]);
  }
  for (const router of ['private-router', 'public-router']) {
    for (const [leaf, v] of Object.entries(state[router] ?? {})) add(`${router}/${leaf}`, v);
  }
  for (const hop of ['private-next-hop', 'public-next-hop']) {
    for (const leaf of ['drops', 'unsolicited-claims', 'mac-changes-rate-limited']) add(`${hop}/${leaf}`, state[hop]?.['next-hop']?.[leaf]);
  }
  for (const [leaf, v] of Object.entries(state['key-manager'] ?? {})) {
    if (leaf.endsWith('errors') || leaf === 'ratelimited' || leaf === 'negotiations-expired') add(`key-manager/${leaf}`, v);
  }
  for (const sa of state.sa ?? []) {
    for (const leaf of ['decrypt-errors', 'replay-errors', 'protocol-errors', 'sequence-unreserved-errors']) if (sa[leaf] !== undefined) add(`route ${sa.route}/${leaf}`, sa[leaf]);
  }
  return out;
}

/**
 * Data-plane mode: where each SA's sequence numbers stand (a peer's must
 * agree: ESN, the next number it expects), and how far outbound ones are
 * reserved on disk.
 */
function sequenceTable(sas: Json[]): string {
  const rows = [['SA', 'ROUTE', 'QUEUE', 'SPI', 'ESN', 'NEXT OUT / TOP IN', 'RESERVED TO']];
  for (const sa of sas) {
    const at = sa.direction === 'outbound' ? sa['next-sequence'] ?? 'exhausted' : sa['window-top'] ?? '?';
    rows.push([sa.direction, sa.route, String(sa.queue), String(sa.spi), sa.esn === false ? 'no' : 'yes', String(at), sa['reserved-sequence'] ?? '-']);
  }
  return table(rows);
}

export function summarise(name: string, config: Json, before: Json, after: Json, seconds: number): string {
  const lines: string[] = [];
  const routes: Json[] = config.route ?? [];
  const queues = n(config.queues ?? 1);
  lines.push(`gateway ${name}: ${after.mode} mode, ${queues} queue${queues === 1 ? '' : 's'}, ${routes.length} route${routes.length === 1 ? '' : 's'}`);
  const hop = (side: string) => {
    const h = after[`${side}-next-hop`]?.['next-hop'];
    if (!h) return `${side} -`;
    return `${side} ${h.address ?? '?'} ${h.resolved ? `→ ${h.mac}` : 'unresolved'}`;
  };
  lines.push(`next hops: ${hop('private')}, ${hop('public')}`);
  lines.push('');

  const sas: Json[] = after.sa ?? [];
  const earlier = new Map<string, Json>((before.sa ?? []).map((sa: Json) => [saKey(sa), sa]));
  const perSecond = (sa: Json, field: string) => {
    const b = earlier.get(saKey(sa));
    return b && seconds > 0 ? Math.max(0, n(sa[field]) - n(b[field])) / seconds : 0;
  };
  if (routes.length) {
    const rows = [['ROUTE', 'NET', 'SAS IN/OUT', 'OUTBOUND SA AGE', ...(seconds > 0 ? ['OUT', 'IN'] : [])]];
    for (const r of routes) {
      const mine = sas.filter((sa) => sa.route === r.id);
      const inbound = mine.filter((sa) => sa.direction === 'inbound');
      const outbound = mine.filter((sa) => sa.direction === 'outbound');
      const ages = outbound.map((sa) => (sa.age === undefined ? '?' : `${sa.age} s`)).join(', ') || (after.mode === 'key-manager' ? 'none (negotiating)' : 'none');
      const traffic = (list: Json[]) => {
        const pps = list.reduce((a, sa) => a + perSecond(sa, 'packets'), 0);
        const bps = list.reduce((a, sa) => a + perSecond(sa, 'bytes'), 0) * 8;
        return `${rate(pps, 'pkt/s')} ${rate(bps, 'bit/s')}`;
      };
      rows.push([r.id, r.net, `${inbound.length}/${outbound.length}`, ages, ...(seconds > 0 ? [traffic(outbound), traffic(inbound)] : [])]);
    }
    lines.push('routes:', table(rows), '');
  } else {
    lines.push('routes: none', '');
  }

  if (after.mode === 'data-plane' && sas.length) lines.push('sequence numbers:', sequenceTable(sas), '');

  if (seconds > 0) {
    const rows = [['INTERFACE', 'RX', '', 'TX', '']];
    for (const iface of ['private-interface', 'public-interface']) {
      const d = (leaf: string) => Math.max(0, n(after[iface]?.[leaf]) - n(before[iface]?.[leaf])) / seconds;
      rows.push([iface.replace('-interface', ''), rate(d('rx-packets'), 'pkt/s'), rate(d('rx-bytes') * 8, 'bit/s'), rate(d('tx-packets'), 'pkt/s'), rate(d('tx-bytes') * 8, 'bit/s')]);
    }
    lines.push(`traffic (over ${seconds} s):`, table(rows), '');
  }

  const errorsBefore = errorCounters(before);
  const errors = [...errorCounters(after)].filter(([, v]) => v > 0);
  if (errors.length) {
    const rows = [['COUNTER', 'SINCE START', ...(seconds > 0 ? [`LAST ${seconds} S`] : [])]];
    for (const [counter, v] of errors) rows.push([counter, String(v), ...(seconds > 0 ? [`+${Math.max(0, v - (errorsBefore.get(counter) ?? 0))}`] : [])]);
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
      process.stdout.write(summarise(name, config, before, after, seconds));
    });
  },
};
