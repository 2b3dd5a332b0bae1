// The gateway's operational state as the YANG model's `gateway-state`
// container, in RFC 7951 JSON (what GET of
// /restconf/data/vitesse-gateway:gateway-state returns).
//
// Every counter is read from where it is kept, at the moment of the request:
// traffic and drops from the data plane's per-worker counters (summed, and per
// queue), SAs from the data plane's SA table, ICMP and next hops from the slow
// path, the key exchange from the key manager. Nothing is counted twice or
// kept aside here. counter64 values are JSON strings (RFC 7951 §6.1).
import type { Counters, RouteId, SaState, SaTraffic } from './dataplane.js';
import type { Gateway } from './gateway.js';
import type { NeighbourEntry, SlowPathCounters } from './slowpath/slowpath.js';
import type { IcmpCounters } from './slowpath/counters.js';
import { sequenceCeiling } from './sequence-keeper.js';
import { KEY_MANAGER_COUNTERS, type KeyManagerCounters } from './exchange/counters.js';
import { drainOf, type DrainSnapshot } from './drain.js';
import { announcedOf } from './bgp/announcer.js';
import { listenerStats } from './api/listeners.js';
import { gnmiStatsOf } from './gnmi/stats.js';
import { COUNTER_TABLE, counterAt, counterSum, counterValue } from './counter-table.js';
import { peerLeaves, routePeers } from './peer-state.js';
import { multiPeers } from './multi-peer.js';

export const STATE_TOP = 'vitesse-gateway:gateway-state';

type Json = Record<string, unknown>;

const c64 = (n: number) => String(n);
const own = (o: Json, k: string): Json => (Object.hasOwn(o, k) ? { [k]: o[k] } : {});

// The containers of the gateway-counters grouping (gateway-state and each
// queue[id]) that the data plane's counters fill, by the table's YANG paths;
// the next hops' drops are the gateway-state's only (nextHop below).
const COUNTER_CONTAINERS = ['private-interface', 'public-interface', 'private-router', 'public-router', 'workers'];
const GROUPED = COUNTER_TABLE.filter((c) => COUNTER_CONTAINERS.includes(c.yang.split('/')[0]));

// Frames each side received and dropped as erroneous, for the interfaces'
// rx-errors (the router containers say why). Frames over the TTL or the MTU
// are not among them: they are answered with ICMP, not dropped silently; nor
// are the driver's and the transmit ring's, which have leaves of their own.
export const RX_ERRORS = {
  private: COUNTER_TABLE.filter((c) => c.side === 'private' && c.kind === 'error').map((c) => c.name),
  public: COUNTER_TABLE.filter((c) => c.side === 'public' && c.kind === 'error').map((c) => c.name),
};

// The model's tx-errors (frames the driver failed to send) has no counter in
// the table yet, so it is left out rather than made up.
function trafficCounters(c: Counters): Json {
  const out: Record<string, Json> = {};
  for (const side of ['private', 'public'] as const) out[`${side}-interface`] = { 'rx-errors': c64(counterSum(c, RX_ERRORS[side])) };
  for (const e of GROUPED) {
    const [container, leaf] = e.yang.split('/');
    (out[container] ??= {})[leaf] = c64(counterValue(c, e.name));
  }
  return out;
}

const ICMP_NAMES: Record<'ipv4' | 'ipv6', Record<number, string>> = {
  ipv4: {
    0: 'echo-reply', 3: 'destination-unreachable', 4: 'source-quench', 5: 'redirect', 8: 'echo-request',
    9: 'router-advertisement', 10: 'router-solicitation', 11: 'time-exceeded', 12: 'parameter-problem',
    13: 'timestamp', 14: 'timestamp-reply',
  },
  ipv6: {
    1: 'destination-unreachable', 2: 'packet-too-big', 3: 'time-exceeded', 4: 'parameter-problem',
    128: 'echo-request', 129: 'echo-reply', 130: 'multicast-listener-query', 131: 'multicast-listener-report',
    132: 'multicast-listener-done', 133: 'router-solicitation', 134: 'router-advertisement',
    135: 'neighbor-solicitation', 136: 'neighbor-advertisement', 137: 'redirect', 143: 'multicast-listener-report-v2',
  },
};

/** Per-"type.code" counts summed per type. */
export function icmpByType(table: Record<string, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [key, n] of Object.entries(table)) {
    const type = Number(key.split('.')[0]);
    out.set(type, (out.get(type) ?? 0) + n);
  }
  return out;
}

// The slow path keeps no per-type count of malformed messages: the list's
// errors leaf is left out.
function icmpList(counters: SlowPathCounters): Json[] {
  const out: Json[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    const c: IcmpCounters = family === 'ipv4' ? counters.icmp : counters.icmpv6;
    const sent = icmpByType(c.sent), received = icmpByType(c.received), rateLimited = icmpByType(c.rateLimited);
    const types = [...new Set([...sent.keys(), ...received.keys(), ...rateLimited.keys()])].sort((a, b) => a - b);
    for (const type of types) {
      const entry: Json = { family, type };
      const name = ICMP_NAMES[family][type];
      if (name) entry.name = name;
      entry.received = c64(received.get(type) ?? 0);
      entry.sent = c64(sent.get(type) ?? 0);
      entry['rate-limited'] = c64(rateLimited.get(type) ?? 0);
      out.push(entry);
    }
  }
  return out;
}

function keyManager(c: KeyManagerCounters): Json {
  return Object.fromEntries(KEY_MANAGER_COUNTERS.map((n) => [n.replaceAll('_', '-'), c64(c[n])]));
}

function nextHop(entry: NeighbourEntry | undefined, drops: number): Json {
  const out: Json = {};
  if (entry) {
    out.address = entry.address;
    if (entry.mac) out.mac = entry.mac;
    out.resolved = entry.mac !== null;
  }
  out.drops = c64(drops);
  if (entry) {
    out['unsolicited-claims'] = c64(entry.unsolicitedClaims);
    out['mac-changes'] = c64(entry.macChanges);
    out['mac-changes-rate-limited'] = c64(entry.macChangesRateLimited);
  }
  return { 'next-hop': out };
}

// The model has no "probe" state: a probed entry is resolved but unconfirmed, as "stale" says.
const neighbourState = (s: NeighbourEntry['state']) => (s === 'probe' ? 'stale' : s);

function neighbour(n: NeighbourEntry): Json {
  const out: Json = { interface: n.side, address: n.address };
  if (n.mac) out.mac = n.mac;
  out.state = neighbourState(n.state);
  if (n.age !== null) out.age = Math.floor(n.age);
  return out;
}

const DIRECTION_ORDER = { inbound: 0, outbound: 1 } as const;

function saList(gw: Gateway, sas: SaState[]): Json[] {
  // Routes with several peers: which peer each SA's pair is with.
  const peers = new Map(gw.currentConfig.routes.filter((r) => multiPeers(r).length).map((r) => [r.id as string, multiPeers(r)]));
  return [...sas]
    .sort((a, b) => DIRECTION_ORDER[a.direction] - DIRECTION_ORDER[b.direction] || a.route.localeCompare(b.route) || a.queue - b.queue || a.spi - b.spi)
    .map((sa) => {
      const entry: Json = { direction: sa.direction, route: sa.route, queue: sa.queue, spi: sa.spi };
      const record = gw.saLedger.record(sa.direction, sa.queue, sa.spi);
      if (record) entry.aead = record.aead;
      const peer = peers.get(sa.route)?.[sa.pair ?? 0];
      if (peer) entry.peer = peer.publicKey.toString('base64');
      const age = gw.saLedger.age(sa.direction, sa.queue, sa.spi);
      if (age !== undefined) entry.age = age;
      entry.packets = c64(sa.packets);
      entry.bytes = c64(sa.bytes);
      if (sa.direction === 'inbound') {
        entry['decrypt-errors'] = c64(sa.decryptErrors);
        entry['replay-errors'] = c64(sa.replayErrors);
        entry['truncated-errors'] = c64(sa.truncatedErrors);
        entry['trailer-errors'] = c64(sa.trailerErrors);
        entry['next-header-errors'] = c64(sa.nextHeaderErrors);
        // The old name of the three above, summed (the model keeps it).
        entry['protocol-errors'] = c64(sa.truncatedErrors + sa.trailerErrors + sa.nextHeaderErrors);
        entry['inbound-policy-errors'] = c64(sa.policyErrors);
      }
      Object.assign(entry, sequenceState(gw, sa));
      return entry;
    });
}

/** An SA's sequence numbers (uint64 leaves are JSON strings). */
export function sequenceState(gw: Gateway, sa: SaState): Json {
  const out: Json = { esn: sa.esn };
  if (sa.direction === 'inbound') {
    out['window-top'] = String(sa.seq);
    return out;
  }
  // After the last number (2^64-1, or 2^32-1 without ESN) there is no next one.
  if (sa.seq < sequenceCeiling(sa.esn)) out['next-sequence'] = String(sa.seq + 1n);
  const reserved = gw.sequences?.reserved(sa.queue, sa.route);
  if (reserved !== undefined) out['reserved-sequence'] = String(reserved);
  out['encapsulation-errors'] = c64(sa.encapErrors);
  out['sequence-unreserved-errors'] = c64(sa.sequenceUnreserved);
  out['sequence-exhausted-errors'] = c64(sa.sequenceExhausted);
  return out;
}

/**
 * Each configured route, by id: its traffic each way and inbound-policy
 * errors over all its SAs past and present (the SA ledger keeps what removed
 * SAs had counted), summed over the queues, and its SAs now.
 */
function routeList(gw: Gateway, routes: readonly RouteId[], sas: readonly SaTraffic[]): Json[] {
  const zero = () => ({ inbound: { packets: 0, bytes: 0, sas: 0 }, outbound: { packets: 0, bytes: 0, sas: 0 }, policyErrors: 0 });
  const by = new Map(routes.map((id) => [id, zero()]));
  for (const t of gw.saLedger.routeTraffic(routes, sas)) {
    const r = by.get(t.route);
    if (!r) continue;
    r[t.direction].packets += t.packets;
    r[t.direction].bytes += t.bytes;
    r.policyErrors += t.policyErrors;
  }
  for (const sa of sas) {
    const r = by.get(sa.route);
    if (r) r[sa.direction].sas++;
  }
  const tails = routeTails(gw);
  return routes.map((id) => {
    const r = by.get(id)!;
    return {
      id,
      'inbound-packets': c64(r.inbound.packets),
      'inbound-bytes': c64(r.inbound.bytes),
      'outbound-packets': c64(r.outbound.packets),
      'outbound-bytes': c64(r.outbound.bytes),
      'inbound-sas': r.inbound.sas,
      'outbound-sas': r.outbound.sas,
      'inbound-policy-errors': c64(r.policyErrors),
      ...tails.get(id),
    };
  });
}

/**
 * The leaves of each configured route's state after its counters (its
 * peer, the endpoints the data plane learned, the peer's public key), by
 * route; routes with none are left out. gNMI's route sampler
 * (gnmi/route-sample.ts) appends the same to the counters it sums itself.
 */
export function routeTails(gw: Gateway): Map<RouteId, Json> {
  const out = new Map<RouteId, Json>();
  const peers = routePeers(gw);
  const endpoints = learnedEndpoints(gw);
  for (const r of gw.currentConfig.routes) {
    const peer = peers.get(r.id);
    const endpoint = endpoints.get(r.id);
    const tail: Json = {
      ...(peer ? peerLeaves(peer, endpoint) : {}),
      // Data-plane mode has no peer state: the endpoints the data plane learned.
      ...(!peer && endpoint ? { 'peer-endpoint': endpoint.map((e) => ({ ...e, learned: true })) } : {}),
    };
    // The peer's identity (public-key routes): its public key, never anything private.
    if (r.peer) tail['peer-public-key'] = r.peer.publicKey.toString('base64');
    if (Object.keys(tail).length) out.set(r.id, tail);
  }
  return out;
}

/** Routes' peer endpoints the data plane has learned (ESP in UDP), by route, in queue order. */
function learnedEndpoints(gw: Gateway): Map<RouteId, Json[]> {
  const by = new Map<RouteId, Json[]>();
  for (const e of gw.dataplane.endpoints(true).sort((a, b) => a.queue - b.queue)) {
    if (!e.learned) continue;
    const list = by.get(e.route) ?? [];
    list.push({ queue: e.queue, address: e.address!, port: e.port!, changes: c64(e.changes) });
    by.set(e.route, list);
  }
  return by;
}

/**
 * The `gateway-state` container's content (without the module-qualified
 * member around it); `only`: just that top-level member (what a gNMI
 * subscription to /gateway-state/route reads, without the rest).
 */
function drainLeaves(d: DrainSnapshot): Json {
  return {
    draining: d.draining, since: new Date(d.since).toISOString(), withdrawn: d.withdrawn,
    peers: d.peers, 'peers-told': d.peersTold, 'peers-acknowledged': d.peersAcknowledged,
    'peers-without-sa': d.peersWithoutSa, 'peers-not-supported': d.peersNotSupported,
    packets: c64(d.packets), 'idle-ms': c64(d.idleMs),
  };
}

export function gatewayState(gw: Gateway, only?: string): Json {
  const want = (member: string) => only === undefined || only === member;
  const dp = gw.dataplane;
  const config = gw.currentConfig;
  const state: Json = want('mode') ? { mode: config.dataPlane ? 'data-plane' : 'key-manager' } : {};
  const groups = ['private-interface', 'public-interface', 'private-router', 'public-router', 'workers'];
  const total = only === undefined || groups.includes(only) || only.endsWith('-next-hop') ? dp.counters() : null;
  if (total) Object.assign(state, only === undefined ? trafficCounters(total) : own(trafficCounters(total), only));
  const slow = want('icmp') ? gw.slowpath.counters() : null;
  const neighbours = want('neighbour') || want('private-next-hop') || want('public-next-hop') ? gw.slowpath.neighbours() : [];
  const icmp = slow ? icmpList(slow) : [];
  if (icmp.length) state.icmp = icmp;
  if (gw.keymanager && want('key-manager')) state['key-manager'] = keyManager(gw.keymanager.counters);
  const drain = want('drain') ? drainOf(gw)?.snapshot() : undefined;
  if (drain) state.drain = drainLeaves(drain);
  const announced = want('bgp') ? announcedOf(gw) : undefined;
  if (announced) state.bgp = { announced: announced.map((a) => ({ prefix: a.prefix, since: new Date(a.since).toISOString() })) };
  // The public next hop's drops are private-side packets that found no outer
  // header to go out with; the private next hop's, decrypted packets.
  for (const side of ['private', 'public'] as const) {
    if (!want(`${side}-next-hop`)) continue;
    const drops = counterValue(total!, counterAt(`${side}-next-hop/next-hop/drops`).name);
    state[`${side}-next-hop`] = nextHop(neighbours.find((n) => n.side === side), drops);
  }
  if (want('queue')) {
    state.queue = config.publicInterface.queues.map((q) => ({
      id: q.id,
      'public-address': q.address,
      ...trafficCounters(dp.counters(q.id)),
    }));
  }
  const live = want('sa') ? dp.sas() : [];
  // The routes' counters from the SA traffic columns (the same counters, read without an object per SA).
  const routes = want('route') ? routeList(gw, config.routes.map((r) => r.id), want('sa') ? live : dp.saTraffic()) : [];
  if (routes.length) state.route = routes;
  const sas = want('sa') ? saList(gw, live) : [];
  if (sas.length) state.sa = sas;
  const listeners = want('management-listener') ? listenerStats(gw) : [];
  if (listeners.length) {
    state['management-listener'] = listeners.map((l) => ({
      name: l.name,
      connections: l.connections,
      'connections-refused': c64(l.connectionsRefused),
      'connections-timed-out': c64(l.connectionsTimedOut),
      'requests-failed': c64(l.requestsFailed),
    }));
  }
  const gnmi = want('gnmi') ? gnmiStatsOf(gw) : undefined;
  if (gnmi) {
    state.gnmi = {
      subscriptions: gnmi.subscriptions,
      'subscriptions-refused': c64(gnmi.subscriptionsRefused),
      'requests-unauthenticated': c64(gnmi.requestsUnauthenticated),
      'requests-refused': c64(gnmi.requestsRefused),
      'requests-failed': c64(gnmi.requestsFailed),
      'updates-sent': c64(gnmi.updatesSent),
      'samples-skipped': c64(gnmi.samplesSkipped),
    };
  }
  if (neighbours.length && want('neighbour')) state.neighbour = neighbours.map(neighbour);
  return state;
}
