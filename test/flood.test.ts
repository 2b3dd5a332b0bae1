// A key-exchange flood at a gateway that forwards a numbered stream and
// rekeys every few seconds (the scenario of `vitesse bench flood`, bench/flood.ts):
// random datagrams and recorded genuine messages replayed from other
// addresses arrive on its public address while the two gateways must agree
// on new SAs. The stream must arrive whole, new SAs must take over in both
// directions during the flood, and every flood datagram must be accounted
// for (dropped and counted by the key manager, or counted as a punt the
// ring could not take). How fast is the bench's business.
//
// The same with every datagram forged from the peer gateway's own address
// (the route's SPI, real message types, genuine messages replayed): checked
// before any rate-limit budget is spent, they must not starve the peer's
// genuine messages (docs/security.md, "Key-exchange floods").
import { describe, expect, it } from 'vitest';
import { runFlood } from '../bench/flood.js';

describe('key-exchange flood', () => {
  it('random and replayed datagrams: the stream arrives whole and both ends rekey during the flood', async () => {
    // As many as a starved event loop (flooder, both control planes and the
    // stream share this process) still handles within negotiation-ttl;
    // `vitesse bench flood` goes to 100,000/s.
    const r = await runFlood({ rate: 20_000, seconds: 8, traffic: 2_000, mix: [50, 50, 0], saTtl: 6, negotiationTtl: 2 });
    console.log(`flood: ${r.rate_offered}/s offered, ${r.flood_refused} refused by the inject ring; stream ${r.traffic_received}/${r.traffic_sent}; ` +
      `rekeys A→B ${r.rekeys_a_to_b}, B→A ${r.rekeys_b_to_a}; CPU ${r.cpu_seconds.toFixed(1)} s in ${r.seconds.toFixed(1)} s`);
    expect(r.flood_sent).toBeGreaterThan(10_000);
    expect(r.traffic_sent).toBeGreaterThan(5_000);
    expect(r.traffic_received).toBe(r.traffic_sent);
    expect(r.rekeys_a_to_b).toBeGreaterThanOrEqual(1);
    expect(r.rekeys_b_to_a).toBeGreaterThanOrEqual(1);
    // Each flood datagram is counted once (a few more: the genuine exchange's
    // own knocks are answered, and a crossing may drop a message).
    const accounted = r.b_rxerrors + r.b_ratelimited + r.b_knocks_ratelimited + r.b_challenges + r.b_punt_ring_drops;
    expect(accounted).toBeGreaterThanOrEqual(r.flood_sent);
    expect(accounted).toBeLessThan(r.flood_sent + 100);
    // None of it came from the peer's address, so none of it used its budget.
    expect(r.b_ratelimited + r.b_knocks_ratelimited).toBe(0);
    expect(Object.keys(r.b_errors).sort()).toEqual(expect.arrayContaining(['route_errors']));
    expect(r.b_errors.authentication_errors ?? 0).toBe(0);
  }, 60_000);

  it('datagrams forged from the peer gateway\'s address: the stream arrives and both ends rekey, every forgery counted', async () => {
    // 5,000 forgeries a second from the peer's address: 250 times what the
    // old per-source budget allowed before the unforgeable checks (20/s), yet
    // few enough that a starved event loop (this one process is flooder,
    // both control planes and the stream) still handles them all within
    // negotiation-ttl; `vitesse bench flood` goes to 100,000/s.
    const r = await runFlood({ rate: 5_000, seconds: 8, traffic: 2_000, mix: [0, 0, 100], saTtl: 6, negotiationTtl: 2 });
    console.log(`spoofed flood: ${r.rate_offered}/s offered; stream ${r.traffic_received}/${r.traffic_sent}; rekeys A→B ${r.rekeys_a_to_b}, B→A ${r.rekeys_b_to_a}; ` +
      `B: ${r.b_rxerrors} errors, ${r.b_knocks_ratelimited} knocks over budget, ${r.b_ratelimited} rate-limited; ` +
      `drops A ${JSON.stringify(r.a_dataplane_drops)} B ${JSON.stringify(r.b_dataplane_drops)}; ` +
      `negotiations expired A ${r.a_negotiations_expired} B ${r.b_negotiations_expired}`);
    expect(r.flood_sent).toBeGreaterThan(10_000);
    expect(r.traffic_sent).toBeGreaterThan(5_000);
    expect(r.loss_pct).toBeLessThanOrEqual(0.1);
    expect(r.rekeys_a_to_b).toBeGreaterThanOrEqual(1);
    expect(r.rekeys_b_to_a).toBeGreaterThanOrEqual(1);
    // No genuine message was refused for budget: the forgeries did not spend it.
    expect(r.b_ratelimited).toBe(0);
    // Forged and replayed knocks went over their own budget; the rest failed their checks.
    expect(r.b_knocks_ratelimited).toBeGreaterThan(0);
    expect(r.b_errors.authentication_errors).toBeGreaterThan(0);
    const accounted = r.b_rxerrors + r.b_ratelimited + r.b_knocks_ratelimited + r.b_challenges + r.b_punt_ring_drops;
    expect(accounted).toBeGreaterThanOrEqual(r.flood_sent);
    expect(accounted).toBeLessThan(r.flood_sent + 100);
  }, 60_000);
});
