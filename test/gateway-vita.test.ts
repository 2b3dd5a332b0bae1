// Vita's self-test captures through a whole gateway in data-plane mode (SA
// configured explicitly, as in test/vectors/vita/README.md): what
// the gateway delivers, punts and drops for each frame Vita was given.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { refOpen, type RefSa } from './support/esp-reference.js';
import { buildIpv4, buildIpv6, ethernetIp, ipPacketValid } from './support/ip-packets.js';
import { readPcap } from './support/pcap.js';
import { ethernet, makeHarness, pollUntilIdle, type Harness } from './support/gateway-harness.js';
import { innerDestination, parseAddress, policyAllows } from './support/inbound-policy.js';
import { VITA } from './support/vectors.js';
import { FIRST_QUEUE, RouteId, Spi } from '../controlplane/exchange/types.js';

const frames = (name: string) => readPcap(path.join(VITA, name)).records.map((r) => r.data);

const SA: RefSa = { aead: 'aes-gcm-16-icv', spi: 1001, keymat: Buffer.alloc(20) };

const SETUPS = {
  4: { prefix: 'selftest', privateIp: { ipv4: '192.168.10.1' }, own: '192.168.10.1', publicIp: '203.0.113.1', net: '192.168.10.0/24' },
  6: { prefix: 'selftest6', privateIp: { ipv6: 'c0a8:a00::1' }, own: 'c0a8:a00::1', publicIp: '203:0:113::1', net: 'c0a8:a00::/24' },
} as const;

let h: Harness | undefined;
afterEach(() => {
  h?.close();
  h = undefined;
});

function vitaGateway(version: 4 | 6): Harness {
  const s = SETUPS[version];
  const harness = makeHarness({
    mtu: 576, // the data plane's least (Vita's self-test ran at 500; its captures give the same verdicts)
    tfc: true,
    private: { mac: '52:54:00:00:00:00', ...s.privateIp },
    public: { mac: '52:54:00:00:00:ff', addresses: [s.publicIp] },
  });
  const gw = harness.gw;
  gw.setRoutes([{ id: RouteId('loop'), net: s.net, gateways: [s.publicIp] }]);
  gw.addInboundSa({ queue: FIRST_QUEUE, route: RouteId('loop'), spi: Spi(SA.spi), aead: SA.aead, keymat: SA.keymat });
  gw.setOutboundSa({ queue: FIRST_QUEUE, route: RouteId('loop'), spi: Spi(SA.spi), aead: SA.aead, keymat: SA.keymat });
  gw.setNextHop('private', '52:54:00:00:00:01');
  gw.setNextHop('public', '52:54:00:00:00:fe');
  return harness;
}

const dropCounters = (c: Record<string, number>, side: 'private' | 'public') =>
  Object.entries(c).filter(([k]) => k.startsWith(`${side}_drop_`)).reduce((a, [, v]) => a + v, 0);

describe.each([4, 6] as const)('Vita self-test captures, IPv%i', (version) => {
  const s = SETUPS[version];

  it('delivers exactly the authentic, fresh ESP frames of public-in, and accounts for every frame', () => {
    h = vitaGateway(version);
    const input = frames(`${s.prefix}-public-in.pcap`);
    // What a correct receiver delivers, decided independently with Node's
    // crypto: authentic, not a fragment, first time this sequence number,
    // allowed by the inbound policy, not for the gateway itself (Vita
    // answered those: they go to the control plane).
    const seen = new Set<bigint>();
    const expected: Buffer[] = [];
    let forUs = 0;
    for (const f of input) {
      const ip = ethernetIp(f);
      if (!ip || ip.protocol !== 50 || ip.fragment) continue;
      const opened = refOpen(SA, ip.payload, 0);
      if (!opened || opened.spi !== SA.spi || seen.has(opened.seq)) continue;
      seen.add(opened.seq);
      if (opened.nextHeader !== (version === 4 ? 4 : 41)) continue; // authentic, but not an IP packet we carry
      if (!policyAllows(opened.content, [s.net])) continue;
      if (innerDestination(opened.content).equals(parseAddress(s.own))) {
        forUs++;
        continue;
      }
      if ((version === 4 ? opened.content[8] : opened.content[7]) <= 1) continue; // TTL expires here: punted for ICMP
      const innerLen = version === 4 ? opened.content.readUInt16BE(2) : 40 + opened.content.readUInt16BE(4);
      const inner = Buffer.from(opened.content.subarray(0, innerLen));
      if (version === 4) {
        inner[8] -= 1;
        inner.writeUInt16BE(0, 10);
        inner.writeUInt16BE(checksum(inner.subarray(0, 20)), 10);
      } else {
        inner[7] -= 1;
      }
      expected.push(inner);
    }
    expect(expected.length).toBeGreaterThan(0);

    h.sendPublic(input);
    pollUntilIdle(h.gw);
    const out = h.receivePrivate();
    expect(out.map((f) => f.subarray(14).toString('hex'))).toEqual(expected.map((p) => p.toString('hex')));
    for (const f of out) {
      expect(f.subarray(0, 6).toString('hex')).toBe('525400000001');
      expect(ipPacketValid(f.subarray(14))).toBe(true);
    }

    const c = h.gw.counters();
    const punts = h.gw.punts();
    expect(c.public_rx_packets).toBe(input.length);
    expect(c.private_tx_packets).toBe(expected.length);
    expect(c.punted_packets).toBe(punts.length);
    // Every frame is delivered, punted to the control plane or dropped for a named reason.
    expect(expected.length + punts.length + dropCounters(c, 'public')).toBe(input.length);
    expect(c.public_drop_unknown_spi).toBe(1);
    expect(c.public_drop_replay).toBe(1);
    expect(c.public_drop_bad_next_header).toBe(1);
    expect(c.public_ttl_expired).toBe(1);
    expect(punts.filter((p) => p.reason === 'ttl-exceeded').length).toBe(1);
    expect(forUs).toBeGreaterThan(0);
    expect(punts.filter((p) => p.reason === 'tunnel').length).toBe(forUs);
    expect(c.public_drop_inbound_policy).toBe(0);
    if (version === 4) {
      expect(c.public_drop_fragment).toBe(2);
      expect(c.public_drop_unknown_protocol).toBe(1);
    }
  });

  it('encapsulates private-in traffic for the route into ESP that OpenSSL opens, padded to the MTU', () => {
    h = vitaGateway(version);
    // Vita's capture plus traffic to a host on the far site (the IPv6 capture
    // has none that fits the MTU).
    const host = version === 4 ? buildIpv4({ src: '192.168.10.7', dst: '192.168.10.8', payload: Buffer.alloc(100, 7) }) : buildIpv6({ src: 'c0a8:a00::7', dst: 'c0a8:a00::8', payload: Buffer.alloc(100, 7) });
    const input = [...frames(`${s.prefix}-private-in.pcap`), ethernet('52:54:00:00:00:00', '52:54:00:00:00:01', version === 4 ? 0x0800 : 0x86dd, host)];
    h.sendPrivate(input);
    pollUntilIdle(h.gw);
    const out = h.receivePublic();
    expect(out.length).toBeGreaterThan(0);
    let seq = 1n;
    for (const f of out) {
      expect(f.subarray(0, 6).toString('hex')).toBe('5254000000fe');
      const ip = ethernetIp(f)!;
      expect(ip.protocol).toBe(50);
      expect(ipPacketValid(ip.ip)).toBe(true);
      const opened = refOpen(SA, ip.payload, 0)!;
      expect(opened).not.toBeNull();
      expect(opened.seq).toBe(seq++);
      expect(opened.nextHeader).toBe(version === 4 ? 4 : 41);
      // TFC: the inner packet plus its padding fills the MTU.
      expect(opened.content.length).toBeGreaterThanOrEqual(500);
      // RFC 4303 default padding.
      expect([...opened.padding]).toEqual(opened.padding.length ? [...Array(opened.padding.length).keys()].map((i) => i + 1) : []);
    }
    const c = h.gw.counters();
    const punts = h.gw.punts();
    expect(c.private_rx_packets).toBe(input.length);
    expect(c.public_tx_packets).toBe(out.length);
    expect(out.length + punts.length + dropCounters(c, 'private')).toBe(input.length);
    // Vita answered these situations with ICMP: the frames reach the control plane.
    expect(punts.some((p) => p.reason === 'ttl-exceeded')).toBe(true);
    expect(punts.some((p) => p.reason === 'too-big')).toBe(true);
    expect(punts.some((p) => p.reason === 'control')).toBe(true);
  });
});

function checksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}
