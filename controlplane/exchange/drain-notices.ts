// Drain, as the key manager carries it (docs/key-exchange.md, "Drain"; the
// message is drain.ts). Both ends of every exchange:
//
// Sending (`vitesse drain`): every exchange with an active outbound SA gets
// a notice "draining" (or, when the drain is cancelled, "in service"),
// retransmitted every RETRANSMIT_MS until acknowledged, each time with a new
// counter and bound to the SA we send on then. While draining, each notice
// is refreshed every REFRESH_MS, and a pair negotiated anew (a peer that
// restarted and forgot) is told at once.
//
// Receiving: an authentic, fresh notice marks the peer draining (the data
// plane hashes the route's flows over its other peers, and the route is no
// longer announced over BGP if no other peer is left) or in service again,
// and is acknowledged. The mark holds until an "in service" notice, or
// until the notices stop (no refresh for HOLD_MS) and a new SA pair was
// negotiated with the peer since its last one: a drained gateway that was
// restarted is taken back once it negotiates, a stopped one stays out (and
// dead-peer detection takes it down).
//
// A vita-ske-v5 route has no such message (Vita has none): its peers are
// not told, and say so in progress().
import type { Logger } from 'pino';
import type { ExchangeParams } from './config.js';
import type { DropReason, KeyManagerCounters } from './counters.js';
import { authenticDrain, decodeDrain, drainKey, encodeDrain } from './drain.js';
import { wipe } from './primitives.js';
import type { SaSnapshot } from './sa-lifecycle.js';
import type { Endpoint, QueueNumber, RouteId } from './types.js';

export const RETRANSMIT_MS = 1000;
export const REFRESH_MS = 10_000;
export const HOLD_MS = 3 * REFRESH_MS;
/** "In service" notices are retransmitted this often at most (a peer that never answers forgets on its own: HOLD_MS). */
const MAX_IN_SERVICE_TRIES = 30;

/** What this module needs of an exchange (the key manager's satisfies it). */
export interface DrainExchange {
  params: ExchangeParams;
  sas: { snapshot(): SaSnapshot };
  /** Its peer's liveness (exchange/liveness.ts): one that is down cannot answer. */
  peer?: { status: string };
}

export interface DrainHost<E extends DrainExchange> {
  counters: KeyManagerCounters;
  log: Logger;
  exchanges(): Iterable<E>;
  /** To the peer where the key manager sends its own messages. */
  sendToPeer(ex: E, payload: Buffer): void;
  /** An answer, to where the message came from, from the port it came to. */
  reply(ex: E, to: Endpoint, payload: Buffer, localPort?: number): void;
  drop(reason: DropReason, from: Endpoint, ex: E): void;
  /** The peer of this exchange is (no longer) draining. */
  onPeerDraining?(route: RouteId, queue: QueueNumber, pair: number, draining: boolean): void;
}

interface Notice {
  draining: boolean;
  first: bigint;
  last: bigint;
  tries: number;
  nextAt: number;
  /** The last one sent was answered. */
  acked: boolean;
  /** Any of them was answered. */
  answered: boolean;
}

const fresh = (draining: boolean, now: number): Notice => ({ draining, first: -1n, last: -1n, tries: 0, nextAt: now, acked: false, answered: false });

interface Link {
  key: Buffer;
  ours: Buffer;
  theirs: Buffer;
  /** Receiving: the highest counter accepted from the peer. */
  highest: bigint;
  peerDraining: boolean;
  noticeAt: number;
  handshakeAt: number;
  /** Sending. */
  notice: Notice | null;
}

/** A route's pair (several peers per route), 0 otherwise. */
export const pairOf = (p: ExchangeParams): number => (p as { pair?: number }).pair ?? 0;

/** Per exchange, for `vitesse drain` and state. */
export interface DrainPeerProgress {
  route: RouteId;
  queue: QueueNumber;
  pair: number;
  /** told: a notice was sent; acknowledged: the peer answered; no-sa: no SA to send on (yet), or the peer is down; not-supported: vita-ske-v5. */
  status: 'pending' | 'told' | 'acknowledged' | 'no-sa' | 'not-supported';
}

export class DrainNotices<E extends DrainExchange> {
  private readonly links = new Map<E, Link>();
  private readonly pending = new Set<E>();
  private readonly drainingPeers = new Set<E>();
  private counter: bigint;
  private nextDue = Infinity;
  /** This gateway is draining (`vitesse drain`, until cancelled or stopped). */
  draining = false;

  constructor(private readonly host: DrainHost<E>, wallMs: number = Date.now()) {
    // Strictly increasing across restarts without state on disk: microseconds of the wall clock at start.
    this.counter = BigInt(Math.floor(wallMs)) * 1000n;
  }

  /** Starts (true) or cancels (false) the drain: every exchange's peer is told. */
  set(draining: boolean, now: number): void {
    this.draining = draining;
    for (const ex of this.host.exchanges()) {
      if (ex.params.protocol !== 'vitesse-ske') continue;
      const l = this.link(ex);
      l.notice = fresh(draining, now);
      this.pending.add(ex);
    }
    this.nextDue = now;
    this.tick(now);
  }

  /** An SA pair was negotiated on `ex` (either role). */
  negotiated(ex: E, now: number): void {
    const known = this.links.get(ex);
    if (known) known.handshakeAt = now;
    if (!this.draining || ex.params.protocol !== 'vitesse-ske') return;
    // A peer that restarted forgot we drain: tell it now, not at the next refresh.
    const l = this.link(ex);
    if (l.notice?.draining) l.notice.nextAt = now;
    else l.notice = fresh(true, now);
    this.pending.add(ex);
    this.nextDue = Math.min(this.nextDue, now);
  }

  tick(now: number): void {
    if (now >= this.nextDue) this.sendDue(now);
    for (const ex of this.drainingPeers) {
      const l = this.links.get(ex)!;
      // Its notices stopped and it negotiated since: restarted, not draining.
      if (now - l.noticeAt >= HOLD_MS && l.handshakeAt > l.noticeAt) this.mark(ex, l, false, 'no drain notice since it negotiated anew');
    }
  }

  private sendDue(now: number): void {
    let next = Infinity;
    for (const ex of this.pending) {
      const n = this.links.get(ex)?.notice;
      if (!n) {
        this.pending.delete(ex);
        continue;
      }
      if (now >= n.nextAt) {
        if (n.acked) {
          // Acknowledged: refreshed while draining, done when in service.
          if (!n.draining) {
            this.pending.delete(ex);
            continue;
          }
          n.acked = false;
          n.tries = 0;
        }
        if (!n.draining && n.tries >= MAX_IN_SERVICE_TRIES) {
          this.pending.delete(ex);
          continue;
        }
        this.send(ex, n, now);
      }
      next = Math.min(next, n.nextAt);
    }
    this.nextDue = next;
  }

  private send(ex: E, n: Notice, now: number): void {
    const spi = ex.sas.snapshot().outbound;
    n.nextAt = now + RETRANSMIT_MS;
    // Bound to the SA we send on: none yet, nothing to tell (tried again).
    if (spi === null) return;
    const l = this.link(ex);
    const counter = ++this.counter;
    if (n.first < 0n) n.first = counter;
    n.last = counter;
    n.tries++;
    this.host.counters.drains_sent++;
    this.host.sendToPeer(ex, encodeDrain(l.key, { routeSpi: ex.params.routeSpi, ack: false, draining: n.draining, spi, counter }, l.ours, l.theirs));
  }

  /** A message of type drain or drain-ack for `ex`. */
  receive(ex: E, payload: Buffer, from: Endpoint, now: number, localPort?: number): void {
    const d = decodeDrain(payload);
    if (!d.ok) return this.host.drop(d.reason, from, ex);
    const l = this.link(ex);
    if (!authenticDrain(l.key, payload, l.theirs, l.ours)) return this.host.drop('drain', from, ex);
    const m = d.msg;
    if (m.ack) {
      const n = l.notice;
      // Only for a notice of ours in flight (any of its retransmissions).
      if (!n || n.first < 0n || m.counter < n.first || m.counter > n.last || m.draining !== n.draining) return this.host.drop('drain', from, ex);
      this.host.counters.drain_acks_accepted++;
      if (!n.acked) {
        n.acked = true;
        n.answered = true;
        n.nextAt = now + REFRESH_MS;
        this.nextDue = Math.min(this.nextDue, n.nextAt);
      }
      return;
    }
    // Fresh, and bound to an SA we hold now: a recording is dead once its SA expired or we restarted.
    if (m.counter <= l.highest || !ex.sas.snapshot().inbound.includes(m.spi as never)) return this.host.drop('drain', from, ex);
    l.highest = m.counter;
    this.host.counters.drains_accepted++;
    if (m.draining) l.noticeAt = now;
    this.mark(ex, l, m.draining, m.draining ? 'the peer drains: its flows move to the route\'s other peers' : 'the peer is in service again');
    this.host.reply(ex, from, encodeDrain(l.key, { ...m, ack: true }, l.ours, l.theirs), localPort);
  }

  private mark(ex: E, l: Link, draining: boolean, why: string): void {
    if (draining) this.drainingPeers.add(ex);
    else this.drainingPeers.delete(ex);
    if (l.peerDraining === draining) return;
    l.peerDraining = draining;
    const { route, queue } = ex.params;
    const pair = pairOf(ex.params);
    this.host.log.info({ route, queue, ...(pair ? { pair } : {}), draining }, why);
    this.host.onPeerDraining?.(route, queue, pair, draining);
  }

  /** Whether the peer of `ex` told us it drains. */
  peerDraining(ex: E): boolean {
    return this.links.get(ex)?.peerDraining === true;
  }

  /** Each exchange's notice, while draining or after a cancel. */
  progress(): DrainPeerProgress[] {
    const out: DrainPeerProgress[] = [];
    for (const ex of this.host.exchanges()) {
      const { route, queue } = ex.params;
      const pair = pairOf(ex.params);
      if (ex.params.protocol !== 'vitesse-ske') {
        out.push({ route, queue, pair, status: 'not-supported' });
        continue;
      }
      const n = this.links.get(ex)?.notice;
      const status = n?.answered ? 'acknowledged'
        : ex.sas.snapshot().outbound === null || ex.peer?.status === 'down' ? 'no-sa'
        : n && n.first >= 0n ? 'told' : 'pending';
      out.push({ route, queue, pair, status });
    }
    return out;
  }

  /** The exchange goes (configuration change, close): its key is wiped; one made anew starts in service. */
  forget(ex: E): void {
    const l = this.links.get(ex);
    if (!l) return;
    wipe(l.key);
    this.links.delete(ex);
    this.pending.delete(ex);
    this.drainingPeers.delete(ex);
  }

  private link(ex: E): Link {
    let l = this.links.get(ex);
    if (!l) {
      const p = ex.params;
      l = {
        key: drainKey(p.psk, p.staticShared, p.routeSpi),
        // A public-key route's ends are their static keys; a pre-shared-key route's, their addresses.
        ours: p.staticKey ? p.staticKey.publicKey : p.local,
        theirs: p.peerPublicKey ?? p.gateway,
        highest: -1n, peerDraining: false, noticeAt: -Infinity, handshakeAt: -Infinity, notice: null,
      };
      this.links.set(ex, l);
    }
    return l;
  }
}
