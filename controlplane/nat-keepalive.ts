// NAT keepalives (RFC 3948 §2.3): one 0xFF octet from our NAT-T port to the
// peer's endpoint, every `nat-keepalive-interval` seconds, for each route and
// queue whose outbound SA uses ESP in UDP (always with nat-traversal force;
// with auto, only while its negotiation detected a NAT, exchange/
// nat-detection.ts), so that a NAT between the gateways
// keeps the binding of an idle tunnel. A queue that sent ESP since the last
// round needs none (its packets refreshed the binding). The receiving data
// plane counts and consumes them (`nat_keepalives`).
import type { Endpoint, QueueNumber, RouteId } from './exchange/types.js';

export const NAT_KEEPALIVE = Buffer.from([0xff]);

export interface KeepaliveTarget {
  route: RouteId;
  queue: QueueNumber;
  /** The peer's endpoint (learned, or the route's gateway and the SA's port). */
  to: Endpoint;
  /** Our public address on the queue and the SA's source port. */
  from: Endpoint;
  /** ESP packets the route's outbound SA on this queue has sent so far, and its SPI. */
  packets: number;
  spi: number;
}

export interface NatKeepaliveOptions {
  /** Seconds; 0: none (read each round, so a reload takes effect). */
  intervalSeconds(): number;
  targets(): KeepaliveTarget[];
  send(target: KeepaliveTarget): void;
}

export class NatKeepalives {
  /** Keepalives sent so far. */
  sent = 0;
  private timer: NodeJS.Timeout | null = null;
  // `${route}/${queue}` → the SA and its packet count at the last round.
  private last = new Map<string, { spi: number; packets: number }>();

  constructor(private readonly o: NatKeepaliveOptions) {}

  start(): void {
    if (this.timer) return;
    const next = () => {
      // While off, look again every second for a reload that turns them on.
      this.timer = setTimeout(() => {
        this.round();
        next();
      }, (this.o.intervalSeconds() || 1) * 1000);
      this.timer.unref();
    };
    next();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One round: a keepalive to every target that sent nothing since the last. Returns how many were sent. */
  round(): number {
    if (this.o.intervalSeconds() === 0) {
      this.last.clear();
      return 0;
    }
    const seen = new Map<string, { spi: number; packets: number }>();
    let n = 0;
    for (const t of this.o.targets()) {
      const key = `${t.route}/${t.queue}`;
      const before = this.last.get(key);
      seen.set(key, { spi: t.spi, packets: t.packets });
      if (before && before.spi === t.spi && before.packets !== t.packets) continue;
      this.o.send(t);
      n++;
    }
    this.last = seen;
    this.sent += n;
    return n;
  }
}
