// What the slow path's handlers (answer-*.ts) share: our addresses, the
// next-hop resolvers, counters, rate limits, and the outbox that collects
// the frames a batch of punts produces.
import type { Logger } from 'pino';
import type { IpBytes } from './address.js';
import type { ParsedAddresses } from './config.js';
import type { DropReason, SlowPathCounters } from './counters.js';
import type { NextHopResolver } from './neighbours.js';
import type { FairBudget } from './fair-budget.js';
import type { TokenBucket } from '../token-bucket.js';
import type { InjectFn, InjectMode, Side } from './types.js';
import type { QueueNumber } from '../exchange/types.js';

export interface SlowPathContext extends ParsedAddresses {
  readonly resolvers: Partial<Record<Side, NextHopResolver>>;
  readonly counters: SlowPathCounters;
  /** Echo replies and ICMP errors per side (where the packet answered came from), fair per source. */
  readonly buckets: { errors: Record<Side, FairBudget>; echo: Record<Side, FairBudget>; fragmentation: TokenBucket };
  readonly log: Logger;
  /** The tunnel MTU: largest inner IP packet. */
  mtu: number;
  now(): number;
  drop(reason: DropReason): void;
  /** True for any of our addresses, on either side. */
  isOurs(ip: IpBytes): boolean;
  /** The next IPv4 identification for a packet we originate. */
  nextId(): number;
  /** Logs that another host claims one of our addresses (at most every few seconds per host). */
  warnConflict(side: Side, ip: IpBytes, mac: Buffer): void;
}

/** Frames to inject, grouped so that each (queue, side, mode) is one inject call. */
export class Outbox {
  private readonly groups = new Map<string, { queue: QueueNumber; side: Side; mode: InjectMode; frames: Buffer[] }>();

  add(queue: QueueNumber, side: Side, mode: InjectMode, frame: Buffer): void {
    const key = `${queue}/${side}/${mode}`;
    let g = this.groups.get(key);
    if (!g) {
      g = { queue, side, mode, frames: [] };
      this.groups.set(key, g);
    }
    g.frames.push(frame);
  }

  flush(inject: InjectFn): void {
    for (const g of this.groups.values()) inject(g.queue, g.side, g.mode, g.frames);
    this.groups.clear();
  }
}
