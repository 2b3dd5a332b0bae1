// A budget for what the slow path sends in answer to one side (echo replies,
// ICMP errors), fair per source: a token bucket for the side as a whole and a
// small fixed set of per-source buckets, chosen by a keyed hash of the source
// address. A source flooding us spends its own bucket first and reaches the
// side's bucket only at its per-source rate, so one host cannot starve the
// others, and neither side can starve the other (each has its own budget).
//
// The table is fixed (SLOTS buckets): memory does not grow with sources, and
// a forger with many source addresses gets at most the side's budget. The
// hash is keyed at random per process, so which sources share a bucket cannot
// be read off the addresses (the hash is not cryptographic: a patient prober
// could map slots, which gains it no more than the side's budget); a
// legitimate source sharing a flooder's bucket by chance (1 in SLOTS) is
// limited with it.
import crypto from 'node:crypto';
import type { IpBytes } from './address.js';
import { TokenBucket, type RateLimit } from '../token-bucket.js';

const SLOTS = 256;

export class FairBudget {
  private readonly side: TokenBucket;
  private readonly sources: Array<TokenBucket | undefined> = new Array(SLOTS);
  private readonly key = crypto.randomBytes(4).readUInt32LE(0);

  constructor(
    total: RateLimit,
    private readonly perSource: RateLimit,
  ) {
    this.side = new TokenBucket(total);
    this.sources[0] = new TokenBucket(perSource); // a bad limit fails here, not at the first packet
  }

  /** Takes one token for `source` at `now` (ms); false if its bucket or the side's is empty. */
  take(source: IpBytes, now: number): boolean {
    const slot = this.slotOf(source);
    const bucket = (this.sources[slot] ??= new TokenBucket(this.perSource));
    // The source's own bucket first: what it sends beyond its share never
    // reaches the side's budget.
    return bucket.take(now) && this.side.take(now);
  }

  // FNV-1a over the address, started from the key, with a final avalanche
  // (murmur3's) so that nearby addresses spread over the slots.
  private slotOf(ip: IpBytes): number {
    let h = (0x811c9dc5 ^ this.key) >>> 0;
    for (const b of ip) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    return h % SLOTS;
  }
}
