// Per-source rate limiting of key-exchange messages: a token bucket for each
// remote gateway address, so one misbehaving (or spoofed, on-path) peer cannot
// keep the key manager busy enough to starve the other routes. The key
// manager consults it only after a message names a configured route and comes
// from that route's gateway, so the table holds at most one bucket per
// configured gateway address and cannot be grown by forged sources.

export interface RateLimit {
  /** Sustained messages per second per source. */
  perSecond: number;
  /** Messages a source may send at once after being quiet. */
  burst: number;
}

// A negotiation costs the responder two messages; a gateway with a few
// hundred routes and queues towards one peer starts them all at once.
export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 1000, burst: 2000 };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limit: RateLimit = DEFAULT_RATE_LIMIT) {}

  /** True if a message from `source` may be processed at time `now` (ms). */
  allow(source: string, now: number): boolean {
    let b = this.buckets.get(source);
    if (!b) {
      b = { tokens: this.limit.burst, at: now };
      this.buckets.set(source, b);
    }
    b.tokens = Math.min(this.limit.burst, b.tokens + ((now - b.at) / 1000) * this.limit.perSecond);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Forgets sources whose buckets are full again (they would start full anyway). */
  prune(now: number): void {
    for (const [source, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.limit.perSecond >= this.limit.burst) this.buckets.delete(source);
    }
  }

  size(): number {
    return this.buckets.size;
  }
}
