// The SAs of one exchange (a route on a queue), from negotiation to expiry
// (DESIGN.md §4, "SA lifecycle"):
//
// - a negotiated inbound SA is installed at once; up to MAX_INBOUND_SAS stay
//   valid together (newest first, the oldest is displaced), so packets sent
//   on an older SA during a rollover still arrive;
// - a negotiated outbound SA waits in a queue for its activation delay, so
//   the peer has installed the inbound side (and a retried negotiation can
//   still update it, see ACTIVATION_DELAY_NEGOTIATIONS) before we send on
//   it. With no outbound SA active it is activated at once;
// - a new outbound SA under the SPI of a queued or active one replaces it
//   (outbound_sa_updated): the initiator retried after losing our agreement.
//   The inbound SA we negotiated alongside the replaced one goes too: its SPI
//   was in that lost agreement, so the peer can never send on it, and it
//   would only push a useful SA out of the MAX_INBOUND_SAS;
// - every SA expires at sa-ttl after it was negotiated; a new negotiation is
//   due once the active outbound SA passes its rekey time (about sa-ttl/2,
//   with jitter) and none is queued. rekeyEarly() moves the rekey time to
//   now if sa-ttl/2 has passed: the peer may be knocking for its rekey (the
//   same pair's, jittered otherwise) and cannot get its knock answered.
//
// - a public-key (IKpsk2) responder's outbound SA is *unconfirmed*: psk2 is
//   mixed into the agreement only, so the responder cannot know the
//   initiator holds the same pre-shared key until it receives an authentic
//   packet on the inbound SA negotiated with it. Only that activates it
//   (never the delay); until then it counts for nothing, so this end still
//   negotiates its own SAs as initiator. A peer with a stolen static key but
//   a wrong psk thus never replaces a working outbound SA (as WireGuard's
//   responder waits for the initiator's first data packet). Nor may such a
//   pair take anything from the working SAs: it replaces only an
//   unconfirmed SA under the same SPI (never the active or a confirmed one,
//   whose SPI anyone reads off the wire), and its inbound SA counts against
//   MAX_UNCONFIRMED_INBOUND_SAS, not MAX_INBOUND_SAS: a burst of them
//   displaces only each other (test/keymanager-stolen-key.test.ts). It joins
//   the confirmed ones once the peer sends on it.
//
// Key material is handed to the sink and wiped at once for inbound SAs; for
// queued outbound SAs it is kept until activation, and wiped then or when
// the SA is dropped.
import type { Logger } from 'pino';
import type { ExchangeParams } from './config.js';
import type { KeyManagerCounters } from './counters.js';
import { wipe } from './primitives.js';
import { MAX_INBOUND_SAS, MAX_UNCONFIRMED_INBOUND_SAS, REKEY_AFTER, REKEY_JITTER, type NegotiatedPair } from './protocol.js';
import type { SpiAllocator } from './spi.js';
import { encapsulates, natSeen, type NatView } from './nat-detection.js';
import type { Endpoint, SaSink, Spi } from './types.js';

export interface LifecycleEnv {
  sink: SaSink;
  spis: SpiAllocator;
  counters: KeyManagerCounters;
  log: Logger;
  random: () => number;
  /** The peer's learned endpoint, if any: outbound SAs go there (a peer behind NAT, or one that roamed). */
  endpoint?: () => Endpoint | null;
}

export interface LifecycleTimes {
  saTtlMs: number;
  activationDelayMs: number;
  /** Fraction of sa-ttl for the rekey jitter (default REKEY_JITTER; vita-ske: 1/8, as Vita). */
  rekeyJitter?: number;
}

interface InboundSa {
  spi: Spi;
  expiresAt: number;
  /** Negotiated by us as initiator, or the peer has sent on it (see the header). */
  confirmed: boolean;
}

interface OutboundSa {
  spi: Spi;
  expiresAt: number;
  rekeyAt: number;
  /** Without jitter: rekeyEarly() may move rekeyAt back to here, no further. */
  rekeyFrom: number;
  /** The inbound SA negotiated with it. */
  pairedInbound: Spi;
  /** ESP in UDP (the route's nat-traversal and its negotiation's NAT detection, nat-detection.ts). */
  udp: boolean;
  /** Where its negotiation saw a NAT (IKpsk2); null: not detected (NNpsk0). */
  nat: NatView | null;
}

interface QueuedOutboundSa extends OutboundSa {
  keymat: Buffer;
  activateAt: number;
  /** Activated only once the peer sent on pairedInbound (key confirmation, IKpsk2 responder). */
  unconfirmed: boolean;
}

/** What an exchange holds, for state reporting and tests (no key material). */
export interface SaSnapshot {
  inbound: Spi[];
  outbound: Spi | null;
  queued: Spi[];
}

export class SaLifecycle {
  private inbound: InboundSa[] = [];
  private active: OutboundSa | null = null;
  /** Whether the last active SA's negotiation saw a NAT (logged when it changes). */
  private natSeenLast = false;
  private queued: QueuedOutboundSa[] = [];
  /** The data plane said the active SA used its last sequence number (exhausted()). */
  private activeExhausted = false;

  constructor(private readonly p: ExchangeParams, private readonly env: LifecycleEnv) {}

  /** Takes a negotiated pair (and ownership of its key material and inbound SPI). */
  add(pair: NegotiatedPair, now: number, t: LifecycleTimes): void {
    const unconfirmed = pair.unconfirmed === true;
    // An unconfirmed pair (anyone with the peer's static key could have made
    // it) replaces only another unconfirmed one.
    const replaced = unconfirmed
      ? this.queued.find((sa) => sa.spi === pair.outbound.spi && sa.unconfirmed)
      : this.queued.find((sa) => sa.spi === pair.outbound.spi) ?? (this.active?.spi === pair.outbound.spi ? this.active : undefined);
    if (replaced) this.dropUnrequitedInbound(replaced.pairedInbound);
    try {
      this.addInbound(pair.inbound.spi, pair.inbound.keymat, now, t, !unconfirmed);
    } catch (err) {
      // The sink refused it (a bug there): drop the pair, keep nothing secret.
      this.env.spis.release(pair.inbound.spi);
      wipe(pair.outbound.keymat);
      throw err;
    }
    this.addOutbound(pair.outbound.spi, pair.outbound.keymat, pair.inbound.spi, now, t, unconfirmed, pair.nat ?? null);
  }

  /** Whether the active outbound SA's negotiation saw a NAT; null: no active SA, or no detection (NNpsk0). */
  natDetected(): boolean | null {
    return this.active?.nat ? natSeen(this.active.nat) : null;
  }

  /** True when a negotiation should start: no fresh outbound SA, active or queued. */
  needsNegotiation(now: number): boolean {
    return !this.hasConfirmedQueued() && (this.active === null || now >= this.active.rekeyAt);
  }

  private hasConfirmedQueued(): boolean {
    for (const q of this.queued) if (!q.unconfirmed) return true;
    return false;
  }

  /** Rekeys now rather than at the jittered rekey time, if sa-ttl/2 has passed; true if it moved. */
  rekeyEarly(now: number): boolean {
    const a = this.active;
    if (!a || this.hasConfirmedQueued() || now < a.rekeyFrom || now >= a.rekeyAt) return false;
    a.rekeyAt = now;
    return true;
  }

  /**
   * The data plane says outbound SA `spi` has used its last sequence number
   * and drops what it should send: if it is the active one and no successor
   * is queued, rekey now (before sa-ttl/2). True if that moved the rekey time.
   */
  exhausted(spi: Spi, now: number): boolean {
    const a = this.active;
    if (!a || a.spi !== spi) return false;
    // It sends nothing more: its successor need not wait the activation
    // delay (activateDue), since packets the peer is not ready for would be
    // dropped all the same.
    this.activeExhausted = true;
    this.activateDue(now);
    if (this.active !== a || this.hasConfirmedQueued() || now >= a.rekeyAt) return false;
    a.rekeyAt = now;
    a.rekeyFrom = Math.min(a.rekeyFrom, now);
    return true;
  }

  tick(now: number): void {
    const { counters, log } = this.env;
    const { route, queue } = this.p;
    for (let i = this.inbound.length - 1; i >= 0; i--) {
      const sa = this.inbound[i];
      if (now < sa.expiresAt) continue;
      this.inbound.splice(i, 1);
      this.removeInbound(sa.spi);
      counters.inbound_sa_expired++;
      log.debug({ route, queue, spi: sa.spi }, 'inbound SA expired (sa-ttl)');
    }
    if (this.active && now >= this.active.expiresAt) {
      this.removeOutbound(this.active.spi);
      counters.outbound_sa_expired++;
      log.debug({ route, queue, spi: this.active.spi }, 'outbound SA expired (sa-ttl)');
      this.active = null;
    }
    for (let i = this.queued.length - 1; i >= 0; i--) {
      const sa = this.queued[i];
      if (now < sa.expiresAt) continue;
      this.queued.splice(i, 1);
      wipe(sa.keymat);
      // An unconfirmed one was never going to be used unless the peer spoke first.
      if (!sa.unconfirmed) counters.outbound_sa_expired++;
      log.debug({ route, queue, spi: sa.spi, unconfirmed: sa.unconfirmed }, 'queued outbound SA expired before activation (sa-ttl)');
    }
    this.activateDue(now);
  }

  snapshot(): SaSnapshot {
    return {
      inbound: this.inbound.map((sa) => sa.spi),
      outbound: this.active?.spi ?? null,
      queued: this.queued.map((sa) => sa.spi),
    };
  }

  /** Removes every SA of the exchange from the sink and wipes what it holds. */
  clear(): void {
    for (const sa of this.inbound) this.removeInbound(sa.spi);
    if (this.active) this.removeOutbound(this.active.spi);
    for (const sa of this.queued) wipe(sa.keymat);
    this.inbound = [];
    this.active = null;
    this.queued = [];
  }

  private addInbound(spi: Spi, keymat: Buffer, now: number, t: LifecycleTimes, confirmed: boolean): void {
    const { route, queue, aead } = this.p;
    // Make room first, in its own kind (confirmed or not, see the header).
    for (const sa of this.inbound) if (!sa.confirmed && this.peerUses(sa.spi)) sa.confirmed = true;
    this.trimInbound(confirmed, (confirmed ? MAX_INBOUND_SAS : MAX_UNCONFIRMED_INBOUND_SAS) - 1);
    try {
      this.env.sink.installInbound({ route, queue, ...this.pair, spi, aead, keymat });
    } finally {
      wipe(keymat);
    }
    this.inbound.unshift({ spi, expiresAt: now + t.saTtlMs, confirmed });
  }

  /** Removes the oldest inbound SAs of a kind until at most `keep` remain. */
  private trimInbound(confirmed: boolean, keep: number): void {
    let n = 0;
    for (const sa of this.inbound) if (sa.confirmed === confirmed) n++;
    for (let i = this.inbound.length - 1; i >= 0 && n > keep; i--) {
      const sa = this.inbound[i];
      if (sa.confirmed !== confirmed) continue;
      this.inbound.splice(i, 1);
      this.removeInbound(sa.spi);
      n--;
      // Its outbound half can never be confirmed now.
      const q = this.queued.findIndex((o) => o.unconfirmed && o.pairedInbound === sa.spi);
      if (q >= 0) wipe(this.queued.splice(q, 1)[0].keymat);
    }
  }

  /** The peer sent on inbound SA `spi`: it counts with the confirmed ones now. */
  private confirmInbound(spi: Spi): void {
    const sa = this.inbound.find((x) => x.spi === spi);
    if (!sa || sa.confirmed) return;
    sa.confirmed = true;
    this.trimInbound(true, MAX_INBOUND_SAS);
  }

  private addOutbound(spi: Spi, keymat: Buffer, pairedInbound: Spi, now: number, t: LifecycleTimes, unconfirmed: boolean, nat: NatView | null): void {
    const { route, queue } = this.p;
    const sa: QueuedOutboundSa = {
      spi,
      keymat,
      pairedInbound,
      expiresAt: now + t.saTtlMs,
      rekeyAt: now + t.saTtlMs * (REKEY_AFTER + (t.rekeyJitter ?? REKEY_JITTER) * this.env.random()),
      rekeyFrom: now + t.saTtlMs * REKEY_AFTER,
      activateAt: now + t.activationDelayMs,
      unconfirmed,
      // Each pair follows its own negotiation's detection: a NAT that
      // appears or goes away takes effect with the next pair (at a rekey).
      udp: encapsulates(this.p.natTraversal, nat),
      nat,
    };
    const same = this.queued.findIndex((q) => q.spi === spi && (q.unconfirmed || !unconfirmed));
    if (same >= 0) {
      wipe(this.queued[same].keymat);
      this.queued[same] = sa;
      this.env.counters.outbound_sa_updated++;
      this.env.log.info({ route, queue, spi }, 'queued outbound SA updated');
    } else if (this.active?.spi === spi && !unconfirmed) {
      this.env.counters.outbound_sa_updated++;
      this.env.log.info({ route, queue, spi }, 'active outbound SA updated');
      this.activate(sa);
    } else {
      this.queued.push(sa);
    }
    this.activateDue(now);
  }

  // Activates the newest queued SA whose delay has passed (or the oldest
  // queued one if none is active); older due ones are dropped unused.
  //
  // A queued SA is also due as soon as the peer has sent on the inbound SA
  // negotiated with it: the peer installs its inbound side of the pair before
  // it sends on its outbound one, so the delay has nothing left to protect.
  // After a peer restarts, this is what ends the outage without waiting the
  // whole activation delay on the stale SA.
  private activateDue(now: number): void {
    let due = -1;
    let firstConfirmed = -1;
    let lastConfirmed = -1;
    for (let i = 0; i < this.queued.length; i++) {
      const q = this.queued[i];
      if (this.peerUses(q.pairedInbound) || (!q.unconfirmed && now >= q.activateAt)) due = i;
      if (!q.unconfirmed) {
        if (firstConfirmed < 0) firstConfirmed = i;
        lastConfirmed = i;
      }
    }
    if (due < 0 && this.active === null) due = firstConfirmed;
    if (due < 0 && this.activeExhausted) due = lastConfirmed;
    if (due < 0) return;
    const [sa] = this.queued.splice(due, 1);
    for (const older of this.queued.splice(0, due)) wipe(older.keymat);
    if (sa.unconfirmed) this.confirmInbound(sa.pairedInbound);
    this.activate(sa);
  }

  private peerUses(inbound: Spi): boolean {
    return this.env.sink.inboundUsed?.(this.p.queue, inbound) ?? false;
  }

  private activate(sa: QueuedOutboundSa): void {
    const { route, queue, aead, localAddress, natTPort } = this.p;
    const learned = this.env.endpoint?.() ?? null;
    const gatewayAddress = learned?.address ?? this.p.gatewayAddress;
    const udp = natTPort === null || !sa.udp ? {} : { udpSourcePort: natTPort, udpDestinationPort: learned?.port ?? natTPort };
    try {
      this.env.sink.installOutbound({ route, queue, ...this.pair, spi: sa.spi, aead, keymat: sa.keymat, localAddress, gatewayAddress, ...udp });
    } finally {
      wipe(sa.keymat);
    }
    this.active = { spi: sa.spi, expiresAt: sa.expiresAt, rekeyAt: sa.rekeyAt, rekeyFrom: sa.rekeyFrom, pairedInbound: sa.pairedInbound, udp: sa.udp, nat: sa.nat };
    this.activeExhausted = false;
    this.env.log.debug({ route, queue, spi: sa.spi, udp: sa.udp }, 'outbound SA activated');
    // Said once when it changes (a NAT appeared or went away), not at every rekey.
    if (sa.nat && natSeen(sa.nat) !== this.natSeenLast) {
      this.natSeenLast = natSeen(sa.nat);
      this.env.log.info({ route, queue, spi: sa.spi, natDetected: this.natSeenLast, local: sa.nat.local, remote: sa.nat.remote, udp: sa.udp },
        this.natSeenLast ? 'NAT detected' : 'NAT no longer detected');
    }
  }

  private dropUnrequitedInbound(spi: Spi): void {
    const i = this.inbound.findIndex((sa) => sa.spi === spi);
    if (i < 0) return;
    this.inbound.splice(i, 1);
    this.removeInbound(spi);
    this.env.log.debug({ route: this.p.route, queue: this.p.queue, spi }, 'inbound SA removed: its agreement was lost');
  }

  // A route's other pairs (several peers) name theirs; the first (or only) one, as before, does not.
  private get pair(): { pair?: number } {
    return this.p.pair ? { pair: this.p.pair } : {};
  }

  private removeOutbound(spi: Spi): void {
    if (this.p.pair) this.env.sink.removeOutbound(this.p.route, this.p.queue, spi, this.p.pair);
    else this.env.sink.removeOutbound(this.p.route, this.p.queue, spi);
  }

  private removeInbound(spi: Spi): void {
    this.env.sink.removeInbound(this.p.queue, spi);
    this.env.spis.release(spi);
  }
}
