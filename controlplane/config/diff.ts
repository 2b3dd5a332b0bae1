// What changed between two valid configurations, so that a change is applied
// as a delta: the key manager keeps the SAs of unchanged routes and they lose
// no packet (DESIGN.md §5).
//
// A route is unchanged when every parameter is equal: net, gateways, spi,
// pre-shared key, aead, and also the public address of each of its queues,
// because its key exchanges and SAs are bound to the addresses of both ends.
// Whether a changed global setting disturbs running SAs is the consumer's
// call (a new replay-window, for instance, applies to SAs installed after it).
import crypto from 'node:crypto';
import { TOP } from './defaults.js';
import { toJson } from './json.js';
import type { GatewayConfig, QueueNumber, RouteConfig, RouteId, SaConfig, Spi } from './types.js';

export type Mode = 'key-manager' | 'data-plane';

export interface Changes<K> {
  added: K[];
  removed: K[];
  changed: K[];
}

export interface OutboundSaKey {
  route: RouteId;
  queue: QueueNumber;
}

export interface ConfigDiff {
  /**
   * Global settings whose values differ, as paths below the gateway
   * container in model order, e.g. "mtu", "private-interface/next-hop/mac",
   * "public-interface/queue[id='2']/address".
   */
  settings: string[];
  /** Set when the configuration moves between key-manager and data-plane mode. */
  mode: { from: Mode; to: Mode } | null;
  routes: Changes<RouteId> & { unchanged: RouteId[] };
  /** Explicit SAs (data-plane mode), by SPI. */
  inboundSas: Changes<Spi>;
  /** Explicit SAs (data-plane mode), by route and queue. */
  outboundSas: Changes<OutboundSaKey>;
  /** True if nothing at all differs. */
  empty: boolean;
}

function sameSecret(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function publicAddress(c: GatewayConfig, queue: number): string | undefined {
  return c.publicInterface.queues.find((q) => q.id === queue)?.address;
}

function sameRoute(a: RouteConfig, b: RouteConfig, oldConfig: GatewayConfig, newConfig: GatewayConfig): boolean {
  return a.net === b.net
    && a.aead === b.aead
    && a.natTraversal === b.natTraversal
    && a.protocol === b.protocol
    && a.spi === b.spi
    && a.gateways.length === b.gateways.length
    && a.gateways.every((g, i) => g.queue === b.gateways[i].queue
      && g.address === b.gateways[i].address
      && publicAddress(oldConfig, g.queue) === publicAddress(newConfig, g.queue))
    && a.livenessInterval === b.livenessInterval
    && a.livenessFailures === b.livenessFailures
    && sameSecret(a.presharedKey, b.presharedKey)
    && samePeer(a.peer, b.peer)
    && (a.peers?.length ?? 0) === (b.peers?.length ?? 0)
    && (a.peers ?? []).every((p, i) => samePeer(p, b.peers![i]) && p.endpoints.every((e, j) => e.address === b.peers![i].endpoints[j].address));
}

function samePeer(a: RouteConfig['peer'], b: RouteConfig['peer']): boolean {
  if (a === null || b === null) return a === b;
  return a.publicKey.equals(b.publicKey)
    && a.presharedKeyFile === b.presharedKeyFile
    && a.endpoints.length === b.endpoints.length
    && a.endpoints.every((e, i) => e.port === b.endpoints[i].port);
}

function sameSa(a: SaConfig, b: SaConfig): boolean {
  return a.route === b.route && a.queue === b.queue && a.spi === b.spi && a.aead === b.aead
    && sameSecret(a.key, b.key) && sameSecret(a.salt, b.salt)
    && a.esn === b.esn && a.initialSequence === b.initialSequence;
}

function compare<T, K>(before: readonly T[], after: readonly T[], key: (t: T) => string, name: (t: T) => K, same: (a: T, b: T) => boolean): Changes<K> & { unchanged: K[] } {
  const old = new Map(before.map((t) => [key(t), t]));
  const now = new Map(after.map((t) => [key(t), t]));
  const out: Changes<K> & { unchanged: K[] } = { added: [], removed: [], changed: [], unchanged: [] };
  for (const [k, t] of now) {
    const o = old.get(k);
    if (!o) out.added.push(name(t));
    else if (same(o, t)) out.unchanged.push(name(t));
    else out.changed.push(name(t));
  }
  for (const [k, t] of old) if (!now.has(k)) out.removed.push(name(t));
  return out;
}

/** Leaf paths and values of the global settings (everything but routes and SAs). */
function settingsOf(c: GatewayConfig): Map<string, string> {
  // Routes and SAs are compared by key below: not serialized here (20,000 routes made this the slowest part of a diff).
  const { route: _routes, 'data-plane': _sas, ...rest } = toJson({ ...c, routes: [], dataPlane: null })[TOP] as Record<string, unknown>;
  const out = new Map<string, string>();
  const walk = (json: unknown, path: string) => {
    if (Array.isArray(json) && json.every((e) => typeof e === 'object' && e !== null)) {
      // The one list among the settings: public-interface/queue, keyed by id.
      for (const e of json as Array<Record<string, unknown>>) {
        const { id, ...leaves } = e;
        walk(leaves, `${path}[id='${String(id)}']`);
      }
    } else if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
      for (const [k, v] of Object.entries(json)) walk(v, path ? `${path}/${k}` : k);
    } else {
      out.set(path, JSON.stringify(json));
    }
  };
  walk(rest, '');
  return out;
}

export function diffConfig(before: GatewayConfig, after: GatewayConfig): ConfigDiff {
  const old = settingsOf(before);
  const now = settingsOf(after);
  const settings = [...now.keys(), ...[...old.keys()].filter((k) => !now.has(k))].filter((k) => old.get(k) !== now.get(k));
  const modeOf = (c: GatewayConfig): Mode => (c.dataPlane ? 'data-plane' : 'key-manager');
  const mode = modeOf(before) === modeOf(after) ? null : { from: modeOf(before), to: modeOf(after) };
  const routes = compare(before.routes, after.routes, (r) => r.id, (r) => r.id, (a, b) => sameRoute(a, b, before, after));
  const inbound = compare(before.dataPlane?.inboundSas ?? [], after.dataPlane?.inboundSas ?? [], (s) => String(s.spi), (s) => s.spi, sameSa);
  const outbound = compare(
    before.dataPlane?.outboundSas ?? [], after.dataPlane?.outboundSas ?? [],
    (s) => `${s.route}\u0000${s.queue}`, (s): OutboundSaKey => ({ route: s.route, queue: s.queue }), sameSa,
  );
  const strip = <K>({ added, removed, changed }: Changes<K>): Changes<K> => ({ added, removed, changed });
  const diff: ConfigDiff = {
    settings,
    mode,
    routes,
    inboundSas: strip(inbound),
    outboundSas: strip(outbound),
    empty: false,
  };
  diff.empty = !settings.length && !mode
    && [routes, inbound, outbound].every((c) => !c.added.length && !c.removed.length && !c.changed.length);
  return diff;
}
