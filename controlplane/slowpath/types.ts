// The slow path's boundary with the data plane, structurally the same as
// controlplane/dataplane.ts (Punt, Side, inject modes) but declared here so the
// slow path has no dependency on the addon: the gateway passes its punts in
// and its inject/setNextHop methods as callbacks, and tests feed frames.

import type { QueueNumber } from '../exchange/types.js';

export type Side = 'private' | 'public';
export type PuntReason = 'control' | 'ttl-exceeded' | 'too-big' | 'tunnel';
export type InjectMode = 'transmit' | 'receive';

export interface Punt {
  /** As configured (1..queues). */
  queue: QueueNumber;
  side: Side;
  reason: PuntReason;
  /** Length of the frame as it arrived; `frame` may be cut short (at 2048 octets). */
  frameLength: number;
  frame: Buffer;
}

export type InjectFn = (queue: QueueNumber, side: Side, mode: InjectMode, frames: Buffer[]) => void;
