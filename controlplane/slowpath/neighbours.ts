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
// Answers (ARP replies, solicited NAs) confirm; other frames from the next
// hop (gratuitous ARP, its own requests, unsolicited NAs, RAs) update the
// MAC when it changed (an NA only with the override flag) and start a probe
// to confirm the new one.
import type { Logger } from 'pino';
import { formatIp, formatMac, type IpBytes, type MacBytes } from './address.js';
import type { Side } from './types.js';

export type NeighbourState = 'static' | 'incomplete' | 'reachable' | 'probe' | 'stale';

export interface NeighbourEntry {
  side: Side;
  address: string;
  mac: string | null;
  state: NeighbourState;
  /** Seconds since the MAC was last confirmed or learned; null if never. */
  age: number | null;
}

export interface ResolverTiming {
  /** How long a confirmed MAC is trusted before it is checked again. */
  refreshMs: number;
  /** First retransmission interval, doubled after each unanswered broadcast. */
  retryMs: number;
  retryMaxMs: number;
  /** Unicast probes before falling back to broadcast. */
  probes: number;
}

export const DEFAULT_RESOLVER_TIMING: ResolverTiming = {
  refreshMs: 30_000,
  retryMs: 1_000,
  retryMaxMs: 30_000,
  probes: 3,
};

// Log a resolution that keeps failing at these attempt counts, not every retry.
const WARN_AFTER_ATTEMPTS = 3;
const WARN_EVERY_ATTEMPTS = 20;

export interface ResolverHooks {
  /** Sends one request/solicitation for the next hop: broadcast when `mac` is null, else unicast to it. */
  probe(mac: MacBytes | null): void;
  /** The next hop's MAC changed (the data plane must use it). */
  setMac(mac: MacBytes | null): void;
  now(): number;
  log: Logger;
}

export class NextHopResolver {
  private mac: MacBytes | null;
  private state: NeighbourState;
  private updatedAt: number | null = null;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;

  constructor(
    readonly side: Side,
    readonly address: IpBytes,
    private readonly staticMac: MacBytes | null,
    private readonly timing: ResolverTiming,
    private readonly hooks: ResolverHooks,
  ) {
    this.mac = staticMac;
    this.state = staticMac ? 'static' : 'incomplete';
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.staticMac) {
      this.updatedAt = this.hooks.now();
      this.hooks.setMac(this.staticMac);
      return;
    }
    if (this.mac) this.enterProbe();
    else this.broadcast();
  }

  stop(): void {
    this.running = false;
    this.clearTimer();
  }

  /**
   * An answer from the next hop (ARP reply, solicited NA) naming its MAC, or
   * with `mac` null (an NA without a link-layer option) confirming the one we
   * have. An NA without the override flag confirms only the MAC we have
   * (RFC 4861 §7.2.5).
   */
  confirmed(mac: MacBytes | null, override = true): void {
    if (this.state === 'static') return;
    const m = mac ?? this.mac;
    if (!m) return;
    if (this.mac && !override && !this.mac.equals(m)) return;
    this.update(m);
    this.state = 'reachable';
    this.attempts = 0;
    this.schedule(this.timing.refreshMs, () => this.enterProbe());
  }

  /**
   * Something else from the next hop that names its MAC. `override` false
   * (an NA without the O flag) may not replace a MAC we already have.
   */
  heard(mac: MacBytes, override = true): void {
    if (this.state === 'static') return;
    if (this.mac && this.mac.equals(mac)) return;
    if (this.mac && !override) return;
    this.update(mac);
    this.enterProbe();
  }

  entry(): NeighbourEntry {
    return {
      side: this.side,
      address: formatIp(this.address),
      mac: this.mac ? formatMac(this.mac) : null,
      state: this.state,
      age: this.updatedAt === null ? null : Math.max(0, (this.hooks.now() - this.updatedAt) / 1000),
    };
  }

  private update(mac: MacBytes): void {
    this.updatedAt = this.hooks.now();
    if (this.mac && this.mac.equals(mac)) return;
    const before = this.mac;
    this.mac = Buffer.from(mac);
    this.hooks.log.info(
      { side: this.side, nextHop: formatIp(this.address), mac: formatMac(mac), previous: before ? formatMac(before) : null },
      before ? 'next hop MAC changed' : 'next hop resolved',
    );
    this.hooks.setMac(this.mac);
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
      this.hooks.probe(this.mac);
      this.schedule(this.timing.retryMs, next);
    };
    next();
  }

  private broadcast(): void {
    if (!this.running) return;
    this.hooks.probe(null);
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
}
