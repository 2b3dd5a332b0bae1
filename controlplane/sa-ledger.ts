// What the data plane does not keep about its SAs, for the state API and the
// metrics: when each SA was installed and with which AEAD ("age", "aead"),
// and the final packet, octet and inbound-policy-error counts of SAs already
// removed, per route, direction and queue. A route's counters are then the
// sum of its live SAs' data-plane counters and of what its removed SAs had
// counted, so they never go backwards when SAs roll over (Prometheus would
// read that as a reset).
//
// The gateway calls `installed` and `removing` wherever it adds or removes an
// SA; nothing here runs per packet.
import type { Aead, QueueNumber, RouteId, SaState, SaTraffic, Spi } from './dataplane.js';

export type Direction = 'inbound' | 'outbound';

export interface SaRecord {
  route: RouteId;
  aead: Aead;
  /** Milliseconds since the epoch. */
  installedAt: number;
}

export interface Traffic {
  packets: number;
  bytes: number;
}

/** A route's traffic in one direction on one queue. */
export interface RouteTraffic extends Traffic {
  route: RouteId;
  direction: Direction;
  queue: QueueNumber;
  /** Inbound: packets decrypted and then refused by the inbound policy (0 outbound). */
  policyErrors: number;
}

const saKey = (direction: Direction, queue: QueueNumber, spi: Spi) => `${direction}/${queue}/${spi}`;
const routeKey = (route: RouteId, direction: Direction, queue: QueueNumber) => `${route}/${direction}/${queue}`;

function add(t: RouteTraffic, sa: SaTraffic): void {
  t.packets += sa.packets;
  t.bytes += sa.bytes;
  t.policyErrors += sa.policyErrors ?? 0;
}

export class SaLedger {
  private readonly live = new Map<string, SaRecord>();
  private readonly retired = new Map<string, RouteTraffic>();

  constructor(
    /** The data plane's SAs with their counters (Dataplane.sas). */
    private readonly read: () => SaState[],
    private readonly now: () => number = Date.now,
  ) {}

  installed(direction: Direction, queue: QueueNumber, route: RouteId, spi: Spi, aead: Aead): void {
    this.live.set(saKey(direction, queue, spi), { route, aead, installedAt: this.now() });
  }

  /** The route of a live SA (undefined: not installed through the ledger). */
  routeOf(direction: Direction, queue: QueueNumber, spi: Spi): RouteId | undefined {
    return this.live.get(saKey(direction, queue, spi))?.route;
  }

  /** Call before the SA is removed from the data plane: its final counts are kept for its route. */
  removing(direction: Direction, queue: QueueNumber, spi: Spi): void {
    const key = saKey(direction, queue, spi);
    this.live.delete(key);
    const sa = this.read().find((s) => s.direction === direction && s.queue === queue && s.spi === spi);
    if (!sa) return;
    const k = routeKey(sa.route, direction, queue);
    const t = this.retired.get(k) ?? { route: sa.route, direction, queue, packets: 0, bytes: 0, policyErrors: 0 };
    add(t, sa);
    this.retired.set(k, t);
  }

  record(direction: Direction, queue: QueueNumber, spi: Spi): SaRecord | undefined {
    return this.live.get(saKey(direction, queue, spi));
  }

  /** Seconds since the SA was installed, or undefined if it was not seen installed. */
  age(direction: Direction, queue: QueueNumber, spi: Spi): number | undefined {
    const r = this.record(direction, queue, spi);
    return r ? Math.max(0, Math.floor((this.now() - r.installedAt) / 1000)) : undefined;
  }

  /**
   * Each configured route's traffic by direction and queue: the live SAs'
   * counters (`sas`, read now) plus the removed SAs' final counts. Routes no
   * longer configured are forgotten.
   */
  routeTraffic(routes: readonly RouteId[], sas: readonly SaTraffic[] = this.read()): RouteTraffic[] {
    const configured = new Set<string>(routes);
    for (const [k, t] of this.retired) if (!configured.has(t.route)) this.retired.delete(k);
    const out = new Map<string, RouteTraffic>();
    for (const [k, t] of this.retired) out.set(k, { ...t });
    for (const sa of sas) {
      if (!configured.has(sa.route)) continue;
      const k = routeKey(sa.route, sa.direction, sa.queue);
      const t = out.get(k) ?? { route: sa.route, direction: sa.direction, queue: sa.queue, packets: 0, bytes: 0, policyErrors: 0 };
      add(t, sa);
      out.set(k, t);
    }
    return [...out.values()];
  }
}
