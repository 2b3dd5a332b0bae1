// The control plane's one token bucket: `perSecond` sustained, `burst` at
// once after a quiet spell. The slow path keeps one per kind of traffic it
// originates in response to what it receives (ICMP errors, echo replies, IPv4
// fragmentation, neighbour claims), so a flood of punted frames cannot turn
// the control plane into a packet generator; the key exchange one per remote
// gateway (exchange/ratelimiter.ts). Time that goes back neither refills nor
// drains a bucket.

export interface RateLimit {
  perSecond: number;
  burst: number;
}

export class TokenBucket {
  private tokens = 0;
  private at: number | null = null;

  constructor(private readonly limit: RateLimit) {
    if (!(limit.perSecond >= 0) || !(limit.burst >= 1)) {
      throw new Error(`rate limit: perSecond must be >= 0 and burst >= 1 (got ${limit.perSecond}/s, burst ${limit.burst})`);
    }
  }

  /** Tokens at `now` (ms) of a bucket `scale` times the limit; a bucket never used is full. */
  private level(now: number, scale: number): number {
    const burst = this.limit.burst * scale;
    if (this.at === null) return burst;
    const elapsed = Math.max(0, now - this.at);
    return Math.min(burst, this.tokens + (elapsed / 1000) * this.limit.perSecond * scale);
  }

  /** Takes one token at time `now` (milliseconds) from a bucket `scale` times the limit; false if none is left. */
  take(now: number, scale = 1): boolean {
    this.tokens = this.level(now, scale);
    if (this.at === null || now > this.at) this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** True if the bucket is full again at `now` (a fresh one would be no different). */
  full(now: number, scale = 1): boolean {
    return this.level(now, scale) >= this.limit.burst * scale;
  }
}
