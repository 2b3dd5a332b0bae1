// The key-exchange flood of test/flood.test.ts (bench/flood.ts) on a
// vita-ske-v5 route: datagrams forged from the peer gateway's own address
// (Vita's lengths and version, and genuine messages replayed) arrive at
// gateway B while it forwards a numbered stream and both gateways rekey.
// Vita's proposals can only be checked by their AEAD, so reading them costs
// B's unauthenticated budget (shared with knocks): over it they are left
// unread (proposals_ratelimited). The stream must arrive, new SAs must take
// over in both directions (B's own negotiations with A go on), no
// authenticated message is refused for budget, every forgery is counted.
import { describe, expect, it } from 'vitest';
import { runFlood } from '../bench/flood.js';

describe('key-exchange flood on a vita-ske-v5 route', () => {
  it('datagrams forged from the peer gateway\'s address: the stream arrives and both ends rekey, every forgery counted', async () => {
    const r = await runFlood({ rate: 5_000, seconds: 8, traffic: 2_000, mix: [0, 0, 100], saTtl: 6, negotiationTtl: 2, protocol: 'vita-ske-v5' });
    console.log(`vita-ske spoofed flood: ${r.rate_offered}/s offered; stream ${r.traffic_received}/${r.traffic_sent}; rekeys A→B ${r.rekeys_a_to_b}, B→A ${r.rekeys_b_to_a}; ` +
      `B: ${r.b_rxerrors} errors ${JSON.stringify(r.b_errors)}, ${r.b_knocks_ratelimited} knocks and ${r.b_proposals_ratelimited} proposals over budget, ${r.b_ratelimited} rate-limited; ` +
      `negotiations expired A ${r.a_negotiations_expired} B ${r.b_negotiations_expired}; CPU ${r.cpu_seconds.toFixed(1)} s in ${r.seconds.toFixed(1)} s`);
    expect(r.flood_sent).toBeGreaterThan(10_000);
    expect(r.traffic_sent).toBeGreaterThan(5_000);
    expect(r.loss_pct).toBeLessThanOrEqual(0.1);
    expect(r.rekeys_a_to_b).toBeGreaterThanOrEqual(1);
    expect(r.rekeys_b_to_a).toBeGreaterThanOrEqual(1);
    // Forged proposals went over the unauthenticated budget, not the other one.
    expect(r.b_proposals_ratelimited).toBeGreaterThan(0);
    expect(r.b_ratelimited).toBe(0);
    const accounted = r.b_rxerrors + r.b_ratelimited + r.b_knocks_ratelimited + r.b_proposals_ratelimited + r.b_challenges + r.b_punt_ring_drops;
    expect(accounted).toBeGreaterThanOrEqual(r.flood_sent);
    expect(accounted).toBeLessThan(r.flood_sent + 100);
  }, 60_000);
});
