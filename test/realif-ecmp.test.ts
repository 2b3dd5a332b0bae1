// Scale-out with BGP and ECMP (issue 13, docs/scale-out.md) on real
// interfaces, real BIRD 2 and `vitesse run` gateways: two gateways per site
// behind a router that runs BIRD with kernel ECMP and L4 hashing
// (controlplane/demo/ecmp-sites.ts; bench/failover.ts runs the scenario and
// measures it — the outage goes to `vitesse bench failover --json`, not to a
// threshold here).
//
// Two scenarios. In the first, site B has one gateway whose route lists
// both A gateways as peers (docs/scale-out.md, "Several peers per route"):
// it hashes its flows over the two pairs, and its liveness takes a dead
// peer's pair out. In the second, the gateways are paired (a1–b1, a2–b2)
// and site B spreads its flows with its own router and BGP, exactly like
// site A. When a1 dies,
// router A stops choosing it because a1's BIRD died with it; router B stops
// choosing b1 because b1's route to site A lost its peer (liveness) and b1
// withdrew it. Both directions of every flow are checked, and which A
// gateway carried each, by router A's nftables sets.
//
// Last, a2's BIRD alone is killed: the gateway starts it again and router A
// chooses a2 again.
//
// Needs root, ip, bird, birdc, nft and the compiled CLI; skipped with the reason otherwise.
import { describe, expect, it } from 'vitest';
import { runFailover, type Phase } from '../bench/failover.js';
import { runMultiPeerFailover } from '../bench/failover-multi-peer.js';
import { runDrain, type DrainResult } from '../bench/drain.js';
import type { FlowReport } from '../bench/udp-flows.js';
import { missing } from './support/requires.js';
import { yanglintDocument } from './config-yanglint.js';

const why = missing('root', 'ip', 'bird', 'birdc', 'nft', 'setpriv', 'cli');
const FLOWS = 64;
const PPS = 50;
const ports = Array.from({ length: FLOWS }, (_, i) => 40000 + i);

function intact(p: Phase): void {
  for (const f of p.flows) {
    expect({ sport: f.sport, corrupt: f.corrupt }).toEqual({ sport: f.sport, corrupt: 0 });
    expect(f.sent).toBeGreaterThan(0);
  }
}

// Loss: on this shared 2-core machine runs now and then lose datagrams of
// a flow with no routing change (up to a few percent of one flow under
// load; cause not found yet: docs/scale-out.md, limits). Loss is reported by
// `vitesse bench failover`, not judged here. What is asserted is that no
// flow stops or breaks: each got most of its stream back, and echoes of its
// last 3 seconds still came back (a flow routed into nothing gets none).
const TAIL = 3 * PPS;

function lostOfTail(f: FlowReport): number {
  let n = 0;
  for (const [first, last] of f.lost) n += Math.max(0, last - Math.max(first, f.sent - TAIL) + 1);
  return n;
}

function flowing(p: Phase): void {
  for (const f of p.flows) {
    expect({ sport: f.sport, most: f.received >= f.sent / 2, tailAnswered: lostOfTail(f) < TAIL })
      .toEqual({ sport: f.sport, most: true, tailAnswered: true });
  }
}

function spreadOverBoth(p: Phase): void {
  for (const dir of ['out', 'in'] as const) {
    const { a1, a2 } = p.carried[dir];
    // Each A gateway carries at least a quarter of the flows, each way ...
    expect({ dir, a1: a1.length >= FLOWS / 4, a2: a2.length >= FLOWS / 4 }).toEqual({ dir, a1: true, a2: true });
    // ... and each flow stays on one of them.
    expect(a1.filter((port) => a2.includes(port))).toEqual([]);
    expect([...a1, ...a2].sort((x, y) => x - y)).toEqual(ports);
  }
}

// Loss is asserted exactly in both labs (docs/scale-out.md, limits: the
// loss seen before was the echo socket's receive buffer overflowing).
// Outside the kill, not one datagram is lost, and no drop or error counter
// of any namespace or gateway moved (bench/lab-counters.ts) — except the
// gateways' own kernels counting the data plane's frames, addressed to no
// address of theirs (IpInAddrErrors), which are not on the path.
const OFF_PATH = /^(a1|a2|b1|b2)\/IpInAddrErrors$/;

function nothingLost(p: Phase): void {
  for (const f of p.flows) expect({ sport: f.sport, lost: f.lost }).toEqual({ sport: f.sport, lost: [] });
}

function nothingDropped(moved: Record<string, number>, explained: RegExp = OFF_PATH): void {
  expect(Object.fromEntries(Object.entries(moved).filter(([k]) => !OFF_PATH.test(k) && !explained.test(k)))).toEqual({});
}

// Loss in a failover only where the kill explains it: flows a1 carried
// (`carried`: one way or the other), in one run of datagrams sent between
// the kill (less the few in flight when a1 died) and `until`, when the last
// path through a1 was gone. Flows a1 never carried lost nothing.
function lostOnlyToTheKill(p: Phase & { killedAt: number }, carried: number[], until: number): void {
  const a1Carried = new Set(carried);
  for (const f of p.flows) {
    const explained = a1Carried.has(f.sport) && f.lost.length === 1 && f.lost[0][0] >= p.killedAt - PPS / 5 && f.lost[0][1] <= until;
    expect({ sport: f.sport, lost: f.lost, explained: explained || f.lost.length === 0 }).toEqual({ sport: f.sport, lost: f.lost, explained: true });
  }
}

// Site B with one gateway whose route lists both A gateways as peers
// (bench/failover-multi-peer.ts): router A's nftables sets say which A
// gateway carried each flow each way; back from B that is b1's choice of
// pair. Kept before the paired scenario's block (drain's goes at the end).
// Counters a1's SIGKILL moves off the tunnels' path: a1's own, router A's
// failed connection attempts to a1's BIRD, and the resets a1's kernel sends
// for that BIRD's closed port, which carry the default TTL and are refused
// by GTSM (ttl security) at router A.
const A1_DEATH = /^(a1\/|rA\/TcpAttemptFails$|rA\/TcpExtTCPMinTTLDrop$)/;

describe.skipIf(why)(`a route listing both gateways of the far site as peers${why ? ` [skipped: ${why}]` : ''}`, () => {
  it('b1 hashes flows over both pairs, all intact; SIGKILL of a1: b1 takes its pair out and every flow resumes through a2; restarted, a1\'s pair carries flows again', async () => {
    const r = await runMultiPeerFailover({ flows: FLOWS, pps: PPS });
    // For reading a run: each phase's lost datagrams by flow, and the counters that moved.
    const lostBy = (p: Phase) => p.flows.filter((f) => f.lost.length).map((f) => ({ sport: f.sport, sent: f.sent, lost: f.lost }));
    console.log(JSON.stringify({ lost: { spread: lostBy(r.spread), failover: lostBy(r.failover), rejoined: lostBy(r.rejoined) }, marks: { killedAt: r.failover.killedAt, withdrawnAAt: r.failover.withdrawnAAt, takenOutAt: r.failover.takenOutAt }, carried: r.failover.carried, lossCounters: r.lossCounters }));

    // Every gateway's counters were read at each phase's end (a1 not when dead):
    // a gateway missing there would have had none of its drops compared.
    expect(Object.fromEntries(Object.entries(r.lossCounters).map(([k, v]) => [k, Object.keys(v.read).sort()])))
      .toEqual({ warmup: ['a1', 'a2', 'b1'], spread: ['a1', 'a2', 'b1'], failover: ['a2', 'b1'], rejoined: ['a1', 'a2', 'b1'] });

    // Spread over both pairs each way (towards B: router A's ECMP; back: b1's flow hash), nothing damaged, lost or dropped.
    intact(r.spread);
    nothingLost(r.spread);
    nothingDropped(r.lossCounters.spread.moved);
    spreadOverBoth(r.spread);

    // SIGKILL of a1: b1's liveness took the pair (b1, a1) out, and only that one.
    expect(r.b1Usable[0]).toEqual({ gateway: 'a1', usable: false });
    expect(r.b1Usable.filter((x) => x.gateway === 'a2')).toEqual([]);
    expect(r.failover.peers).toEqual([{ gateway: 'a1', up: false, usable: false }, { gateway: 'a2', up: true, usable: true }]);
    intact(r.failover);
    // Once a1 was out, every flow went through a2 both ways, none through a1 ...
    expect(r.failover.settled.out).toEqual({ a1: [], a2: ports });
    expect(r.failover.settled.in).toEqual({ a1: [], a2: ports });
    // ... including those b1 had hashed onto a1 before, and those router A had sent through it.
    expect(r.failover.carried.in.a1.length).toBeGreaterThan(0);
    expect(r.failover.carried.out.a1.length).toBeGreaterThan(0);
    flowing(r.failover);
    // Loss only for flows that were on a1, towards B (router A's choice, gone
    // when router A stopped choosing a1) or back (b1's pair, gone when b1 took
    // it out): one run per flow, between the kill and the later of the two.
    const { withdrawnAAt, takenOutAt } = r.failover;
    lostOnlyToTheKill(r.failover, [...r.failover.carried.out.a1, ...r.failover.carried.in.a1], Math.max(withdrawnAAt, takenOutAt));
    // A flow a1 carried only towards B lost nothing sent after router A had stopped choosing a1.
    const outOnly = r.failover.carried.out.a1.filter((p) => !r.failover.carried.in.a1.includes(p));
    for (const f of r.failover.flows.filter((x) => outOnly.includes(x.sport))) {
      expect({ sport: f.sport, lostAfterWithdrawal: f.lost.filter(([, last]) => last > withdrawnAAt) }).toEqual({ sport: f.sport, lostAfterWithdrawal: [] });
    }
    // Nothing dropped at either host (the echo's socket included) nor by b1
    // or a2; a1 is dead: router A's BGP session to it fails (TcpAttemptFails),
    // and what a1's kernel answers for its dead BIRD's port (resets sent with
    // the default TTL, not BGP's 255) TTL security refuses (TCPMinTTLDrop).
    nothingDropped(r.lossCounters.failover.moved, A1_DEATH);

    // Restarted: b1 put a1's pair back, and it carries flows again, each way; nothing lost or dropped.
    expect(r.b1Usable.at(-1)).toEqual({ gateway: 'a1', usable: true });
    expect(r.rejoined.peers).toEqual([{ gateway: 'a1', up: true, usable: true }, { gateway: 'a2', up: true, usable: true }]);
    intact(r.rejoined);
    nothingLost(r.rejoined);
    nothingDropped(r.lossCounters.rejoined.moved);
    spreadOverBoth(r.rejoined);

    // b1's metrics said the same: per peer, and the route up while any peer is.
    expect(r.metrics.failover).toEqual({ up: { a1: 0, a2: 1 }, usable: { a1: 0, a2: 1 }, routeUp: 1 });
    expect(r.metrics.rejoined).toEqual({ up: { a1: 1, a2: 1 }, usable: { a1: 1, a2: 1 }, routeUp: 1 });

    // b1 sends on one outbound SA per pair, each naming its peer (state sa/peer).
    const state = (r.states.rejoined as Record<string, any>)['vitesse-gateway:gateway-state'];
    const keys = state.route[0].peer.map((p: Record<string, unknown>) => p['public-key']);
    expect(state.sa.filter((sa: Record<string, unknown>) => sa.direction === 'outbound').map((sa: Record<string, unknown>) => sa.peer).sort()).toEqual([...keys].sort());
        // b1's state, route/peer included, is valid against the model.
    for (const step of ['failover', 'rejoined'] as const) expect({ step, ...yanglintDocument(r.states[step], 'get') }).toEqual({ step, ok: true, messages: '' });
  }, 240_000);
});

describe.skipIf(why)(`two gateways per site behind BIRD and kernel ECMP${why ? ` [skipped: ${why}]` : ''}`, () => {
  it('flows spread over both A gateways and arrive intact; SIGKILL of one: every flow resumes on the other; restarted, it carries flows again', async () => {
    const r = await runFailover({ flows: FLOWS, pps: PPS });
    // For reading a run: each phase's lost datagrams by flow, and the counters that moved.
    const lostBy = (p: Phase) => p.flows.filter((f) => f.lost.length).map((f) => ({ sport: f.sport, sent: f.sent, lost: f.lost }));
    console.log(JSON.stringify({ lost: { spread: lostBy(r.spread), failover: lostBy(r.failover), rejoined: lostBy(r.rejoined) }, carried: r.failover.carried, lossCounters: r.lossCounters, announcements: r.announcements }));

    // Spread, both ways, nothing damaged, nothing lost, nothing dropped anywhere.
    intact(r.spread);
    nothingLost(r.spread);
    nothingDropped(r.lossCounters.spread.moved);
    spreadOverBoth(r.spread);

    // SIGKILL of a1: its BIRD did not outlive it.
    expect(r.failover.birdOutlived).toBe(false);
    intact(r.failover);
    // Once routing settled, every flow went through a2, both ways, and none through a1 ...
    expect(r.failover.settled.out).toEqual({ a1: [], a2: ports });
    expect(r.failover.settled.in).toEqual({ a1: [], a2: ports });
    // ... including those a1 carried before (it did carry some each way).
    expect(r.failover.carried.out.a1.length).toBeGreaterThan(0);
    expect(r.failover.carried.in.a1.length).toBeGreaterThan(0);
    // Every flow resumed: echoes of its last 3 s came back, after routing
    // had settled.
    flowing(r.failover);
    // Loss only where the kill explains it: flows a1 carried (one way or the
    // other), in one run of datagrams sent between the kill and router B
    // stopping to choose b1 (the echoes b1 still sent to the dead a1), less
    // the few in flight when a1 died. Flows a1 never carried lost nothing.
    lostOnlyToTheKill(r.failover, [...r.failover.carried.out.a1, ...r.failover.carried.in.a1], r.failover.withdrawnBAt);
    // Nothing dropped at either host (the echo's socket included); a1 and its
    // links are dead (A1_DEATH: what its death moves at router A).
    nothingDropped(r.lossCounters.failover.moved, A1_DEATH);

    // Restarted, a1 rejoins and carries flows again; nothing damaged, lost or dropped.
    intact(r.rejoined);
    nothingLost(r.rejoined);
    nothingDropped(r.lossCounters.rejoined.moved);
    spreadOverBoth(r.rejoined);

    // BIRD killed alone (a2's): the router stopped choosing a2 (runFailover
    // waited for it), the gateway started BIRD once again, a2 is chosen again.
    expect(r.bird_restarts).toBe(1);
  }, 240_000);
});

// `vitesse drain` of a1 under the same numbered streams, both ways
// (bench/drain.ts): a1 withdraws its announcement (router A moves the A→B
// direction), tells its peer b1, and forwards what still comes until idle.
// In the multi-peer lab b1 takes a1's pair out of its flow hash; in the
// paired lab a1 was b1's route's only peer, so b1 withdraws that route and
// router B moves the B→A direction to b2. Planned maintenance: not one
// datagram may be lost, in either direction.
function drainedWithoutLoss(r: DrainResult): void {
  console.log(JSON.stringify({ lost: r.stream.filter((f) => f.lost.length).map((f) => ({ sport: f.sport, lost: f.lost })), windowFrom: r.windowFrom, lossCounters: r.lossCounters }));
  // The CLI said drained (exit 0), with its progress and summary.
  expect({ code: r.exitCode, output: r.output }).toMatchObject({ code: 0 });
  expect(r.output.some((l) => /^withdrawn: yes; peers: 1 of 1 acknowledged; .* idle$/.test(l))).toBe(true);
  expect(r.summary).toMatchObject({ drained: true, withdrawn: true, peers: 1, peers_acknowledged: 1, peers_unanswered: 0 });

  // 0 datagrams lost, none damaged: every sequence number of every flow
  // came back, from 1 s before the drain was asked for until the end of the
  // stream, 2 s after it was drained (bench/drain.ts: the stream's first
  // bursts are outside, a lab artefact before any drain).
  // The whole stream counts, its first bursts included (their loss was the
  // echo's receive buffer: docs/scale-out.md, limits), and no drop or error
  // counter moved in any namespace or gateway while it ran.
  for (const f of r.stream) {
    expect(f.sent).toBeGreaterThan(r.askedAt + 2 * PPS);
    expect({ sport: f.sport, corrupt: f.corrupt, lost: f.lost }).toEqual({ sport: f.sport, corrupt: 0, lost: [] });
  }
  nothingDropped(r.lossCounters.stream.moved);
  expect(r.stream.map((f) => f.sport)).toEqual(ports);
  // The echo's socket dropped nothing either (it would look like loss).
  expect(r.udp.hostB.RcvbufErrors).toBe(0);

  // Before and during the drain a1 carried flows each way; once drained, every flow went through a2 both ways.
  expect(r.before.out.a1.length).toBeGreaterThan(0);
  expect(r.before.in.a1.length).toBeGreaterThan(0);
  expect(r.settled.out).toEqual({ a1: [], a2: ports });
  expect(r.settled.in).toEqual({ a1: [], a2: ports });

  // b1 shows a1 draining and does not use it; the message was counted both ends, nothing refused.
  expect(r.b1PeerA1).toEqual({ usable: false, draining: true });
  expect(Number(r.b1Counters['drains-accepted'])).toBeGreaterThan(0);
  expect(Number(r.a1Counters['drain-acks-accepted'])).toBeGreaterThan(0);
  expect(r.b1Counters['drain-errors']).toBe('0');
  expect(r.a1Counters['drain-errors']).toBe('0');

  // What each gateway announces, in its state (gateway-state/bgp/announced):
  // the drained a1 nothing, a2 site B; valid against the model.
  const announced = (g: string) => (((r.counters[g] as Record<string, any> | undefined)?.bgp?.announced ?? []) as Array<{ prefix: string; since: string }>);
  expect(announced('a1')).toEqual([]);
  expect(announced('a2').map((a) => a.prefix)).toEqual(['10.2.0.0/16']);
  expect(Date.parse(announced('a2')[0].since)).toBeLessThan(Date.now());
  expect(yanglintDocument({ 'vitesse-gateway:gateway-state': r.counters.a2 }, 'get')).toEqual({ ok: true, messages: '' });
  // ... and as the metric vitesse_bgp_announced_prefixes.
  expect({ a1: r.announcedMetric.a1, a2: r.announcedMetric.a2 }).toEqual({ a1: 0, a2: 1 });

  // Cancelled: b1 uses a1 again and it carries flows each way again.
  expect(r.cancelled.usable).toBe(true);
  expect(r.cancelled.rejoined.out.a1.length).toBeGreaterThan(0);
  expect(r.cancelled.rejoined.in.a1.length).toBeGreaterThan(0);
}

describe.skipIf(why)(`vitesse drain of one A gateway under numbered flows${why ? ` [skipped: ${why}]` : ''}`, () => {
  it('b1 lists a1 and a2: loses 0 datagrams either way; every flow ends up on a2 both ways; b1 counted the drain and took a1 out; cancelled, a1 carries flows again', async () => {
    drainedWithoutLoss(await runDrain({ flows: FLOWS, pps: PPS }));
  }, 240_000);

  it('paired gateways (a1 is b1\'s route\'s only peer): b1 withdraws the route, router B moves the flows to b2; 0 lost; cancelled, a1 carries flows again', async () => {
    drainedWithoutLoss(await runDrain({ flows: FLOWS, pps: PPS, paired: true }));
  }, 240_000);
});
