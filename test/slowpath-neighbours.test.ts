// Next-hop resolution on fake timers: what start() sends (announcements,
// requests, solicitations), retries with backoff until answered, the MAC
// reported through setNextHop, refresh and fallback to broadcast, the
// override rule, static MACs, and the neighbour table. What unsolicited
// claims (gratuitous ARP, forged replies, unsolicited NAs) may and may not
// change is in slowpath-neighbour-claims.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  arpPacket,
  eth,
  GW,
  icmp6Packet,
  icmpv6ChecksumOk,
  look,
  macText,
  makeSlowPath,
  naPacket,
  punt,
  v4,
  v6,
  type Injected,
} from './support/slowpath-frames.js';

const ARP = 0x0806;
const IPV6 = 0x86dd;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function fakeClockSlowPath(over: Parameters<typeof makeSlowPath>[0] = {}) {
  return makeSlowPath({ now: () => Date.now(), ...over });
}

const isArpRequestFor = (target: string) => (i: Injected) =>
  i.frame.readUInt16BE(12) === ARP && i.frame.readUInt16BE(20) === 1 && look(i.frame).ip.subarray(24, 28).equals(v4(target));

const isNsFor = (target: string) => (i: Injected) => {
  const ip = look(i.frame).ip;
  return i.frame.readUInt16BE(12) === IPV6 && ip[40] === 135 && ip.subarray(48, 64).equals(v6(target));
};

function arpReplyFromNextHop(macAddr = GW.privNextHopMac) {
  return punt(eth(GW.privMac, macAddr, ARP, arpPacket(2, macAddr, GW.privNextHop, GW.privMac, GW.privV4)));
}

describe('start', () => {
  it('announces our addresses and asks for both next hops', () => {
    const { sp, rec } = fakeClockSlowPath();
    sp.start();
    const out = rec.take();

    const announcements = out.filter((i) => i.frame.readUInt16BE(12) === ARP && look(i.frame).ip.subarray(14, 18).equals(look(i.frame).ip.subarray(24, 28)));
    expect(announcements.map((i) => [i.queue, i.side, look(i.frame).ip.subarray(24, 28).join('.')])).toEqual([
      [1, 'private', GW.privV4],
      [1, 'public', GW.pub[0]],
      [2, 'public', GW.pub[1]],
    ]);
    for (const a of announcements) expect(look(a.frame).ethDst).toBe('ff:ff:ff:ff:ff:ff');

    const nas = out.filter((i) => i.frame.readUInt16BE(12) === IPV6 && look(i.frame).ip[40] === 136);
    expect(nas.map((i) => [i.queue, i.side])).toEqual([[1, 'private'], [3, 'public']]);
    for (const na of nas) {
      const ip = look(na.frame).ip;
      expect(icmpv6ChecksumOk(ip)).toBe(true);
      expect(ip.subarray(24, 40)).toEqual(v6('ff02::1'));
      expect(look(na.frame).ethDst).toBe('33:33:00:00:00:01');
      expect(ip[44] & 0xe0).toBe(0xa0); // router, override, not solicited
    }

    const [arpReq] = out.filter(isArpRequestFor(GW.privNextHop));
    expect(arpReq).toMatchObject({ queue: 1, side: 'private', mode: 'transmit' });
    const a = look(arpReq.frame);
    expect(a.ethDst).toBe('ff:ff:ff:ff:ff:ff');
    expect(macText(a.ip.subarray(8, 14))).toBe(GW.privMac);
    expect(a.ip.subarray(14, 18)).toEqual(v4(GW.privV4));
    expect(a.ip.subarray(18, 24)).toEqual(Buffer.alloc(6));

    // The public next hop is IPv6: solicited from the queue that owns an IPv6 address.
    const [ns] = out.filter(isNsFor(GW.pubNextHop));
    expect(ns).toMatchObject({ queue: 3, side: 'public', mode: 'transmit' });
    const n = look(ns.frame);
    expect(n.ethDst).toBe('33:33:ff:00:00:fe');
    expect(icmpv6ChecksumOk(n.ip)).toBe(true);
    expect(n.ip[7]).toBe(255);
    expect(n.ip.subarray(8, 24)).toEqual(v6(GW.pub[2]));
    expect(n.ip.subarray(24, 40)).toEqual(v6('ff02::1:ff00:fe'));
    expect([n.ip[64], n.ip[65]]).toEqual([1, 1]); // source link-layer address option
    expect(macText(n.ip.subarray(66, 72))).toBe(GW.pubMac);

    expect(out).toHaveLength(3 + 2 + 2);
    expect(rec.nextHops).toEqual([]);
    sp.stop();
  });
});

describe('resolution', () => {
  it('retries with exponential backoff until answered, then reports the MAC', () => {
    const { sp, rec } = fakeClockSlowPath({ neighbour: { retryMs: 1000, retryMaxMs: 8000 } });
    sp.start();
    const sentAt: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 40_000; i += 250) {
      for (const f of rec.take()) if (isArpRequestFor(GW.privNextHop)(f)) sentAt.push(Date.now() - t0);
      vi.advanceTimersByTime(250);
    }
    expect(sentAt.slice(0, 8)).toEqual([0, 1000, 3000, 7000, 15000, 23000, 31000, 39000]);
    expect(sp.neighbours().find((n) => n.side === 'private')).toMatchObject({ state: 'incomplete', mac: null, age: null });
    expect(rec.logs.some((l) => l.level === 40 && /does not answer/.test(l.msg))).toBe(true);

    sp.handle([arpReplyFromNextHop()]);
    expect(rec.nextHops).toEqual([{ side: 'private', mac: GW.privNextHopMac }]);
    expect(sp.neighbours().find((n) => n.side === 'private')).toMatchObject({
      address: GW.privNextHop,
      mac: GW.privNextHopMac,
      state: 'reachable',
      age: 0,
    });
    rec.take();
    vi.advanceTimersByTime(10_000);
    expect(rec.take().filter(isArpRequestFor(GW.privNextHop))).toEqual([]); // answered: no more broadcasts
    expect(sp.neighbours().find((n) => n.side === 'private')!.age).toBe(10);
    sp.stop();
  });

  it('refreshes with unicast probes, and falls back to broadcast keeping the MAC when they go unanswered', () => {
    const { sp, rec } = fakeClockSlowPath({ neighbour: { refreshMs: 30_000, retryMs: 1000, probes: 3 } });
    sp.start();
    sp.handle([arpReplyFromNextHop()]);
    rec.take();

    vi.advanceTimersByTime(30_000);
    const [probe] = rec.take().filter(isArpRequestFor(GW.privNextHop));
    expect(look(probe.frame).ethDst).toBe(GW.privNextHopMac); // unicast
    expect(sp.neighbours()[0].state).toBe('probe');
    sp.handle([arpReplyFromNextHop()]);
    expect(sp.neighbours()[0].state).toBe('reachable');

    vi.advanceTimersByTime(30_000 + 2_500);
    expect(rec.take().filter(isArpRequestFor(GW.privNextHop)).map((f) => look(f.frame).ethDst)).toEqual(Array(3).fill(GW.privNextHopMac));
    vi.advanceTimersByTime(1000);
    expect(rec.take().filter(isArpRequestFor(GW.privNextHop)).map((f) => look(f.frame).ethDst)).toEqual(['ff:ff:ff:ff:ff:ff']);
    expect(sp.neighbours()[0]).toMatchObject({ state: 'stale', mac: GW.privNextHopMac });
    expect(rec.nextHops).toEqual([{ side: 'private', mac: GW.privNextHopMac }]); // never withdrawn

    // A different router answers the broadcast and the old MAC stays silent:
    // when the request's window closes, the data plane is told.
    sp.handle([arpReplyFromNextHop('02:00:00:00:00:fd')]);
    expect(rec.nextHops).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(rec.nextHops.at(-1)).toEqual({ side: 'private', mac: '02:00:00:00:00:fd' });
    expect(sp.neighbours()[0]).toMatchObject({ state: 'reachable', macChanges: 1, unsolicitedClaims: 0 });
    sp.stop();
  });

  it('resolves an IPv6 next hop from a solicited NA, and honours the override flag', () => {
    const { sp, rec } = fakeClockSlowPath();
    sp.start();
    rec.take();
    const na = (flags: { s?: boolean; o?: boolean }, tll: string, dst = GW.pub[2]) =>
      punt(eth(GW.pubMac, tll, IPV6, naPacket(GW.pubNextHop, dst, GW.pubNextHop, { r: true, ...flags }, tll)), { side: 'public', queue: 2 });

    sp.handle([na({ s: true, o: true }, GW.pubNextHopMac)]);
    expect(rec.nextHops).toEqual([{ side: 'public', mac: GW.pubNextHopMac }]);
    expect(sp.neighbours().find((n) => n.side === 'public')).toMatchObject({ address: GW.pubNextHop, state: 'reachable' });

    // Refresh: a unicast solicitation, answered without override by another
    // link address, which does not replace the one we have.
    vi.advanceTimersByTime(30_000);
    const [probe] = rec.take().filter(isNsFor(GW.pubNextHop));
    expect(look(probe.frame).ethDst).toBe(GW.pubNextHopMac);
    expect(look(probe.frame).ip.subarray(24, 40)).toEqual(v6(GW.pubNextHop)); // unicast to the target
    sp.handle([na({ s: true, o: false }, '02:00:00:00:01:ab')]);
    sp.handle([na({ s: true, o: true }, GW.pubNextHopMac)]);
    expect(rec.nextHops).toHaveLength(1);
    expect(sp.neighbours().find((n) => n.side === 'public')!.state).toBe('reachable');
    sp.stop();
  });

  it('learns the next hop from its router advertisement only through the solicitation it triggers', () => {
    const { sp, rec } = fakeClockSlowPath();
    sp.start();
    const sll = Buffer.from([1, 1, 0x02, 0, 0, 0, 0x01, 0xfe]);
    const ra = icmp6Packet(GW.pubNextHop, 'ff02::1', 134, 0, (64 << 24) | 1800, Buffer.concat([Buffer.alloc(8), sll]), 255);
    vi.advanceTimersByTime(2500); // solicitations at 0 and 1 s, the next at 3 s: none open
    rec.take();
    sp.handle([punt(eth('33:33:00:00:00:01', GW.pubNextHopMac, IPV6, ra), { side: 'public', queue: 2 })]);
    expect(rec.nextHops).toEqual([]);
    expect(sp.counters().nd.routerAdvertisementsReceived).toBe(1);
    const [ns] = rec.take().filter(isNsFor(GW.pubNextHop));
    expect(look(ns.frame).ethDst).toBe('33:33:ff:00:00:fe'); // asked at once, by multicast
    const na = naPacket(GW.pubNextHop, GW.pub[2], GW.pubNextHop, { r: true, s: true, o: true }, GW.pubNextHopMac);
    sp.handle([punt(eth(GW.pubMac, GW.pubNextHopMac, IPV6, na), { side: 'public', queue: 2 })]);
    expect(rec.nextHops).toEqual([{ side: 'public', mac: GW.pubNextHopMac }]);
    sp.stop();
  });

  it('uses a static MAC without resolving and learns nothing over it', () => {
    const { sp, rec } = fakeClockSlowPath({
      private: { mac: GW.privMac, ipv4: GW.privV4, nextHop: GW.privNextHop, nextHopMac: GW.privNextHopMac },
    });
    sp.start();
    expect(rec.nextHops).toEqual([{ side: 'private', mac: GW.privNextHopMac }]);
    vi.advanceTimersByTime(120_000);
    expect(rec.take().filter(isArpRequestFor(GW.privNextHop))).toEqual([]);
    sp.handle([arpReplyFromNextHop('02:00:00:00:00:99')]);
    expect(rec.nextHops).toHaveLength(1);
    expect(sp.neighbours().find((n) => n.side === 'private')).toMatchObject({ mac: GW.privNextHopMac, state: 'static' });
    sp.stop();
  });

  it('sends nothing more after stop', () => {
    const { sp, rec } = fakeClockSlowPath();
    sp.start();
    sp.stop();
    rec.take();
    vi.advanceTimersByTime(300_000);
    expect(rec.take()).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
