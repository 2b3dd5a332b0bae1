// Where datagrams go missing in the scale-out lab (docs/scale-out.md,
// "Limits"): every counter that can explain a lost datagram, from every
// namespace and gateway, so that a phase's loss can be set against them.
//
//   namespaces  /proc/net/snmp and /proc/net/netstat (Ip, Udp, IpExt, TcpExt:
//               RcvbufErrors, SndbufErrors, InDiscards, OutNoRoutes, ...), and
//               `ip -s link` rx/tx dropped per interface
//   gateways    their state's drops by reason, interface ring drops, punt/inject
//               drops (every numeric leaf outside lists)
//   neighbours  each namespace's neighbour table with its probes (FAILED or
//               INCOMPLETE is where the kernel drops what it queued beyond
//               unres_qlen_bytes; its count of those, /proc/net/stat/arp_cache,
//               is one for all namespaces, so useless on a shared machine)
//
// `delta(before, after)` keeps the counters that moved and that name a
// drop, an error or a failure.
import { ApiClient } from '../controlplane/api/client.js';
import type { Lab } from '../controlplane/demo/lab.js';

export type Counters = Record<string, number>;

export interface Snapshot {
  counters: Counters;
  /** How many counters each namespace and gateway gave (a gateway that gave none was not running). */
  read: Record<string, number>;
  neighbours: Record<string, string[]>;
}

function snmp(text: string, into: Counters, ns: string): void {
  const lines = text.split('\n').filter((l) => l.includes(':'));
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [group, ...names] = lines[i].trim().split(/\s+/);
    const values = lines[i + 1].trim().split(/\s+/).slice(1);
    names.forEach((n, k) => {
      const v = Number(values[k]);
      if (Number.isFinite(v)) into[`${ns}/${group.replace(/:$/, '')}${n}`] = v;
    });
  }
}

function flatten(prefix: string, v: unknown, into: Counters): void {
  if (Array.isArray(v)) return;
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flatten(`${prefix}/${k.replace(/^vitesse-gateway:/, '')}`, x, into);
    return;
  }
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (Number.isFinite(n)) into[prefix] = n;
}

/** Namespaces by name (hostA, rA, ...), gateways' API sockets by name. */
export async function snapshot(lab: Lab, ns: Record<string, string>, sockets: Record<string, string>): Promise<Snapshot> {
  const counters: Counters = {};
  const neighbours: Record<string, string[]> = {};
  const read: Record<string, number> = {};
  await Promise.all(Object.entries(ns).map(async ([name, n]) => {
    snmp(await lab.execAsync(n, ['cat', '/proc/net/snmp', '/proc/net/netstat']), counters, name);
    const links = JSON.parse(await lab.execAsync(n, ['ip', '-s', '-j', 'link', 'show'])) as Array<{ ifname: string; stats64?: { rx: Record<string, number>; tx: Record<string, number> } }>;
    for (const l of links) {
      if (!l.stats64) continue;
      counters[`${name}/${l.ifname}/rx_dropped`] = l.stats64.rx.dropped;
      counters[`${name}/${l.ifname}/tx_dropped`] = l.stats64.tx.dropped;
      counters[`${name}/${l.ifname}/rx_errors`] = l.stats64.rx.errors;
    }
    const neigh = JSON.parse(await lab.execAsync(n, ['ip', '-s', '-j', 'neigh', 'show'])) as Array<{ dst: string; dev: string; state?: string[]; probes?: number }>;
    neighbours[name] = neigh.map((e) => `${e.dst} ${e.dev} ${(e.state ?? []).join(',')} probes ${e.probes ?? 0}`);
  }));
  await Promise.all(Object.entries(sockets).map(async ([g, socket]) => {
    try {
      const s = await new ApiClient({ socket }).get('/restconf/data/vitesse-gateway:gateway-state');
      const mine: Counters = {};
      flatten(g, s, mine);
      read[g] = Object.keys(mine).length;
      Object.assign(counters, mine);
    } catch {
      // A killed gateway has no state; its counters are simply absent.
    }
  }));
  return { counters, read, neighbours };
}

const LOSSY = /drop|err|fail|discard|noroute|overflow|prune|collapse|busy|unres/i;

/** The counters that moved between two snapshots and name a drop, error or failure. */
export function delta(before: Snapshot, after: Snapshot): Counters {
  const d: Counters = {};
  for (const [k, v] of Object.entries(after.counters)) {
    if (!LOSSY.test(k.split('/').at(-1)!)) continue;
    const was = before.counters[k];
    if (was === undefined) continue;
    if (v !== was) d[k] = v - was;
  }
  return d;
}
