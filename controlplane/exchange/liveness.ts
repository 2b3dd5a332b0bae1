// Dead-peer detection, per exchange (a route on a queue): is the remote
// gateway alive? (docs/key-exchange.md, "Liveness"; docs/operations.md, "Peer up").
//
// Evidence of life is only what an off-path attacker cannot forge: an
// authenticated key-exchange message (a proposal or an agreement that passed
// its AEAD; a public-key route's proposal only once confirmed, by ESP) or authenticated ESP (a route's inbound packet counter moved: the
// data plane counts only packets that passed the tag and anti-replay checks).
// The data plane's counters are read in one batch at most every pollMs (the
// same per-SA table the metrics read), never per packet.
//
//   unknown ──handshake──▶ up ──sent ESP, nothing received for liveness-interval──▶ suspect
//      │                   ▲                                                           │
//      │                   └──────── any authenticated message or ESP ◀────────────────┤
//      │                   ▲                                                           │
//      └─ liveness-failures failed probes ─▶ down ◀── liveness-failures failed probes ─┘
//
// A probe is a new key exchange we initiate: when it completes the peer is
// alive, and the SAs it installs replace those a restarted peer lost. While
// `suspect` (and `unknown`: a gateway that starts before its peer) every
// negotiation we start is a probe, counted in probesSent, and one that
// expires (negotiation-ttl) in probesFailed; a negotiation of ours that
// expires while the peer is up (an unanswered rekey) makes it suspect. After `failures` of them in a
// row the peer is down: one warn line, and our own initiations back off
// (exponential from liveness-interval, bounded by MAX_BACKOFF_MS, jittered
// so that many routes to one dead site do not retry in step). Answering the
// peer is never delayed, so a peer that comes back is up within one round
// trip of its first authenticated message.
import type { Logger } from 'pino';
import { exchangeKey, type QueueNumber, type RouteId } from './types.js';

export const DEFAULT_LIVENESS_INTERVAL_S = 10;
export const DEFAULT_LIVENESS_FAILURES = 3;
/** The longest wait between two initiations towards a peer that is down. */
export const MAX_BACKOFF_MS = 120_000;
/** A backoff delay is this fraction of its nominal value, or up to all of it (random). */
const BACKOFF_JITTER = 0.5;
/** The traffic counters are read at most this often (and at least 4 times per interval). */
const MAX_POLL_MS = 1000;

export type PeerStatus = 'unknown' | 'up' | 'suspect' | 'down';

export interface LivenessSettings {
  intervalMs: number;
  failures: number;
}

/** A route's own settings, where it has any. */
export type LivenessOverride = Partial<LivenessSettings>;

/** One route and queue's packets so far, each way (authenticated inbound, encapsulated outbound). */
export interface TrafficReading {
  route: RouteId;
  queue: QueueNumber;
  /** A route's pair (several peers: each pair's SAs counted apart); absent: 0. */
  pair?: number;
  inbound: number;
  outbound: number;
}

/** The data plane's per-route counters, read in one batch. */
export type TrafficSource = () => Iterable<TrafficReading>;

/** What state and metrics report for one exchange; times are wall-clock milliseconds (Date.now()), null when never. */
export interface PeerSnapshot {
  status: PeerStatus;
  peerUp: boolean;
  downSince: number | null;
  lastHandshake: number | null;
  lastReceived: number | null;
  probesSent: number;
  probesFailed: number;
}

/** One exchange's peer; the key manager keeps it with the exchange (no lookup per tick). */
export interface Peer {
  readonly key: string;
  route: RouteId;
  queue: QueueNumber;
  /** A route with several peers: which one (its public key, base64), for the log lines. */
  peer?: string;
  override: LivenessOverride;
  status: PeerStatus;
  /** Counter values of the last poll (-1: none yet). */
  inbound: number;
  outbound: number;
  /** Monotonic time since which we send and have received nothing; null if not. */
  sendingSince: number | null;
  /** The negotiation in flight is a probe. */
  probing: boolean;
  /** Probes failed in a row. */
  failed: number;
  backoffStep: number;
  nextAttemptAt: number;
  probesSent: number;
  probesFailed: number;
  downSince: number | null;
  lastHandshake: number | null;
  lastReceived: number | null;
}

export interface LivenessEnv {
  log: Logger;
  /** Wall-clock milliseconds for the times reported (default Date.now). */
  wall?: () => number;
  /** [0, 1) for the backoff jitter. */
  random: () => number;
}

export class Liveness {
  private readonly peers = new Map<string, Peer>();
  private settings: LivenessSettings = { intervalMs: DEFAULT_LIVENESS_INTERVAL_S * 1000, failures: DEFAULT_LIVENESS_FAILURES };
  private lastPoll = -Infinity;
  /** The shortest liveness-interval of any route that has its own (never grows: only the polling is finer). */
  private shortestOverrideMs = Infinity;
  private readonly wall: () => number;

  constructor(private readonly env: LivenessEnv) {
    this.wall = env.wall ?? Date.now;
  }

  configure(settings: LivenessSettings): void {
    this.settings = settings;
  }

  /** An exchange to watch, under its key (`route/queue`); a new one starts unknown and replaces any under that key. */
  add(key: string, route: RouteId, queue: QueueNumber, override: LivenessOverride = {}): Peer {
    const p: Peer = {
      key, route, queue, override: {}, status: 'unknown', inbound: -1, outbound: -1, sendingSince: null, probing: false, failed: 0,
      backoffStep: 0, nextAttemptAt: 0, probesSent: 0, probesFailed: 0, downSince: null, lastHandshake: null, lastReceived: null,
    };
    this.peers.set(key, p);
    this.override(p, override);
    return p;
  }

  /** The route's own settings (a configuration change that kept the exchange). */
  override(p: Peer, override: LivenessOverride): void {
    p.override = override;
    if (override.intervalMs !== undefined) this.shortestOverrideMs = Math.min(this.shortestOverrideMs, override.intervalMs);
  }

  /** Stops watching `p` (not one added since under its key). */
  remove(p: Peer): void {
    if (this.peers.get(p.key) === p) this.peers.delete(p.key);
  }

  /** True while the peer must be probed (suspect) or retried (down), whatever the SAs' lifetimes say. */
  wantsProbe(p: Peer): boolean {
    return p.status === 'suspect' || p.status === 'down';
  }

  /**
   * True while the ESP we send goes unanswered (suspect or down, and sending
   * with nothing received): the peer has likely lost the SAs we send on (a
   * restart), so a new pair's outbound SA should be used at once rather
   * than after the activation delay. Not for key exchanges that merely
   * failed (forged knocks can make ours fail; ESP silence they cannot fake).
   */
  unanswered(p: Peer): boolean {
    return (p.status === 'suspect' || p.status === 'down') && p.sendingSince !== null;
  }

  /** False while a peer that is down is in its backoff. */
  mayInitiate(p: Peer, now: number): boolean {
    return p.status !== 'down' || now >= p.nextAttemptAt;
  }

  /** We started a negotiation on this exchange. */
  initiated(p: Peer): void {
    if (p.status === 'up' || p.status === 'down') return;
    p.probing = true;
    p.probesSent++;
  }

  /** A negotiation we started expired unanswered. */
  expired(p: Peer, now: number): void {
    if (p.status === 'down') {
      p.backoffStep++;
      p.nextAttemptAt = now + this.backoff(p, p.backoffStep);
      return;
    }
    if (!p.probing) {
      // A rekey of ours went unanswered: as good a reason to probe as silence.
      if (p.status === 'up') {
        p.status = 'suspect';
        p.failed = 0;
      }
      return;
    }
    p.probing = false;
    p.probesFailed++;
    p.failed++;
    if (p.failed < (p.override.failures ?? this.settings.failures)) return;
    p.status = 'down';
    p.downSince = this.wall();
    p.backoffStep = 0;
    p.nextAttemptAt = now + this.backoff(p, 0);
    this.env.log.warn(
      { route: p.route, queue: p.queue, ...(p.peer ? { peer: p.peer } : {}), probes: p.failed, lastReceived: iso(p.lastReceived) },
      'peer down: no answer to liveness probes',
    );
  }

  /**
   * A proposal that needs a static key but is not proof of life (an
   * unconfirmed public-key pair): a peer that is down is retried now, not
   * marked up. At most one initiation per such proposal (their rate limit).
   */
  retryNow(p: Peer, now: number): void {
    if (p.status === 'down') p.nextAttemptAt = Math.min(p.nextAttemptAt, now);
  }

  /** An SA pair was negotiated with the peer (either role): it sent an authenticated message. */
  handshake(p: Peer, now: number): void {
    p.lastHandshake = this.wall();
    this.alive(p, now);
  }

  /**
   * Reads the data plane's counters (at most every pollMs): inbound packets
   * are authenticated ESP from the peer; outbound packets with nothing
   * inbound for liveness-interval make an up peer suspect.
   */
  poll(now: number, source: TrafficSource | undefined): void {
    if (!source || now - this.lastPoll < this.pollMs) return;
    this.lastPoll = now;
    for (const r of source()) {
      const p = this.peers.get(exchangeKey(r.route, r.queue, r.pair));
      if (!p) continue;
      // Counters only grow; smaller ones (a route configured anew) are a new baseline.
      const received = p.inbound >= 0 && r.inbound > p.inbound;
      const sent = p.outbound >= 0 && r.outbound > p.outbound;
      p.inbound = r.inbound;
      p.outbound = r.outbound;
      if (received) this.alive(p, now);
      else if (sent && p.sendingSince === null) p.sendingSince = now;
      if (p.status === 'up' && p.sendingSince !== null && now - p.sendingSince >= this.intervalOf(p)) {
        p.status = 'suspect';
        p.failed = 0;
        this.env.log.debug({ route: p.route, queue: p.queue }, 'sent ESP but received nothing for liveness-interval: probing');
      }
    }
  }

  snapshot(key: string): PeerSnapshot | undefined {
    const p = this.peers.get(key);
    if (!p) return undefined;
    return {
      status: p.status,
      peerUp: p.status === 'up' || p.status === 'suspect',
      downSince: p.downSince,
      lastHandshake: p.lastHandshake,
      lastReceived: p.lastReceived,
      probesSent: p.probesSent,
      probesFailed: p.probesFailed,
    };
  }

  private get pollMs(): number {
    return Math.min(MAX_POLL_MS, this.settings.intervalMs / 4, this.shortestOverrideMs / 4);
  }

  private alive(p: Peer, now: number): void {
    p.lastReceived = this.wall();
    p.sendingSince = null;
    p.probing = false;
    p.failed = 0;
    if (p.status === 'down') {
      this.env.log.info({ route: p.route, queue: p.queue, ...(p.peer ? { peer: p.peer } : {}), downSince: iso(p.downSince) }, 'peer up again');
    } else if (p.status === 'unknown') {
      this.env.log.info({ route: p.route, queue: p.queue, ...(p.peer ? { peer: p.peer } : {}) }, 'peer up');
    }
    p.status = 'up';
    p.downSince = null;
    p.backoffStep = 0;
    p.nextAttemptAt = now;
  }

  private intervalOf(p: Peer): number {
    return p.override.intervalMs ?? this.settings.intervalMs;
  }

  private backoff(p: Peer, step: number): number {
    const interval = this.intervalOf(p);
    const nominal = Math.min(interval * 2 ** Math.min(step, 30), Math.max(MAX_BACKOFF_MS, interval));
    return nominal * (1 - BACKOFF_JITTER * this.env.random());
  }
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
