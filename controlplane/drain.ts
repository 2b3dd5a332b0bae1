// This gateway's drain (`vitesse drain`, the API's drain operation;
// docs/scale-out.md, "Drain"): planned maintenance without loss. In order:
//
// 1. every BGP announcement is withdrawn (bgp/announcer.ts), and stays so:
//    the site's router moves the flows it sends us to the other gateways;
// 2. every peer gateway is told, by an authenticated key-exchange message
//    (exchange/drain-notices.ts), to hash the route's flows over its other
//    peers (or, with none left, to withdraw the route itself, so that its
//    site's router moves them);
// 3. meanwhile we keep forwarding whatever still comes, both ways, and count
//    it: the data plane's per-SA packet counters, read every POLL_MS. The
//    drain is done when every reachable peer acknowledged and no packet was
//    carried for the grace period `vitesse drain` waits for.
//
// The gateway keeps running drained until it is stopped (systemd's ExecStop
// runs `vitesse drain` before the stop) or the drain is cancelled. Nothing is
// saved: a restart is in service again (announces, and its peers take it back
// once it negotiates).
import type { Logger } from 'pino';
import type { Announcer } from './bgp/announcer.js';
import type { DrainPeerProgress } from './exchange/drain-notices.js';
import type { Gateway } from './gateway.js';

const POLL_MS = 100;
const WITHDRAW_RETRY_MS = 1000;

export interface DrainSnapshot {
  draining: boolean;
  since: number;
  withdrawn: boolean;
  peers: number;
  peersTold: number;
  peersAcknowledged: number;
  peersWithoutSa: number;
  peersNotSupported: number;
  packets: number;
  idleMs: number;
}

const registry = new WeakMap<object, Drain>();

/** The gateway's drain, once asked for (state reads it). */
export function drainOf(gw: object): Drain | undefined {
  return registry.get(gw);
}

export class Drain {
  private draining = false;
  private since = 0;
  private withdrawn = false;
  private timer: NodeJS.Timeout | null = null;
  private lastTotal = -1;
  private lastTrafficAt = 0;
  private packets = 0;
  private withdrawing = false;
  private withdrawAt = 0;

  constructor(
    private readonly gw: Gateway,
    private readonly announcer: Announcer | null,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts (idempotent) or cancels the drain. */
  set(draining: boolean): void {
    registry.set(this.gw, this);
    if (draining === this.draining) return;
    this.draining = draining;
    this.since = Date.now();
    if (draining) {
      this.withdrawn = this.announcer === null;
      this.packets = 0;
      this.lastTotal = -1;
      this.lastTrafficAt = this.now();
      this.withdraw();
      this.gw.keymanager?.drain(true);
      if (!this.timer) {
        this.timer = setInterval(() => this.poll(), POLL_MS);
        this.timer.unref();
      }
      this.poll();
      this.log.warn('draining: announcements withdrawn, peers told to move their flows; forwarding what still comes');
    } else {
      this.withdrawn = false;
      this.announcer?.resume();
      this.gw.keymanager?.drain(false);
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      this.log.warn('drain cancelled: announcing again, peers told we are in service');
    }
  }

  get active(): boolean {
    return this.draining;
  }

  snapshot(): DrainSnapshot {
    const progress: DrainPeerProgress[] = this.gw.keymanager?.drains.progress() ?? [];
    const count = (s: DrainPeerProgress['status']) => progress.filter((p) => p.status === s).length;
    return {
      draining: this.draining,
      since: this.since,
      withdrawn: this.withdrawn,
      peers: progress.length,
      peersTold: count('told') + count('pending'),
      peersAcknowledged: count('acknowledged'),
      peersWithoutSa: count('no-sa'),
      peersNotSupported: count('not-supported'),
      packets: this.packets,
      idleMs: this.draining ? Math.round(this.now() - this.lastTrafficAt) : 0,
    };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private withdraw(): void {
    if (!this.announcer || this.withdrawing || this.withdrawn) return;
    this.withdrawing = true;
    this.withdrawAt = this.now();
    this.announcer.withdrawAll().then(
      () => {
        if (this.draining) this.withdrawn = true;
      },
      (e: unknown) => this.log.error({ err: e instanceof Error ? e.message : String(e) }, `announcements not withdrawn; trying again in ${WITHDRAW_RETRY_MS} ms`),
    ).finally(() => {
      this.withdrawing = false;
    });
  }

  private poll(): void {
    if (!this.draining) return;
    if (!this.withdrawn && this.now() - this.withdrawAt >= WITHDRAW_RETRY_MS) this.withdraw();
    let total = 0;
    for (const t of this.gw.saLedger.routeTraffic(this.gw.currentConfig.routes.map((r) => r.id))) total += t.packets;
    // Counters only grow while their SA lives; a smaller sum is an SA gone, a new baseline.
    if (this.lastTotal >= 0 && total > this.lastTotal) {
      this.packets += total - this.lastTotal;
      this.lastTrafficAt = this.now();
    }
    this.lastTotal = total;
  }
}
