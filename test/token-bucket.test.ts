// The control plane's one token bucket (controlplane/token-bucket.ts), used by
// the slow path's budgets and the key exchange's per-source limiter.
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../controlplane/token-bucket.js';
import { RateLimiter } from '../controlplane/exchange/ratelimiter.js';

const takes = (b: TokenBucket, now: number, n: number, scale = 1) => Array.from({ length: n }, () => b.take(now, scale)).filter(Boolean).length;

describe('TokenBucket', () => {
  it('gives the burst at once, then the rate', () => {
    const b = new TokenBucket({ perSecond: 10, burst: 5 });
    expect(takes(b, 1000, 8)).toBe(5);
    expect(takes(b, 1500, 8)).toBe(5); // half a second: 5 tokens
    expect(takes(b, 1600, 8)).toBe(1);
    expect(takes(b, 100_000, 20)).toBe(5); // never more than the burst
  });

  it('scales rate and burst', () => {
    const b = new TokenBucket({ perSecond: 10, burst: 5 });
    expect(takes(b, 0, 30, 3)).toBe(15);
    expect(takes(b, 1000, 50, 3)).toBe(15);
  });

  it('is neither refilled nor drained by time that goes back', () => {
    const b = new TokenBucket({ perSecond: 10, burst: 5 });
    expect(takes(b, 10_000, 3)).toBe(3);
    expect(takes(b, 5_000, 1)).toBe(1);
    expect(takes(b, 10_000, 5)).toBe(1);
  });

  it('is full again once the burst has refilled', () => {
    const b = new TokenBucket({ perSecond: 10, burst: 5 });
    expect(b.full(0)).toBe(true);
    takes(b, 0, 5);
    expect(b.full(499)).toBe(false);
    expect(b.full(500)).toBe(true);
  });

  it('refuses a limit that admits nothing', () => {
    expect(() => new TokenBucket({ perSecond: 1, burst: 0 })).toThrow(/burst >= 1/);
    expect(() => new TokenBucket({ perSecond: Number.NaN, burst: 1 })).toThrow(/perSecond must be >= 0/);
  });
});

describe('RateLimiter (a token bucket per source, scaled by its exchanges)', () => {
  it('limits each source on its own and forgets full buckets', () => {
    const r = new RateLimiter({ perSecond: 10, burst: 2 });
    expect([r.allow('a', 2, 0), r.allow('a', 2, 0), r.allow('a', 2, 0), r.allow('a', 2, 0), r.allow('a', 2, 0)]).toEqual([true, true, true, true, false]);
    expect(r.allow('b', 1, 0)).toBe(true);
    expect(r.refusedSince('a', 0)).toBe(true);
    expect(r.refusedSince('b', 0)).toBe(false);
    r.prune(100);
    expect(r.size()).toBe(1); // b refilled its one token in 100 ms; a needs 200
    r.prune(200);
    expect(r.size()).toBe(0);
  });
});
