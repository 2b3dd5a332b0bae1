// Damaged frames through the slow path (property-based): valid frames of
// every kind it handles, with random octets changed, cut short or punted for
// the wrong reason or side. Whatever comes in, the slow path must not throw or
// log a failure, and everything it sends must be well-formed: right lengths
// and checksums, ICMP errors within 576/1280 octets and never about an ICMP
// error, nothing to a multicast or unspecified IP address except ND's own.
import { QueueNumber } from '../controlplane/exchange/types.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildIpv4, buildIpv6 } from './support/ip-packets.js';
import {
  arpPacket,
  eth,
  GW,
  icmp4Packet,
  icmp6Packet,
  icmpv6ChecksumOk,
  ipv4ChecksumsOk,
  look,
  makeSlowPath,
  multicastMac6,
  naPacket,
  nsPacket,
  udp4Packet,
  udp6Packet,
  withIpv4Fields,
} from './support/slowpath-frames.js';
import type { Punt } from '../controlplane/slowpath/types.js';

const IPV4 = 0x0800;
const IPV6 = 0x86dd;
const ARP = 0x0806;

const SEEDS: Buffer[] = [
  eth('ff:ff:ff:ff:ff:ff', GW.hostMac, ARP, arpPacket(1, GW.hostMac, GW.host, '00:00:00:00:00:00', GW.privV4)),
  eth(GW.privMac, GW.privNextHopMac, ARP, arpPacket(2, GW.privNextHopMac, GW.privNextHop, GW.privMac, GW.privV4)),
  eth(GW.privMac, GW.hostMac, IPV4, icmp4Packet(GW.host, GW.privV4, 8, 0, 0x10001, Buffer.alloc(56, 1))),
  eth(GW.privMac, GW.hostMac, IPV6, icmp6Packet(GW.host6, GW.privV6, 128, 0, 0x10001, Buffer.alloc(56, 2))),
  eth(multicastMac6('ff02::1:ff00:1'), GW.hostMac, IPV6, nsPacket(GW.host6, GW.privV6, { sll: GW.hostMac })),
  eth(GW.pubMac, GW.pubNextHopMac, IPV6, naPacket(GW.pubNextHop, GW.pub[2], GW.pubNextHop, { r: true, s: true, o: true }, GW.pubNextHopMac)),
  eth(GW.pubMac, GW.pubNextHopMac, IPV4, udp4Packet('198.51.100.1', GW.pub[0], 303, 303, Buffer.alloc(40, 3))),
  eth(GW.pubMac, GW.pubNextHopMac, IPV6, udp6Packet('2001:db8:7::1', GW.pub[2], 303, 303, Buffer.alloc(40, 4))),
  eth(GW.privMac, GW.hostMac, IPV4, withIpv4Fields(udp4Packet(GW.host, GW.remote, 1, 2, Buffer.alloc(100)), { ttl: 1 })),
  eth(GW.privMac, GW.hostMac, IPV6, buildIpv6({ src: GW.host6, dst: GW.remote6, nextHeader: 6, hopLimit: 1, payload: Buffer.alloc(60) })),
  eth(GW.privMac, GW.hostMac, IPV4, withIpv4Fields(buildIpv4({ src: GW.host, dst: GW.remote, protocol: 17, payload: Buffer.alloc(1700) }), { flags: 0x4000 })),
  eth(GW.privMac, GW.hostMac, IPV4, buildIpv4({ src: GW.host, dst: GW.remote, protocol: 17, payload: Buffer.alloc(1700) })),
  eth(GW.privMac, GW.hostMac, IPV6, buildIpv6({ src: GW.host6, dst: GW.remote6, nextHeader: 17, payload: Buffer.alloc(1700) })),
  eth(GW.privMac, GW.hostMac, IPV4, icmp4Packet(GW.host, GW.remote, 3, 1, 0, Buffer.alloc(28), 1)),
  eth(GW.privMac, GW.hostMac, IPV6, icmp6Packet(GW.host6, GW.remote6, 1, 3, 0, Buffer.alloc(48), 1)),
];

/** Checks one frame the slow path sent. */
function checkSent(frame: Buffer, mode: 'transmit' | 'receive'): void {
  const f = look(frame);
  // Fragments of a forwarded packet keep its addresses, whatever they are.
  const forwarded = mode === 'receive' && f.type === IPV4 && (f.ip.readUInt16BE(6) & 0x3fff) !== 0;
  if (f.type === ARP) {
    expect(f.ip.length).toBe(28);
    return;
  }
  if (f.type === IPV4) {
    expect(ipv4ChecksumsOk(f.ip)).toBe(true);
    if (forwarded) return;
    expect(f.ip.subarray(16, 20).every((x) => x === 0)).toBe(false);
    expect(f.ip[16]).toBeLessThan(224);
    if (f.ip[9] === 1 && ![0, 8].includes(f.ip[20])) {
      expect(f.ip.length).toBeLessThanOrEqual(576);
      const quoted = f.ip.subarray(28);
      const qihl = (quoted[0] & 15) * 4;
      if (quoted[9] === 1) expect([0, 8, 13, 14, 15, 16, 17, 18, 9, 10]).toContain(quoted[qihl]);
    }
    return;
  }
  expect(f.type).toBe(IPV6);
  expect(icmpv6ChecksumOk(f.ip)).toBe(true);
  const type = f.ip[40];
  if (type === 135 || type === 136) {
    expect(f.ip[7]).toBe(255);
    return;
  }
  expect(f.ip[24]).not.toBe(0xff);
  if (type < 128) {
    expect(f.ip.length).toBeLessThanOrEqual(1280);
    const quoted = f.ip.subarray(48);
    if (quoted[6] === 58) expect(quoted[40]).toBeGreaterThanOrEqual(128);
  }
}

describe('damaged frames', () => {
  it('never throw and only ever produce well-formed frames', () => {
    const { sp, rec } = makeSlowPath({
      limits: {
        icmpErrors: { perSecond: 0, burst: 1e9 },
        icmpErrorsPerSource: { perSecond: 0, burst: 1e9 },
        echoReplies: { perSecond: 0, burst: 1e9 },
        echoRepliesPerSource: { perSecond: 0, burst: 1e9 },
        fragmentation: { perSecond: 0, burst: 1e9 },
      },
    });
    const mutation = fc.record({
      seed: fc.integer({ min: 0, max: SEEDS.length - 1 }),
      flips: fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      reason: fc.constantFrom<Punt['reason']>('control', 'ttl-exceeded', 'too-big'),
      side: fc.constantFrom<Punt['side']>('private', 'public'),
      queue: fc.integer({ min: 1, max: 3 }),
    });
    let answered = 0;
    fc.assert(
      fc.property(mutation, (m) => {
        const frame = Buffer.from(SEEDS[m.seed]);
        for (const { at, xor } of m.flips) frame[at % frame.length] ^= xor;
        const cut = m.cut === undefined ? frame : frame.subarray(0, m.cut % (frame.length + 1));
        sp.handle([{ queue: QueueNumber(m.queue), side: m.side, reason: m.reason, frameLength: frame.length, frame: cut.subarray(0, 2048) }]);
        const out = rec.take();
        answered += out.length;
        for (const o of out) checkSent(o.frame, o.mode);
        expect(rec.errors()).toEqual([]);
      }),
      { numRuns: 3000 },
    );
    // The damage did not just make everything a drop: about 4% of the frames
    // are answered (113–146 of 3000 over eight runs; fast-check's seed varies
    // between runs, and 100 failed once at 99), so 1% is far below any run.
    expect(answered).toBeGreaterThan(30);
  });
});
