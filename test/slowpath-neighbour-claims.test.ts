// Issue 10 item 6, "one ARP packet redirects the tunnel", against the real
// slow path on fake timers: a third host claims the next hop's address with
// one unsolicited ARP reply, ARP request, gratuitous ARP or unsolicited NA
// (override flag set). The MAC in use must not change, the claim must be
// counted (`unsolicited-claims`), and a broadcast request must go out at
// once; a genuine move (the old MAC silent, the new one answering that
// request) is followed when the request's window closes; changes are rate
// limited (`mac-changes-rate-limited`). Frames are counted, not timed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { arpPacket, eth, GW, look, makeSlowPath, naPacket, punt, v4, v6, type Injected } from './support/slowpath-frames.js';

const ARP = 0x0806;
const IPV6 = 0x86dd;
const FORGER = '02:66:66:66:66:66';
const NEW_ROUTER = '02:00:00:00:00:aa';
const BROADCAST = 'ff:ff:ff:ff:ff:ff';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const arpRequests = (out: Injected[]) =>
  out.filter((i) => i.frame.readUInt16BE(12) === ARP && i.frame.readUInt16BE(20) === 1 && look(i.frame).ip.subarray(24, 28).equals(v4(GW.privNextHop)));
const solicitations = (out: Injected[]) =>
  out.filter((i) => i.frame.readUInt16BE(12) === IPV6 && look(i.frame).ip[40] === 135 && look(i.frame).ip.subarray(48, 64).equals(v6(GW.pubNextHop)));

/** An ARP reply from `mac` for the private next hop, addressed to us as the answer to our request would be. */
const replyToUs = (mac: string) => punt(eth(GW.privMac, mac, ARP, arpPacket(2, mac, GW.privNextHop, GW.privMac, GW.privV4)));

// One packet each, claiming the private next hop's address for `mac`.
const ARP_CLAIMS: Record<string, (mac: string) => ReturnType<typeof punt>> = {
  'unsolicited ARP reply to us': replyToUs,
  'ARP reply to broadcast': (m) => punt(eth(BROADCAST, m, ARP, arpPacket(2, m, GW.privNextHop, BROADCAST, GW.privNextHop))),
  'ARP request for our address': (m) => punt(eth(BROADCAST, m, ARP, arpPacket(1, m, GW.privNextHop, '00:00:00:00:00:00', GW.privV4))),
  'gratuitous ARP (announcement)': (m) => punt(eth(BROADCAST, m, ARP, arpPacket(1, m, GW.privNextHop, '00:00:00:00:00:00', GW.privNextHop))),
};

/** The private next hop resolved to its real MAC, the window of the request it answered closed. */
function resolvedPrivate(over: Parameters<typeof makeSlowPath>[0] = {}) {
  const r = makeSlowPath({ now: () => Date.now(), ...over });
  r.sp.start();
  r.sp.handle([replyToUs(GW.privNextHopMac)]);
  vi.advanceTimersByTime(2000);
  r.rec.take();
  expect(r.rec.nextHops).toEqual([{ side: 'private', mac: GW.privNextHopMac }]);
  return r;
}
const privateEntry = (sp: ReturnType<typeof makeSlowPath>['sp']) => sp.neighbours().find((n) => n.side === 'private')!;

describe('an unsolicited claim of the next hop changes nothing', () => {
  for (const [kind, claim] of Object.entries(ARP_CLAIMS)) {
    it(`${kind}: counted, the MAC in use kept, a broadcast request sent at once and answered by the real next hop`, () => {
      const { sp, rec } = resolvedPrivate();
      sp.handle([claim(FORGER)]);
      expect(rec.nextHops).toHaveLength(1);
      expect(privateEntry(sp)).toMatchObject({ mac: GW.privNextHopMac, unsolicitedClaims: 1, macChanges: 0 });
      const asked = arpRequests(rec.take());
      expect(asked.map((f) => look(f.frame).ethDst)).toEqual([BROADCAST]);

      // Both answer the broadcast, the forger first: the MAC in use answered, it stays.
      sp.handle([replyToUs(FORGER), replyToUs(GW.privNextHopMac)]);
      vi.advanceTimersByTime(5_000);
      expect(rec.nextHops).toHaveLength(1);
      expect(privateEntry(sp)).toMatchObject({ mac: GW.privNextHopMac, state: 'reachable', unsolicitedClaims: 2, macChanges: 0 });
      sp.stop();
    });
  }

  it('an unsolicited NA with the override flag, and a "solicited" one nobody asked for', () => {
    const { sp, rec } = makeSlowPath({ now: () => Date.now() });
    sp.start();
    const na = (flags: { s?: boolean; o?: boolean }, mac: string, dst = GW.pub[2]) =>
      punt(eth(dst === GW.pub[2] ? GW.pubMac : '33:33:00:00:00:01', mac, IPV6, naPacket(GW.pubNextHop, dst, GW.pubNextHop, { r: true, ...flags }, mac)), { side: 'public', queue: 2 });
    sp.handle([na({ s: true, o: true }, GW.pubNextHopMac)]); // answers the solicitation start() sent
    vi.advanceTimersByTime(2000);
    rec.take();

    sp.handle([na({ s: false, o: true }, FORGER, 'ff02::1')]);
    expect(solicitations(rec.take()).map((f) => look(f.frame).ethDst)).toEqual(['33:33:ff:00:00:fe']);
    vi.advanceTimersByTime(2000); // nobody answers; the old MAC is checked by unicast
    sp.handle([na({ s: true, o: true }, GW.pubNextHopMac)]);
    rec.take();
    vi.advanceTimersByTime(2000);
    sp.handle([na({ s: true, o: true }, FORGER)]); // outside any request's window
    expect(rec.nextHops).toEqual([{ side: 'public', mac: GW.pubNextHopMac }]);
    expect(sp.neighbours().find((n) => n.side === 'public')).toMatchObject({ mac: GW.pubNextHopMac, unsolicitedClaims: 2, macChanges: 0 });
    sp.stop();
  });

  it('a unicast probe is answered only by the MAC it was sent to', () => {
    const { sp, rec } = resolvedPrivate();
    vi.advanceTimersByTime(28_000); // refresh 30 s after the answer: a unicast probe
    expect(arpRequests(rec.take()).map((f) => look(f.frame).ethDst)).toEqual([GW.privNextHopMac]);
    sp.handle([replyToUs(FORGER)]);
    vi.advanceTimersByTime(500);
    sp.handle([replyToUs(GW.privNextHopMac)]);
    vi.advanceTimersByTime(10_000);
    expect(rec.nextHops).toHaveLength(1);
    expect(privateEntry(sp)).toMatchObject({ mac: GW.privNextHopMac, state: 'reachable', unsolicitedClaims: 1 });
    sp.stop();
  });

  it('a static MAC: claims are counted and nothing is sent', () => {
    const { sp, rec } = makeSlowPath({
      now: () => Date.now(),
      private: { mac: GW.privMac, ipv4: GW.privV4, nextHop: GW.privNextHop, nextHopMac: GW.privNextHopMac },
    });
    sp.start();
    rec.take();
    sp.handle(Object.values(ARP_CLAIMS).map((c) => c(FORGER)));
    expect(arpRequests(rec.take())).toEqual([]);
    expect(rec.nextHops).toEqual([{ side: 'private', mac: GW.privNextHopMac }]);
    expect(privateEntry(sp)).toMatchObject({ state: 'static', unsolicitedClaims: 4 });
    sp.stop();
  });
});

describe('a genuine move of the next hop', () => {
  it('is followed one answer window after its gratuitous ARP, when only the new MAC answers', () => {
    const { sp, rec } = resolvedPrivate();
    sp.handle([ARP_CLAIMS['gratuitous ARP (announcement)'](NEW_ROUTER)]);
    expect(arpRequests(rec.take()).map((f) => look(f.frame).ethDst)).toEqual([BROADCAST]);
    sp.handle([replyToUs(NEW_ROUTER)]);
    expect(rec.nextHops).toHaveLength(1); // not before the window closes: the old MAC may still answer
    vi.advanceTimersByTime(1000);
    expect(rec.nextHops.at(-1)).toEqual({ side: 'private', mac: NEW_ROUTER });
    expect(privateEntry(sp)).toMatchObject({ mac: NEW_ROUTER, state: 'reachable', unsolicitedClaims: 1, macChanges: 1 });
    sp.stop();
  });

  it('an IPv6 next hop moves after an unsolicited NA and a solicited answer from the new MAC', () => {
    const { sp, rec } = makeSlowPath({ now: () => Date.now() });
    sp.start();
    const na = (flags: { s?: boolean; o?: boolean }, mac: string, dst: string) =>
      punt(eth(GW.pubMac, mac, IPV6, naPacket(GW.pubNextHop, dst, GW.pubNextHop, { r: true, ...flags }, mac)), { side: 'public', queue: 2 });
    sp.handle([na({ s: true, o: true }, GW.pubNextHopMac, GW.pub[2])]);
    vi.advanceTimersByTime(2000);
    rec.take();
    sp.handle([na({ o: true }, NEW_ROUTER, 'ff02::1')]);
    expect(solicitations(rec.take())).toHaveLength(1);
    sp.handle([na({ s: true, o: true }, NEW_ROUTER, GW.pub[2])]);
    vi.advanceTimersByTime(1000);
    expect(rec.nextHops.at(-1)).toEqual({ side: 'public', mac: NEW_ROUTER });
    sp.stop();
  });

  it('if nobody answers the broadcast, the MAC in use is checked by unicast and kept while it answers', () => {
    const { sp, rec } = resolvedPrivate();
    sp.handle([ARP_CLAIMS['unsolicited ARP reply to us'](FORGER)]);
    expect(arpRequests(rec.take()).map((f) => look(f.frame).ethDst)).toEqual([BROADCAST]);
    vi.advanceTimersByTime(1000);
    expect(arpRequests(rec.take()).map((f) => look(f.frame).ethDst)).toEqual([GW.privNextHopMac]);
    sp.handle([replyToUs(GW.privNextHopMac)]);
    expect(privateEntry(sp)).toMatchObject({ mac: GW.privNextHopMac, state: 'reachable' });
    sp.stop();
  });
});

describe('rate limits', () => {
  it('a flood of claims, the forger answering every request too, costs at most the claim-probe budget and changes nothing', () => {
    const { sp, rec } = resolvedPrivate({ neighbour: { claimProbes: { perSecond: 1, burst: 3 } } });
    let sent = 0;
    for (let i = 0; i < 100; i++) {
      sp.handle([ARP_CLAIMS['gratuitous ARP (announcement)'](FORGER), ARP_CLAIMS['unsolicited ARP reply to us'](FORGER)]);
      // The live next hop answers what we ask, as a router does.
      const asked = arpRequests(rec.take());
      sent += asked.filter((f) => look(f.frame).ethDst === BROADCAST).length;
      if (asked.length) sp.handle([replyToUs(GW.privNextHopMac)]);
      vi.advanceTimersByTime(100);
    }
    // 10 s: the burst of 3 and one a second after, each window (1 s) at most one.
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(3 + 10);
    expect(rec.nextHops).toHaveLength(1);
    expect(privateEntry(sp).unsolicitedClaims).toBe(200);
  });

  it('changes beyond the change budget are refused and counted', () => {
    const { sp, rec } = resolvedPrivate({ neighbour: { changes: { perSecond: 0.01, burst: 2 } } });
    const macs = ['02:00:00:00:00:a1', '02:00:00:00:00:a2', '02:00:00:00:00:a3'];
    for (const m of macs) {
      sp.handle([ARP_CLAIMS['gratuitous ARP (announcement)'](m)]);
      sp.handle([replyToUs(m)]);
      vi.advanceTimersByTime(1000);
    }
    expect(rec.nextHops.map((n) => n.mac)).toEqual([GW.privNextHopMac, macs[0], macs[1]]);
    expect(privateEntry(sp)).toMatchObject({ mac: macs[1], macChanges: 2, macChangesRateLimited: 1 });
    sp.stop();
  });
});

describe('a claim while the MAC in use is being probed by unicast', () => {
  it('is asked about by broadcast at once: a move is followed without waiting for the unicast probes to fail', () => {
    const { sp, rec } = resolvedPrivate();
    vi.advanceTimersByTime(28_000); // the refresh's first unicast probe is out
    expect(arpRequests(rec.take()).map((f) => look(f.frame).ethDst)).toEqual([GW.privNextHopMac]);
    sp.handle([ARP_CLAIMS['gratuitous ARP (announcement)'](NEW_ROUTER)]);
    expect(arpRequests(rec.take()).map((f) => look(f.frame).ethDst)).toEqual([BROADCAST]);
    sp.handle([replyToUs(NEW_ROUTER)]);
    vi.advanceTimersByTime(1000);
    expect(rec.nextHops.at(-1)).toEqual({ side: 'private', mac: NEW_ROUTER });
    sp.stop();
  });
});
