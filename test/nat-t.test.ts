// ESP in UDP (RFC 3948) through the real data plane on memory wires: what an
// outbound SA with UDP encapsulation sends (checked against the control
// plane's own UDP frames, controlplane/udp.ts), what the NAT-T port does with
// what arrives (ESP, key exchange behind the non-ESP marker, keepalives,
// malformed UDP), and the peer endpoint learned from authenticated ESP only —
// a replayed or older packet from elsewhere must not move it.
import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { buildIpv4, buildIpv6 } from './support/ip-packets.js';
import { ethernet, makeHarness, pollUntilIdle, type Harness } from './support/gateway-harness.js';
import { refSeal, type RefSa } from './support/esp-reference.js';
import { udpFrame } from '../controlplane/udp.js';
import { parseMac } from '../controlplane/slowpath/address.js';
import { FIRST_QUEUE, RouteId, Spi } from '../controlplane/exchange/types.js';

const GW_PRIV_MAC = '02:00:00:00:00:01';
const GW_PUB_MAC = '02:00:00:00:01:01';
const HOST_MAC = '02:00:00:00:00:02';
const ROUTER_MAC = '02:00:00:00:01:02';
const NAT_T = 4500;
const ROUTE = RouteId('site2');

let h: Harness | undefined;
afterEach(() => {
  h?.close();
  h = undefined;
});

interface Site {
  v6: boolean;
  local: string;
  peer: string;
  /** Our outbound SA (the test opens what the gateway sends with it). */
  out: RefSa;
  /** The peer's outbound SA, our inbound one (the test seals with it). */
  in: RefSa;
}

/**
 * A gateway with one route to a peer gateway; its outbound SA uses ESP in
 * UDP from port 4500 to 4500. The test stands in for the peer on the public
 * wire and for a host on the private one.
 */
function natGateway(opts: { v6?: boolean; natTPort?: number } = {}): Site {
  const v6 = opts.v6 ?? false;
  const local = v6 ? '2001:db8::1' : '192.0.2.1';
  const peer = v6 ? '2001:db8::2' : '192.0.2.2';
  h = makeHarness({
    mtu: 1500,
    natTPort: opts.natTPort,
    private: { mac: GW_PRIV_MAC, ipv4: '10.1.0.1', ipv6: 'fd00:1::1' },
    public: { mac: GW_PUB_MAC, addresses: [local] },
  });
  h.gw.setRoutes([{ id: ROUTE, net: ['10.2.0.0/16', 'fd00:2::/32'], gateways: [peer] }]);
  const out: RefSa = { aead: 'aes-gcm-16-icv', spi: 0x1001, keymat: crypto.randomBytes(20) };
  const inb: RefSa = { aead: 'aes-gcm-16-icv', spi: 0x2001, keymat: crypto.randomBytes(20) };
  h.gw.setOutboundSa({ queue: FIRST_QUEUE, route: ROUTE, spi: Spi(out.spi), aead: out.aead, keymat: out.keymat, udpSourcePort: NAT_T, udpDestinationPort: NAT_T });
  h.gw.addInboundSa({ queue: FIRST_QUEUE, route: ROUTE, spi: Spi(inb.spi), aead: inb.aead, keymat: inb.keymat });
  h.gw.setNextHop('private', HOST_MAC);
  h.gw.setNextHop('public', ROUTER_MAC);
  h.gw.commit();
  return { v6, local, peer, out, in: inb };
}

/** A host on the private side sends to the far site (10.2.0.9 / fd00:2::9). */
function fromHost(site: Site, n: number, size = 64): Buffer {
  const payload = Buffer.alloc(size);
  payload.writeUInt32BE(n, 8);
  return site.v6
    ? ethernet(GW_PRIV_MAC, HOST_MAC, 0x86dd, buildIpv6({ src: 'fd00:1::2', dst: 'fd00:2::9', payload }))
    : ethernet(GW_PRIV_MAC, HOST_MAC, 0x0800, buildIpv4({ src: '10.1.0.2', dst: '10.2.0.9', payload }));
}

/** The inner packet a host on the far site sends to ours. */
function farInner(site: Site, n: number): Buffer {
  const payload = Buffer.alloc(32);
  payload.writeUInt32BE(n, 8);
  return site.v6 ? buildIpv6({ src: 'fd00:2::9', dst: 'fd00:1::2', payload }) : buildIpv4({ src: '10.2.0.9', dst: '10.1.0.2', payload });
}

/** A UDP datagram to our public address, from `from`, as the control plane would build it. */
function toUs(site: Site, from: { address: string; port: number }, payload: Buffer, dstPort = NAT_T): Buffer {
  return udpFrame({ srcMac: parseMac(ROUTER_MAC), dstMac: parseMac(GW_PUB_MAC), src: from.address, dst: site.local, srcPort: from.port, dstPort, payload });
}

/** ESP in UDP from the peer (or anyone) carrying far-site packet `n` with sequence number `seq`. */
function espFrom(site: Site, from: { address: string; port: number }, seq: number, n = seq): Buffer {
  return toUs(site, from, refSeal(site.in, BigInt(seq), farInner(site, n)));
}

const innerSeq = (f: Buffer) => (f.readUInt16BE(12) === 0x0800 ? f.readUInt32BE(14 + 20 + 8) : f.readUInt32BE(14 + 40 + 8));

/** Where an outbound ESP-in-UDP frame goes, and what it carries. */
function parseOut(f: Buffer) {
  const v6 = f.readUInt16BE(12) === 0x86dd;
  const ip = f.subarray(14);
  const hl = v6 ? 40 : 20;
  const udp = ip.subarray(hl);
  const addr = v6 ? ip.subarray(24, 40) : ip.subarray(16, 20);
  const text = v6 ? Array.from({ length: 8 }, (_, i) => addr.readUInt16BE(2 * i).toString(16)).join(':') : Array.from(addr).join('.');
  return {
    protocol: v6 ? ip[6] : ip[9],
    dst: text,
    srcPort: udp.readUInt16BE(0),
    dstPort: udp.readUInt16BE(2),
    udpLength: udp.readUInt16BE(4),
    checksum: udp.readUInt16BE(6),
    ipId: v6 ? 0 : ip.readUInt16BE(4),
    esp: udp.subarray(8),
  };
}

function endpoint(): { learned: boolean; address?: string; port?: number; changes: number } {
  const e = h!.gw.endpoints().filter((x) => x.route === ROUTE && x.queue === FIRST_QUEUE);
  expect(e).toHaveLength(1);
  const { learned, address, port, changes } = e[0];
  return { learned, address, port, changes };
}

describe('ESP in UDP: encapsulation', () => {
  for (const v6 of [false, true]) {
    it(`sends ESP in UDP from port 4500 to the peer's 4500, headers as the control plane builds them (IPv${v6 ? 6 : 4})`, () => {
      const site = natGateway({ v6 });
      h!.sendPrivate([fromHost(site, 1), fromHost(site, 2, 1200)]);
      pollUntilIdle(h!.gw);
      const out = h!.receivePublic();
      expect(out).toHaveLength(2);
      for (const f of out) {
        const o = parseOut(f);
        expect(o.protocol).toBe(17);
        expect([o.srcPort, o.dstPort]).toEqual([NAT_T, NAT_T]);
        expect(o.udpLength).toBe(8 + o.esp.length);
        expect(o.esp.readUInt32BE(0)).toBe(site.out.spi);
        // Differential: the control plane's UDP frame around the same ESP
        // packet. Over IPv4 the data plane sends checksum 0 (RFC 3948 §2.1);
        // over IPv6 it computes it, and it must be the same.
        const ref = udpFrame({ srcMac: parseMac(GW_PUB_MAC), dstMac: parseMac(ROUTER_MAC), src: site.local, dst: site.peer, srcPort: NAT_T, dstPort: NAT_T, payload: o.esp, ipId: o.ipId });
        expect(f.length).toBe(ref.length);
        const csumAt = 14 + (v6 ? 40 : 20) + 6;
        if (v6) {
          expect(f.equals(ref)).toBe(true);
        } else {
          expect(o.checksum).toBe(0);
          expect(Buffer.concat([f.subarray(0, csumAt), f.subarray(csumAt + 2)]).equals(Buffer.concat([ref.subarray(0, csumAt), ref.subarray(csumAt + 2)]))).toBe(true);
        }
      }
      expect(h!.gw.counters().encapsulated_packets).toBe(2);
    });

    it(`decapsulates ESP in UDP from the peer, with or without a UDP checksum over IPv4 (IPv${v6 ? 6 : 4})`, () => {
      const site = natGateway({ v6 });
      const frames = [espFrom(site, { address: site.peer, port: NAT_T }, 1), espFrom(site, { address: site.peer, port: NAT_T }, 2)];
      if (!v6) frames[1].writeUInt16BE(0, 14 + 20 + 6); // no checksum
      h!.sendPublic(frames);
      pollUntilIdle(h!.gw);
      expect(h!.receivePrivate().map(innerSeq)).toEqual([1, 2]);
      expect(h!.gw.counters().decapsulated_packets).toBe(2);
      // From the gateway and port the SA names: nothing moved.
      expect(endpoint()).toEqual({ learned: false, address: undefined, port: undefined, changes: 0 });
    });
  }

  it('counts the UDP header in the MTU: an inner packet within 8 octets of it is punted as too big', () => {
    const site = natGateway(); // mtu 1500
    const sized = (n: number, len: number) => fromHost(site, n, len - 20); // an IPv4 packet of `len` octets
    h!.sendPrivate([sized(1, 1492), sized(2, 1493), sized(3, 1500)]);
    pollUntilIdle(h!.gw);
    const out = h!.receivePublic();
    // 1492 + UDP 8 = the MTU. On the wire: Ethernet 14, IPv4 20, UDP 8, ESP header 16, 1492, padding 2, trailer 2, ICV 16.
    expect(out.map((f) => f.length)).toEqual([14 + 20 + 8 + 16 + 1492 + 2 + 2 + 16]);
    expect(h!.gw.counters().private_too_big).toBe(2);
    expect(h!.gw.punts().map((p) => p.reason)).toEqual(['too-big', 'too-big']);
  });

  it('round trip: what one gateway sends in UDP, the other decapsulates', () => {
    // Both ends are this gateway: its outbound SA's key is also its inbound
    // key, and the frame it sent comes back from the peer's address.
    const site = natGateway();
    h!.gw.addInboundSa({ queue: FIRST_QUEUE, route: ROUTE, spi: Spi(site.out.spi), aead: site.out.aead, keymat: site.out.keymat });
    const payload = Buffer.alloc(40);
    payload.writeUInt32BE(77, 8);
    // From a far-site source, so the inbound policy passes it on the way back.
    h!.sendPrivate([ethernet(GW_PRIV_MAC, HOST_MAC, 0x0800, buildIpv4({ src: '10.2.0.5', dst: '10.2.0.9', payload }))]);
    pollUntilIdle(h!.gw);
    const [sent] = h!.receivePublic();
    const o = parseOut(sent);
    h!.sendPublic([toUs(site, { address: site.peer, port: NAT_T }, o.esp)]);
    pollUntilIdle(h!.gw);
    const back = h!.receivePrivate();
    expect(back.map(innerSeq)).toEqual([77]);
  });
});

describe('ESP in UDP: the NAT-T port', () => {
  it('punts key exchange behind the non-ESP marker, consumes keepalives, drops malformed UDP by reason', () => {
    const site = natGateway();
    const peer = { address: site.peer, port: NAT_T };
    const kex = toUs(site, peer, Buffer.concat([Buffer.alloc(4), Buffer.from('knock-message')]));
    const keepalive = toUs(site, peer, Buffer.from([0xff]));
    const short = toUs(site, peer, Buffer.from([1, 2]));
    const badLength = toUs(site, peer, refSeal(site.in, 5n, farInner(site, 5)));
    badLength.writeUInt16BE(badLength.readUInt16BE(14 + 20 + 4) + 4, 14 + 20 + 4);
    const badChecksum = espFrom(site, peer, 6);
    badChecksum[badChecksum.length - 1] ^= 1; // the checksum catches it before ESP does
    const otherPort = toUs(site, peer, Buffer.from('key exchange on 303'), 303);
    h!.sendPublic([kex, keepalive, short, badLength, badChecksum, otherPort, espFrom(site, peer, 7)]);
    pollUntilIdle(h!.gw);
    const c = h!.gw.counters();
    expect(c.nat_keepalives).toBe(1);
    expect(c.public_drop_truncated).toBe(1);
    expect(c.public_drop_udp_length).toBe(1);
    expect(c.public_drop_udp_checksum).toBe(1);
    expect(c.public_drop_authentication).toBe(0);
    expect(c.decapsulated_packets).toBe(1);
    expect(h!.receivePrivate().map(innerSeq)).toEqual([7]);
    const punts = h!.gw.punts();
    expect(punts.map((p) => p.frame.equals(kex) || p.frame.equals(otherPort))).toEqual([true, true]);
    expect(c.punted_packets).toBe(2);
  });

  it('over IPv6, drops UDP without a checksum (RFC 8200 §8.1)', () => {
    const site = natGateway({ v6: true });
    const f = espFrom(site, { address: site.peer, port: NAT_T }, 1);
    f.writeUInt16BE(0, 14 + 40 + 6);
    h!.sendPublic([f, espFrom(site, { address: site.peer, port: NAT_T }, 2)]);
    pollUntilIdle(h!.gw);
    expect(h!.gw.counters().public_drop_udp_checksum).toBe(1);
    expect(h!.receivePrivate().map(innerSeq)).toEqual([2]);
  });

  it('with NAT-T off (port 0), UDP on 4500 is the control plane\'s, as any UDP', () => {
    const site = natGateway({ natTPort: 0 });
    h!.sendPublic([espFrom(site, { address: site.peer, port: NAT_T }, 1), toUs(site, { address: site.peer, port: NAT_T }, Buffer.from([0xff]))]);
    pollUntilIdle(h!.gw);
    expect(h!.gw.punts()).toHaveLength(2);
    expect(h!.gw.counters().decapsulated_packets).toBe(0);
    expect(h!.gw.counters().nat_keepalives).toBe(0);
  });

  it('listens on the configured port', () => {
    const site = natGateway({ natTPort: 14500 });
    const peer = { address: site.peer, port: 14500 };
    h!.sendPublic([toUs(site, peer, refSeal(site.in, 1n, farInner(site, 1)), 14500), toUs(site, peer, Buffer.from([0xff]), 4500)]);
    pollUntilIdle(h!.gw);
    expect(h!.receivePrivate().map(innerSeq)).toEqual([1]);
    expect(h!.gw.punts()).toHaveLength(1); // 4500 is any UDP port now
  });
});

describe('ESP in UDP: the peer endpoint', () => {
  for (const v6 of [false, true]) {
    it(`follows the newest authenticated packet, in the data plane; outbound traffic goes there at once (IPv${v6 ? 6 : 4})`, () => {
      const site = natGateway({ v6 });
      const nat = v6 ? { address: '2001:db8:77::5', port: 31000 } : { address: '198.51.100.7', port: 31000 };
      h!.sendPublic([espFrom(site, nat, 1)]);
      pollUntilIdle(h!.gw);
      expect(h!.receivePrivate().map(innerSeq)).toEqual([1]);
      expect(endpoint()).toEqual({ learned: true, address: nat.address, port: nat.port, changes: 1 });
      expect(h!.gw.counters().endpoint_changes).toBe(1);
      h!.sendPrivate([fromHost(site, 2)]);
      pollUntilIdle(h!.gw);
      const [f] = h!.receivePublic();
      const o = parseOut(f);
      expect(o.dst).toBe(v6 ? '2001:db8:77:0:0:0:0:5' : nat.address);
      expect(o.dstPort).toBe(nat.port);
      expect(o.srcPort).toBe(NAT_T);
      // The patched headers are right: the control plane's frame to the same place is the same.
      const ref = udpFrame({ srcMac: parseMac(GW_PUB_MAC), dstMac: parseMac(ROUTER_MAC), src: site.local, dst: nat.address, srcPort: NAT_T, dstPort: nat.port, payload: o.esp, ipId: o.ipId });
      const csumAt = 14 + (v6 ? 40 : 20) + 6;
      if (v6) expect(f.equals(ref)).toBe(true);
      else expect(Buffer.concat([f.subarray(0, csumAt), f.subarray(csumAt + 2)]).equals(Buffer.concat([ref.subarray(0, csumAt), ref.subarray(csumAt + 2)]))).toBe(true);
    });
  }

  it('does not move for a replayed, an older, a forged or an unknown-SPI packet from elsewhere', () => {
    const site = natGateway();
    const peer = { address: '198.51.100.7', port: 31000 };
    const attacker = { address: '203.0.113.66', port: 666 };
    const captured = espFrom(site, peer, 5);
    h!.sendPublic([captured, espFrom(site, peer, 3)]);
    pollUntilIdle(h!.gw);
    expect(h!.receivePrivate().map(innerSeq)).toEqual([5, 3]);
    expect(endpoint()).toMatchObject({ address: peer.address, port: peer.port, changes: 1 });

    // The attacker replays packet 5 from its own address: a replay.
    const esp5 = parseOut(captured).esp; // parseOut reads IPv4 + UDP: the same layout inbound
    h!.sendPublic([toUs(site, attacker, esp5)]);
    pollUntilIdle(h!.gw);
    expect(h!.gw.counters().public_drop_replay).toBe(1);
    // Packet 4, captured but never delivered (it is inside the window and
    // authenticates), arrives from the attacker: delivered, but not the newest.
    h!.sendPublic([espFrom(site, attacker, 4)]);
    pollUntilIdle(h!.gw);
    expect(h!.receivePrivate().map(innerSeq)).toEqual([4]);
    // A forgery far ahead, and ESP under an SPI we do not have.
    const forged = refSeal({ ...site.in, keymat: crypto.randomBytes(20) }, 1000n, farInner(site, 1000));
    const unknown = refSeal({ ...site.in, spi: 0x7777 }, 1001n, farInner(site, 1001));
    h!.sendPublic([toUs(site, attacker, forged), toUs(site, attacker, unknown)]);
    pollUntilIdle(h!.gw);
    const c = h!.gw.counters();
    expect(c.public_drop_authentication).toBe(1);
    expect(c.public_drop_unknown_spi).toBe(1);
    expect(endpoint()).toMatchObject({ address: peer.address, port: peer.port, changes: 1 });
    expect(c.endpoint_changes).toBe(1);

    // Outbound still goes to the peer.
    h!.sendPrivate([fromHost(site, 9)]);
    pollUntilIdle(h!.gw);
    expect(parseOut(h!.receivePublic()[0])).toMatchObject({ dst: peer.address, dstPort: peer.port });

    // The peer's next packet from a new binding moves it.
    const rebound = { address: '198.51.100.7', port: 40001 };
    h!.sendPublic([espFrom(site, rebound, 6)]);
    pollUntilIdle(h!.gw);
    expect(endpoint()).toMatchObject({ address: rebound.address, port: rebound.port, changes: 2 });
  });

  it('within one batch, the packet with the highest number wins, whatever the order', () => {
    const site = natGateway();
    const a = { address: '198.51.100.1', port: 1001 };
    const b = { address: '198.51.100.2', port: 1002 };
    h!.sendPublic([espFrom(site, a, 1), espFrom(site, b, 2)]);
    pollUntilIdle(h!.gw);
    expect(endpoint()).toMatchObject({ address: b.address, port: b.port });
    h!.sendPublic([espFrom(site, b, 10), espFrom(site, a, 9)]);
    pollUntilIdle(h!.gw);
    expect(h!.receivePrivate().map(innerSeq)).toEqual([1, 2, 10, 9]);
    expect(endpoint()).toMatchObject({ address: b.address, port: b.port });
  });

  it('survives a rekey; a change of the route\'s gateway starts afresh', () => {
    const site = natGateway();
    const nat = { address: '198.51.100.7', port: 31000 };
    h!.sendPublic([espFrom(site, nat, 1)]);
    pollUntilIdle(h!.gw);
    const next: RefSa = { aead: 'aes-gcm-16-icv', spi: 0x1002, keymat: crypto.randomBytes(20) };
    h!.gw.setOutboundSa({ queue: FIRST_QUEUE, route: ROUTE, spi: Spi(next.spi), aead: next.aead, keymat: next.keymat, udpSourcePort: NAT_T, udpDestinationPort: NAT_T });
    h!.sendPrivate([fromHost(site, 2)]);
    pollUntilIdle(h!.gw);
    expect(parseOut(h!.receivePublic()[0])).toMatchObject({ dst: nat.address, dstPort: nat.port });
    h!.gw.setRoutes([{ id: ROUTE, net: ['10.2.0.0/16', 'fd00:2::/32'], gateways: ['192.0.2.3'] }]);
    h!.gw.commit();
    expect(endpoint()).toEqual({ learned: false, address: undefined, port: undefined, changes: 0 });
    h!.sendPrivate([fromHost(site, 3)]);
    pollUntilIdle(h!.gw);
    expect(parseOut(h!.receivePublic()[0])).toMatchObject({ dst: '192.0.2.3', dstPort: NAT_T });
  });

  it('refuses an outbound SA with only one of the two ports', () => {
    natGateway();
    expect(() => h!.gw.setOutboundSa({ queue: FIRST_QUEUE, route: ROUTE, spi: Spi(0x1003), aead: 'aes-gcm-16-icv', keymat: crypto.randomBytes(20), udpSourcePort: NAT_T })).toThrow(/both a source and a destination port/);
    expect(() => h!.gw.setOutboundSa({ queue: FIRST_QUEUE, route: ROUTE, spi: Spi(0x1003), aead: 'aes-gcm-16-icv', keymat: crypto.randomBytes(20), udpSourcePort: 70000, udpDestinationPort: NAT_T })).toThrow(/udpSourcePort/);
  });
});
