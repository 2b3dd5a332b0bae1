// Key-exchange failures a human must act on are logged at warn once per route
// and cause, with a count, then summarised once per interval; repeated
// "negotiation expired" lines are summarised too; the counts per route feed
// vitesse_key_exchange_errors_total's route label (exchange/failure-log.ts).
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { world } from './keymanager-harness.js';

interface Line { level: number; msg: string; route?: string; reason?: string; count?: number; total?: number }

function recorder(): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  return { lines, logger: pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s)); } }) };
}

const SUMMARY_MS = 60_000;

describe('key-exchange failures in the log', () => {
  it('a wrong key: one warn per route at once, then one summary a minute with the count, while the counters count every message', () => {
    const a = recorder();
    const b = recorder();
    const w = world({
      routeB: { preSharedKey: Buffer.alloc(32, 7) },
      optionsA: { logger: a.logger, failureSummaryMs: SUMMARY_MS },
      optionsB: { logger: b.logger, failureSummaryMs: SUMMARY_MS },
    });
    w.run(5 * SUMMARY_MS + 500, 50);
    const errors = w.a.km.counters.authentication_errors + w.b.km.counters.authentication_errors;
    // A negotiation every 0.5 s at first, then backing off (exchange/liveness.ts), for 5 minutes.
    expect(errors).toBeGreaterThan(10);
    // The summary of what came since the last one is due at the end of its interval.
    for (const side of [w.a, w.b]) side.km.failures.flush(w.clock.t + SUMMARY_MS);
    const warns = [...a.lines, ...b.lines].filter((l) => l.level === 40 && l.reason === 'authentication');
    // At each end that saw one: the first at once, then at most one per interval.
    const ends = [a.lines, b.lines].filter((ls) => ls.some((l) => l.reason === 'authentication')).length;
    expect(ends).toBeGreaterThanOrEqual(1);
    expect(warns.length).toBeLessThanOrEqual(ends * 7);
    expect(warns.length).toBeLessThan(errors);
    expect(warns.every((l) => l.route === 'peer')).toBe(true);
    expect(warns[0].msg).toMatch(/preshared keys .*differ/);
    // The counts in the lines add up to every authentication error.
    expect(warns.reduce((n, l) => n + l.count!, 0)).toBe(errors);
    // Per route in the metrics' source.
    const byRoute = [...w.a.km.failures.byRoute(), ...w.b.km.failures.byRoute()].filter((e) => e.reason === 'authentication');
    expect(byRoute.every((e) => e.route === 'peer')).toBe(true);
    expect(byRoute.reduce((n, e) => n + e.count, 0)).toBe(errors);
  });

  it('an unknown peer (route SPIs differ): warned once, not per message, with no route', () => {
    const a = recorder();
    const w = world({ routeB: { spi: 2002 as never }, optionsA: { logger: a.logger, failureSummaryMs: SUMMARY_MS } });
    w.run(SUMMARY_MS / 2, 50);
    expect(w.a.km.counters.route_errors).toBeGreaterThan(3);
    const warns = a.lines.filter((l) => l.reason === 'route');
    expect(warns.length).toBe(1);
    expect(warns[0]).toMatchObject({ level: 40, count: 1 });
    expect(warns[0].route).toBeUndefined();
    expect(warns[0].msg).toMatch(/unknown peer/);
  });

  it('a dead peer: the first expiry at once, then one line a minute instead of one per negotiation-ttl; after a quiet minute the next is news', () => {
    const a = recorder();
    const w = world({ optionsA: { logger: a.logger, failureSummaryMs: SUMMARY_MS } });
    w.net.lose = () => true;
    w.run(3 * SUMMARY_MS + 500, 50);
    const expired = w.a.km.counters.negotiations_expired;
    expect(expired).toBeGreaterThan(5); // every 0.5 s at first, then backing off (exchange/liveness.ts)
    const lines = a.lines.filter((l) => /negotiation expired/.test(l.msg));
    expect(lines.length).toBeLessThanOrEqual(5);
    expect(lines.length).toBeLessThan(expired);
    expect(lines[0].msg).toBe('negotiation expired (negotiation-ttl)');
    // Retries back off (exchange/liveness.ts): the first minute's are summed in one line; later ones, more than a minute apart, are news each.
    expect(lines.some((l) => /^negotiation expired \d+ times in the last 60 s/.test(l.msg))).toBe(true);
    expect(lines.reduce((n, l) => n + l.count!, 0)).toBeLessThanOrEqual(expired);
    expect(lines.every((l) => l.level === 30 && l.route === 'peer')).toBe(true);

    // The peer answers for three minutes (rekeys every 2 s succeed), then dies again.
    w.net.lose = () => false;
    w.run(3 * SUMMARY_MS, 50);
    const quiet = a.lines.length;
    w.net.lose = () => true;
    w.run(5000, 50);
    const again = a.lines.slice(quiet).filter((l) => /negotiation expired/.test(l.msg));
    expect(again.map((l) => l.msg)).toEqual(['negotiation expired (negotiation-ttl)']);
  });
});
