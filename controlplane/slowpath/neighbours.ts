// Next-hop resolution (ARP, RFC 826; Neighbour Discovery, RFC 4861 §7.3):
// one resolver per side keeps the MAC of that side's next hop, which the data
// plane needs for every frame it sends, and reports changes through setMac.
//
// States (a simplification of RFC 4861's, for one neighbour we always use):
//   incomplete  no MAC yet: broadcast/multicast requests, backing off from
//               retryMs to retryMaxMs, until an answer arrives.
//   reachable   MAC confirmed by an answer; after refreshMs we re-check it.
//   probe       re-checking: unicast requests to the MAC we have, `probes`
//               of them, retryMs apart.
//   stale       the unicast probes went unanswered: broadcast again with
//               backoff. The old MAC stays in use meanwhile: without an answer
//               nothing better is known, and withdrawing it would only turn a
//               maybe-working path into a certainly-dropping one.
//   static      configured MAC: no resolution, nothing learned.
//
// Who may move the entry (DESIGN §7: neighbour entries change only on answers
// to our own requests). One forged ARP packet used to redirect the tunnel;
// now:
//   - An answer counts only while the request it answers is open: within
//     answerMs of sending it, and, for a unicast probe, only from the MAC it
//     was sent to. Answers to a broadcast that name another MAC than the one
//     in use are held until the request's window closes and win only if the
//     MAC in use did not answer the same request; a change is rate limited.
//   - Everything else naming the next hop's address with another MAC
//     (gratuitous ARP, unsolicited ARP replies and requests, unsolicited NAs
//     even with the override flag, solicitations and router adverts, answers
//     outside a window) is an unsolicited claim: counted, changes nothing,
//     and triggers a broadcast request at once (rate limited). The broadcast,
//     not a unicast probe, is what reveals a genuine move: a replaced router
//     or a VRRP master with its own MAC answers it while the old MAC stays
//     silent, so the move is followed one window (answerMs) after its
//     announcement; a forger's claim is contradicted by the live next hop's
//     answer to the same request. A forger that answers our requests while
//     the real next hop is silent or gone can still win; docs/security.md
//     says so, and recommends a static MAC where the next hop never moves.
import type { Logger } from 'pino';
import { formatIp, formatMac, type IpBytes, type MacBytes } from './address.js';
import { TokenBucket, type RateLimit } from '../token-bucket.js';
import type { Side } from './types.js';

export type NeighbourState = 'static' | 'incomplete' | 'reachable' | 'probe' | 'stale';

export interface NeighbourEntry {
  side: Side;
  address: string;
  mac: string | null;
  state: NeighbourState;
  /** Seconds since the MAC was last confirmed or learned; null if never. */
  age: number | null;
  /** Claims of the next hop's address for another MAC than the one in use that changed nothing (YANG `unsolicited-claims`). */
  unsolicitedClaims: number;
  /** Times the MAC in use was replaced by another (YANG `mac-changes`). */
  macChanges: number;
  /** Changes an answer called for but the change rate limit refused (YANG `mac-changes-rate-limited`). */
  macChangesRateLimited: number;
}

export interface ResolverTiming {
  /** How long a confirmed MAC is trusted before it is checked again. */
  refreshMs: number;
  /** First retransmission interval, doubled after each unanswered broadcast. */
  retryMs: number;
  retryMaxMs: number;
  /** Unicast probes before falling back to broadcast. */
  probes: number;
  /** How long after a request its answers count (at most retryMs). */
  answerMs: number;
  /** Requests sent because of unsolicited claims. */
  claimProbes: RateLimit;
  /** Replacements of a MAC in use by another. */
  changes: RateLimit;
}

export const DEFAULT_RESOLVER_TIMING: ResolverTiming = {
  refreshMs: 30_000,
  retryMs: 1_000,
  retryMaxMs: 30_000,
  probes: 3,
  answerMs: 1_000,
  claimProbes: { perSecond: 1, burst: 3 },
  // A failover and a failback within a minute pass; a flapping next hop
  // settles at one change per 20 s.
  changes: { perSecond: 0.05, burst: 3 },
};

// Log a resolution that keeps failing at these attempt counts, not every retry.
const WARN_AFTER_ATTEMPTS = 3;
const WARN_EVERY_ATTEMPTS = 20;
// Claims and refused changes are logged at most this often per next hop and kind.
const WARN_INTERVAL_MS = 10_000;

export interface ResolverHooks {
  /** Sends one request/solicitation for the next hop: broadcast when `mac` is null, else unicast to it. */
  probe(mac: MacBytes | null): void;
  /** The next hop's MAC changed (the data plane must use it). */
  setMac(mac: MacBytes | null): void;
  now(): number;
  log: Logger;
}

// Our last request while its answers count.
interface OpenRequest {
  at: number;
  /** The MAC a unicast probe went to; null for a broadcast. */
  to: MacBytes | null;
  /** The MAC in use answered it. */
  currentAnswered: boolean;
  /** The first other MAC that answered it (a broadcast while a MAC is in use). */
  candidate: MacBytes | null;
}

export class NextHopResolver {
  private mac: MacBytes | null;
  private state: NeighbourState;
  private updatedAt: number | null = null;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private windowTimer: ReturnType<typeof setTimeout> | null = null;
  private request: OpenRequest | null = null;
  private running = false;
  private readonly timing: ResolverTiming;
  private readonly claimProbes: TokenBucket;
  private readonly changes: TokenBucket;
  private readonly counts = { unsolicitedClaims: 0, macChanges: 0, macChangesRateLimited: 0 };
  // When each kind of warning (by message) was last logged.
  private readonly lastWarning = new Map<string, number>();

  constructor(
    readonly side: Side,
    readonly address: IpBytes,
    private readonly staticMac: MacBytes | null,
    timing: ResolverTiming,
    private readonly hooks: ResolverHooks,
  ) {
    // A window longer than the retry interval would overlap the next request.
    this.timing = { ...timing, answerMs: Math.min(timing.answerMs, timing.retryMs) };
    this.claimProbes = new TokenBucket(timing.claimProbes);
    this.changes = new TokenBucket(timing.changes);
    this.mac = staticMac;
    this.state = staticMac ? 'static' : 'incomplete';
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.staticMac) {
      this.updatedAt = this.hooks.now();
      this.hooks.log.info({ side: this.side, nextHop: formatIp(this.address), mac: formatMac(this.staticMac), configured: true }, 'next hop resolved');
      this.hooks.setMac(this.staticMac);
      return;
    }
    if (this.mac) this.enterProbe();
    else this.broadcast();
  }

  stop(): void {
    this.running = false;
    this.clearTimer();
    this.clearWindow();
    this.request = null;
  }

  /**
   * What claims to answer our request: an ARP reply addressed to us, a
   * solicited NA to our address. `mac` null (an NA without a link-layer
   * option) names the MAC in use. `override` false (an NA without the O flag)
   * confirms only the MAC in use (RFC 4861 §7.2.5).
   */
  answer(mac: MacBytes | null, override = true): void {
    if (this.state === 'static') return this.claim(mac ?? this.mac!, override);
    const m = mac ?? this.mac;
    if (!m) return;
    const r = this.request;
    const open = r !== null && this.hooks.now() - r.at <= this.timing.answerMs;
    if (!open || (r.to && !r.to.equals(m))) return this.claim(m, override);
    if (!this.mac) {
      // First resolution: the first answer to our broadcast.
      r.currentAnswered = true;
      return this.reachable(m);
    }
    if (this.mac.equals(m)) {
      r.currentAnswered = true;
      if (r.candidate) this.ignored(r.candidate, 'another MAC answered our request for the next hop, but its MAC in use answered too: keeping it');
      r.candidate = null;
      return this.reachable(m);
    }
    if (!override) return;
    if (r.currentAnswered || r.candidate) return this.ignored(m, 'another MAC answered our request for the next hop: ignored');
    r.candidate = Buffer.from(m);
  }

  /**
   * Anything else naming the next hop's MAC: gratuitous ARP, its ARP
   * requests, unsolicited NAs, its solicitations and router adverts.
   * Another MAC than the one in use changes nothing; it is counted and
   * makes us ask (see the file comment).
   */
  claim(mac: MacBytes, override = true): void {
    if (this.mac && this.mac.equals(mac)) return;
    if (this.mac && !override) return;
    // With no MAC yet nothing is contradicted (a router announcing itself as
    // it boots): not counted, but asked about at once all the same.
    if (this.mac) this.ignored(mac, 'unsolicited claim of the next hop\'s address: ignored, asking the next hop');
    if (this.state === 'static' || !this.running) return;
    // A broadcast already out will tell; a unicast probe cannot reveal a new MAC.
    if (this.request && !this.request.to && this.hooks.now() - this.request.at <= this.timing.answerMs) return;
    if (!this.claimProbes.take(this.hooks.now())) return;
    if (!this.mac) return this.send(null); // the backoff schedule goes on
    this.send(null);
    // Decide when the window closes: a new MAC (held as candidate) or the
    // old one (confirmed) — if neither answered, check the old one by unicast.
    this.schedule(this.timing.answerMs, () => {
      if (!this.closeWindow()) this.enterProbe();
    });
  }

  entry(): NeighbourEntry {
    return {
      side: this.side,
      address: formatIp(this.address),
      mac: this.mac ? formatMac(this.mac) : null,
      state: this.state,
      age: this.updatedAt === null ? null : Math.max(0, (this.hooks.now() - this.updatedAt) / 1000),
      ...this.counts,
    };
  }

  private reachable(mac: MacBytes): void {
    this.update(mac);
    this.state = 'reachable';
    this.attempts = 0;
    this.schedule(this.timing.refreshMs, () => this.enterProbe());
  }

  private ignored(mac: MacBytes, msg: string): void {
    this.counts.unsolicitedClaims++;
    this.warn({ claimed: formatMac(mac) }, msg);
  }

  /** Ends the open request; true if a candidate's answer changed the MAC. */
  private closeWindow(): boolean {
    this.clearWindow();
    const r = this.request;
    this.request = null;
    if (!r?.candidate || r.currentAnswered || !this.running) return false;
    if (!this.changes.take(this.hooks.now())) {
      this.counts.macChangesRateLimited++;
      this.warn({ candidate: formatMac(r.candidate) }, 'next hop MAC change refused by the change rate limit');
      return false;
    }
    this.reachable(r.candidate);
    return true;
  }

  private send(to: MacBytes | null): void {
    this.closeWindow();
    this.request = { at: this.hooks.now(), to: to ? Buffer.from(to) : null, currentAnswered: false, candidate: null };
    // A broadcast while a MAC is in use may bring a candidate to decide on.
    if (!to && this.mac) {
      this.windowTimer = setTimeout(() => {
        this.windowTimer = null;
        this.closeWindow();
      }, this.timing.answerMs);
      this.windowTimer.unref?.();
    }
    this.hooks.probe(to);
  }

  private update(mac: MacBytes): void {
    this.updatedAt = this.hooks.now();
    if (this.mac && this.mac.equals(mac)) return;
    const before = this.mac;
    if (before) this.counts.macChanges++;
    this.mac = Buffer.from(mac);
    this.hooks.log.info(
      { side: this.side, nextHop: formatIp(this.address), mac: formatMac(mac), previous: before ? formatMac(before) : null },
      before ? 'next hop MAC changed' : 'next hop resolved',
    );
    this.hooks.setMac(this.mac);
  }

  private warn(fields: Record<string, unknown>, msg: string): void {
    const now = this.hooks.now();
    const last = this.lastWarning.get(msg);
    if (last !== undefined && now - last < WARN_INTERVAL_MS) return;
    this.lastWarning.set(msg, now);
    this.hooks.log.warn({ side: this.side, nextHop: formatIp(this.address), mac: this.mac ? formatMac(this.mac) : null, ...fields }, msg);
  }

  private enterProbe(): void {
    if (!this.running) return;
    this.state = 'probe';
    let sent = 0;
    const next = () => {
      if (sent === this.timing.probes) {
        this.state = 'stale';
        this.attempts = 0;
        this.hooks.log.warn(
          { side: this.side, nextHop: formatIp(this.address), mac: this.mac ? formatMac(this.mac) : null },
          'next hop stopped answering; keeping its MAC and asking again by broadcast',
        );
        this.broadcast();
        return;
      }
      sent++;
      this.send(this.mac);
      this.schedule(this.timing.retryMs, next);
    };
    next();
  }

  private broadcast(): void {
    if (!this.running) return;
    this.send(null);
    this.attempts++;
    if (this.attempts === WARN_AFTER_ATTEMPTS || this.attempts % WARN_EVERY_ATTEMPTS === 0) {
      this.hooks.log.warn({ side: this.side, nextHop: formatIp(this.address), attempts: this.attempts }, 'next hop does not answer');
    }
    const delay = Math.min(this.timing.retryMs * 2 ** Math.min(this.attempts - 1, 30), this.timing.retryMaxMs);
    this.schedule(delay, () => this.broadcast());
  }

  private schedule(ms: number, fn: () => void): void {
    this.clearTimer();
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      fn();
    }, ms);
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private clearWindow(): void {
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = null;
  }
}
