// What the key manager tells a human about failing exchanges, without a line
// per message: the first failure of a kind a human must act on (a wrong key,
// an unknown peer, another AEAD or protocol version) is logged at warn at
// once, per route and cause, with its count; further ones are summed and
// summarised once per interval ("… 57 more in the last 60 s"), and when a
// whole interval passes without one, the next is news again. Expired
// negotiations (a dead peer retries every negotiation-ttl) are summarised the
// same way, at info. The counts per route also feed the route label of
// vitesse_key_exchange_errors_total.
//
// Anyone can send messages that fail (forgeries): the log costs at most one
// line per route, cause and interval, and the table holds one entry per
// route and cause plus one per cause for messages of no known route.
import type { Logger } from 'pino';
import type { DropReason } from './counters.js';

/** Causes a human must act on; the others (malformed, out of turn, bad public keys) stay at debug. */
const ACTIONABLE: Partial<Record<DropReason, string>> = {
  authentication: 'key-exchange messages fail authentication: the preshared keys (or identities) differ at the two ends, or someone forges them',
  route: 'key-exchange messages from an unknown peer: no route has this SPI and gateway address (a route missing here, or the peer\'s spi or address is wrong)',
  parameter: 'the peer negotiates another AEAD than the route\'s: make aead the same at both ends',
  version: 'the peer speaks another key-exchange protocol version: upgrade one end',
};

export const EXPIRED = 'negotiation-expired';
type Cause = DropReason | typeof EXPIRED;

interface Entry {
  route: string | undefined;
  cause: Cause;
  /** Since the gateway started. */
  total: number;
  /** Since the last line logged about it. */
  unreported: number;
  /** When the last line about it was logged. */
  reportedAt: number;
  /** Where the last one came from (a message), or which queue (an expiry). */
  last: Record<string, unknown>;
}

export const DEFAULT_SUMMARY_INTERVAL_MS = 60_000;

export class FailureLog {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly log: Logger, private readonly intervalMs = DEFAULT_SUMMARY_INTERVAL_MS) {}

  /** A message dropped for `reason`; `route` if the message was matched to one. */
  dropped(reason: DropReason, route: string | undefined, from: string, now: number): void {
    const entry = this.note(route, reason, { from });
    if (!ACTIONABLE[reason]) {
      // A peer (or anyone) can cause these at will; counters are the record.
      this.log.debug({ reason, from, route }, 'key-exchange message dropped');
      return;
    }
    if (entry.reportedAt < 0) this.report(entry, now);
  }

  /** A negotiation of ours that did not finish within negotiation-ttl. */
  expired(route: string, queue: number, now: number): void {
    const entry = this.note(route, EXPIRED, { queue });
    if (entry.reportedAt < 0) this.report(entry, now);
  }

  /** Summarises what is unreported and due; forgets quiet entries' report time so that their next failure is logged at once. */
  flush(now: number): void {
    for (const e of this.entries.values()) {
      if (e.reportedAt < 0 || now - e.reportedAt < this.intervalMs) continue;
      if (e.unreported) this.report(e, now);
      else e.reportedAt = -1; // a quiet interval: the next one is news
    }
  }

  /** Dropped messages by route (undefined: no route known) and reason, since the start. */
  *byRoute(): Iterable<{ route: string | undefined; reason: DropReason; count: number }> {
    for (const e of this.entries.values()) if (e.cause !== EXPIRED) yield { route: e.route, reason: e.cause, count: e.total };
  }

  /** Forgets a removed route's entries (its counts leave the metrics with it). */
  forget(route: string): void {
    for (const [k, e] of this.entries) if (e.route === route) this.entries.delete(k);
  }

  private note(route: string | undefined, cause: Cause, last: Record<string, unknown>): Entry {
    const key = `${cause}\0${route ?? ''}`;
    let e = this.entries.get(key);
    if (!e) {
      e = { route, cause, total: 0, unreported: 0, reportedAt: -1, last };
      this.entries.set(key, e);
    }
    e.total++;
    e.unreported++;
    e.last = last;
    return e;
  }

  private report(e: Entry, now: number): void {
    const first = e.reportedAt < 0;
    const seconds = Math.round(this.intervalMs / 1000);
    const fields = { route: e.route, reason: e.cause, count: e.unreported, total: e.total, ...e.last };
    if (e.cause === EXPIRED) {
      this.log.info(fields, first ? 'negotiation expired (negotiation-ttl)' : `negotiation expired ${e.unreported} times in the last ${seconds} s (negotiation-ttl): the peer does not answer`);
    } else {
      this.log.warn(fields, first ? ACTIONABLE[e.cause]! : `${ACTIONABLE[e.cause]} (${e.unreported} in the last ${seconds} s)`);
    }
    e.unreported = 0;
    e.reportedAt = now;
  }
}
