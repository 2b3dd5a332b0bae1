// Truncated frames of every kind at two gateways that carry a numbered
// stream and roll their SAs over every 2 s (real data plane, slow path and
// key manager: controlplane/demo/memory-two-sites.ts). Every frame is cut at every length,
// both as it would arrive cut (the IP header still claims the whole packet)
// and rebuilt around the shorter contents (every length field consistent, so
// the cut reaches the inner parsers: ESP, UDP, the key exchange). What must
// hold: the stream arrives whole, in order; rekeying goes on; every cut is
// dropped where it stops making sense and counted there. The data plane's
// accounting of each frame is checked exhaustively by pipeline_fuzz; this is
// the whole gateway, slow path and key manager included.
import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { parseMac } from '../controlplane/slowpath/address.js';
import { udpFrame } from '../controlplane/udp.js';
import { ethernet } from './support/gateway-harness.js';
import { buildIpv4 } from './support/ip-packets.js';
import { arpPacket, icmp4Packet } from './support/slowpath-frames.js';
import { GW_A_PRIV_MAC, HOST_A_MAC, numbered, numberOf, sleep, twoSites, until, type TwoSites } from '../controlplane/demo/memory-two-sites.js';
import { FIRST_QUEUE, type Spi } from '../controlplane/exchange/types.js';

const A_PUBLIC = '192.0.2.1', B_PUBLIC = '198.51.100.1';
const A_PUBLIC_MAC = '02:00:00:0a:01:01', B_PUBLIC_MAC = '02:00:00:0b:01:01';

let s: TwoSites | undefined;
afterEach(() => {
  s?.close();
  s = undefined;
});

const SECONDS = 5;
const prefixes = (f: Buffer) => Array.from({ length: f.length }, (_, k) => f.subarray(0, k));

// The frames of every list spread evenly over the run, each list on its own,
// so that no kind arrives in a burst (the knocks stay within the peer's
// key-exchange rate limit): [ms after the start, frame], in time order.
function schedule(lists: Buffer[][]): [number, Buffer][] {
  const span = SECONDS * 1000 - 500;
  return lists.flatMap((l) => l.map((f, j): [number, Buffer] => [((j + 0.5) / l.length) * span, f])).sort((x, y) => x[0] - y[0]);
}

// The frames of a schedule from index `from` whose time has come.
function due(list: [number, Buffer][], from: number, now: number): Buffer[] {
  let to = from;
  while (to < list.length && list[to][0] <= now) to++;
  return list.slice(from, to).map(([, f]) => f);
}

// Frames for gateway B's public side, from A's address: ESP for B's current
// inbound SPI (not authentic), a knock, an ARP request, a ping.
function publicFrames(spi: number): Buffer[][] {
  const esp = Buffer.concat([Buffer.from([spi >>> 24, (spi >>> 16) & 255, (spi >>> 8) & 255, spi & 255]), crypto.randomBytes(4 + 8 + 64 + 16)]);
  const ip = (protocol: number, payload: Buffer) => ethernet(B_PUBLIC_MAC, A_PUBLIC_MAC, 0x0800, buildIpv4({ src: A_PUBLIC, dst: B_PUBLIC, protocol, payload }));
  const knock = Buffer.alloc(44);
  knock.writeUInt32BE(1001, 0);
  knock[4] = 11;
  knock[8] = 1;
  crypto.randomBytes(16).copy(knock, 12);
  const udp = (payload: Buffer) => udpFrame({ srcMac: parseMac(A_PUBLIC_MAC), dstMac: parseMac(B_PUBLIC_MAC), src: A_PUBLIC, dst: B_PUBLIC, srcPort: 303, dstPort: 303, payload });
  return [
    prefixes(ip(50, esp)),
    prefixes(udp(knock)),
    prefixes(ethernet('ff:ff:ff:ff:ff:ff', A_PUBLIC_MAC, 0x0806, arpPacket(1, A_PUBLIC_MAC, A_PUBLIC, '00:00:00:00:00:00', B_PUBLIC))),
    prefixes(ethernet(B_PUBLIC_MAC, A_PUBLIC_MAC, 0x0800, icmp4Packet(A_PUBLIC, B_PUBLIC, 8, 0, 0x10001, Buffer.alloc(32, 7)))),
    // Consistent lengths: shorter ESP behind a right IP header; a knock cut short inside a right UDP datagram.
    Array.from({ length: esp.length }, (_, k) => ip(50, esp.subarray(0, k))),
    Array.from({ length: knock.length }, (_, k) => udp(knock.subarray(0, k))),
  ];
}

// Frames for gateway A's private side from host A, to host B's site, that
// are not part of the stream (UDP port 5001).
function privateFrames(): Buffer[][] {
  const udp = Buffer.alloc(8 + 40, 9);
  udp.writeUInt16BE(4000, 0);
  udp.writeUInt16BE(5001, 2);
  udp.writeUInt16BE(udp.length, 4);
  udp.writeUInt16BE(0, 6);
  const frame = (payload: Buffer) => ethernet(GW_A_PRIV_MAC, HOST_A_MAC, 0x0800, buildIpv4({ src: '10.1.0.2', dst: '10.2.0.2', protocol: 17, payload }));
  return [prefixes(frame(udp)), Array.from({ length: udp.length }, (_, k) => frame(udp.subarray(0, k)))];
}

describe('truncated frames at two gateways under traffic and rekeying', () => {
  it('are dropped and counted where they stop making sense; the stream and the rekeys carry on', async () => {
    s = twoSites({ saTtl: 4, negotiationTtl: 1 });
    s.a.start();
    s.b.start();
    await until(() => s!.a.sas().some((x) => x.direction === 'outbound') && s!.b.sas().some((x) => x.direction === 'outbound'), 10_000, 'first SAs');
    const spiB = s.b.sas().find((x) => x.direction === 'inbound')!.spi;
    const junkPublic = schedule(publicFrames(spiB)), junkPrivate = schedule(privateFrames());
    const b0 = s.b.dataplane.counters(), a0 = s.a.dataplane.counters(), km0 = { ...s.b.keymanager!.counters };
    const spis0 = { a: new Set(s.a.sas().filter((x) => x.direction === 'outbound').map((x) => x.spi)), b: new Set(s.b.sas().filter((x) => x.direction === 'outbound').map((x) => x.spi)) };
    const seen = { a: new Set<Spi>(), b: new Set<Spi>() };

    const got: number[] = [];
    let next = 0, pub = 0, priv = 0;
    const t0 = performance.now();
    // Over 5 s (two or three rekeys): 20 stream packets every 2 ms, and the cuts as scheduled.
    while (performance.now() - t0 < SECONDS * 1000) {
      const now = performance.now() - t0;
      expect(s.sendA(Array.from({ length: 20 }, () => numbered('a', next++)))).toBe(20);
      const duePublic = due(junkPublic, pub, now);
      expect(s.b.dataplane.inject(FIRST_QUEUE, 'public', 'receive', duePublic)).toBe(duePublic.length);
      pub += duePublic.length;
      const duePrivate = due(junkPrivate, priv, now);
      expect(s.sendA(duePrivate)).toBe(duePrivate.length);
      priv += duePrivate.length;
      for (const sa of s.a.sas()) if (sa.direction === 'outbound') seen.a.add(sa.spi);
      for (const sa of s.b.sas()) if (sa.direction === 'outbound') seen.b.add(sa.spi);
      got.push(...s.receiveB().map(numberOf));
      await sleep(2);
    }
    expect(pub).toBe(junkPublic.length);
    expect(priv).toBe(junkPrivate.length);
    await until(() => {
      got.push(...s!.receiveB().map(numberOf));
      return got.length >= next;
    }, 3000, 'the last stream packets');
    expect(got).toEqual(Array.from({ length: next }, (_, i) => i));
    expect([...seen.a].filter((x) => !spis0.a.has(x)).length).toBeGreaterThanOrEqual(1);
    expect([...seen.b].filter((x) => !spis0.b.has(x)).length).toBeGreaterThanOrEqual(1);

    const b = s.b.dataplane.counters(), a = s.a.dataplane.counters(), km = s.b.keymanager!.counters;
    const delta = (c: Record<string, number>, c0: Record<string, number>, k: string) => c[k] - c0[k];
    // Cut inside a header, or shorter than its IP header says.
    expect(delta(b, b0, 'public_drop_bad_header')).toBeGreaterThan(100);
    expect(delta(a, a0, 'private_drop_bad_header')).toBeGreaterThan(40);
    // Consistent ESP too short for header and ICV, or cut inside the ciphertext.
    expect(delta(b, b0, 'public_drop_truncated')).toBeGreaterThan(0);
    expect(delta(b, b0, 'public_drop_authentication')).toBeGreaterThan(0);
    // The cut knocks inside right UDP datagrams reached the key manager and
    // were refused there as malformed.
    expect(km.protocol_errors - km0.protocol_errors).toBeGreaterThanOrEqual(40);
    expect(km.ratelimited - km0.ratelimited).toBe(0);
    // Consistent private cuts are valid (if short) UDP/IP packets: forwarded, not part of the stream.
    expect(delta(a, a0, 'encapsulated_packets')).toBeGreaterThan(next);
    // Nothing the cuts did cost an SA: each end still has a working pair.
    expect(s.a.sas().filter((x) => x.direction === 'inbound').length).toBeGreaterThanOrEqual(1);
    expect(s.b.sas().filter((x) => x.direction === 'inbound').length).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
