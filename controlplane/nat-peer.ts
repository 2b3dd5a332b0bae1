// Public-key peers behind NAT (a `peer` without endpoint) between the key
// manager and the data plane. The data plane's route needs an outer
// destination per queue: until the key manager has learned the peer's
// endpoint from an authenticated key-exchange message it is the unspecified
// address (nothing is sent to a peer nobody has heard from: docs/key-exchange.md,
// "Peers behind NAT"); once learned, the route's remote is that address, and
// the data plane's own learning from authenticated ESP takes over from there.
// The other way round, what the data plane learned from ESP is handed to the
// key manager, whose own sends (rekeys, probes) follow it.
import type { RouteConfig } from './config/types.js';
import type { Endpoint, QueueNumber, RouteId } from './exchange/types.js';
import type { KeyManager } from './keymanager.js';

export interface NatRemotes {
  /** The key manager learned `route`'s peer on `queue` at `at` from a key-exchange message. */
  learned(route: RouteId, queue: QueueNumber, at: Endpoint): boolean;
  /** The data plane route's outer destinations, one per queue (`queues` in order). */
  remotes(r: RouteConfig, queues: readonly { id: QueueNumber; address: string }[]): string[];
}

export function natRemotes(): NatRemotes {
  const known = new Map<string, string>(); // `route/queue` → address
  return {
    learned(route, queue, at) {
      const k = `${route}/${queue}`;
      if (known.get(k) === at.address) return false;
      known.set(k, at.address);
      return true;
    },
    remotes(r, queues) {
      if (r.gateways.length) return r.gateways.map((g) => g.address);
      return queues.map((q) => known.get(`${r.id}/${q.id}`) ?? (q.address.includes(':') ? '::' : '0.0.0.0'));
    },
  };
}

const natPeers = new WeakMap<object, boolean>();

/** Whether a configuration has a peer without endpoint (read on every poll: once per configuration). */
export function hasNatPeers(config: { routes: readonly RouteConfig[] }): boolean {
  let has = natPeers.get(config);
  if (has === undefined) natPeers.set(config, (has = config.routes.some((r) => r.peer !== null && !r.gateways.length)));
  return has;
}

/** Hands the data plane's endpoints learned from ESP to the key manager (routes without a configured endpoint only). */
export function syncEndpoints(km: KeyManager, learned: readonly { route: string; queue: number; address?: string; port?: number; learned: boolean }[]): void {
  for (const e of learned) {
    if (e.learned && e.address && e.port) km.peerEndpoint(e.route as RouteId, e.queue as QueueNumber, { address: e.address, port: e.port });
  }
}
