// Keeps the outbound SAs with explicit keys (data-plane mode) inside sequence
// numbers reserved on disk (sequence-state.ts).
//
// Before such an SA is installed, `prepare` decides where it starts — the
// higher of its initial-sequence and one above its recorded mark — and
// writes a reservation of `reserve` numbers beyond that; the data plane gets
// the reservation's end as the SA's limit and sends nothing beyond it. A
// timer (`tick`) extends a reservation when less than half of it is left:
// the new mark is on disk before the limit is raised. If that write fails
// (a full or read-only disk), the limit stays where it is and packets beyond
// it are dropped and counted (private_drop_sequence_unreserved), never sent.
import type { Logger } from 'pino';
import type { Dataplane, QueueNumber, RouteId, Spi } from './dataplane.js';
import type { SaConfig } from './config/types.js';
import { keyFingerprint, SequenceStateError, type SequenceEntry, type SequenceStore } from './sequence-state.js';

export const DEFAULT_SEQUENCE_RESERVE = 1n << 20n;
export const DEFAULT_SEQUENCE_INTERVAL_MS = 100;

/** The highest number an SA may send: 2^64-1, or 2^32-1 without ESN. */
export const sequenceCeiling = (esn: boolean) => (esn ? 2n ** 64n - 1n : 2n ** 32n - 1n);

/** Where an outbound SA starts: the data plane's `seq` (last used) and `limit`. */
export interface SequenceStart {
  seq: bigint;
  limit: bigint;
}

interface Live {
  queue: QueueNumber;
  route: RouteId;
  spi: Spi;
  entry: SequenceEntry;
  ceiling: bigint;
}

const liveKey = (queue: QueueNumber, route: string) => `${queue}\u0000${route}`;

export class SequenceKeeper {
  private readonly live = new Map<string, Live>();
  private timer: NodeJS.Timeout | null = null;
  private lastError: string | null = null;

  constructor(
    private readonly store: SequenceStore,
    /** The gateway's data plane (a thunk: the first reservations precede it). */
    private readonly dataplaneOf: () => Dataplane,
    private readonly log: Logger,
    readonly reserve: bigint = DEFAULT_SEQUENCE_RESERVE,
  ) {
    if (reserve < 1n) throw new Error('sequence reserve: at least 1');
  }

  get file(): string | null {
    return this.store.file;
  }

  /**
   * Reserves numbers for SAs about to be installed, with one write; throws
   * SequenceStateError (nothing reserved) if it cannot be written.
   */
  prepare(sas: readonly SaConfig[]): SequenceStart[] {
    const updates: SequenceEntry[] = [];
    const starts = sas.map((sa) => {
      const fingerprint = keyFingerprint(sa.key);
      const mark = this.store.reserved(fingerprint);
      const ceiling = sequenceCeiling(sa.esn);
      const initial = sa.initialSequence ?? 1n;
      const first = mark !== undefined && mark + 1n > initial ? mark + 1n : initial;
      if (first > ceiling) {
        this.log.error({ route: sa.route, queue: sa.queue, spi: sa.spi, esn: sa.esn },
          'outbound SA has used every sequence number its key may send: it sends nothing (sequence-exhausted-errors); give it a new key');
        return { seq: ceiling, limit: ceiling };
      }
      const end = first - 1n + this.reserve;
      const limit = end < ceiling ? end : ceiling;
      updates.push({ fingerprint, spi: sa.spi, route: sa.route, queue: sa.queue, reserved: limit });
      return { seq: first - 1n, limit };
    });
    this.store.reserve(updates);
    return starts;
  }

  /** The SA `prepare` gave `start` to is installed. */
  installed(sa: SaConfig, start: SequenceStart): void {
    this.live.set(liveKey(sa.queue, sa.route), {
      queue: sa.queue,
      route: sa.route,
      spi: sa.spi,
      entry: { fingerprint: keyFingerprint(sa.key), spi: sa.spi, route: sa.route, queue: sa.queue, reserved: start.limit },
      ceiling: sequenceCeiling(sa.esn),
    });
  }

  removed(queue: QueueNumber, route: RouteId): void {
    this.live.delete(liveKey(queue, route));
  }

  /** The reservation's end of a live SA (state API), or undefined. */
  reserved(queue: QueueNumber, route: RouteId): bigint | undefined {
    return this.live.get(liveKey(queue, route))?.entry.reserved;
  }

  /** Extends every reservation that is half used (one write), then raises the data plane's limits. */
  tick(): void {
    if (this.live.size === 0) return;
    const due: Live[] = [];
    // Only the SAs within half a reservation of their limit come back.
    for (const sa of this.dataplaneOf().outboundDue((this.reserve + 1n) / 2n)) {
      const l = this.live.get(liveKey(sa.queue, sa.route));
      if (!l || l.spi !== sa.spi || l.entry.reserved >= l.ceiling) continue;
      due.push(l);
    }
    if (!due.length) return;
    const next = due.map((l) => {
      const end = l.entry.reserved + this.reserve;
      return { ...l.entry, reserved: end < l.ceiling ? end : l.ceiling };
    });
    try {
      this.store.reserve(next);
    } catch (e) {
      const message = e instanceof SequenceStateError ? e.message : String(e);
      if (message !== this.lastError) {
        this.log.error({ err: message }, 'sequence numbers not reserved: outbound SAs with explicit keys drop packets beyond their reservation (sequence-unreserved-errors) until it can be written');
      }
      this.lastError = message;
      return;
    }
    if (this.lastError !== null) this.log.info('sequence numbers reserved again');
    this.lastError = null;
    due.forEach((l, i) => {
      l.entry = next[i];
      this.dataplaneOf().raiseOutboundLimit(l.queue, l.route, l.spi, l.entry.reserved);
    });
  }

  start(intervalMs = DEFAULT_SEQUENCE_INTERVAL_MS): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops, and lets another gateway use the state file. */
  close(): void {
    this.stop();
    this.store.close();
  }
}
