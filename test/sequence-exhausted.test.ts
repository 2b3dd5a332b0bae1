// Issue 17: an outbound SA that has sent its last sequence number is counted
// on its own (private_drop_sequence_exhausted: `sequence-exhausted-errors` in
// the YANG state, reason "sequence_exhausted" in the metrics) and, in
// key-exchange mode, rekeyed at once rather than at sa-ttl/2. Two real
// gateways on memory wires; gateway A's first outbound SA is installed three
// numbers short of 2^64-1 (through the Dataplane wrapper, as if it had sent
// that much), so the fourth packet finds it exhausted.
import { afterEach, describe, expect, it } from 'vitest';
import type { SaSpec } from '../controlplane/dataplane.js';
import { GatewayMetrics } from '../controlplane/metrics.js';
import { gatewayState } from '../controlplane/state.js';
import { numbered, numberOf, twoSites, until, type TwoSites } from '../controlplane/demo/memory-two-sites.js';

let sites: TwoSites | null = null;
afterEach(() => {
  sites?.close();
  sites = null;
});

describe('an outbound SA whose sequence numbers run out', () => {
  it('drops and counts what it cannot send, and the key manager negotiates its successor at once', async () => {
    const s = (sites = twoSites({ saTtl: 600 })); // no rekey before 300 s but for the exhaustion
    const dp = s.a.dataplane;
    const install = dp.setOutboundSa.bind(dp);
    let first = true;
    dp.setOutboundSa = (sa: SaSpec) => {
      install(first ? { ...sa, seq: 2n ** 64n - 4n } : sa);
      first = false;
    };
    s.a.start();
    s.b.start();
    const outbound = () => s.a.sas().filter((sa) => sa.direction === 'outbound');
    await until(() => outbound().length === 1 && s.b.sas().some((sa) => sa.direction === 'outbound'), 10_000, 'both gateways to have an outbound SA');
    const exhausted = outbound()[0];
    expect(exhausted.seq).toBe(2n ** 64n - 4n);
    const initiated = s.a.keymanager!.counters.negotiations_initiated;

    // Three numbers left: packets 0..2 are sent, 3..9 are dropped, each
    // counted. (B refuses the three: its window, at 0, infers seq-high 0 for
    // them, RFC 4303 Appendix A, and a number that far left of it is a replay.)
    expect(s.sendA(Array.from({ length: 10 }, (_, i) => numbered('a', i)))).toBe(10);
    await until(() => dp.counters().private_drop_sequence_exhausted === 7, 20_000, 'seven drops');
    expect(dp.counters().encapsulated_packets).toBe(3);
    await until(() => s.b.dataplane.counters().public_drop_replay === 3, 20_000, 'B to refuse the three');
    expect(s.receiveB()).toEqual([]);
    expect(dp.counters().private_drop_encapsulation_failed).toBe(0);

    // Named in the state (per SA and for the private router) and in the metrics.
    const state = gatewayState(s.a) as Record<string, any>;
    expect(state['private-router']['sequence-exhausted-errors']).toBe('7');
    expect(state.sa.find((sa: any) => sa.direction === 'outbound' && sa.spi === exhausted.spi))
      .toMatchObject({ 'sequence-exhausted-errors': '7' });
    expect(await new GatewayMetrics(s.a, { processMetrics: false }).scrape())
      .toMatch(/vitesse_drops_total\{interface="private",reason="sequence_exhausted",queue="1"\} 7/);

    // The drops trigger a rekey: a new outbound SA replaces the exhausted one
    // at once (sa-ttl 600 s: without the trigger there would be none for
    // 300 s; and it is activated without the 7.5 s activation delay, since
    // the exhausted one sends nothing). Counted in key-exchange messages, not
    // time: one more negotiation, which A started.
    await until(() => outbound().some((sa) => sa.spi !== exhausted.spi), 20_000, 'a new outbound SA');
    expect(s.a.keymanager!.counters.negotiations_initiated).toBe(initiated + 1);
    expect(s.sendA(Array.from({ length: 5 }, (_, i) => numbered('a', 100 + i)))).toBe(5);
    const after: number[] = [];
    await until(() => (after.push(...s.receiveB().map(numberOf)), after.length === 5), 20_000, 'traffic over the new SA');
    expect(after).toEqual([100, 101, 102, 103, 104]);
    expect(dp.counters().private_drop_sequence_exhausted).toBe(7);
  });
});
