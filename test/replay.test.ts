// `vitesse replay` over Vita's self-test captures (test/vectors/vita):
// a data-plane-mode gateway with the SA of that folder's README reads the
// captures and writes what it emits. What must come out is decided here
// independently (Node's crypto opens the ESP, the captures' own headers say
// what is forwardable), and the ICMP kinds Vita answered with are read from
// Vita's *-out.pcap.
//
// Our configuration differs from Vita's where our loader is stricter: the
// MTU is 576 (our minimum; Vita used 500), the route's gateway is a remote
// address (Vita looped the route back to itself), and the outbound SA has a
// key of its own (the README's SA served both directions: a repeated key
// repeats AES-GCM nonces). The inbound SA is the README's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vitesse } from './support/cli-capture.js';
import { upperLayerChecksum } from '../controlplane/slowpath/checksum.js';
import { refOpen, type RefSa } from './support/esp-reference.js';
import { ethernet } from './support/gateway-harness.js';
import { inPrefix, innerDestination, parseAddress, policyAllows } from './support/inbound-policy.js';
import { buildIpv4, buildIpv6, ethernetIp, internetChecksum, ipPacketValid, type FrameIp } from './support/ip-packets.js';
import { readPcap, writePcap } from './support/pcap.js';
import { VITA } from './support/vectors.js';

const MTU = 576;
const INBOUND: RefSa = { aead: 'aes-gcm-16-icv', spi: 1001, keymat: Buffer.alloc(20) }; // README: key and salt all zero
const OUTBOUND: RefSa = { aead: 'aes-gcm-16-icv', spi: 2002, keymat: Buffer.concat([Buffer.alloc(16, 0x11), Buffer.alloc(4, 0x22)]) };
const MAC = { private: '52:54:00:00:00:00', privateNextHop: '52:54:00:00:00:01', public: '52:54:00:00:00:ff', publicNextHop: '52:54:00:00:00:fe' };

const SETUPS = {
  4: { prefix: 'selftest', private: '192.168.10.1', privateNextHop: '192.168.0.1', public: '203.0.113.1', publicNextHop: '203.0.0.1', net: '192.168.10.0/24', remote: '203.0.113.2', host: '192.168.10.8' },
  6: { prefix: 'selftest6', private: 'c0a8:a00::1', privateNextHop: 'c0a8::1', public: '203:0:113::1', publicNextHop: '203::1', net: 'c0a8:a00::/24', remote: '203:0:113::2', host: 'c0a8:a00::8' },
} as const;

// Kinds Vita answered with that we deliberately do not send, with the
// counter that accounts for the frame instead.
const NOT_ANSWERED: { version: 4 | 6; side: 'public'; kind: string; why: string; counter: string }[] = [
  // Vita answers an unknown protocol on the public side with protocol
  // unreachable (ICMPv6: parameter problem); our public side answers only
  // ping and the key exchange, and the data plane drops the rest, counted.
  { version: 4, side: 'public', kind: '3.2', why: 'public side: unknown protocol', counter: 'public_drop_unknown_protocol' },
  { version: 6, side: 'public', kind: '4.1', why: 'public side: unknown next header', counter: 'public_drop_unknown_protocol' },
];

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-replay-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function config(version: 4 | 6, extra: object = {}): object {
  const s = SETUPS[version];
  const sa = (x: RefSa) => ({ route: 'loop', queue: 1, spi: x.spi, aead: x.aead, key: x.keymat.subarray(0, 16).toString('hex'), salt: x.keymat.subarray(16).toString('hex') });
  return {
    'vitesse-gateway:gateway': {
      mtu: MTU,
      tfc: true,
      'private-interface': { device: 'lan', driver: 'pcap', mac: MAC.private, address: [s.private], 'next-hop': { address: s.privateNextHop, mac: MAC.privateNextHop } },
      'public-interface': { device: 'wan', driver: 'pcap', mac: MAC.public, queue: [{ id: 1, address: s.public }], 'next-hop': { address: s.publicNextHop, mac: MAC.publicNextHop } },
      route: [{ id: 'loop', net: s.net, gateway: [{ queue: 1, address: s.remote }] }],
      'data-plane': { 'inbound-sa': [sa(INBOUND)], 'outbound-sa': [sa(OUTBOUND)] },
      ...extra,
    },
  };
}


const frames = (file: string) => readPcap(file).records.map((r) => r.data);
const src = (ip: FrameIp) => ip.ip.subarray(ip.version === 4 ? 12 : 8, ip.version === 4 ? 16 : 24);
const dst = (ip: FrameIp) => ip.ip.subarray(ip.version === 4 ? 16 : 24, ip.version === 4 ? 20 : 40);
const ttl = (ip: FrameIp) => ip.ip[ip.version === 4 ? 8 : 7];
const macOf = (f: Buffer, at: 0 | 6) => [...f.subarray(at, at + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');

// An echo request with a correct ICMP checksum; `df` sets IPv4's don't-fragment bit.
function echoRequest(version: 4 | 6, from: string, to: string, size: number, df = false): Buffer {
  const body = Buffer.alloc(size - (version === 4 ? 20 : 40), 0x5a);
  body[0] = version === 4 ? 8 : 128;
  body.writeUInt32BE(0x12340001, 4);
  if (version === 4) {
    body.writeUInt16BE(internetChecksum(body), 2);
    const p = buildIpv4({ src: from, dst: to, protocol: 1, payload: body });
    if (df) {
      p.writeUInt16BE(0x4000, 6);
      p.writeUInt16BE(0, 10);
      p.writeUInt16BE(internetChecksum(p.subarray(0, 20)), 10);
    }
    return ethernet(MAC.private, '02:00:00:00:00:07', 0x0800, p);
  }
  body.writeUInt16BE(upperLayerChecksum(parseAddress(from), parseAddress(to), 58, body), 2);
  return ethernet(MAC.private, '02:00:00:00:00:07', 0x86dd, buildIpv6({ src: from, dst: to, nextHeader: 58, payload: body }));
}

// The packet as the gateway forwards it: one hop less (IPv4 checksum redone).
function forwarded(ip: Buffer): Buffer {
  const p = Buffer.from(ip);
  if (p[0] >> 4 === 4) {
    p[8] -= 1;
    p.writeUInt16BE(0, 10);
    p.writeUInt16BE(internetChecksum(p.subarray(0, (p[0] & 0x0f) * 4)), 10);
  } else {
    p[7] -= 1;
  }
  return p;
}

// ICMP messages from `from` to `to`, as "type.code" with the MTU field of
// fragmentation-needed (3.4) / packet-too-big (2.0).
function icmpFromTo(out: Buffer[], from: string, to: string): { kind: string; mtu?: number }[] {
  const res: { kind: string; mtu?: number }[] = [];
  for (const f of out) {
    const ip = ethernetIp(f);
    if (!ip || ip.fragment || ip.protocol !== (ip.version === 4 ? 1 : 58)) continue;
    if (!src(ip).equals(parseAddress(from)) || !dst(ip).equals(parseAddress(to))) continue;
    const kind = `${ip.payload[0]}.${ip.payload[1]}`;
    res.push({ kind, ...(kind === '3.4' ? { mtu: ip.payload.readUInt16BE(6) } : kind === '2.0' ? { mtu: ip.payload.readUInt32BE(4) } : {}) });
  }
  return res;
}

describe.each([4, 6] as const)('vitesse replay of Vita self-test captures, IPv%i', (version) => {
  const s = SETUPS[version];
  let result: { dataplane: Record<string, number>; slowpath: { drops: Record<string, number> }; sas: { spi: number; direction: string; packets: number }[] };
  let privateIn: Buffer[], publicIn: Buffer[], privateOut: Buffer[], publicOut: Buffer[];
  // Beyond Vita's frames: one packet for a host at the far site, and one
  // over the MTU that may not be fragmented (IPv6: never).
  const extra = [echoRequest(version, s.privateNextHop, s.host, 100), echoRequest(version, s.privateNextHop, s.host, MTU + 24, true)];

  // What the ESP frames on the public output carry (each checked as it is
  // opened), and which private-in packets should be among them.
  function esp(): { routable: string[]; inner: Buffer[] } {
    const routable = privateIn
      .map((f) => ethernetIp(f))
      .filter((ip): ip is FrameIp => !!ip && ipPacketValid(ip.ip) && !ip.fragment && inPrefix(dst(ip), s.net) && !dst(ip).equals(parseAddress(s.private)) && ttl(ip) > 1 && ip.ip.length <= MTU)
      .map((ip) => forwarded(ip.ip).toString('hex'));
    let seq = 1n;
    const inner: Buffer[] = [];
    for (const f of publicOut.filter((x) => ethernetIp(x)?.protocol === 50)) {
      expect(macOf(f, 0)).toBe(MAC.publicNextHop);
      const ip = ethernetIp(f)!;
      expect(ipPacketValid(ip.ip)).toBe(true);
      expect(src(ip).equals(parseAddress(s.public)) && dst(ip).equals(parseAddress(s.remote))).toBe(true);
      const opened = refOpen(OUTBOUND, ip.payload, 0);
      expect(opened).not.toBeNull();
      expect(opened!.seq).toBe(seq++);
      expect(opened!.nextHeader).toBe(version === 4 ? 4 : 41);
      expect(opened!.content.length).toBeGreaterThanOrEqual(MTU); // TFC
      inner.push(Buffer.from(ethernetIp(Buffer.concat([Buffer.alloc(12), Buffer.from(version === 4 ? [8, 0] : [0x86, 0xdd]), opened!.content]))!.ip));
    }
    return { routable, inner };
  }
  // ICMP errors of ours to a sender at the far site, in the tunnel (e.g.
  // time exceeded for a decrypted packet whose TTL ran out here).
  function ownViaTunnel(): Buffer[] {
    return esp().inner.filter((p) => p[version === 4 ? 9 : 6] === (version === 4 ? 1 : 58) && p.subarray(version === 4 ? 12 : 8, version === 4 ? 16 : 24).equals(parseAddress(s.private)));
  }

  beforeAll(async () => {
    const file = (n: string) => path.join(dir, `${version}-${n}`);
    fs.writeFileSync(file('gw.json'), JSON.stringify(config(version)));
    privateIn = [...frames(path.join(VITA, `${s.prefix}-private-in.pcap`)), ...extra];
    publicIn = frames(path.join(VITA, `${s.prefix}-public-in.pcap`));
    writePcap(file('private-in.pcap'), privateIn.map((data) => ({ data })));
    const r = await vitesse(['replay', '--config', file('gw.json'), '--private-in', file('private-in.pcap'), '--public-in', path.join(VITA, `${s.prefix}-public-in.pcap`),
      '--private-out', file('private-out.pcap'), '--public-out', file('public-out.pcap'), '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    result = JSON.parse(lines[lines.length - 1]);
    privateOut = frames(file('private-out.pcap'));
    publicOut = frames(file('public-out.pcap'));
  });

  it('reads every frame of both captures and prints counters', () => {
    // The slow path's own packets for the far site enter the private side
    // as if received there (to be encrypted), so they count as received too.
    expect(result.dataplane.private_rx_packets).toBe(privateIn.length + ownViaTunnel().length);
    expect(result.dataplane.public_rx_packets).toBe(publicIn.length);
    expect(result.dataplane.private_tx_packets).toBe(privateOut.length);
    expect(result.dataplane.public_tx_packets).toBe(publicOut.length);
  });

  it('delivers exactly the authentic, fresh ESP of public-in to the private next hop', () => {
    const seen = new Set<bigint>();
    const expected: string[] = [];
    for (const f of publicIn) {
      const ip = ethernetIp(f);
      if (!ip || ip.protocol !== 50 || ip.fragment) continue;
      const opened = refOpen(INBOUND, ip.payload, 0);
      if (!opened || opened.spi !== INBOUND.spi || seen.has(opened.seq)) continue;
      seen.add(opened.seq);
      if (opened.nextHeader !== (version === 4 ? 4 : 41)) continue; // authentic, but carries no IP packet
      const inner = ethernetIp(Buffer.concat([Buffer.alloc(12), Buffer.from(version === 4 ? [8, 0] : [0x86, 0xdd]), opened.content]))!;
      if (!policyAllows(inner.ip, [s.net])) continue; // RFC 4301 §5.2
      if (dst(inner).equals(parseAddress(s.private))) continue; // for us: answered back through the tunnel
      if (ttl(inner) <= 1) continue; // expires here: answered with time exceeded instead
      expected.push(forwarded(inner.ip).toString('hex'));
    }
    expect(expected.length).toBeGreaterThan(0);
    const delivered = privateOut.filter((f) => macOf(f, 0) === MAC.privateNextHop);
    expect(delivered.map((f) => f.subarray(14).toString('hex'))).toEqual(expected);
    for (const f of delivered) expect(macOf(f, 6)).toBe(MAC.private);
    const inbound = result.sas.find((x) => x.direction === 'inbound')!;
    expect(inbound.spi).toBe(INBOUND.spi);
    expect(inbound.packets).toBeGreaterThanOrEqual(expected.length);
  });

  it('encrypts what is routable and fits the MTU into ESP that OpenSSL opens; adds only its own ICMP', () => {
    const { routable, inner } = esp();
    expect(routable.length).toBeGreaterThan(0);
    const hex = inner.map((p) => p.toString('hex'));
    expect(hex.filter((h) => routable.includes(h))).toEqual(routable);
    const own = ownViaTunnel();
    const ownHex = own.map((p) => p.toString('hex'));
    const passedOn = inner.filter((p) => !routable.includes(p.toString('hex')) && !ownHex.includes(p.toString('hex')));
    // The data plane does not verify IPv4 header checksums (it updates them
    // incrementally, RFC 1624), so a packet that came with a wrong one (Vita's
    // capture has one) leaves with a wrong one: that is all that may be left.
    for (const p of passedOn) {
      expect(p[0] >> 4).toBe(4);
      expect(internetChecksum(p.subarray(0, 20))).not.toBe(0);
      expect(privateIn.some((f) => ethernetIp(f)?.ip.subarray(12).equals(p.subarray(12)))).toBe(true);
    }
    for (const p of [...own, ...inner.filter((x) => routable.includes(x.toString('hex')))]) expect(ipPacketValid(p)).toBe(true);
    // Every frame received is accounted for: forwarded, punted or dropped under a named reason.
    const c = result.dataplane;
    const drops = Object.entries(c).filter(([k]) => /^(private|public)_drop_/.test(k)).reduce((a, [, v]) => a + v, 0);
    const delivered = privateOut.filter((f) => macOf(f, 0) === MAC.privateNextHop).length;
    expect(delivered + inner.length + c.punted_packets + drops).toBe(c.private_rx_packets + c.public_rx_packets);
  });

  it('answers an echo request out of the tunnel to its private address back through the tunnel, as Vita did', () => {
    // What Vita sent into the tunnel (its SA served both directions).
    const vitaInner = frames(path.join(VITA, `${s.prefix}-public-out.pcap`))
      .map((f) => ethernetIp(f))
      .filter((ip): ip is FrameIp => ip?.protocol === 50)
      .map((ip) => refOpen(INBOUND, ip.payload, 0))
      .filter((o) => o !== null)
      .map((o) => ethernetIp(Buffer.concat([Buffer.alloc(12), Buffer.from(version === 4 ? [8, 0] : [0x86, 0xdd]), o.content]))!);
    const echoReply = version === 4 ? 0 : 129;
    const replies = (inner: FrameIp[]) => inner.filter((ip) => ip.protocol === (version === 4 ? 1 : 58) && ip.payload[0] === echoReply && src(ip).equals(parseAddress(s.private)));
    expect(replies(vitaInner).length).toBeGreaterThan(0);
    const ours = replies(esp().inner.map((p) => ethernetIp(Buffer.concat([Buffer.alloc(12), Buffer.from(version === 4 ? [8, 0] : [0x86, 0xdd]), p]))!));
    expect(ours.map((ip) => dst(ip).toString('hex'))).toEqual(replies(vitaInner).map((ip) => dst(ip).toString('hex')));
    for (const ip of ours) expect(inPrefix(dst(ip), s.net)).toBe(true);
    expect(result.dataplane.public_drop_inbound_policy).toBe(0);
  });

  it('answers with the ICMP kinds Vita answered with, from its own address, with our MTU', () => {
    const sender = { private: s.privateNextHop, public: s.publicNextHop };
    const ours = { private: s.private, public: s.public };
    const vitaOut = { private: frames(path.join(VITA, `${s.prefix}-private-out.pcap`)), public: frames(path.join(VITA, `${s.prefix}-public-out.pcap`)) };
    const vitaOwn = { private: '192.168.10.1', public: '203.0.113.1', ...(version === 6 ? { private: 'c0a8:a00::1', public: '203:0:113::1' } : {}) };
    const out = { private: privateOut, public: publicOut };
    for (const side of ['private', 'public'] as const) {
      const want = new Set(icmpFromTo(vitaOut[side], vitaOwn[side], sender[side]).map((m) => m.kind));
      const got = icmpFromTo(out[side], ours[side], sender[side]);
      expect(want.size).toBeGreaterThan(0);
      for (const kind of want) {
        const skip = NOT_ANSWERED.find((n) => n.version === version && n.side === side && n.kind === kind);
        if (skip) {
          expect(got.map((m) => m.kind), skip.why).not.toContain(kind);
          expect(result.dataplane[skip.counter], skip.why).toBeGreaterThan(0);
          continue;
        }
        expect(got.map((m) => m.kind), `${side} side: ICMP ${kind}`).toContain(kind);
      }
      for (const m of got) if (m.mtu !== undefined) expect(m.mtu).toBe(MTU);
    }
    // Our own oversized packet was answered too (Vita's IPv6 capture has
    // none we may answer: its only one is an ICMPv6 error, RFC 4443 §2.4 e.1).
    expect(icmpFromTo(privateOut, s.private, s.privateNextHop).some((m) => m.kind === (version === 4 ? '3.4' : '2.0'))).toBe(true);
  });
});

describe('vitesse replay refuses what it cannot replay', () => {
  it('a configuration in key-manager mode, one with several queues, no input', async () => {
    const km = config(4) as Record<string, Record<string, unknown>>;
    delete km['vitesse-gateway:gateway']['data-plane'];
    (km['vitesse-gateway:gateway'].route as object[])[0] = { id: 'loop', net: '192.168.10.0/24', gateway: [{ queue: 1, address: '203.0.113.2' }], spi: 1001, 'preshared-key': 'ab'.repeat(32) };
    fs.writeFileSync(path.join(dir, 'km.json'), JSON.stringify(km));
    const r = await vitesse(['replay', '--config', path.join(dir, 'km.json'), '--public-in', path.join(VITA, 'selftest-public-in.pcap')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/key-manager mode; replay needs data-plane mode/);

    const two = config(4, { queues: 2 }) as Record<string, Record<string, unknown>>;
    const g = two['vitesse-gateway:gateway'];
    (g['public-interface'] as { queue: object[] }).queue.push({ id: 2, address: '203.0.113.3' });
    (g.route as { gateway: object[] }[])[0].gateway.push({ queue: 2, address: '203.0.113.4' });
    fs.writeFileSync(path.join(dir, 'two.json'), JSON.stringify(two));
    const r2 = await vitesse(['replay', '--config', path.join(dir, 'two.json'), '--public-in', path.join(VITA, 'selftest-public-in.pcap')]);
    expect(r2.err).toMatch(/2 queues; replay runs one/);
    expect(r2.code).toBe(2);

    const r3 = await vitesse(['replay', '--config', path.join(dir, 'two.json')]);
    expect(r3.code).toBe(2);
    expect(r3.err).toMatch(/nothing to replay/);
  });
});
