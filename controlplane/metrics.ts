// Prometheus metrics of a running gateway (prom-client), served on their own
// listener (`vitesse run --metrics-listen`, default 127.0.0.1:9301).
//
// Nothing is counted here: every value is read at scrape time from where it
// is kept (the data plane's per-worker counters and SA table, the slow path,
// the key manager), once per scrape, so all metrics of one scrape agree with
// each other. Names are `vitesse_…`, counters end in `_total`, labels name the
// queue, route, interface, direction and drop reason; SPIs are never labels
// (they change at every rekey and would grow the series without bound).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counters, QueueNumber, RouteId, SaState } from './dataplane.js';
import { COUNTER_TABLE, counterValue, type CounterEntry, type CounterName } from './counter-table.js';
import type { Gateway } from './gateway.js';
import type { NeighbourEntry, SlowPathCounters } from './slowpath/slowpath.js';
import { DROP_COUNTER, type KeyManagerCounters } from './exchange/counters.js';
import { packageVersion } from './version.js';
import { icmpByType } from './state.js';
import { parseListen } from './api/listen.js';
import { routePeers, type RoutePeer } from './peer-state.js';
import { announcedOf } from './bgp/announcer.js';
import { gnmiStatsOf } from './gnmi/stats.js';
import { DEFAULT_LIMITS, closeListener, guard, listenerStats, safely, serverOptions, statsFor, type ListenerLimits } from './api/listeners.js';

export const DEFAULT_METRICS_LISTEN = '127.0.0.1:9301';

type Labels = Record<string, string>;

/**
 * The per-queue metrics of the data plane's counters, with their help text
 * and labels besides `queue`. Each counter of the table (counter-table.ts)
 * names its metric; `interface` is the counter's side, the other label its
 * table `label` (the drop reason, the direction).
 */
const QUEUE_METRICS: Record<string, { help: string; labels: string[] }> = {
  interface_packets: { help: 'Frames received (rx) or sent (tx) on an interface.', labels: ['interface', 'direction'] },
  interface_bytes: { help: 'Octets received (rx) or sent (tx) on an interface.', labels: ['interface', 'direction'] },
  interface_rx_csum_partial: { help: 'Frames received on an interface with their TCP or UDP checksum left to offload; the driver completed it.', labels: ['interface'] },
  interface_rx_gso_frames: { help: 'TCP/UDP super-frames received on an interface from a local stack that left segmentation to offload; the driver cut them into frames.', labels: ['interface'] },
  interface_tx_gso_frames: { help: 'Super-frames sent on an interface, each coalesced by the driver: TCP segments of one flow to a local stack, or (public interface) ESP-in-UDP datagrams to one peer.', labels: ['interface'] },
  interface_tx_gso_segments: { help: 'Frames the driver coalesced into TCP or UDP super-frames instead of sending them one by one.', labels: ['interface'] },
  esp_packets: { help: 'Packets encapsulated in ESP (outbound) or decapsulated (inbound).', labels: ['direction'] },
  punted_packets: { help: 'Frames handed to the control plane (ARP, ND, ICMP, key exchange, ICMP errors to send).', labels: [] },
  injected_packets: { help: 'Frames the control plane handed to the data plane.', labels: [] },
  nat_keepalives: { help: 'NAT keepalives (one 0xFF octet on the NAT-T port, RFC 3948) received and consumed.', labels: [] },
  endpoint_changes: { help: 'Times a route\'s peer endpoint moved to the address and port of an authenticated ESP-in-UDP packet.', labels: [] },
  drops: {
    help: 'Frames not forwarded, by the interface they arrived on (or were to leave by, for tx_ring_full and tx_oversize) and the reason; ttl_expired and too_big are answered with ICMP; rx_kernel_drops, rx_oversize, rx_gso_unsupported and tx_oversize are the driver\'s.',
    labels: ['interface', 'reason'],
  },
  punt_ring_drops: { help: 'Frames for the control plane dropped because its ring was full.', labels: [] },
  inject_drops: { help: 'Frames from the control plane dropped as malformed.', labels: [] },
  rx_buffer_exhausted: { help: 'Worker polls that ended with no free packet buffer (reception may have stalled).', labels: [] },
};

function metricLabels(c: CounterEntry): Labels {
  const m = QUEUE_METRICS[c.metric];
  if (!m) throw new Error(`data-plane counter ${c.name}: no metric vitesse_${c.metric}_total`);
  const labels: Labels = {};
  for (const l of m.labels) {
    const v = l === 'interface' ? c.side : c.label;
    if (!v) throw new Error(`data-plane counter ${c.name}: no value for the label ${l} of vitesse_${c.metric}_total`);
    labels[l] = v;
  }
  return labels;
}

/** Where each data-plane counter goes: a metric of the table above and its labels (the queue is added). */
export const DATAPLANE_METRICS: Readonly<Record<CounterName, { metric: string; labels: Labels }>> = Object.fromEntries(
  COUNTER_TABLE.map((c) => [c.name, { metric: c.metric, labels: metricLabels(c) }]),
) as Record<CounterName, { metric: string; labels: Labels }>;

const sum = (table: Record<string, number>) => Object.values(table).reduce((a, b) => a + b, 0);

const KEY_EXCHANGE_ERRORS = Object.entries(DROP_COUNTER).map(([reason, counter]) => ({ reason: reason.replace('-', '_'), counter }));

/** What one scrape reads, once. */
interface Snapshot {
  queues: Map<QueueNumber, Counters>;
  sas: SaState[];
  routes: RouteId[];
  slow: SlowPathCounters;
  neighbours: NeighbourEntry[];
  keys: KeyManagerCounters | null;
  /** Dropped key-exchange messages by route (undefined: matched to none) and reason. */
  keyErrors: { route: string | undefined; reason: string; count: number }[];
  keyExchangeTx: { noNextHop: number; dropped: number };
  peers: Map<RouteId, RoutePeer>;
  /** Prefixes announced over BGP now; null without bgp. */
  announced: number | null;
}

function snapshot(gw: Gateway): Snapshot {
  const queues = new Map(gw.dataplane.queueNumbers.map((q) => [q, gw.dataplane.counters(q)]));
  return {
    queues,
    sas: gw.dataplane.sas(),
    routes: gw.currentConfig.routes.map((r) => r.id),
    slow: gw.slowpath.counters(),
    neighbours: gw.slowpath.neighbours(),
    keys: gw.keymanager ? { ...gw.keymanager.counters } : null,
    keyErrors: gw.keymanager ? [...gw.keymanager.failures.byRoute()] : [],
    keyExchangeTx: { noNextHop: gw.stats.keyExchangeTxNoNextHop, dropped: gw.stats.keyExchangeTxDropped },
    peers: routePeers(gw),
    announced: announcedOf(gw)?.length ?? null,
  };
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private current: Snapshot | null = null;
  private scraping: Promise<unknown> = Promise.resolve();

  constructor(readonly gw: Gateway, options: { processMetrics?: boolean } = {}) {
    const r = this.registry;
    const self = this;
    const snap = () => this.current ?? snapshot(gw);
    // A counter whose values are set from a snapshot at each scrape.
    const counter = (name: string, help: string, labelNames: string[], values: (s: Snapshot) => Iterable<[Labels, number]>) =>
      new Counter({
        name, help, labelNames, registers: [r],
        collect() {
          this.reset();
          for (const [labels, v] of values(snap())) this.inc(labels, v);
        },
      });
    const gauge = (name: string, help: string, labelNames: string[], values: (s: Snapshot) => Iterable<[Labels, number]>) =>
      new Gauge({
        name, help, labelNames, registers: [r],
        collect() {
          this.reset();
          for (const [labels, v] of values(snap())) this.set(labels, v);
        },
      });

    for (const [metric, { help, labels }] of Object.entries(QUEUE_METRICS)) {
      const counters = Object.entries(DATAPLANE_METRICS).filter(([, m]) => m.metric === metric);
      counter(`vitesse_${metric}_total`, help, [...labels, 'queue'], function* (s) {
        for (const [q, c] of s.queues.entries()) {
          for (const [name, m] of counters) yield [{ ...m.labels, queue: String(q) }, counterValue(c, name)];
        }
      });
    }

    counter('vitesse_route_packets_total', 'Packets a route encrypted (outbound) or decrypted (inbound), over all its SAs, past and present.', ['route', 'direction', 'queue'],
      (s) => routeTraffic(self.gw, s, 'packets'));
    counter('vitesse_route_bytes_total', 'Octets a route encrypted (outbound) or decrypted (inbound), over all its SAs, past and present.', ['route', 'direction', 'queue'],
      (s) => routeTraffic(self.gw, s, 'bytes'));
    counter('vitesse_route_inbound_policy_errors_total', 'Packets decrypted with a route\'s SAs and refused by the inbound policy (inner source not in the route\'s net, multicast or broadcast), over all its SAs, past and present.', ['route', 'queue'],
      function* (s) {
        // Every route and queue from zero on, so that a first error is an increase.
        const errors = new Map<string, number>();
        for (const t of self.gw.saLedger.routeTraffic(s.routes, s.sas)) {
          if (t.direction === 'inbound') errors.set(`${t.route}/${t.queue}`, t.policyErrors);
        }
        for (const route of s.routes) {
          for (const q of s.queues.keys()) yield [{ route, queue: String(q) }, errors.get(`${route}/${q}`) ?? 0];
        }
      });
    gauge('vitesse_route_sas', 'Active SAs of a route (inbound: up to 4 during rollover; outbound: 0 or 1).', ['route', 'direction', 'queue'], function* (s) {
      const count = new Map<string, number>();
      for (const sa of s.sas) {
        const k = `${sa.route}/${sa.direction}/${sa.queue}`;
        count.set(k, (count.get(k) ?? 0) + 1);
      }
      for (const route of s.routes) {
        for (const q of s.queues.keys()) {
          for (const direction of ['inbound', 'outbound'] as const) {
            yield [{ route, direction, queue: String(q) }, count.get(`${route}/${direction}/${q}`) ?? 0];
          }
        }
      }
    });
    gauge('vitesse_route_outbound_sa_age_seconds', 'Seconds since the route\'s active outbound SA was installed (absent while it has none).', ['route', 'queue'], function* (s) {
      for (const sa of s.sas) {
        if (sa.direction !== 'outbound') continue;
        const age = self.gw.saLedger.age('outbound', sa.queue, sa.spi);
        if (age !== undefined) yield [{ route: sa.route, queue: String(sa.queue) }, age];
      }
    });
    gauge('vitesse_routes', 'Configured routes.', [], (s) => [[{}, s.routes.length]]);
    gauge('vitesse_bgp_announced_prefixes', 'Remote prefixes this gateway announces over BGP to its site\'s router now (a live tunnel each; 0 while drained); absent without bgp.', [], (s) => (s.announced === null ? [] : [[{}, s.announced]]));
    gauge('vitesse_route_peer_up', '1 while the route\'s peer is alive (answered a key exchange or sent authenticated ESP, and no liveness-failures probes failed since), else 0 (key-manager mode).', ['route'], function* (s) {
      for (const [route, p] of s.peers) yield [{ route }, p.peerUp ? 1 : 0];
    });
    gauge('vitesse_route_nat_detected', '1 while the negotiation of the route\'s active outbound SA saw a NAT on either side (on any queue), else 0; public-key routes with an active SA only (key-manager mode).', ['route'], function* (s) {
      for (const [route, p] of s.peers) if (p.natDetected != null) yield [{ route }, p.natDetected ? 1 : 0];
    });
    // Routes with several peers (docs/scale-out.md): each peer's own; vitesse_route_peer_up is then 1 while any is up.
    gauge('vitesse_peer_up', 'A route with several peers: 1 while this peer is alive, else 0 (as vitesse_route_peer_up, per peer).', ['route', 'peer'], function* (s) {
      for (const [route, p] of s.peers) for (const x of p.peers ?? []) yield [{ route, peer: x.publicKey }, x.peerUp ? 1 : 0];
    });
    gauge('vitesse_peer_usable', 'A route with several peers: 1 while the data plane may send the route\'s flows through this peer (not down, not draining), else 0.', ['route', 'peer'], function* (s) {
      for (const [route, p] of s.peers) for (const x of p.peers ?? []) yield [{ route, peer: x.publicKey }, x.usable ? 1 : 0];
    });
    gauge('vitesse_route_peer_draining', '1 while every peer of the route told us it drains (vitesse drain at the peer): its flows go to the route\'s other peers, and it is not announced over BGP if none is left (key-manager mode).', ['route'], function* (s) {
      for (const [route, p] of s.peers) yield [{ route }, p.draining ? 1 : 0];
    });
    counter('vitesse_route_liveness_probes_total', 'Key exchanges started to find out whether the route\'s peer is alive (event sent), and those that expired unanswered (event failed).', ['route', 'event'], function* (s) {
      for (const [route, p] of s.peers) {
        yield [{ route, event: 'sent' }, p.probesSent];
        yield [{ route, event: 'failed' }, p.probesFailed];
      }
    });

    counter('vitesse_key_exchange_errors_total', 'Key-exchange messages dropped as erroneous, by reason, and by route where the message was matched to one (without the label: no route).', ['reason', 'route'], function* (s) {
      if (!s.keys) return;
      // Every reason from zero on without a route, so that a first error is an increase.
      const unmatched = new Map(KEY_EXCHANGE_ERRORS.map((e) => [e.reason, 0]));
      for (const e of s.keyErrors) {
        const reason = e.reason.replace('-', '_');
        if (e.route === undefined) unmatched.set(reason, e.count);
        else yield [{ reason, route: e.route }, e.count];
      }
      for (const [reason, count] of unmatched) yield [{ reason }, count];
    });
    const keys = (name: string, help: string, counterName: keyof KeyManagerCounters) =>
      counter(name, help, [], function* (s) { if (s.keys) yield [{}, s.keys[counterName]]; });
    keys('vitesse_key_exchange_ratelimited_total', 'Key-exchange challenges and proposals that passed their checks, dropped because the source\'s rate-limit budget was spent.', 'ratelimited');
    keys('vitesse_key_exchange_proposals_ratelimited_total', 'vita-ske proposals left unread because the source\'s budget of unauthenticated work (shared with knocks) was spent.', 'proposals_ratelimited');
    keys('vitesse_key_exchange_knocks_ratelimited_total', 'Key-exchange knocks left unanswered because the source\'s budget of challenges was spent.', 'knocks_ratelimited');
    keys('vitesse_key_exchange_negotiations_initiated_total', 'Key exchanges started as initiator.', 'negotiations_initiated');
    keys('vitesse_key_exchange_negotiations_expired_total', 'Key exchanges that did not finish within negotiation-ttl.', 'negotiations_expired');
    counter('vitesse_key_exchange_challenges_total', 'Challenges offered (responder) and accepted (initiator).', ['event'], function* (s) {
      if (!s.keys) return;
      yield [{ event: 'offered' }, s.keys.challenges_offered];
      yield [{ event: 'accepted' }, s.keys.challenges_accepted];
    });
    counter('vitesse_key_exchange_keypairs_total', 'SA pairs agreed, by our role in the exchange.', ['role'], function* (s) {
      if (!s.keys) return;
      yield [{ role: 'responder' }, s.keys.keypairs_offered];
      yield [{ role: 'initiator' }, s.keys.keypairs_negotiated];
    });
    counter('vitesse_sa_expired_total', 'SAs removed at the end of their lifetime.', ['direction'], function* (s) {
      if (!s.keys) return;
      yield [{ direction: 'inbound' }, s.keys.inbound_sa_expired];
      yield [{ direction: 'outbound' }, s.keys.outbound_sa_expired];
    });
    counter('vitesse_key_exchange_drain_messages_total', 'Drain notices sent (vitesse drain, its cancel, retransmissions, refreshes), accepted from peers (and acknowledged), and acknowledgements of ours accepted. Refused ones: vitesse_key_exchange_errors_total{reason="drain"}.', ['event'], function* (s) {
      if (!s.keys) return;
      yield [{ event: 'sent' }, s.keys.drains_sent];
      yield [{ event: 'accepted' }, s.keys.drains_accepted];
      yield [{ event: 'ack_accepted' }, s.keys.drain_acks_accepted];
    });
    keys('vitesse_outbound_sa_updated_total', 'Outbound SAs replaced under the same SPI (a retried negotiation).', 'outbound_sa_updated');
    counter('vitesse_key_exchange_tx_drops_total', 'Key-exchange datagrams not sent, by reason.', ['reason'], (s) => [
      [{ reason: 'no_next_hop' }, s.keyExchangeTx.noNextHop],
      [{ reason: 'inject_failed' }, s.keyExchangeTx.dropped],
    ]);

    counter('vitesse_icmp_messages_total', 'ICMP and ICMPv6 messages sent and received by the gateway, by type.', ['family', 'direction', 'type'], function* (s) {
      for (const [family, c] of [['ipv4', s.slow.icmp], ['ipv6', s.slow.icmpv6]] as const) {
        for (const direction of ['sent', 'received'] as const) {
          for (const [type, n] of icmpByType(c[direction])) yield [{ family, direction, type: String(type) }, n];
        }
      }
    });
    counter('vitesse_icmp_ratelimited_total', 'ICMP errors and echo replies not sent because of the rate limits (per side, fair per source).', ['family'], (s) => [
      [{ family: 'ipv4' }, sum(s.slow.icmp.rateLimited)],
      [{ family: 'ipv6' }, sum(s.slow.icmpv6.rateLimited)],
    ]);
    counter('vitesse_slowpath_drops_total', 'Frames the control plane dropped, by reason.', ['reason'], (s) =>
      Object.entries(s.slow.drops).map(([reason, n]) => [{ reason: reason.replaceAll('-', '_') }, n]));
    counter('vitesse_arp_messages_total', 'ARP messages, by direction and kind.', ['direction', 'message'], (s) => [
      [{ direction: 'received', message: 'request' }, s.slow.arp.requestsReceived],
      [{ direction: 'received', message: 'reply' }, s.slow.arp.repliesReceived],
      [{ direction: 'sent', message: 'request' }, s.slow.arp.requestsSent],
      [{ direction: 'sent', message: 'reply' }, s.slow.arp.repliesSent],
      [{ direction: 'sent', message: 'announcement' }, s.slow.arp.announcementsSent],
    ]);
    counter('vitesse_nd_messages_total', 'Neighbour discovery messages, by direction and kind.', ['direction', 'message'], (s) => [
      [{ direction: 'received', message: 'neighbor_solicitation' }, s.slow.nd.solicitationsReceived],
      [{ direction: 'received', message: 'neighbor_advertisement' }, s.slow.nd.advertisementsReceived],
      [{ direction: 'received', message: 'router_solicitation' }, s.slow.nd.routerSolicitationsReceived],
      [{ direction: 'received', message: 'router_advertisement' }, s.slow.nd.routerAdvertisementsReceived],
      [{ direction: 'sent', message: 'neighbor_solicitation' }, s.slow.nd.solicitationsSent],
      [{ direction: 'sent', message: 'neighbor_advertisement' }, s.slow.nd.advertisementsSent],
    ]);
    counter('vitesse_next_hop_unsolicited_claims_total', 'ARP/ND messages that claimed the next hop\'s address for another MAC and changed nothing (YANG unsolicited-claims).', ['interface'], (s) =>
      s.neighbours.map((n) => [{ interface: n.side }, n.unsolicitedClaims]));
    counter('vitesse_next_hop_mac_changes_total', 'Times the next hop\'s MAC in use was replaced by another that answered our request.', ['interface'], (s) =>
      s.neighbours.map((n) => [{ interface: n.side }, n.macChanges]));
    counter('vitesse_next_hop_mac_changes_rate_limited_total', 'Next-hop MAC changes refused by the change rate limit.', ['interface'], (s) =>
      s.neighbours.map((n) => [{ interface: n.side }, n.macChangesRateLimited]));
    gauge('vitesse_next_hop_resolved', '1 if the interface\'s next hop has a MAC address (resolved or static), else 0.', ['interface'], (s) =>
      s.neighbours.map((n) => [{ interface: n.side }, n.mac ? 1 : 0]));

    gauge('vitesse_management_connections', 'Connections open now on a listener (api-socket, api-tls, metrics, gnmi).', ['listener'], () =>
      listenerStats(gw).map((l) => [{ listener: l.name }, l.connections]));
    counter('vitesse_management_connections_refused_total', 'Connections a listener closed on arrival: at its --max-connections, or no descriptor left.', ['listener'], () =>
      listenerStats(gw).map((l) => [{ listener: l.name }, l.connectionsRefused]));
    counter('vitesse_management_connections_timed_out_total', 'Connections a listener closed: TLS handshake or request not finished in time, or silent too long.', ['listener'], () =>
      listenerStats(gw).map((l) => [{ listener: l.name }, l.connectionsTimedOut]));
    counter('vitesse_management_requests_failed_total', 'Requests whose handler failed unexpectedly (answered 500, logged).', ['listener'], () =>
      listenerStats(gw).map((l) => [{ listener: l.name }, l.requestsFailed]));

    const gnmi = () => { const g = gnmiStatsOf(gw); return g ? [g] : []; };
    gauge('vitesse_gnmi_subscriptions', 'gNMI Subscribe calls open now.', [], () => gnmi().map((g) => [{}, g.subscriptions]));
    counter('vitesse_gnmi_subscriptions_refused_total', 'gNMI Subscribe calls refused at --gnmi-max-subscriptions (RESOURCE_EXHAUSTED).', [], () => gnmi().map((g) => [{}, g.subscriptionsRefused]));
    counter('vitesse_gnmi_requests_unauthenticated_total', 'gNMI calls without a valid bearer token (UNAUTHENTICATED).', [], () => gnmi().map((g) => [{}, g.requestsUnauthenticated]));
    counter('vitesse_gnmi_requests_refused_total', 'gNMI calls refused for what they asked (NOT_FOUND, INVALID_ARGUMENT, UNIMPLEMENTED).', [], () => gnmi().map((g) => [{}, g.requestsRefused]));
    counter('vitesse_gnmi_requests_failed_total', 'gNMI calls that failed on an internal error (INTERNAL, logged).', [], () => gnmi().map((g) => [{}, g.requestsFailed]));
    counter('vitesse_gnmi_updates_sent_total', 'Updates and deletes the gNMI server sent.', [], () => gnmi().map((g) => [{}, g.updatesSent]));
    counter('vitesse_gnmi_samples_skipped_total', 'gNMI samples not taken because the subscriber had not read the previous notification.', [], () => gnmi().map((g) => [{}, g.samplesSkipped]));

    new Gauge({
      name: 'vitesse_info', help: 'The gateway\'s version and mode (always 1).', labelNames: ['version', 'mode'], registers: [r],
      collect() {
        this.reset();
        this.set({ version: packageVersion(), mode: gw.currentConfig.dataPlane ? 'data-plane' : 'key-manager' }, 1);
      },
    });
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: r });
      // prom-client names some gauges *_total (nodejs_active_handles_total, …),
      // which Prometheus reserves for counters (promtool check metrics says so).
      for (const m of r.getMetricsAsArray()) {
        if (m.name.endsWith('_total') && String((m as unknown as { type: unknown }).type) !== 'counter') r.removeSingleMetric(m.name);
      }
    }
  }

  /** The exposition text of one scrape: everything read once, now. */
  scrape(): Promise<string> {
    const run = this.scraping.then(async () => {
      this.current = snapshot(this.gw);
      try {
        return await this.registry.metrics();
      } finally {
        this.current = null;
      }
    });
    this.scraping = run.catch(() => undefined);
    return run;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function* routeTraffic(gw: Gateway, s: Snapshot, field: 'packets' | 'bytes'): Iterable<[Labels, number]> {
  for (const t of gw.saLedger.routeTraffic(s.routes, s.sas)) yield [{ route: t.route, direction: t.direction, queue: String(t.queue) }, t[field]];
}

export interface MetricsServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/** Serves GET /metrics (and nothing else) on host:port, with the listeners' caps and timeouts (api/listeners.ts). */
export async function serveMetrics(
  metrics: GatewayMetrics,
  listen: string,
  log?: { warn(o: object, m: string): void; error?(o: object, m: string): void },
  limits: ListenerLimits = DEFAULT_LIMITS,
): Promise<MetricsServer> {
  const { host, port } = parseListen(listen, '--metrics-listen');
  const logger = { warn: (o: object, m: string) => log?.warn(o, m), error: (o: object, m: string) => (log?.error ?? log?.warn)?.call(log, o, m) };
  const stats = statsFor(metrics.gw, 'metrics');
  const server = http.createServer(serverOptions(limits), safely(stats, logger, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    return metrics.scrape().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        stats.requestsFailed++;
        logger.warn({ err }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`scrape failed: ${err instanceof Error ? err.message : err}\n`);
      },
    );
  }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(`metrics: cannot listen on ${listen}: ${e.code === 'EADDRINUSE' ? 'the address is in use (another gateway? choose another with --metrics-listen)' : e.message}`)));
    server.listen(port, host, () => resolve());
  });
  guard(server, stats, limits, logger);
  return {
    address: server.address() as AddressInfo,
    close: () => closeListener(server),
  };
}
