// Each route's peer as the operator sees it (state, metrics, `vitesse
// status`): is it up (exchange/liveness.ts), since when is it down, when did
// we last negotiate with it and last hear from it, how many liveness probes
// were sent and failed, and where it is (its endpoint per queue).
//
// Liveness is kept per exchange (a route on a queue); a route's peer is up
// while it is up on any queue, and down since the last queue lost it. In
// data-plane mode (no key manager) there is nothing to report.
//
// A route with several peers (docs/scale-out.md): each peer's own, under
// `peers` (the YANG list route/peer, keyed by its public key), with whether
// the data plane may send flows through it (usable); the route's own leaves
// are then over all its peers (up while any is), its endpoints the first
// peer's.
import type { Gateway } from './gateway.js';
import type { PeerConfig, RouteConfig } from './config/types.js';
import { exchangeKey, type QueueNumber, type RouteId } from './exchange/types.js';
import { multiPeers } from './multi-peer.js';

export interface PeerEndpoint {
  queue: QueueNumber;
  address: string;
  port: number;
  /** Learned from authenticated traffic (NAT traversal), rather than configured. */
  learned: boolean;
  /** Whether the negotiation of the active outbound SA saw a NAT (public-key routes; exchange/nat-detection.ts). */
  natDetected?: boolean;
}

export interface RoutePeer {
  peerUp: boolean;
  /** Wall-clock milliseconds; null while up (or never known to be up). */
  downSince: number | null;
  lastHandshake: number | null;
  lastReceived: number | null;
  probesSent: number;
  probesFailed: number;
  endpoints: PeerEndpoint[];
  /** A NAT seen on any queue (null: no detection yet, or a pre-shared-key route). */
  natDetected?: boolean | null;
  /** Every peer of the route told us it drains (exchange/drain-notices.ts). */
  draining?: boolean;
  /** A route with several peers: each one's (in the configuration's order). */
  peers?: PairPeer[];
}

/** One peer of a route with several. */
export interface PairPeer extends Omit<RoutePeer, 'peers'> {
  /** Base64, the key of route/peer. */
  publicKey: string;
  /** The data plane may send the route's flows through it (its peer not down, not set unusable). */
  usable: boolean;
}

const latest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** Every configured route's peer, by route id (empty in data-plane mode). */
export function routePeers(gw: Gateway): Map<RouteId, RoutePeer> {
  const out = new Map<RouteId, RoutePeer>();
  const km = gw.keymanager;
  if (!km) return out;
  // ESP in UDP: where the data plane learned the peer is (authenticated ESP), by route and queue.
  const learned = new Map(gw.dataplane.endpoints(true).filter((e) => e.learned).map((e) => [`${e.route}/${e.queue}`, e]));
  for (const r of gw.currentConfig.routes) {
    const multi = multiPeers(r);
    const pairs = multi.map((p, pair) => onePeer(gw, r, p, pair, learned));
    if (pairs.length) out.set(r.id, overPeers(pairs));
    else {
      const { publicKey: _key, usable: _usable, ...peer } = onePeer(gw, r, r.peer, 0, learned);
      out.set(r.id, peer);
    }
    out.get(r.id)!.draining = km.routeDraining(r.id);
  }
  return out;
}

// A route's peer over its pairs: up while any is.
function overPeers(pairs: PairPeer[]): RoutePeer {
  const up = pairs.some((p) => p.peerUp);
  return {
    peerUp: up,
    downSince: up ? null : pairs.reduce<number | null>((t, p) => latest(t, p.downSince), null),
    lastHandshake: pairs.reduce<number | null>((t, p) => latest(t, p.lastHandshake), null),
    lastReceived: pairs.reduce<number | null>((t, p) => latest(t, p.lastReceived), null),
    probesSent: pairs.reduce((n, p) => n + p.probesSent, 0),
    probesFailed: pairs.reduce((n, p) => n + p.probesFailed, 0),
    endpoints: pairs[0].endpoints,
    natDetected: pairs.reduce<boolean | null>((n, p) => (p.natDetected == null ? n : (n ?? false) || p.natDetected), null),
    peers: pairs,
  };
}

function onePeer(gw: Gateway, r: RouteConfig, who: PeerConfig | null, pair: number, learned: Map<string, { address?: string; port?: number }>): PairPeer {
  const km = gw.keymanager!;
  const config = gw.currentConfig;
  const peer: PairPeer = {
    publicKey: who ? who.publicKey.toString('base64') : '', usable: true,
    peerUp: false, downSince: null, lastHandshake: null, lastReceived: null, probesSent: 0, probesFailed: 0, endpoints: [], natDetected: null,
  };
  let allDown = true;
  for (const q of config.publicInterface.queues) {
    const s = km.liveness.snapshot(exchangeKey(r.id, q.id, pair));
    if (!s) continue;
    peer.peerUp ||= s.peerUp;
    if (s.downSince === null) allDown = false;
    else peer.downSince = latest(peer.downSince, s.downSince);
    peer.lastHandshake = latest(peer.lastHandshake, s.lastHandshake);
    peer.lastReceived = latest(peer.lastReceived, s.lastReceived);
    peer.probesSent += s.probesSent;
    peer.probesFailed += s.probesFailed;
    const gateways = pair === 0 ? r.gateways : who!.endpoints;
    const gateway = gateways.find((g) => g.queue === q.id) ?? gateways[0];
    // A peer behind NAT: from its key exchange (routes with several peers have no NAT traversal: nothing learned).
    const e = pair === 0 ? learned.get(`${r.id}/${q.id}`) ?? km.learnedEndpoint(r.id, q.id) : null;
    // Otherwise where the key manager sends (gateway.ts, keyManagerConfig): the peer's own port if it names one.
    const port = who?.endpoints.find((x) => x.queue === q.id)?.port ?? config.protocolPort;
    const nat = km.natDetected(r.id, q.id, pair);
    if (nat !== null) peer.natDetected = (peer.natDetected ?? false) || nat;
    const detected = nat === null ? {} : { natDetected: nat };
    if (e) peer.endpoints.push({ queue: q.id, address: e.address!, port: e.port!, learned: true, ...detected });
    else if (gateway) peer.endpoints.push({ queue: q.id, address: gateway.address, port, learned: false, ...detected });
  }
  if (peer.peerUp || !allDown) peer.downSince = null;
  if (who) peer.usable = km.peerUsable(r.id, peer.publicKey) ?? true;
  if (who) peer.draining = km.pairDraining(r.id, pair);
  return peer;
}

const iso = (t: number) => new Date(t).toISOString();

/** A route's peer leaves of gateway-state/route[id] (RFC 7951 JSON); with several peers, also the list route/peer. */
export function peerLeaves(p: RoutePeer, moved?: readonly Record<string, unknown>[]): Record<string, unknown> {
  const out = ownLeaves(p, moved);
  if (p.peers) out.peer = p.peers.map((x) => ({ 'public-key': x.publicKey, usable: x.usable, ...ownLeaves(x) }));
  return out;
}

function ownLeaves(p: RoutePeer, moved?: readonly Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = { 'peer-up': p.peerUp };
  if (p.downSince !== null) out['peer-down-since'] = iso(p.downSince);
  if (p.lastHandshake !== null) out['last-handshake'] = iso(p.lastHandshake);
  if (p.lastReceived !== null) out['last-received'] = iso(p.lastReceived);
  out['liveness-probes-sent'] = String(p.probesSent);
  out['liveness-probes-failed'] = String(p.probesFailed);
  if (p.draining !== undefined) out['peer-draining'] = p.draining;
  // `changes`: how often the data plane moved a learned endpoint (state.ts learnedEndpoints).
  const changes = new Map((moved ?? []).map((m) => [m.queue, m.changes]));
  if (p.endpoints.length) {
    out['peer-endpoint'] = p.endpoints.map((e) => ({
      queue: e.queue, address: e.address, port: e.port, learned: e.learned,
      ...(changes.has(e.queue) ? { changes: changes.get(e.queue) } : {}),
      ...(e.natDetected !== undefined ? { 'nat-detected': e.natDetected } : {}),
    }));
  }
  return out;
}
