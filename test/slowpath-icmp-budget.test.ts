// Issue 10 item 8, "a 3000/s echo flood at the public address starves
// private-side pings to the gateway": echo replies and ICMP errors have a
// budget per side, fair per source (controlplane/slowpath/fair-budget.ts).
// The real slow path with its default limits on a fake clock; replies are
// counted per destination.
import { describe, expect, it } from 'vitest';
import { eth, GW, icmp4Packet, icmp6Packet, look, makeSlowPath, punt, udp4Packet, v4, v6, withIpv4Fields, type Injected } from './support/slowpath-frames.js';

const IPV4 = 0x0800;
const IPV6 = 0x86dd;
const FLOODER = '203.0.113.66';
const FLOODER_MAC = '02:66:66:66:66:66';
const PUBLIC_PEERS = ['198.51.100.7', '198.51.100.8'];
const ROUTER_MAC = '02:00:00:00:01:fe';

const echo4 = (src: string, dst: string) => icmp4Packet(src, dst, 8, 0, (0x1234 << 16) | 7, Buffer.alloc(32, 1));
const echo6 = (src: string, dst: string) => icmp6Packet(src, dst, 128, 0, (0x4321 << 16) | 9, Buffer.alloc(16, 1));

/** Echo replies sent, per destination address. */
function repliesTo(out: Injected[], counts: Map<string, number>): void {
  for (const f of out) {
    const { type, ip } = look(f.frame);
    let dst: string | null = null;
    if (type === IPV4 && ip[9] === 1 && ip[20] === 0) dst = Array.from(ip.subarray(16, 20)).join('.');
    if (type === IPV6 && ip[6] === 58 && ip[40] === 129) dst = ip.subarray(24, 40).equals(v6(GW.host6)) ? GW.host6 : 'another IPv6 host';
    if (dst) counts.set(dst, (counts.get(dst) ?? 0) + 1);
  }
}

describe('echo replies: a budget per side, fair per source', () => {
  it('a 3000/s flood from one public source starves neither private-side pings nor other public sources', () => {
    const { sp, rec, clock } = makeSlowPath();
    const counts = new Map<string, number>();
    const seconds = 5;
    let asked = 0;
    for (let ms = 0; ms < seconds * 1000; ms += 10) {
      const punts = Array.from({ length: 30 }, () => punt(eth(GW.pubMac, FLOODER_MAC, IPV4, echo4(FLOODER, GW.pub[0])), { side: 'public' }));
      if (ms % 100 === 0) {
        // Ten pings a second each: the private host (IPv4 and IPv6) and two other public hosts.
        punts.push(punt(eth(GW.privMac, GW.hostMac, IPV4, echo4(GW.host, GW.privV4))));
        punts.push(punt(eth(GW.privMac, GW.hostMac, IPV6, echo6(GW.host6, GW.privV6))));
        for (const peer of PUBLIC_PEERS) punts.push(punt(eth(GW.pubMac, ROUTER_MAC, IPV4, echo4(peer, GW.pub[1])), { side: 'public', queue: 1 }));
        asked++;
      }
      sp.handle(punts);
      repliesTo(rec.take(), counts);
      clock.t += 10;
    }
    expect(asked).toBe(50);
    expect(counts.get(GW.host)).toBe(asked);
    expect(counts.get(GW.host6)).toBe(asked);
    for (const peer of PUBLIC_PEERS) expect(counts.get(peer)).toBe(asked);
    // The flooder gets its per-source share: 100/s after a burst of 50.
    const flooder = counts.get(FLOODER)!;
    expect(flooder).toBeGreaterThanOrEqual(100 * seconds);
    expect(flooder).toBeLessThanOrEqual(100 * seconds + 50);
    expect(sp.counters().icmp.rateLimited['0.0']).toBe(3000 * seconds - flooder);
  });

  it('a flood from a thousand forged public sources is capped by the public budget; the private side is still answered', () => {
    const { sp, rec, clock } = makeSlowPath();
    const counts = new Map<string, number>();
    let publicReplies = 0, asked = 0;
    for (let ms = 0; ms < 3000; ms += 10) {
      const punts = Array.from({ length: 30 }, (_, i) => {
        const n = (ms / 10) * 30 + i;
        return punt(eth(GW.pubMac, FLOODER_MAC, IPV4, echo4(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, GW.pub[0])), { side: 'public' });
      });
      if (ms % 100 === 0) {
        punts.push(punt(eth(GW.privMac, GW.hostMac, IPV4, echo4(GW.host, GW.privV4))));
        asked++;
      }
      sp.handle(punts);
      const out = rec.take();
      publicReplies += out.filter((f) => f.side === 'public').length;
      repliesTo(out.filter((f) => f.side === 'private'), counts);
      clock.t += 10;
    }
    expect(counts.get(GW.host)).toBe(asked);
    expect(publicReplies).toBeGreaterThan(0);
    expect(publicReplies).toBeLessThanOrEqual(1000 * 3 + 200); // the public side's budget
  });

  it('a flood from a private host does not starve the public side', () => {
    const { sp, rec, clock } = makeSlowPath();
    const counts = new Map<string, number>();
    for (let ms = 0; ms < 2000; ms += 10) {
      const punts = Array.from({ length: 30 }, () => punt(eth(GW.privMac, GW.hostMac, IPV4, echo4(GW.host, GW.privV4))));
      if (ms % 100 === 0) punts.push(punt(eth(GW.pubMac, ROUTER_MAC, IPV4, echo4(PUBLIC_PEERS[0], GW.pub[0])), { side: 'public' }));
      sp.handle(punts);
      repliesTo(rec.take(), counts);
      clock.t += 10;
    }
    expect(counts.get(PUBLIC_PEERS[0])).toBe(20);
    expect(counts.get(GW.host)).toBeLessThanOrEqual(100 * 2 + 50);
  });
});

describe('ICMP errors: a budget per side, fair per source', () => {
  it('a host flooding expiring packets does not starve another host of time exceeded / fragmentation needed', () => {
    const { sp, rec, clock } = makeSlowPath();
    const other = '10.1.0.8';
    const expired = (src: string) =>
      punt(eth(GW.privMac, GW.hostMac, IPV4, withIpv4Fields(udp4Packet(src, GW.remote, 40000, 33434, Buffer.alloc(8)), { ttl: 1 })), { reason: 'ttl-exceeded' });
    let answered = 0, asked = 0;
    for (let ms = 0; ms < 3000; ms += 10) {
      const punts = Array.from({ length: 20 }, () => expired(GW.host));
      if (ms % 200 === 0) {
        punts.push(expired(other));
        asked++;
      }
      sp.handle(punts);
      answered += rec.take().filter((f) => look(f.frame).ip.subarray(16, 20).equals(v4(other))).length;
      clock.t += 10;
    }
    expect(asked).toBe(15);
    expect(answered).toBe(asked);
  });
});
