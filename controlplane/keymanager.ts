// The key manager: for every route and queue it negotiates ESP SA pairs with
// the remote gateway (the four-message exchange over Noise NNpsk0, or IKpsk2
// for public-key routes, see
// docs/key-exchange.md), hands them to the data plane and rolls them over
// before they expire.
//
// It is driven from outside, so it runs the same against the data plane, in
// tests and in benchmarks:
//   receive(from, payload, to?)  each key-exchange UDP payload that arrives
//   tick()                       timers: expiry, activation, rekey, retries
//                                (start() calls it periodically)
//   configure(config, changed?)  a new configuration, applied as a diff (only
//                                the routes `changed` names, if given)
// and acts through two interfaces (exchange/types.ts): SaSink (install and
// remove SAs) and Transport (send a UDP payload).
//
// A received message is handled in this order: transport header → route (by
// route SPI) and queue (by the gateway's and our address) → the message's
// cheap checks, those an off-path attacker cannot pass (the challenge's
// cookie, the proposal's nonce) → the source's rate-limit budget → the work
// that costs (a challenge sent, X25519). Knocks cannot be authenticated and
// have a budget of their own, which limits only the challenges we send in
// answer (reflection); agreements are only read while a proposal of ours
// awaits one, and spend no budget (docs/security.md, "Key-exchange floods").
// So datagrams forged from a peer's address never spend the budget its
// genuine messages need. Anything refused is counted (exchange/counters.ts)
// and changes nothing.
//
// Routes whose `protocol` is vita-ske-v5 speak Vita's key exchange on the
// same port: once the route and queue are found, their messages go to
// vita-ske/dispatch.ts (same order: cheap checks, budgets, costly work).
import { performance } from 'node:perf_hooks';
import pino, { type Logger } from 'pino';
import { addressKey } from './exchange/address.js';
import { ChallengeIssuer } from './exchange/challenge.js';
import { compileConfig, ConfigError, routePairs, sameExchange, wipeParams, type ExchangeParams, type Settings } from './exchange/config.js';
import { FailureLog } from './exchange/failure-log.js';
import { DROP_COUNTER, newCounters, type DropReason, type KeyManagerCounters } from './exchange/counters.js';
import { Initiator, type InitiatorState } from './exchange/initiator.js';
import { Liveness, type Peer, type TrafficSource } from './exchange/liveness.js';
import { DRAIN_ACK_TYPE, DRAIN_TYPE } from './exchange/drain.js';
import { DrainNotices, type DrainHost } from './exchange/drain-notices.js';
import { MessageType, decodeHeader } from './exchange/messages.js';
import { wipe } from './exchange/primitives.js';
import { ACTIVATION_DELAY_MAX_TTL, ACTIVATION_DELAY_NEGOTIATIONS, type NegotiatedPair } from './exchange/protocol.js';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimit } from './exchange/ratelimiter.js';
import { agree, challengeFor, checkProposal, readKnock } from './exchange/responder.js';
import { SaLifecycle, type LifecycleTimes, type SaSnapshot } from './exchange/sa-lifecycle.js';
import { learnEndpoint } from './exchange/peer-endpoint.js';
import { SpiAllocator } from './exchange/spi.js';
import { exchangeKey, type Clock, type Endpoint, type KeyManagerConfig, type QueueNumber, type RouteId, type SaSink, type Spi, type Transport } from './exchange/types.js';
import { vitaDeliverable } from './vita-ske/checksum.js';
import { VITA_ACTIVATION_DELAY_MAX_TTL, VITA_REKEY_JITTER, receiveVita, type VitaHost } from './vita-ske/dispatch.js';
import { VitaInitiator } from './vita-ske/initiator.js';
import { decodeHeader as decodeVitaHeader, knockProtocol } from './vita-ske/messages.js';
import { VitaResponder, type RandomSource } from './vita-ske/responder.js';

export { ConfigError } from './exchange/config.js';
export type { KeyManagerCounters } from './exchange/counters.js';

export interface KeyManagerOptions {
  sink: SaSink;
  transport: Transport;
  /** Never given key material; defaults to pino at level info. */
  logger?: Logger;
  /** Monotonic milliseconds; defaults to performance.now(). */
  clock?: Clock;
  /** Shared with anything else that allocates inbound SPIs in this gateway. */
  spis?: SpiAllocator;
  /**
   * Per exchange with a source; a source's budget is this times its
   * exchanges. Knocks have a budget of this size, and the other messages
   * (once they passed their cheap checks) another one.
   */
  rateLimit?: RateLimit;
  /** Negotiations we initiate that may be in flight at once (default 128). */
  maxNegotiations?: number;
  /** Seconds; default min(1.5 × negotiation-ttl, sa-ttl / 4). */
  activationDelay?: number;
  /** Milliseconds between ticks once start()ed (default 50). */
  tickInterval?: number;
  /** [0, 1) for rekey jitter; defaults to Math.random (jitter needs no secrecy). */
  random?: () => number;
  /** The data plane's per-route packet counters, for dead-peer detection (exchange/liveness.ts); without it, only key-exchange messages count. */
  traffic?: TrafficSource;
  /** Wall-clock milliseconds for the liveness times reported (default Date.now). */
  wallClock?: () => number;
  /** Test seam: vita-ske's nonces and ephemeral keys (default crypto.randomBytes and OpenSSL). */
  vitaRandom?: RandomSource;
  /** A peer behind NAT was seen at a new endpoint by an authenticated key-exchange message (nat-peer.ts). */
  onPeerEndpoint?: (route: RouteId, queue: QueueNumber, at: Endpoint) => void;
  /** Milliseconds between summaries of repeated failures (exchange/failure-log.ts; default 60 s). */
  failureSummaryMs?: number;
  /**
   * A pair of a route with several peers became usable or not (pairUsable):
   * the data plane hashes the route's flows over its usable pairs only.
   * Called once per change, and once for each such pair when it is added.
   */
  onPairUsable?: (route: RouteId, queue: QueueNumber, pair: number, usable: boolean) => void;
  /** A peer told us it drains, or is in service again (exchange/drain-notices.ts). */
  onPeerDraining?: DrainHost<never>['onPeerDraining'];
}

/** One exchange's state, for operational state and tests. */
export interface ExchangeState extends SaSnapshot {
  route: RouteId;
  queue: QueueNumber;
  /** The route's pair (0: its first or only peer) and its peer's public key (base64; null: a pre-shared-key route). */
  pair: number;
  peer: string | null;
  /** pairUsable: the data plane may send the route's flows through this pair. */
  usable: boolean;
  negotiation: InitiatorState;
}

interface Exchange {
  params: ExchangeParams;
  initiator: Initiator | VitaInitiator;
  /** Only on routes whose protocol is vita-ske-v5. */
  vitaResponder: VitaResponder | null;
  sas: SaLifecycle;
  localKey: string;
  gatewayKey: string;
  /** Is the peer alive (exchange/liveness.ts). */
  peer: Peer;
  /** When protocolHint() last warned. */
  hintedAt?: number;
  /** Where the peer was last seen by an authenticated message (peer-endpoint.ts); null: its configured address. */
  endpoint: Endpoint | null;
  /** False while the peer is set unusable (setPeerUsable: e.g. it announced it is draining). */
  allowed: boolean;
  /** A route with several peers: what onPairUsable last said (undefined: nothing yet). */
  reported?: boolean;
}

const RATE_LIMIT_PRUNE_MS = 1000;
const PROTOCOL_HINT_MS = 60_000;
// Enough to keep a core busy (a negotiation takes well under a millisecond
// of CPU per end) while each one finishes far within negotiation-ttl.
const DEFAULT_MAX_NEGOTIATIONS = 128;

/** True if `appended` are the last exchanges of `config`, in its order. */
function endsWith(config: KeyManagerConfig, appended: readonly Exchange[]): boolean {
  const tail: string[] = [];
  for (let i = config.routes.length - 1; i >= 0 && tail.length < appended.length; i--) tail.unshift(...routeKeys(config.routes[i]));
  const from = tail.length - appended.length;
  return from >= 0 && appended.every((ex, i) => ex.params.key === tail[from + i]);
}

/** A route's exchange keys in configuration order: each pair's queues, pair by pair. */
function routeKeys(r: KeyManagerConfig['routes'][number]): string[] {
  return routePairs(r).flatMap((p, pair) => (Array.isArray(p.queues) ? p.queues : []).map((q) => exchangeKey(r.id, q.queue, pair)));
}

export class KeyManager {
  /** Plain numbers, read by metrics and the YANG state. */
  readonly counters: KeyManagerCounters = newCounters();
  /** Per exchange (`route/queue`): is the peer alive (state and metrics read it). */
  readonly liveness: Liveness;
  private settings!: Settings;
  private exchanges = new Map<string, Exchange>();
  // route SPI → gateway address → exchanges (usually one; several only when
  // queues share the gateway's address and differ by ours). Each exchange is
  // filed under its address as configured (the fast path: no parsing) and
  // under its canonical form (address.ts); the two kinds of key never clash.
  private byRoute = new Map<number, Map<string, Exchange[]>>();
  // The exchanges in configuration order, and where tick() resumes starting negotiations.
  private list: Exchange[] = [];
  private cursor = 0;
  // Exchanges per gateway address: each source's share of the rate limit.
  private perGateway = new Map<string, number>();
  // Route id → its exchanges (one per queue and peer).
  private byId = new Map<RouteId, Exchange[]>();
  // Routes with several peers (→ their exchanges of a pair after the first):
  // whose pairs' usability the data plane is told (onPairUsable). Kept up to
  // date exchange by exchange, as byId.
  private multi = new Map<RouteId, number>();
  private readonly maxNegotiations: number;
  private issuer: ChallengeIssuer | null = null;
  // Challenges sent in answer to knocks (unauthenticated: the reflection limit) ...
  private readonly knockLimiter: RateLimiter;
  // ... and the work on challenges and proposals that passed their cheap checks.
  private readonly limiter: RateLimiter;
  private readonly spis: SpiAllocator;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | null = null;
  private lastPrune = 0;
  /** Failures logged for humans (once, then summarised), and counted per route. */
  readonly failures: FailureLog;
  /** `vitesse drain`: telling peers, and being told (exchange/drain-notices.ts). */
  readonly drains: DrainNotices<Exchange>;

  constructor(config: KeyManagerConfig, private readonly options: KeyManagerOptions) {
    this.clock = options.clock ?? { now: () => performance.now() };
    this.log = (options.logger ?? pino({ level: 'info' })).child({ module: 'keymanager' });
    this.failures = new FailureLog(this.log, options.failureSummaryMs);
    this.spis = options.spis ?? new SpiAllocator();
    this.knockLimiter = new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.limiter = new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.maxNegotiations = options.maxNegotiations ?? DEFAULT_MAX_NEGOTIATIONS;
    this.random = options.random ?? Math.random;
    this.liveness = new Liveness({ log: this.log, random: this.random, wall: options.wallClock });
    this.drains = new DrainNotices<Exchange>({
      counters: this.counters,
      log: this.log,
      exchanges: () => this.exchanges.values(),
      // (A peer behind NAT that has not shown where it is has no SA to bind a notice to either.)
      sendToPeer: (ex, payload) => { if (ex.params.gatewayAddress || ex.endpoint) this.send(ex, this.peerEndpoint_(ex), payload, ex.params.natTPort ?? undefined); },
      reply: (ex, to, payload, port) => this.send(ex, to, payload, port),
      drop: (reason, from, ex) => this.drop(reason, from, ex),
      onPeerDraining: (route, queue, pair, draining) => {
        // A route with several peers: the drainer's flows go to its other peers (the usable seam).
        const peer = this.byId.get(route)?.find((e) => e.params.queue === queue && e.params.pair === pair)?.params.peer;
        if (peer && this.multi.has(route)) this.setPeerUsable(peer, !draining, route);
        options.onPeerDraining?.(route, queue, pair, draining);
      },
    });
    this.configure(config);
  }

  /**
   * Applies a configuration. Exchanges whose route parameters (route SPI,
   * pre-shared key, AEAD, addresses) did not change keep their SAs and any
   * negotiation in progress; changed and removed ones lose them. An invalid
   * configuration throws ConfigError and changes nothing.
   *
   * `changed`, if given, names every route that may differ from the running
   * configuration: added, removed or changed (a diff's routes,
   * config/diff.ts, which the caller vouches for). Only those are compiled
   * and compared; the others keep their state untouched and are not read,
   * so a change of one route among 20,000 costs the key manager that route.
   */
  configure(config: KeyManagerConfig, changed?: Iterable<RouteId>): void {
    if (changed && this.settings) return this.configureRoutes(config, new Set(changed));
    const compiled = compileConfig(config);
    const next = new Map<string, Exchange>();
    const added: Exchange[] = [];
    let kept = 0;
    for (const params of compiled.exchanges) {
      const old = this.exchanges.get(params.key);
      if (old && sameExchange(old.params, params)) {
        wipeParams(params);
        this.liveness.override(old.peer, params.liveness);
        next.set(params.key, old);
        kept++;
      } else {
        const ex = this.newExchange(params);
        next.set(params.key, ex);
        added.push(ex);
      }
    }
    for (const [key, old] of this.exchanges) {
      if (next.get(key) !== old) this.removeExchange(old);
    }
    for (const ex of added) this.index(ex);
    this.exchanges = next;
    this.applied(compiled.settings, kept);
  }

  // configure() told which routes may differ.
  private configureRoutes(config: KeyManagerConfig, names: Set<RouteId>): void {
    const routes: KeyManagerConfig['routes'] = [];
    if (Array.isArray(config.routes)) for (const r of config.routes) if (names.has(r.id)) routes.push(r);
    // The named routes get every check a whole configuration gets, and
    // their SPIs may not be those of the routes left as they are.
    const compiled = compileConfig({ ...config, routes });
    for (const p of compiled.exchanges) {
      const other = this.byRoute.get(p.routeSpi)?.values().next().value?.[0]?.params.route;
      if (other !== undefined && !names.has(other)) {
        for (const e of compiled.exchanges) wipeParams(e);
        throw new ConfigError(`/routes/route[id=${p.route}]/spi: ${p.routeSpi} is already the SPI of route "${other}"`);
      }
    }
    const keys = new Set(compiled.exchanges.map((p) => p.key));
    const removed: Exchange[] = [];
    for (const id of names) for (const ex of this.byId.get(id) ?? []) if (!keys.has(ex.params.key)) removed.push(ex);
    const added: Exchange[] = [];
    const appended: Exchange[] = [];
    for (const params of compiled.exchanges) {
      const old = this.exchanges.get(params.key);
      if (old && sameExchange(old.params, params)) {
        wipeParams(params);
        this.liveness.override(old.peer, params.liveness);
        continue;
      }
      const ex = this.newExchange(params);
      if (old) removed.push(old);
      else appended.push(ex);
      this.exchanges.set(params.key, ex); // a key already there keeps its place in the order
      added.push(ex);
    }
    for (const ex of removed) {
      if (this.exchanges.get(ex.params.key) === ex) this.exchanges.delete(ex.params.key);
      this.removeExchange(ex);
    }
    for (const ex of added) this.index(ex);
    // New keys went last, which is their place in the configuration's order
    // when they are its last ones (a route added at the end); otherwise the
    // order is made again.
    if (appended.length && !endsWith(config, appended)) this.reorder(config);
    this.applied(compiled.settings, this.exchanges.size - added.length);
  }

  private reorder(config: KeyManagerConfig): void {
    const next = new Map<string, Exchange>();
    for (const r of config.routes) {
      for (const key of routeKeys(r)) {
        const ex = this.exchanges.get(key);
        if (ex) next.set(key, ex);
      }
    }
    this.exchanges = next;
  }

  private applied(settings: Settings, kept: number): void {
    this.list = [...this.exchanges.values()];
    this.cursor = 0;
    if (this.settings?.negotiationTtlMs !== settings.negotiationTtlMs) {
      // Nonces live one to two negotiation-ttls; negotiations in flight retry.
      this.issuer?.destroy();
      this.issuer = new ChallengeIssuer(settings.negotiationTtlMs);
    }
    this.settings = settings;
    this.liveness.configure(settings.liveness);
    this.log.info({ exchanges: this.exchanges.size, kept }, 'configuration applied');
    this.reportUsable();
  }

  /**
   * Whether the data plane may send the route's flows through this pair: the
   * peer is not down (liveness) and not set unusable (setPeerUsable). Its
   * SAs are the data plane's own condition (a pair without an outbound SA
   * carries nothing).
   */
  private pairUsable(ex: Exchange): boolean {
    return ex.allowed && ex.peer.status !== 'down';
  }

  // Tells the data plane of every change of a multi-peer route's pairs.
  private reportUsable(): void {
    for (const route of this.multi.keys()) for (const ex of this.byId.get(route)!) {
      const usable = this.pairUsable(ex);
      if (ex.reported === usable) continue;
      ex.reported = usable;
      this.options.onPairUsable?.(ex.params.route, ex.params.queue, ex.params.pair, usable);
      this.log.info({ route: ex.params.route, queue: ex.params.queue, peer: ex.params.peer, usable }, usable ? 'peer usable: flows may go through it' : 'peer not usable: its flows go to the route\'s other peers');
    }
  }

  /**
   * The per-peer "usable" seam (docs/scale-out.md): sets whether the data
   * plane may send flows through `peer` (its public key, base64, as in
   * route/peer's key), on `route` or, without it, on every route that lists
   * that peer. A peer set unusable (e.g. one that announced it is draining)
   * is taken out of its routes' flow hashing as a dead one is, and comes
   * back when set usable again; its SAs and key exchanges go on meanwhile.
   * Returns the number of exchanges (route, queue, peer) it applies to.
   */
  setPeerUsable(peer: string, usable: boolean, route?: RouteId): number {
    let n = 0;
    for (const ex of route === undefined ? this.list : this.byId.get(route) ?? []) {
      if (ex.params.peer !== peer) continue;
      ex.allowed = usable;
      n++;
    }
    this.reportUsable();
    return n;
  }

  /** True if `peer` of `route` is usable on some queue (pairUsable); undefined if the route does not list it. */
  peerUsable(route: RouteId, peer: string): boolean | undefined {
    const own = (this.byId.get(route) ?? []).filter((ex) => ex.params.peer === peer);
    return own.length ? own.some((ex) => this.pairUsable(ex)) : undefined;
  }

  private removeExchange(ex: Exchange): void {
    this.dropExchange(ex);
    this.unindex(ex);
    if (!this.byId.has(ex.params.route)) this.failures.forget(ex.params.route);
  }

  // byRoute and perGateway are kept up to date exchange by exchange: a change
  // of one route touches only its own entries.
  private index(ex: Exchange): void {
    const own = this.byId.get(ex.params.route);
    if (own) own.push(ex);
    else this.byId.set(ex.params.route, [ex]);
    if (ex.params.pair > 0) this.multi.set(ex.params.route, (this.multi.get(ex.params.route) ?? 0) + 1);
    this.perGateway.set(ex.gatewayKey, (this.perGateway.get(ex.gatewayKey) ?? 0) + 1);
    let gateways = this.byRoute.get(ex.params.routeSpi);
    if (!gateways) this.byRoute.set(ex.params.routeSpi, (gateways = new Map()));
    for (const gw of new Set([ex.gatewayKey, ex.params.gatewayAddress])) {
      const list = gateways.get(gw);
      if (list) list.push(ex);
      else gateways.set(gw, [ex]);
    }
  }

  private unindex(ex: Exchange): void {
    this.liveness.remove(ex.peer);
    const own = this.byId.get(ex.params.route)!.filter((e) => e !== ex);
    if (own.length) this.byId.set(ex.params.route, own);
    else this.byId.delete(ex.params.route);
    if (ex.params.pair > 0) {
      const m = this.multi.get(ex.params.route)! - 1;
      if (m > 0) this.multi.set(ex.params.route, m);
      else this.multi.delete(ex.params.route);
    }
    const n = this.perGateway.get(ex.gatewayKey)! - 1;
    if (n > 0) this.perGateway.set(ex.gatewayKey, n);
    else this.perGateway.delete(ex.gatewayKey);
    const gateways = this.byRoute.get(ex.params.routeSpi)!;
    for (const gw of new Set([ex.gatewayKey, ex.params.gatewayAddress])) {
      const rest = gateways.get(gw)!.filter((e) => e !== ex);
      if (rest.length) gateways.set(gw, rest);
      else gateways.delete(gw);
    }
    if (!gateways.size) this.byRoute.delete(ex.params.routeSpi);
  }

  /** Handles one key-exchange UDP payload; `to` is the local address it arrived on. */
  receive(from: Endpoint, payload: Buffer, to?: Endpoint): void {
    try {
      this.handle(from, payload, to);
    } catch (err) {
      // A bug, not a peer's fault; never let it unwind into the packet path.
      this.counters.rxerrors++;
      this.log.error({ err: (err as Error).message }, 'internal error handling a key-exchange message');
    }
  }

  /** Runs the timers: negotiation expiry, SA expiry and activation, rekeying. */
  tick(): void {
    const now = this.clock.now();
    this.liveness.poll(now, this.options.traffic);
    this.drains.tick(now);
    let inFlight = 0;
    for (const ex of this.list) {
      const { route, queue } = ex.params;
      const ended = ex.initiator.expire(now);
      if (ended === 'expired' || ended === true) { // true: vita-ske's initiator
        this.liveness.expired(ex.peer, now);
        this.counters.negotiations_expired++;
        this.failures.expired(route, queue, now);
      } else if (ended && ex.initiator instanceof Initiator) {
        // Superseded by the peer's negotiation: no retry if the peer sends on that pair.
        ex.initiator.settleSuperseded(this.options.sink.inboundUsed?.(queue, ended.superseded) ?? false, this.spis);
      }
      ex.sas.tick(now);
      const proposal = ex.initiator.resume(now, this.spis, this.wantsNegotiation(ex, now));
      if (proposal) {
        this.counters.challenges_accepted++;
        this.log.debug({ route, queue }, 'the negotiation we yielded to did not come: proposing');
        this.send(ex, proposal.to, proposal.message, ex.params.natTPort ?? undefined);
      }
      if (ex.initiator.state !== 'idle') inFlight++;
    }
    // Start negotiations, at most maxNegotiations at a time, round-robin from
    // where the last tick stopped: exchanges whose peers do not answer keep
    // retrying, but cannot starve the others.
    const n = this.list.length;
    const start = this.cursor;
    for (let i = 0; i < n && inFlight < this.maxNegotiations; i++) {
      const ex = this.list[(start + i) % n];
      // A peer behind NAT is reached only once it has shown where it is.
      if (!ex.params.gatewayAddress && !ex.endpoint) continue;
      if (ex.initiator.state !== 'idle' || !this.wantsNegotiation(ex, now) || !this.liveness.mayInitiate(ex.peer, now)) continue;
      const knock = ex.initiator.initiate(now, this.settings.negotiationTtlMs);
      this.liveness.initiated(ex.peer);
      inFlight++;
      this.cursor = (start + i + 1) % n;
      this.counters.negotiations_initiated++;
      this.log.debug({ route: ex.params.route, queue: ex.params.queue }, 'negotiation initiated');
      // A route with NAT traversal knocks on the NAT-T port from it, so that the exchange and ESP share the NAT's binding.
      this.send(ex, this.peerEndpoint_(ex), knock, ex.params.natTPort ?? undefined);
    }
    this.failures.flush(now);
    this.reportUsable();
    if (now - this.lastPrune >= RATE_LIMIT_PRUNE_MS) {
      this.knockLimiter.prune(now);
      this.limiter.prune(now);
      this.lastPrune = now;
    }
  }

  /**
   * The data plane counted drops on outbound SA `spi` of `route` on `queue`
   * because its sequence numbers are exhausted (private_drop_sequence_exhausted):
   * negotiate its successor at once rather than at the rekey time, and
   * activate it without the activation delay. True if a rekey was brought
   * forward (false: not the active SA, or a successor is already on its way).
   */
  outboundExhausted(route: RouteId, queue: QueueNumber, spi: Spi): boolean {
    // A route with several peers: the pair whose active SA it is.
    const own = (this.byId.get(route) ?? []).filter((e) => e.params.queue === queue);
    const ex = own.find((e) => e.sas.snapshot().outbound === spi) ?? own[0];
    if (!ex) return false;
    const moved = ex.sas.exhausted(spi, this.clock.now());
    if (moved) this.log.warn({ route, queue, spi }, 'outbound SA exhausted its sequence numbers: rekeying now');
    this.tick();
    return moved;
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      try {
        this.tick();
      } catch (err) {
        // A bug (e.g. the sink refused an SA): that SA is dropped, timers go on.
        this.log.error({ err: (err as Error).message }, 'internal error in the key manager timers');
      }
    };
    tick();
    this.timer = setInterval(tick, this.options.tickInterval ?? 50);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops, removes every SA from the sink and wipes all secrets. */
  close(): void {
    this.stop();
    for (const ex of this.exchanges.values()) this.dropExchange(ex);
    this.exchanges.clear();
    this.list = [];
    this.byRoute.clear();
    this.byId.clear();
    this.multi.clear();
    this.perGateway.clear();
    this.issuer?.destroy();
  }

  state(): ExchangeState[] {
    return [...this.exchanges.values()].map((ex) => ({
      route: ex.params.route,
      queue: ex.params.queue,
      pair: ex.params.pair,
      peer: ex.params.peer,
      usable: this.pairUsable(ex),
      negotiation: ex.initiator.state,
      ...ex.sas.snapshot(),
    }));
  }

  private handle(from: Endpoint, payload: Buffer, to?: Endpoint): void {
    const now = this.clock.now();
    const header = decodeHeader(payload) ?? this.vitaHeader(payload);
    if (!header) return this.drop('protocol', from);
    const gateways = this.byRoute.get(header.routeSpi);
    // A peer behind NAT has no address of its own: its route takes any source (filed under '').
    const candidates = gateways?.get(from.address) ?? gateways?.get(addressKey(from.address) ?? '') ?? gateways?.get('');
    if (!candidates) return this.drop('route', from);
    const ex = this.pickQueue(candidates, to);
    if (!ex) return this.drop('route', from);
    this.protocolHint(ex, payload, now);
    if (ex.initiator instanceof VitaInitiator) return receiveVita(this.vitaHost, ex, ex.initiator, ex.vitaResponder!, payload, from, now);
    const { route, queue } = ex.params;
    switch (header.type) {
      case MessageType.knock: {
        // Nothing in a knock can be authenticated: anyone can forge one from
        // the peer's address. It costs a challenge (a datagram towards that
        // address) from the knock budget, never from the other one.
        const r = readKnock(payload);
        if (!r.ok) return this.drop(r.reason, from, ex);
        if (!this.spend(this.knockLimiter, ex, now)) {
          this.counters.knocks_ratelimited++;
          // Perhaps the peer's knock for its rekey, lost among forgeries: if
          // ours is near too, we negotiate (our knock spends the peer's
          // budget, not ours). Forged knocks can advance it by the jitter only.
          if (ex.sas.rekeyEarly(now)) this.log.debug({ route, queue }, 'knocks over budget: rekeying now rather than after the jitter');
          return;
        }
        this.counters.challenges_offered++;
        this.send(ex, from, challengeFor(ex.params, r.value, this.issuer!, now), to?.port);
        // While knocks from this source go over budget, most are forged: we
        // do not yield to them (at worst both ends negotiate, which is harmless).
        if (this.knockLimiter.refusedSince(ex.gatewayKey, now - this.settings.negotiationTtlMs)) return;
        if (ex.initiator.peerKnocked(r.value)) this.log.debug({ route, queue }, 'both ends initiated: yielding to the peer');
        return;
      }
      case MessageType.challenge: {
        const r = ex.initiator.checkChallenge(payload);
        if (!r.ok) return this.drop(r.reason, from, ex);
        if (!this.spend(this.limiter, ex, now)) {
          this.counters.ratelimited++;
          return;
        }
        const local = this.localEndpoint(ex, to);
        const proposal = ex.initiator.receiveChallenge(r.value, from, now, this.spis, this.wantsNegotiation(ex, now), local);
        if (proposal === null) {
          this.log.debug({ route, queue }, 'challenge not answered now: yielded, or SAs were negotiated meanwhile');
          return;
        }
        this.counters.challenges_accepted++;
        return this.send(ex, proposal.to, proposal.message, local.port);
      }
      case MessageType.proposal: {
        const checked = checkProposal(ex.params, payload, this.issuer!, now);
        if (!checked.ok) return this.drop(checked.reason, from, ex);
        if (!this.spend(this.limiter, ex, now)) {
          this.counters.ratelimited++;
          return;
        }
        const r = agree(ex.params, checked.value, this.issuer!, this.spis, { from, to: this.localEndpoint(ex, to) });
        if (!r.ok) return this.drop(r.reason, from, ex);
        // Install before answering: the initiator may send ESP as soon as it
        // has the agreement, and if installing fails it gets no agreement
        // and retries.
        // The peer's static key authenticates a proposal (its psk does not
        // yet): where the peer is now, before its SAs go out. As WireGuard's
        // initiation does; the cost of a stolen static key without the psk
        // is docs/key-exchange.md 11.6's.
        this.learned(ex, from);
        this.install(ex, r.value.pair, now, 'responder');
        this.counters.keypairs_offered++;
        ex.initiator.peerNegotiated(r.value.pair.inbound.spi);
        return this.send(ex, from, r.value.agreement, to?.port);
      }
      case MessageType.agreement: {
        // Read only while a proposal of ours awaits it (one round trip per
        // negotiation). Its check is the AEAD, after X25519: a budget spent
        // before it would be spent by forgeries before the genuine agreement
        // came, so none is.
        const r = ex.initiator.receiveAgreement(payload, from, this.localEndpoint(ex, to));
        if (!r.ok) return this.drop(r.reason, from, ex);
        this.counters.keypairs_negotiated++;
        this.learned(ex, from);
        return this.install(ex, r.value, now, 'initiator');
      }
      case DRAIN_TYPE:
      case DRAIN_ACK_TYPE:
        return this.drains.receive(ex, payload, from, now, to?.port);
      default:
        return this.drop('protocol', from, ex);
    }
  }

  // The peer knocks in the other protocol than the route's: say so (at most
  // once a minute per exchange); the message is refused and counted as usual.
  private protocolHint(ex: Exchange, payload: Buffer, now: number): void {
    const theirs = knockProtocol(payload);
    if (!theirs || theirs === ex.params.protocol || now - (ex.hintedAt ?? -Infinity) < PROTOCOL_HINT_MS) return;
    ex.hintedAt = now;
    this.log.warn({ route: ex.params.route, queue: ex.params.queue, protocol: ex.params.protocol, peer: theirs },
      `the route's gateway knocks in ${theirs}, the route's protocol is ${ex.params.protocol}: set the same protocol at both ends`);
  }

  // vita-ske does not check the header's reserved octets (vita-ske/messages.ts): its routes' headers are read as Vita reads them.
  private vitaHeader(payload: Buffer) {
    const h = decodeVitaHeader(payload);
    return h && this.byRoute.get(h.routeSpi)?.values().next().value?.[0]?.params.protocol === 'vita-ske-v5' ? h : null;
  }

  private readonly vitaHost: VitaHost<Exchange> = {
    counters: this.counters,
    spis: () => this.spis,
    negotiationTtlMs: () => this.settings.negotiationTtlMs,
    spendKnock: (ex, now) => this.spend(this.knockLimiter, ex, now),
    spend: (ex, now) => this.spend(this.limiter, ex, now),
    wantsNegotiation: (ex, now) => this.wantsNegotiation(ex, now),
    reply: (ex, payload) => this.send(ex, { address: ex.params.gatewayAddress, port: ex.params.gatewayPort ?? this.settings.port }, payload),
    install: (ex, pair, now, role) => this.install(ex, pair, now, role),
    drop: (reason, from, ex) => this.drop(reason, from, ex),
  };

  private spend(limiter: RateLimiter, ex: Exchange, now: number): boolean {
    return limiter.allow(ex.gatewayKey, this.perGateway.get(ex.gatewayKey)!, now);
  }

  private wantsNegotiation(ex: Exchange, now: number): boolean {
    return ex.sas.needsNegotiation(now) || ex.initiator.owesRetry || this.liveness.wantsProbe(ex.peer);
  }

  // Our endpoint a message arrived at (`to`), else the one the route's exchange runs on: IKpsk2's NAT detection (exchange/nat-detection.ts).
  private localEndpoint(ex: Exchange, to?: Endpoint): Endpoint {
    return { address: to?.address ?? ex.params.localAddress, port: to?.port ?? ex.params.natTPort ?? this.settings.port };
  }

  // Without `to`, queues that share the gateway's address are ambiguous.
  private pickQueue(candidates: Exchange[], to?: Endpoint): Exchange | null {
    if (to) {
      const match = candidates.find((ex) => ex.params.localAddress === to.address);
      if (match) return match;
      const local = addressKey(to.address);
      return candidates.find((ex) => ex.localKey === local) ?? null;
    }
    return candidates.length === 1 ? candidates[0] : null;
  }

  private install(ex: Exchange, pair: NegotiatedPair, now: number, role: string): void {
    this.log.info(
      { route: ex.params.route, queue: ex.params.queue, inbound: pair.inbound.spi, outbound: pair.outbound.spi, role, protocol: ex.params.protocol },
      'SA pair negotiated',
    );
    // While our traffic goes unanswered the SAs we send on are likely lost
    // at the peer (it restarted): the new outbound SA is used at once. At
    // worst (the peer kept them) packets the peer's inbound SA is not yet
    // installed for are lost, for one round trip.
    const times = this.times(ex);
    if (this.liveness.unanswered(ex.peer)) times.activationDelayMs = 0;
    ex.sas.add(pair, now, times);
    this.drains.negotiated(ex, now);
    // An authenticated message (proposal or agreement): the peer is alive.
    // Not an unconfirmed (public-key) proposal: a stolen static key without
    // the psk writes one, and so does anyone with our own static key (message
    // 1 of IK is open to key-compromise impersonation). The peer's ESP on the
    // pair, once it comes, counts instead. It still ends a backoff: our own
    // negotiation, tried now, proves the peer alive within one round trip if
    // it is back.
    if (pair.unconfirmed) return this.liveness.retryNow(ex.peer, now);
    this.liveness.handshake(ex.peer, now);
  }

  private times(ex: Exchange): LifecycleTimes {
    const s = this.settings;
    const delay = this.options.activationDelay !== undefined
      ? this.options.activationDelay * 1000
      : Math.min(ACTIVATION_DELAY_NEGOTIATIONS * s.negotiationTtlMs, (ex.vitaResponder ? VITA_ACTIVATION_DELAY_MAX_TTL : ACTIVATION_DELAY_MAX_TTL) * s.saTtlMs);
    return { saTtlMs: s.saTtlMs, activationDelayMs: delay, rekeyJitter: ex.vitaResponder ? VITA_REKEY_JITTER : undefined };
  }

  private drop(reason: DropReason, from: Endpoint, ex?: Exchange): void {
    this.counters.rxerrors++;
    this.counters[DROP_COUNTER[reason]]++;
    this.failures.dropped(reason, ex?.params.route, from.address, this.clock.now());
  }

  // Answers go out from the port the message came to (the NAT-T port's
  // messages are answered on it, behind the non-ESP marker: gateway.ts).
  private send(ex: Exchange, to: Endpoint, payload: Buffer, localPort = this.settings.port): void {
    if (ex.vitaResponder) payload = vitaDeliverable(payload, ex.params.localAddress, to.address, localPort, to.port);
    this.options.transport.send(to, payload, { address: ex.params.localAddress, port: localPort });
  }

  private newExchange(params: ExchangeParams): Exchange {
    const vita = params.protocol === 'vita-ske-v5';
    const ex: Exchange = {
      params,
      initiator: vita ? new VitaInitiator(params, this.options.vitaRandom ?? null) : new Initiator(params),
      vitaResponder: vita ? new VitaResponder(params, this.options.vitaRandom) : null,
      sas: new SaLifecycle(params, {
        sink: this.options.sink,
        spis: this.spis,
        counters: this.counters,
        log: this.log,
        random: this.random,
        endpoint: () => ex.endpoint,
      }),
      localKey: params.local.toString('hex'),
      gatewayKey: params.gateway.toString('hex'),
      peer: this.liveness.add(params.key, params.route, params.queue, params.liveness),
      endpoint: null,
      allowed: true,
    };
    if (params.peer !== null) ex.peer.peer = params.peer;
    return ex;
  }

  /**
   * The data plane moved the peer's endpoint of `route` on `queue` on an
   * authenticated ESP-in-UDP packet, the newest its SA had seen: the key
   * manager's own sends (rekeys, probes) follow it. Only routes whose peer
   * is behind NAT (no configured address) follow; true if it moved.
   */
  peerEndpoint(route: RouteId, queue: QueueNumber, at: Endpoint): boolean {
    // Routes with several peers have no NAT traversal (exchange/config.ts): the first pair is the route's.
    const ex = this.byId.get(route)?.find((e) => e.params.queue === queue && e.params.pair === 0);
    return !!ex && learnEndpoint(ex, at, 'esp', this.log);
  }

  private learned(ex: Exchange, from: Endpoint): void {
    if (learnEndpoint(ex, from, 'key-exchange', this.log)) this.options.onPeerEndpoint?.(ex.params.route, ex.params.queue, { ...from });
  }

  /**
   * Whether the negotiation of `route`'s active outbound SA on `queue` saw a
   * NAT (exchange/nat-detection.ts); null: no active SA, or a pre-shared-key
   * route (no detection).
   */
  natDetected(route: RouteId, queue: QueueNumber, pair = 0): boolean | null {
    return this.byId.get(route)?.find((e) => e.params.queue === queue && e.params.pair === pair)?.sas.natDetected() ?? null;
  }

  /** Where our own messages to the peer go (knocks, drain notices): where it was last seen, or its configured address and port (a route with NAT traversal: its NAT-T port, from it, so that they share the NAT's binding with ESP). */
  private peerEndpoint_(ex: Exchange): Endpoint {
    return ex.endpoint ?? { address: ex.params.gatewayAddress, port: ex.params.natTPort ?? ex.params.gatewayPort ?? this.settings.port };
  }

  /** `vitesse drain` (true) or its cancel (false): every peer is told (exchange/drain-notices.ts). */
  drain(draining: boolean): void {
    this.drains.set(draining, this.clock.now());
  }

  /** True if the route's peer `pair` told us it drains (on any queue). */
  pairDraining(route: RouteId, pair: number): boolean {
    return this.byId.get(route)?.some((ex) => ex.params.pair === pair && this.drains.peerDraining(ex)) ?? false;
  }

  /** True if every peer of `route` told us it drains (its route is then not announced). */
  routeDraining(route: RouteId): boolean {
    const own = this.byId.get(route);
    return !!own?.length && own.every((ex) => this.drains.peerDraining(ex));
  }

  /** The endpoint learned for `route` on `queue` (null: none, or the configured address is used). */
  learnedEndpoint(route: RouteId, queue: QueueNumber, pair = 0): Endpoint | null {
    const ex = this.byId.get(route)?.find((e) => e.params.queue === queue && e.params.pair === pair);
    return ex?.endpoint ? { ...ex.endpoint } : null;
  }

  private dropExchange(ex: Exchange): void {
    this.drains.forget(ex);
    ex.initiator.close(this.spis);
    ex.vitaResponder?.close();
    ex.sas.clear();
    wipeParams(ex.params);
    this.log.info({ route: ex.params.route, queue: ex.params.queue }, 'exchange removed; its SAs are gone');
  }
}
