// Per-source rate limiting of key-exchange work: a token bucket for each
// remote gateway address, so one misbehaving (or spoofed, on-path) peer cannot
// keep the key manager busy enough to starve the other routes. A source's
// budget is the per-exchange limit times the number of exchanges (routes ×
// queues) it is the gateway of: a peer serving 10,000 routes legitimately
// sends 10,000 times the messages of a peer serving one. The key manager
// consults it only after a message names a configured route and comes from
// that route's gateway, so the table holds at most one bucket per configured
// gateway address and cannot be grown by forged sources.
//
// What a bucket pays for is the key manager's business (keymanager.ts): it
// keeps one limiter for knocks and one for the messages that passed the
// checks an off-path attacker cannot pass, so forged datagrams never spend
// the budget genuine ones need.
import { TokenBucket, type RateLimit } from '../token-bucket.js';

/** Per exchange of the source: sustained messages per second, and at once after a quiet time. */
export type { RateLimit };

// An exchange needs 4 messages per negotiation each way (as initiator and as
// responder), one negotiation per sa-ttl/2 or per negotiation-ttl when
// retrying; this leaves ample room for that and refuses floods.
export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 20, burst: 40 };

interface Source {
  /** Scaled by the number of exchanges the source is the gateway of. */
  bucket: TokenBucket;
  exchanges: number;
  /** When a message was last refused (-Infinity: never). */
  refusedAt: number;
}

export class RateLimiter {
  private readonly sources = new Map<string, Source>();

  constructor(private readonly limit: RateLimit = DEFAULT_RATE_LIMIT) {}

  /** True if a message from `source`, the gateway of `exchanges` exchanges, may be processed at `now` (ms). */
  allow(source: string, exchanges: number, now: number): boolean {
    let s = this.sources.get(source);
    if (!s) {
      s = { bucket: new TokenBucket(this.limit), exchanges, refusedAt: -Infinity };
      this.sources.set(source, s);
    }
    s.exchanges = exchanges;
    if (s.bucket.take(now, exchanges)) return true;
    s.refusedAt = now;
    return false;
  }

  /** True if a message from `source` was refused at `since` (ms) or later. */
  refusedSince(source: string, since: number): boolean {
    return (this.sources.get(source)?.refusedAt ?? -Infinity) >= since;
  }

  /** Forgets sources whose buckets are full again (they would start full anyway). */
  prune(now: number): void {
    for (const [source, s] of this.sources) if (s.bucket.full(now, s.exchanges)) this.sources.delete(source);
  }

  size(): number {
    return this.sources.size;
  }
}
