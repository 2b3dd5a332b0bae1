// The slow path answering punted frames: ARP and Neighbour Discovery for our
// addresses, echo replies, ICMP errors (time exceeded, too big, unreachable)
// with the right fields, quotes and checksums, the cases where no error may
// be sent, rate limiting, and UDP handed to the key exchange. Frames are
// built in the test and checked with test/support's own checksum code.
import { QueueNumber } from '../controlplane/exchange/types.js';
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
  mac,
  macText,
  makeSlowPath,
  multicastMac6,
  nsPacket,
  punt,
  udp4Packet,
  udp6Packet,
  v4,
  v6,
  withIpv4Fields,
} from './support/slowpath-frames.js';

const IPV4 = 0x0800;
const IPV6 = 0x86dd;
const ARP = 0x0806;

function echo4(src: string, dst: string, data = Buffer.from('abcdefghijklmnopqrstuvwabcdefghi'), ttl = 64): Buffer {
  return icmp4Packet(src, dst, 8, 0, (0x1234 << 16) | 7, data, ttl);
}

function echo6(src: string, dst: string, data = Buffer.from('0123456789abcdef'), hopLimit = 64): Buffer {
  return icmp6Packet(src, dst, 128, 0, (0x4321 << 16) | 9, data, hopLimit);
}

describe('ARP', () => {
  it('answers a request for the private address with our MAC, to the requester', () => {
    const { sp, rec } = makeSlowPath();
    const req = arpPacket(1, GW.hostMac, GW.host, '00:00:00:00:00:00', GW.privV4);
    sp.handle([punt(eth('ff:ff:ff:ff:ff:ff', GW.hostMac, ARP, req), { queue: 1 })]);
    const out = rec.take();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ queue: 1, side: 'private', mode: 'transmit' });
    const f = look(out[0].frame);
    expect(f).toMatchObject({ ethDst: GW.hostMac, ethSrc: GW.privMac, type: ARP });
    const a = f.ip;
    expect(a.readUInt16BE(0)).toBe(1); // Ethernet
    expect(a.readUInt16BE(2)).toBe(0x0800);
    expect([a[4], a[5]]).toEqual([6, 4]);
    expect(a.readUInt16BE(6)).toBe(2); // reply
    expect(macText(a.subarray(8, 14))).toBe(GW.privMac);
    expect(a.subarray(14, 18)).toEqual(v4(GW.privV4));
    expect(macText(a.subarray(18, 24))).toBe(GW.hostMac);
    expect(a.subarray(24, 28)).toEqual(v4(GW.host));
    expect(sp.counters().arp).toMatchObject({ requestsReceived: 1, repliesSent: 1 });
  });

  it("answers for every queue's public address, on the queue the request came in on", () => {
    const { sp, rec } = makeSlowPath();
    const req = arpPacket(1, '02:00:00:00:09:09', '192.0.2.200', '00:00:00:00:00:00', GW.pub[1]);
    sp.handle([punt(eth('ff:ff:ff:ff:ff:ff', '02:00:00:00:09:09', ARP, req), { side: 'public', queue: 1 })]);
    const [r] = rec.take();
    expect(r).toMatchObject({ queue: 1, side: 'public', mode: 'transmit' });
    const a = look(r.frame).ip;
    expect(macText(a.subarray(8, 14))).toBe(GW.pubMac);
    expect(a.subarray(14, 18)).toEqual(v4(GW.pub[1]));
  });

  it('does not answer for addresses that are not ours, nor on the wrong side', () => {
    const { sp, rec } = makeSlowPath();
    sp.handle([
      punt(eth('ff:ff:ff:ff:ff:ff', GW.hostMac, ARP, arpPacket(1, GW.hostMac, GW.host, '00:00:00:00:00:00', '10.1.0.99'))),
      punt(eth('ff:ff:ff:ff:ff:ff', GW.hostMac, ARP, arpPacket(1, GW.hostMac, GW.host, '00:00:00:00:00:00', GW.pub[0]))),
      // An announcement of our own address by someone else: not a question.
      punt(eth('ff:ff:ff:ff:ff:ff', GW.hostMac, ARP, arpPacket(1, GW.hostMac, GW.privV4, '00:00:00:00:00:00', GW.privV4))),
    ]);
    expect(rec.take()).toEqual([]);
    expect(sp.counters().drops['not-for-us']).toBe(2);
    expect(sp.counters().drops['bad-source']).toBe(1);
    expect(rec.logs.some((l) => l.level === 40 && /claims one of our addresses/.test(l.msg))).toBe(true);
  });

  it('rejects malformed ARP and broadcast sender addresses', () => {
    const { sp, rec } = makeSlowPath();
    const good = arpPacket(1, GW.hostMac, GW.host, '00:00:00:00:00:00', GW.privV4);
    const badHlen = Buffer.from(good);
    badHlen[4] = 8;
    sp.handle([
      punt(eth('ff:ff:ff:ff:ff:ff', GW.hostMac, ARP, good.subarray(0, 27))),
      punt(eth('ff:ff:ff:ff:ff:ff', GW.hostMac, ARP, badHlen)),
      punt(eth('ff:ff:ff:ff:ff:ff', GW.hostMac, ARP, arpPacket(1, 'ff:ff:ff:ff:ff:ff', GW.host, '00:00:00:00:00:00', GW.privV4))),
      punt(eth('ff:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff', ARP, good)),
    ]);
    expect(rec.take()).toEqual([]);
    expect(sp.counters().drops).toMatchObject({ malformed: 2, 'bad-source': 2 });
  });
});

describe('Neighbour Discovery', () => {
  function checkNa(frame: Buffer, o: { dst: string; ethDst: string; target: string; r: boolean; s: boolean; o: boolean; srcMac: string }) {
    const f = look(frame);
    expect(f).toMatchObject({ ethDst: o.ethDst, ethSrc: o.srcMac, type: IPV6 });
    const ip = f.ip;
    expect(icmpv6ChecksumOk(ip)).toBe(true);
    expect(ip[7]).toBe(255); // hop limit
    expect(ip.subarray(8, 24)).toEqual(v6(o.target)); // from the advertised address
    expect(ip.subarray(24, 40)).toEqual(v6(o.dst));
    const m = ip.subarray(40);
    expect([m[0], m[1]]).toEqual([136, 0]);
    expect(m[4] & 0x80).toBe(o.r ? 0x80 : 0);
    expect(m[4] & 0x40).toBe(o.s ? 0x40 : 0);
    expect(m[4] & 0x20).toBe(o.o ? 0x20 : 0);
    expect(m.subarray(8, 24)).toEqual(v6(o.target));
    // Target link-layer address option.
    expect([m[24], m[25]]).toEqual([2, 1]);
    expect(macText(m.subarray(26, 32))).toBe(o.srcMac);
  }

  it('answers a solicitation for the private address with a solicited, override, router NA', () => {
    const { sp, rec } = makeSlowPath();
    const ns = nsPacket(GW.host6, GW.privV6, { sll: GW.hostMac });
    sp.handle([punt(eth(multicastMac6('ff02::1:ff00:1'), GW.hostMac, IPV6, ns), { queue: 2 })]);
    const out = rec.take();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ queue: 2, side: 'private', mode: 'transmit' });
    checkNa(out[0].frame, { dst: GW.host6, ethDst: GW.hostMac, target: GW.privV6, r: true, s: true, o: true, srcMac: GW.privMac });
    expect(sp.counters().nd).toMatchObject({ solicitationsReceived: 1, advertisementsSent: 1 });
    expect(sp.counters().icmpv6.sent['136.0']).toBe(1);
  });

  it("answers for a queue's public IPv6 address; a unicast solicitation without SLLA goes back to the frame's source", () => {
    const { sp, rec } = makeSlowPath();
    const ns = nsPacket('2001:db8::77', GW.pub[2], { dst: GW.pub[2] });
    sp.handle([punt(eth(GW.pubMac, '02:00:00:00:77:77', IPV6, ns), { side: 'public', queue: 2 })]);
    const [r] = rec.take();
    expect(r).toMatchObject({ queue: 2, side: 'public' });
    checkNa(r.frame, { dst: '2001:db8::77', ethDst: '02:00:00:00:77:77', target: GW.pub[2], r: true, s: true, o: true, srcMac: GW.pubMac });
  });

  it('defends our address against duplicate address detection with an NA to all nodes', () => {
    const { sp, rec } = makeSlowPath();
    const ns = nsPacket('::', GW.privV6);
    sp.handle([punt(eth(multicastMac6('ff02::1:ff00:1'), GW.hostMac, IPV6, ns))]);
    const [r] = rec.take();
    checkNa(r.frame, { dst: 'ff02::1', ethDst: '33:33:00:00:00:01', target: GW.privV6, r: true, s: false, o: true, srcMac: GW.privMac });
  });

  it('ignores solicitations that fail validation (hop limit, checksum, target, DAD with SLLA)', () => {
    const { sp, rec } = makeSlowPath();
    const hop = nsPacket(GW.host6, GW.privV6, { sll: GW.hostMac, hopLimit: 64 });
    const sum = Buffer.from(nsPacket(GW.host6, GW.privV6, { sll: GW.hostMac }));
    sum[sum.length - 1] ^= 1;
    const other = nsPacket(GW.host6, 'fd00:1::99', { sll: GW.hostMac });
    const dadSll = nsPacket('::', GW.privV6, { sll: GW.hostMac });
    const zeroLenOpt = Buffer.from(nsPacket(GW.host6, GW.privV6, { sll: GW.hostMac }));
    zeroLenOpt[40 + 25] = 0; // option length 0 is invalid (and the checksum is now wrong too)
    sp.handle([hop, sum, other, dadSll, zeroLenOpt].map((p) => punt(eth(multicastMac6('ff02::1:ff00:1'), GW.hostMac, IPV6, p))));
    expect(rec.take()).toEqual([]);
    expect(sp.counters().drops).toMatchObject({ malformed: 2, 'bad-checksum': 2, 'not-for-us': 1 });
  });
});

describe('echo', () => {
  it('replies to a ping of the private address with the same identifier, sequence and data', () => {
    const { sp, rec } = makeSlowPath();
    const req = echo4(GW.host, GW.privV4);
    sp.handle([punt(eth(GW.privMac, GW.hostMac, IPV4, req))]);
    const [r] = rec.take();
    expect(r).toMatchObject({ queue: 1, side: 'private', mode: 'transmit' });
    const f = look(r.frame);
    expect(f).toMatchObject({ ethDst: GW.hostMac, ethSrc: GW.privMac, type: IPV4 });
    expect(ipv4ChecksumsOk(f.ip)).toBe(true);
    expect(f.ip.subarray(12, 16)).toEqual(v4(GW.privV4));
    expect(f.ip.subarray(16, 20)).toEqual(v4(GW.host));
    expect(f.ip[9]).toBe(1);
    expect([f.ip[20], f.ip[21]]).toEqual([0, 0]);
    expect(f.ip.subarray(24)).toEqual(req.subarray(24)); // identifier, sequence, data
    expect(sp.counters().icmp.received['8.0']).toBe(1);
    expect(sp.counters().icmp.sent['0.0']).toBe(1);
  });

  it('replies to an ICMPv6 ping of a public address (checksum over the pseudo-header)', () => {
    const { sp, rec } = makeSlowPath();
    const req = echo6('2001:db8:5::5', GW.pub[2], Buffer.alloc(1000, 0xa5));
    sp.handle([punt(eth(GW.pubMac, GW.pubNextHopMac, IPV6, req), { side: 'public', queue: 2 })]);
    const [r] = rec.take();
    expect(r).toMatchObject({ queue: 2, side: 'public', mode: 'transmit' });
    const f = look(r.frame);
    expect(f.ethDst).toBe(GW.pubNextHopMac);
    expect(icmpv6ChecksumOk(f.ip)).toBe(true);
    expect(f.ip.subarray(8, 24)).toEqual(v6(GW.pub[2]));
    expect(f.ip.subarray(24, 40)).toEqual(v6('2001:db8:5::5'));
    expect(f.ip[40]).toBe(129);
    expect(f.ip.subarray(44)).toEqual(req.subarray(44));
    expect(sp.counters().icmpv6.sent['129.0']).toBe(1);
  });

  it('drops pings that are fragments, truncated, for other addresses, to multicast, or have a bad checksum', () => {
    const { sp, rec } = makeSlowPath();
    const frag = withIpv4Fields(echo4(GW.host, GW.privV4), { flags: 0x2000 });
    const big = echo4(GW.host, GW.privV4, Buffer.alloc(3000));
    const other = echo4(GW.host, '10.1.0.2');
    const bad = Buffer.from(echo4(GW.host, GW.privV4));
    bad[bad.length - 1] ^= 0xff;
    const mcast = echo6(GW.host6, 'ff02::1');
    sp.handle([
      punt(eth(GW.privMac, GW.hostMac, IPV4, frag)),
      punt(eth(GW.privMac, GW.hostMac, IPV4, big)), // cut at 2048 octets by punt()
      punt(eth(GW.privMac, GW.hostMac, IPV4, other)),
      punt(eth(GW.privMac, GW.hostMac, IPV4, bad)),
      punt(eth('33:33:00:00:00:01', GW.hostMac, IPV6, mcast)),
    ]);
    expect(rec.take()).toEqual([]);
    expect(sp.counters().drops).toMatchObject({ fragment: 1, truncated: 1, 'not-for-us': 1, 'bad-checksum': 1, unhandled: 1 });
  });

  it('rate-limits echo replies', () => {
    const { sp, rec, clock } = makeSlowPath({ limits: { echoReplies: { perSecond: 10, burst: 5 } } });
    const p = punt(eth(GW.privMac, GW.hostMac, IPV4, echo4(GW.host, GW.privV4)));
    sp.handle(Array(8).fill(p));
    expect(rec.take()).toHaveLength(5);
    clock.t += 200; // two tokens
    sp.handle(Array(8).fill(p));
    expect(rec.take()).toHaveLength(2);
    expect(sp.counters().icmp.rateLimited).toEqual({ '0.0': 9 });
  });
});

describe('ICMP errors', () => {
  it('sends time exceeded from the private address back to the sender, quoting the packet', () => {
    const { sp, rec } = makeSlowPath();
    const pkt = udp4Packet(GW.host, GW.remote, 33434, 33435, Buffer.alloc(32, 7));
    const expired = withIpv4Fields(pkt, { ttl: 1 });
    sp.handle([punt(eth(GW.privMac, GW.hostMac, IPV4, expired), { reason: 'ttl-exceeded', queue: 1 })]);
    const [r] = rec.take();
    expect(r).toMatchObject({ queue: 1, side: 'private', mode: 'transmit' });
    const f = look(r.frame);
    expect(f.ethDst).toBe(GW.hostMac);
    expect(ipv4ChecksumsOk(f.ip)).toBe(true);
    expect(f.ip.subarray(12, 16)).toEqual(v4(GW.privV4));
    expect(f.ip.subarray(16, 20)).toEqual(v4(GW.host));
    expect([f.ip[20], f.ip[21]]).toEqual([11, 0]);
    expect(f.ip.subarray(28)).toEqual(expired); // the whole (short) packet, as it arrived
    expect(sp.counters().icmp.sent['11.0']).toBe(1);
  });

  it('sends time exceeded for a packet out of the tunnel into the tunnel (receive on private)', () => {
    const { sp, rec } = makeSlowPath();
    const inner = echo6(GW.remote6, GW.host6, Buffer.alloc(24, 1), 1);
    // The data plane wrote the Ethernet header: private next hop and our MAC.
    sp.handle([punt(eth(GW.privNextHopMac, GW.privMac, IPV6, inner), { side: 'public', reason: 'ttl-exceeded', queue: 2 })]);
    const [r] = rec.take();
    expect(r).toMatchObject({ queue: 2, side: 'private', mode: 'receive' });
    const f = look(r.frame);
    expect(icmpv6ChecksumOk(f.ip)).toBe(true);
    expect(f.ip.subarray(8, 24)).toEqual(v6(GW.privV6));
    expect(f.ip.subarray(24, 40)).toEqual(v6(GW.remote6));
    expect([f.ip[40], f.ip[41]]).toEqual([3, 0]);
    expect(f.ip.subarray(48)).toEqual(inner);
    expect(sp.counters().icmpv6.sent['3.0']).toBe(1);
  });

  it('answers an echo request out of the tunnel for our private address back into the tunnel (receive on private), IPv4 and IPv6', () => {
    const { sp, rec } = makeSlowPath();
    // The data plane wrote the Ethernet header: private next hop and our MAC.
    sp.handle([
      punt(eth(GW.privNextHopMac, GW.privMac, IPV4, echo4(GW.remote, GW.privV4)), { side: 'public', reason: 'tunnel', queue: 1 }),
      punt(eth(GW.privNextHopMac, GW.privMac, IPV6, echo6(GW.remote6, GW.privV6)), { side: 'public', reason: 'tunnel', queue: 2 }),
    ]);
    const out = rec.take();
    expect(out.map((r) => [r.queue, r.side, r.mode])).toEqual([[1, 'private', 'receive'], [2, 'private', 'receive']]);
    const f4 = look(out[0].frame), f6 = look(out[1].frame);
    expect(ipv4ChecksumsOk(f4.ip)).toBe(true);
    expect(f4.ip.subarray(12, 16)).toEqual(v4(GW.privV4));
    expect(f4.ip.subarray(16, 20)).toEqual(v4(GW.remote));
    expect(f4.ip[20]).toBe(0); // echo reply
    expect(icmpv6ChecksumOk(f6.ip)).toBe(true);
    expect(f6.ip.subarray(8, 24)).toEqual(v6(GW.privV6));
    expect(f6.ip.subarray(24, 40)).toEqual(v6(GW.remote6));
    expect(f6.ip[40]).toBe(129);
    expect(sp.counters().icmp.sent['0.0']).toBe(1);
    expect(sp.counters().icmpv6.sent['129.0']).toBe(1);
  });

  it('answers UDP out of the tunnel for our address with port unreachable into the tunnel; ND and others\' addresses get nothing', () => {
    const { sp, rec } = makeSlowPath();
    const fromTunnel = { side: 'public' as const, reason: 'tunnel' as const, queue: 1 };
    sp.handle([
      punt(eth(GW.privNextHopMac, GW.privMac, IPV4, udp4Packet(GW.remote, GW.privV4, 999, 53, Buffer.alloc(8))), fromTunnel),
      punt(eth(GW.privNextHopMac, GW.privMac, IPV6, nsPacket(GW.remote6, GW.privV6, { dst: GW.privV6, hopLimit: 255 })), fromTunnel),
      punt(eth(GW.privNextHopMac, GW.privMac, IPV4, echo4(GW.remote, GW.host)), fromTunnel),
    ]);
    const out = rec.take();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ queue: 1, side: 'private', mode: 'receive' });
    const f = look(out[0].frame);
    expect(f.ip.subarray(16, 20)).toEqual(v4(GW.remote));
    expect([f.ip[20], f.ip[21]]).toEqual([3, 3]);
    expect(sp.counters().drops['not-for-us']).toBe(1);
  });

  it('quotes at most 576 octets in all (IPv4) and 1280 (IPv6)', () => {
    const { sp, rec } = makeSlowPath();
    const p4 = withIpv4Fields(buildIpv4({ src: GW.host, dst: GW.remote, protocol: 6, payload: Buffer.alloc(1400, 3) }), { ttl: 1 });
    const p6 = buildIpv6({ src: GW.host6, dst: GW.remote6, nextHeader: 6, hopLimit: 1, payload: Buffer.alloc(1800, 4) });
    sp.handle([
      punt(eth(GW.privMac, GW.hostMac, IPV4, p4), { reason: 'ttl-exceeded' }),
      punt(eth(GW.privMac, GW.hostMac, IPV6, p6), { reason: 'ttl-exceeded' }),
    ]);
    const [a, b] = rec.take().map((r) => look(r.frame).ip);
    expect(a.length).toBe(576);
    expect(ipv4ChecksumsOk(a)).toBe(true);
    expect(a.subarray(28)).toEqual(p4.subarray(0, 548));
    expect(b.length).toBe(1280);
    expect(icmpv6ChecksumOk(b)).toBe(true);
    expect(b.subarray(48)).toEqual(p6.subarray(0, 1232));
  });

  it('sends fragmentation needed with the tunnel MTU for IPv4 with DF', () => {
    const { sp, rec } = makeSlowPath();
    const big = withIpv4Fields(buildIpv4({ src: GW.host, dst: GW.remote, protocol: 17, payload: Buffer.alloc(1600, 9) }), { flags: 0x4000 });
    sp.handle([punt(eth(GW.privMac, GW.hostMac, IPV4, big), { reason: 'too-big' })]);
    const [r] = rec.take();
    expect(r).toMatchObject({ side: 'private', mode: 'transmit' });
    const ip = look(r.frame).ip;
    expect(ipv4ChecksumsOk(ip)).toBe(true);
    expect([ip[20], ip[21]]).toEqual([3, 4]);
    expect(ip.readUInt16BE(24)).toBe(0); // unused
    expect(ip.readUInt16BE(26)).toBe(GW.mtu); // next-hop MTU
    expect(ip.subarray(28)).toEqual(big.subarray(0, 548));
    expect(sp.counters().icmp.sent['3.4']).toBe(1);
  });

  it('sends packet too big with the tunnel MTU for IPv6, also for a punt cut short at 2048 octets', () => {
    const { sp, rec } = makeSlowPath();
    const big = buildIpv6({ src: GW.host6, dst: GW.remote6, nextHeader: 17, payload: Buffer.alloc(8000, 5) });
    sp.handle([punt(eth(GW.privMac, GW.hostMac, IPV6, big), { reason: 'too-big' })]);
    const [r] = rec.take();
    const ip = look(r.frame).ip;
    expect(icmpv6ChecksumOk(ip)).toBe(true);
    expect([ip[40], ip[41]]).toEqual([2, 0]);
    expect(ip.readUInt32BE(44)).toBe(GW.mtu);
    expect(ip.length).toBe(1280);
    expect(ip.subarray(48)).toEqual(big.subarray(0, 1232));
    expect(sp.counters().icmpv6.sent['2.0']).toBe(1);
  });

  it('sends port unreachable for UDP and protocol unreachable (v6: parameter problem) for other protocols to the private address', () => {
    const { sp, rec } = makeSlowPath();
    sp.handle([
      punt(eth(GW.privMac, GW.hostMac, IPV4, udp4Packet(GW.host, GW.privV4, 5000, 53, Buffer.from('q')))),
      punt(eth(GW.privMac, GW.hostMac, IPV4, buildIpv4({ src: GW.host, dst: GW.privV4, protocol: 42, payload: Buffer.alloc(20) }))),
      punt(eth(GW.privMac, GW.hostMac, IPV6, udp6Packet(GW.host6, GW.privV6, 5000, 53, Buffer.from('q')))),
      punt(eth(GW.privMac, GW.hostMac, IPV6, buildIpv6({ src: GW.host6, dst: GW.privV6, nextHeader: 42, payload: Buffer.alloc(20) }))),
    ]);
    const ips = rec.take().map((r) => look(r.frame).ip);
    expect(ips.map((ip) => (ip[0] >> 4 === 4 ? [ip[20], ip[21]] : [ip[40], ip[41]]))).toEqual([[3, 3], [3, 2], [1, 4], [4, 1]]);
    expect(ips[3].readUInt32BE(44)).toBe(6); // pointer to the Next Header field
    expect(ips.slice(0, 2).every(ipv4ChecksumsOk)).toBe(true);
    expect(ips.slice(2).every(icmpv6ChecksumOk)).toBe(true);
  });

  it('sends no error about an ICMP error, in IPv4 or IPv6', () => {
    const { sp, rec } = makeSlowPath();
    const quoted = Buffer.alloc(28);
    const unreach4 = icmp4Packet(GW.host, GW.remote, 3, 1, 0, quoted, 1);
    const exceeded6 = icmp6Packet(GW.host6, GW.remote6, 3, 0, 0, Buffer.alloc(48), 1);
    const unknown4 = icmp4Packet(GW.host, GW.remote, 42, 0, 0, quoted, 1); // unknown types count as errors
    const echo = echo4(GW.host, GW.remote, undefined, 1);
    const echo6ok = echo6(GW.host6, GW.remote6, undefined, 1);
    sp.handle([unreach4, unknown4, echo].map((p) => punt(eth(GW.privMac, GW.hostMac, IPV4, p), { reason: 'ttl-exceeded' })));
    sp.handle([exceeded6, echo6ok].map((p) => punt(eth(GW.privMac, GW.hostMac, IPV6, p), { reason: 'ttl-exceeded' })));
    const out = rec.take().map((r) => look(r.frame).ip);
    expect(out).toHaveLength(2); // only about the echo requests
    expect(out[0].subarray(28)).toEqual(echo);
    expect(out[1].subarray(48)).toEqual(echo6ok);
    expect(sp.counters().drops['error-about-error']).toBe(3);
  });

  it('sends no error about multicast, broadcast frames, non-first fragments or bad sources', () => {
    const { sp, rec } = makeSlowPath();
    const u = (src: string, dst: string) => withIpv4Fields(udp4Packet(src, dst, 5353, 5353, Buffer.alloc(8)), { ttl: 1 });
    const frames = [
      eth(GW.privMac, GW.hostMac, IPV4, u(GW.host, '224.0.0.251')),
      eth('ff:ff:ff:ff:ff:ff', GW.hostMac, IPV4, u(GW.host, GW.remote)),
      eth(GW.privMac, GW.hostMac, IPV4, withIpv4Fields(u(GW.host, GW.remote), { flags: 0x0010, ttl: 1 })),
      eth(GW.privMac, GW.hostMac, IPV4, u('0.0.0.0', GW.remote)),
      eth(GW.privMac, GW.hostMac, IPV4, u('127.0.0.1', GW.remote)),
      eth(GW.privMac, GW.hostMac, IPV4, u(GW.privV4, GW.remote)), // ours: would talk to ourselves
    ];
    sp.handle(frames.map((f) => punt(f, { reason: 'ttl-exceeded' })));
    // The first fragment is fine.
    sp.handle([punt(eth(GW.privMac, GW.hostMac, IPV4, withIpv4Fields(u(GW.host, GW.remote), { flags: 0x2000, ttl: 1 })), { reason: 'ttl-exceeded' })]);
    expect(rec.take()).toHaveLength(1);
    expect(sp.counters().drops).toMatchObject({ 'error-about-multicast': 2, 'error-about-fragment': 1, 'error-bad-source': 3 });
  });

  it('rate-limits errors with a token bucket', () => {
    // The per-source share above the side's, so that the side's is what this checks.
    const { sp, rec, clock } = makeSlowPath({ limits: { icmpErrors: { perSecond: 100, burst: 50 }, icmpErrorsPerSource: { perSecond: 1000, burst: 1000 } } });
    const p = punt(eth(GW.privMac, GW.hostMac, IPV4, echo4(GW.host, GW.remote, undefined, 1)), { reason: 'ttl-exceeded' });
    sp.handle(Array(80).fill(p));
    expect(rec.take()).toHaveLength(50);
    expect(sp.counters().icmp.rateLimited).toEqual({ '11.0': 30 });
    clock.t += 100; // 10 more tokens
    sp.handle(Array(20).fill(p));
    expect(rec.take()).toHaveLength(10);
    clock.t += 60_000; // never more than the burst
    sp.handle(Array(80).fill(p));
    expect(rec.take()).toHaveLength(50);
    expect(sp.counters().icmp.sent['11.0']).toBe(110);
  });

  it('counts ICMP messages to us by type and code without answering errors', () => {
    const { sp, rec } = makeSlowPath();
    const msgs = [
      icmp4Packet(GW.host, GW.privV4, 3, 4, 1400, Buffer.alloc(28)),
      icmp4Packet(GW.host, GW.privV4, 3, 4, 1400, Buffer.alloc(28)),
      icmp4Packet(GW.host, GW.privV4, 0, 0, 0, Buffer.alloc(8)),
    ];
    sp.handle(msgs.map((m) => punt(eth(GW.privMac, GW.hostMac, IPV4, m))));
    expect(rec.take()).toEqual([]);
    expect(sp.counters().icmp.received).toEqual({ '3.4': 2, '0.0': 1 });
  });

  it('has no private address to send from: drops and counts', () => {
    const { sp, rec } = makeSlowPath({ private: { mac: GW.privMac, ipv4: GW.privV4 } });
    sp.handle([punt(eth(GW.privMac, GW.hostMac, IPV6, echo6(GW.host6, GW.remote6, undefined, 1)), { reason: 'ttl-exceeded' })]);
    expect(rec.take()).toEqual([]);
    expect(sp.counters().drops['no-source-address']).toBe(1);
  });
});

describe('UDP for the key exchange', () => {
  it('hands UDP for a public address to onUdp with addresses, ports and payload', () => {
    const { sp, rec } = makeSlowPath();
    const payload = Buffer.from('knock knock');
    sp.handle([
      punt(eth(GW.pubMac, GW.pubNextHopMac, IPV4, udp4Packet('198.51.100.7', GW.pub[1], 303, 303, payload)), { side: 'public', queue: 1 }),
      punt(eth(GW.pubMac, GW.pubNextHopMac, IPV6, udp6Packet('2001:db8:9::9', GW.pub[2], 40000, 303, payload)), { side: 'public', queue: 2 }),
    ]);
    expect(rec.udp).toEqual([
      { queue: 1, src: '198.51.100.7', dst: GW.pub[1], srcPort: 303, dstPort: 303, payload },
      { queue: 2, src: '2001:db8:9::9', dst: GW.pub[2], srcPort: 40000, dstPort: 303, payload },
    ]);
    expect(rec.take()).toEqual([]); // and no ICMP about it
  });

  it('drops UDP with a bad checksum, a bad length, or (IPv6) no checksum', () => {
    const { sp, rec } = makeSlowPath();
    const bad = Buffer.from(udp4Packet('198.51.100.7', GW.pub[0], 303, 303, Buffer.from('x')));
    bad[bad.length - 1] ^= 1;
    const len = Buffer.from(udp4Packet('198.51.100.7', GW.pub[0], 303, 303, Buffer.from('x')));
    len.writeUInt16BE(200, 24);
    const none6 = Buffer.from(udp6Packet('2001:db8:9::9', GW.pub[2], 303, 303, Buffer.from('x')));
    none6.writeUInt16BE(0, 46);
    const none4 = Buffer.from(udp4Packet('198.51.100.7', GW.pub[0], 303, 303, Buffer.from('y')));
    none4.writeUInt16BE(0, 26); // zero: no checksum, allowed over IPv4
    sp.handle([
      punt(eth(GW.pubMac, GW.pubNextHopMac, IPV4, bad), { side: 'public' }),
      punt(eth(GW.pubMac, GW.pubNextHopMac, IPV4, len), { side: 'public' }),
      punt(eth(GW.pubMac, GW.pubNextHopMac, IPV6, none6), { side: 'public' }),
      punt(eth(GW.pubMac, GW.pubNextHopMac, IPV4, none4), { side: 'public' }),
    ]);
    expect(rec.udp.map((u) => u.payload.toString())).toEqual(['y']);
    expect(sp.counters().drops).toMatchObject({ 'bad-checksum': 2, malformed: 1 });
  });
});

describe('configuration', () => {
  it('names what is wrong', () => {
    expect(() => makeSlowPath({ mtu: 40 })).toThrow(/mtu: must be an integer from 68/);
    expect(() => makeSlowPath({ private: { mac: 'nope' } })).toThrow(/private.mac: not a MAC address/);
    expect(() => makeSlowPath({ private: { mac: GW.privMac, ipv4: 'fd00::1' } })).toThrow(/private.ipv4: not an IPv4 address/);
    expect(() => makeSlowPath({ private: { mac: GW.privMac, ipv4: GW.privV4, nextHop: 'fd00:1::fe' } })).toThrow(
      /private.nextHop: fd00:1::fe is IPv6 but the private side has no address of that version/,
    );
    expect(() => makeSlowPath({ public: { mac: GW.pubMac, queues: [{ id: QueueNumber(1), address: '192.0.2.300' }] } })).toThrow(/public.queues\[id=1\].address/);
    // A static MAC needs no address to resolve from.
    expect(() => makeSlowPath({ private: { mac: GW.privMac, nextHop: '10.1.0.254', nextHopMac: GW.privNextHopMac } })).not.toThrow();
    expect(mac(GW.privMac)).toHaveLength(6);
  });
});
