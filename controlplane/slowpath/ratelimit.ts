// A token bucket: `perSecond` sustained, `burst` at once after a quiet spell.
// The slow path keeps one per kind of traffic it originates in response to
// what it receives (ICMP errors, echo replies, IPv4 fragmentation), so a flood
// of punted frames cannot turn the control plane into a packet generator.

export interface RateLimit {
  perSecond: number;
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private at: number | null = null;

  constructor(private readonly limit: RateLimit) {
    if (!(limit.perSecond >= 0) || !(limit.burst >= 1)) {
      throw new Error(`rate limit: perSecond must be >= 0 and burst >= 1 (got ${limit.perSecond}/s, burst ${limit.burst})`);
    }
    this.tokens = limit.burst;
  }

  /** Takes one token at time `now` (milliseconds); false if none is left. */
  take(now: number): boolean {
    if (this.at !== null && now > this.at) {
      this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.at) / 1000) * this.limit.perSecond);
    }
    if (this.at === null || now > this.at) this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
