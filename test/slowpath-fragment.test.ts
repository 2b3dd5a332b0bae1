// IPv4 packets over the tunnel MTU without DF: fragmented in the slow path
// and injected back as received on the private side. Checked by reassembling
// with the test's own code (RFC 791 §3.2 / RFC 815 style: place every
// fragment's data at its offset), for fixed cases and random ones.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildIpv4, internetChecksum } from './support/ip-packets.js';
import { eth, GW, look, makeSlowPath, punt, withIpv4Fields } from './support/slowpath-frames.js';

const IPV4 = 0x0800;

interface Fragment {
  header: Buffer;
  id: number;
  more: boolean;
  offset: number;
  data: Buffer;
}

function readFragment(ip: Buffer): Fragment {
  const ihl = (ip[0] & 15) * 4;
  expect(ip.readUInt16BE(2)).toBe(ip.length);
  expect(internetChecksum(ip.subarray(0, ihl))).toBe(0);
  const flags = ip.readUInt16BE(6);
  expect(flags & 0x4000).toBe(0); // DF stays clear
  return { header: ip.subarray(0, ihl), id: ip.readUInt16BE(4), more: (flags & 0x2000) !== 0, offset: (flags & 0x1fff) * 8, data: ip.subarray(ihl) };
}

/** Reassembles fragments (any order); checks they tile the data exactly and agree on the header. */
function reassemble(frags: Fragment[], start = 0): { data: Buffer; lastMore: boolean } {
  const sorted = [...frags].sort((a, b) => a.offset - b.offset);
  let at = start;
  for (const f of sorted) {
    expect(f.offset).toBe(at);
    at += f.data.length;
  }
  for (const f of sorted.slice(0, -1)) {
    expect(f.more).toBe(true);
    expect(f.data.length % 8).toBe(0);
  }
  return { data: Buffer.concat(sorted.map((f) => f.data)), lastMore: sorted.at(-1)!.more };
}

function withOptions(payload: Buffer, options: Buffer, o: { id?: number; flags?: number; ttl?: number } = {}): Buffer {
  const base = buildIpv4({ src: GW.host, dst: GW.remote, protocol: 17, id: o.id ?? 0x4242, ttl: o.ttl ?? 64, payload });
  const hl = 20 + options.length;
  const p = Buffer.concat([base.subarray(0, 20), options, base.subarray(20)]);
  p[0] = 0x40 | (hl / 4);
  p.writeUInt16BE(p.length, 2);
  return withIpv4Fields(p, { flags: o.flags ?? 0 });
}

function fragmentsOf(packet: Buffer, mtu: number): Fragment[] {
  const { sp, rec } = makeSlowPath({ mtu });
  sp.handle([punt(eth(GW.privMac, GW.hostMac, IPV4, packet), { reason: 'too-big', queue: 1 })]);
  const out = rec.take();
  for (const o of out) {
    expect(o).toMatchObject({ queue: 1, side: 'private', mode: 'receive' });
    expect(look(o.frame).ethSrc).toBe(GW.hostMac);
  }
  expect(sp.counters().fragmentation.fragments).toBe(out.length);
  return out.map((o) => readFragment(look(o.frame).ip));
}

describe('IPv4 fragmentation of packets over the MTU without DF', () => {
  it('splits into fragments no longer than the MTU that reassemble to the original', () => {
    const payload = Buffer.from(Array.from({ length: 1900 }, (_, i) => i & 0xff));
    const packet = buildIpv4({ src: GW.host, dst: GW.remote, protocol: 17, id: 0x1234, payload });
    const frags = fragmentsOf(packet, 1400);
    expect(frags.map((f) => 20 + f.data.length)).toEqual([1396, 20 + 1900 - 1376]);
    for (const f of frags) {
      expect(f.id).toBe(0x1234);
      expect(f.header[8]).toBe(64); // TTL untouched: the data plane decrements it
      expect(f.header.subarray(12, 20)).toEqual(packet.subarray(12, 20));
    }
    const r = reassemble(frags);
    expect(r.data).toEqual(payload);
    expect(r.lastMore).toBe(false);
  });

  it('copies only options with the copied flag into later fragments', () => {
    const routerAlert = Buffer.from([0x94, 4, 0, 0]); // copied
    const recordRoute = Buffer.from([0x07, 7, 4, 0, 0, 0, 0]); // not copied
    const options = Buffer.concat([recordRoute, Buffer.from([1]), routerAlert]); // 12 octets
    const packet = withOptions(Buffer.alloc(1000, 0x33), options);
    const frags = fragmentsOf(packet, 576);
    // The first fragment has the whole header; only length, flags/offset and checksum differ.
    const unchanged = (h: Buffer) => [...h].filter((_, i) => ![2, 3, 6, 7, 10, 11].includes(i));
    expect(unchanged(frags[0].header)).toEqual(unchanged(packet.subarray(0, 32)));
    expect(frags[0].header.subarray(20)).toEqual(options);
    for (const f of frags.slice(1)) expect(f.header.subarray(20)).toEqual(routerAlert);
    expect(frags.every((f) => f.header.length + f.data.length <= 576)).toBe(true);
    expect(reassemble(frags).data).toEqual(Buffer.alloc(1000, 0x33));
  });

  it('splits a fragment further: offsets add up and the last piece keeps more-fragments', () => {
    const data = Buffer.alloc(1600, 0x77);
    const packet = withOptions(data, Buffer.alloc(0), { flags: 0x2000 | 100 });
    const frags = fragmentsOf(packet, 1000);
    const r = reassemble(frags, 800);
    expect(r.data).toEqual(data);
    expect(r.lastMore).toBe(true);
  });

  it('reassembles for any size, MTU and copied options (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 68, max: 1500 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 0xffff }),
        (mtu, size, alert, id) => {
          const options = alert ? Buffer.from([0x94, 4, 0, 0]) : Buffer.alloc(0);
          const payload = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) & 0xff));
          const packet = withOptions(payload, options, { id });
          if (packet.length <= mtu) return;
          const frags = fragmentsOf(packet, mtu);
          expect(frags.every((f) => f.header.length + f.data.length <= mtu && f.id === id)).toBe(true);
          expect(reassemble(frags).data).toEqual(payload);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('drops what it cannot fragment: cut-short punts, malformed options, over the rate limit', () => {
    // The budget is spent before the work: the malformed packet takes a token too.
    const { sp, rec } = makeSlowPath({ limits: { fragmentation: { perSecond: 1, burst: 3 } } });
    const big = buildIpv4({ src: GW.host, dst: GW.remote, protocol: 17, payload: Buffer.alloc(4000) });
    const badOpt = withOptions(Buffer.alloc(1500), Buffer.from([0x94, 9, 0, 0])); // option runs past the header
    const ok = buildIpv4({ src: GW.host, dst: GW.remote, protocol: 17, payload: Buffer.alloc(1500) });
    sp.handle([big, badOpt, ok, ok, ok].map((p) => punt(eth(GW.privMac, GW.hostMac, IPV4, p), { reason: 'too-big' })));
    expect(rec.take()).toHaveLength(4); // two packets, two fragments each
    expect(sp.counters().drops).toMatchObject({ truncated: 1, malformed: 1, 'fragmentation-ratelimited': 1 });
    expect(sp.counters().fragmentation).toEqual({ packets: 2, fragments: 4 });
  });
});
