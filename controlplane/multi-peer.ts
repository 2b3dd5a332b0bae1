// Routes with several peers (issue 13, docs/scale-out.md "Several peers per
// route"): each peer gateway the route lists is a pair of its own, with its
// own key exchange, SAs and liveness on every queue, and the data plane
// hashes the route's flows over the pairs that are usable. What the gateway
// needs to wire that, kept out of gateway.ts: the data plane's other pairs'
// gateways, the key manager's per-peer paths, and each pair's traffic for
// its liveness.
import { ROOT_PATH } from './config/defaults.js';
import type { GatewayConfig, PeerConfig, RouteConfig } from './config/types.js';
import type { SaTraffic } from './dataplane.js';
import type { TrafficReading } from './exchange/liveness.js';
import type { PeerPathConfig, QueuePathConfig, RouteId } from './exchange/types.js';

/** The route's peers when it has several (the first is also `peer`); empty otherwise. */
export function multiPeers(r: RouteConfig): readonly PeerConfig[] {
  return r.peers && r.peers.length > 1 ? r.peers : [];
}

/** The data plane's gateways of the route's pairs after the first (RouteSpec.pairGateways), or nothing for one peer. */
export function pairGateways(r: RouteConfig): { pairGateways?: string[][] } {
  const peers = multiPeers(r);
  return peers.length ? { pairGateways: peers.slice(1).map((p) => p.endpoints.map((e) => e.address)) } : {};
}

/** A peer's path on each of our queues, for the key manager. */
export function peerQueues(config: GatewayConfig, peer: PeerConfig): QueuePathConfig[] {
  return config.publicInterface.queues.map((q) => {
    const e = peer.endpoints.find((x) => x.queue === q.id) ?? peer.endpoints[0];
    return {
      queue: q.id,
      localAddress: q.address,
      ...(e ? { gatewayAddress: e.address } : {}),
      ...(e && e.port !== null ? { gatewayPort: e.port } : {}),
    };
  });
}

/** The key manager's `peers` of a route with several (each peer's psk file read by `file`). */
export function keyManagerPeers(
  config: GatewayConfig,
  r: RouteConfig,
  file: (path: string, at: string) => Buffer,
): { peers?: PeerPathConfig[] } {
  const peers = multiPeers(r);
  if (!peers.length) return {};
  return {
    peers: peers.map((p) => ({
      peerPublicKey: p.publicKey,
      ...(p.presharedKeyFile !== null
        ? { preSharedKey: file(p.presharedKeyFile, `${ROOT_PATH}/route[id='${r.id}']/peer[public-key='${p.publicKey.toString('base64')}']/preshared-key-file`) }
        : {}),
      queues: peerQueues(config, p),
    })),
  };
}

/**
 * Each pair's packets each way on each queue, from the live SAs' counters,
 * for the pair's liveness (a pair's counts fall when its SAs roll over:
 * liveness takes that as a new baseline).
 */
export function pairTraffic(routes: ReadonlySet<RouteId>, sas: readonly (SaTraffic & { pair?: number })[]): TrafficReading[] {
  const out = new Map<string, TrafficReading>();
  for (const sa of sas) {
    if (!routes.has(sa.route)) continue;
    const pair = sa.pair ?? 0;
    const k = `${sa.route}/${sa.queue}/${pair}`;
    let r = out.get(k);
    if (!r) out.set(k, (r = { route: sa.route, queue: sa.queue, pair, inbound: 0, outbound: 0 }));
    r[sa.direction] += sa.packets;
  }
  return [...out.values()];
}
