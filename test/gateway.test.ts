// The worker pipeline end to end on memory wires: a gateway tunnelling to
// itself (its public output loops back into its public input), so every frame
// is routed, encrypted, decrypted and forwarded; drop reasons; SA rollover
// under load; configuration errors.
import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { buildIpv4, buildIpv6 } from './support/ip-packets.js';
import { ethernet, makeHarness, pollUntilIdle, type Harness } from './support/gateway-harness.js';
import type { Aead } from '../controlplane/dataplane.js';
import { FIRST_QUEUE, QueueNumber, RouteId, Spi } from '../controlplane/exchange/types.js';

const GW_PRIV_MAC = '02:00:00:00:00:01';
const GW_PUB_MAC = '02:00:00:00:01:01';
const HOST_MAC = '02:00:00:00:00:02';

let h: Harness | undefined;
afterEach(() => {
  h?.close();
  h = undefined;
});

function keymat(aead: Aead = 'aes-gcm-16-icv'): Buffer {
  return crypto.randomBytes(aead === 'aes-gcm-16-icv' ? 20 : 36);
}

/**
 * A gateway tunnelling 10.2.0.0/16 and fd00:2::/32 to itself. What it sends
 * comes back on the routes' own SAs, so the test hosts' sources lie in those
 * prefixes (as in Vita's self-test) to pass the inbound policy.
 */
function loopGateway(opts: { queues?: number; aead?: Aead } = {}) {
  const queues = opts.queues ?? 1;
  const addresses = Array.from({ length: queues }, (_, q) => `192.0.2.${q + 1}`);
  const harness = makeHarness({
    queues,
    mtu: 1500,
    loopbackPublic: true,
    private: { mac: GW_PRIV_MAC, ipv4: '10.1.0.1', ipv6: 'fd00:1::1' },
    public: { mac: GW_PUB_MAC, addresses },
  });
  const gw = harness.gw;
  gw.setRoutes([
    { id: RouteId('v4'), net: '10.2.0.0/16', gateways: addresses },
    { id: RouteId('v6'), net: 'fd00:2::/32', gateways: addresses },
  ]);
  const aead = opts.aead ?? 'aes-gcm-16-icv';
  for (const [w, queue] of gw.queueNumbers.entries()) {
    for (const [i, route] of ['v4', 'v6'].entries()) {
      const k = keymat(aead);
      const spi = 0x1000 + w * 16 + i;
      gw.addInboundSa({ queue, route: RouteId(route), spi: Spi(spi), aead, keymat: k });
      gw.setOutboundSa({ queue, route: RouteId(route), spi: Spi(spi), aead, keymat: k });
    }
  }
  gw.setNextHop('private', HOST_MAC);
  gw.setNextHop('public', '02:00:00:00:01:02');
  return harness;
}

function udp4(n: number, opts: { dst?: string; ttl?: number; size?: number; src?: string } = {}): Buffer {
  const payload = Buffer.alloc(Math.max(8, (opts.size ?? 64) - 20));
  payload.writeUInt16BE(1000 + (n % 1000), 0);
  payload.writeUInt16BE(2000, 2);
  payload.writeUInt16BE(payload.length, 4);
  payload.writeUInt32BE(n, 8 % payload.length);
  return ethernet(GW_PRIV_MAC, HOST_MAC, 0x0800, buildIpv4({ src: opts.src ?? '10.2.0.2', dst: opts.dst ?? '10.2.0.9', ttl: opts.ttl, payload }));
}

function udp6(n: number, opts: { dst?: string; hopLimit?: number } = {}): Buffer {
  const payload = Buffer.alloc(40);
  payload.writeUInt32BE(n, 8);
  return ethernet(GW_PRIV_MAC, HOST_MAC, 0x86dd, buildIpv6({ src: 'fd00:2::2', dst: opts.dst ?? 'fd00:2::9', hopLimit: opts.hopLimit, payload }));
}

const seqOf = (f: Buffer) => (f.readUInt16BE(12) === 0x0800 ? f.readUInt32BE(14 + 20 + 8) : f.readUInt32BE(14 + 40 + 8));

describe('gateway pipeline', () => {
  it('routes, encrypts, decrypts and forwards IPv4 and IPv6; TTL drops by one at each end', () => {
    h = loopGateway();
    const sent = [udp4(1), udp6(2), udp4(3, { size: 1400 }), udp6(4)];
    h.sendPrivate(sent);
    pollUntilIdle(h.gw);
    const out = h.receivePrivate();
    expect(out.map(seqOf)).toEqual([1, 2, 3, 4]);
    for (const [i, f] of out.entries()) {
      const orig = sent[i];
      expect(f.length).toBe(orig.length);
      expect(f.subarray(0, 6).toString('hex')).toBe(HOST_MAC.replaceAll(':', ''));
      if (f.readUInt16BE(12) === 0x0800) expect(f[14 + 8]).toBe(orig[14 + 8] - 2);
      else expect(f[14 + 7]).toBe(orig[14 + 7] - 2);
      // Apart from TTL and checksum, the packet is the one that went in.
      const strip = (b: Buffer) =>
        b.readUInt16BE(12) === 0x0800
          ? Buffer.concat([b.subarray(14, 22), b.subarray(23, 24), b.subarray(26)]) // without TTL and checksum
          : Buffer.concat([b.subarray(14, 21), b.subarray(22)]); // without hop limit
      expect(strip(f).equals(strip(orig))).toBe(true);
    }
    const c = h.gw.counters();
    expect(c.encapsulated_packets).toBe(4);
    expect(c.decapsulated_packets).toBe(4);
    const sas = h.gw.sas();
    expect(sas.filter((s) => s.direction === 'inbound').reduce((a, s) => a + s.packets, 0)).toBe(4);
  });

  it('works with AES-256-GCM SAs', () => {
    h = loopGateway({ aead: 'aes-256-gcm-16-icv' });
    h.sendPrivate([udp4(7), udp6(8)]);
    pollUntilIdle(h.gw);
    expect(h.receivePrivate().map(seqOf)).toEqual([7, 8]);
  });

  it('counts every drop by its reason and punts what the control plane must answer', () => {
    h = loopGateway();
    h.gw.setRoutes([
      { id: RouteId('v4'), net: '10.2.0.0/16', gateways: ['192.0.2.1'] },
      { id: RouteId('v6'), net: 'fd00:2::/32', gateways: ['192.0.2.1'] },
      { id: RouteId('nosa'), net: '10.3.0.0/16', gateways: ['192.0.2.1'] },
    ]);
    const arp = ethernet('ff:ff:ff:ff:ff:ff', HOST_MAC, 0x0806, Buffer.alloc(28));
    const frames = [
      udp4(1, { dst: '10.9.0.1' }), // no route
      udp4(2, { dst: '10.3.0.1' }), // route without SA
      udp4(3, { ttl: 1 }), // TTL expires here
      udp6(4, { hopLimit: 1 }),
      udp4(5, { size: 1600 }), // over the MTU
      udp4(6, { dst: '10.1.0.1' }), // for the gateway itself
      arp,
      ethernet(GW_PRIV_MAC, HOST_MAC, 0x88cc, Buffer.alloc(50)), // LLDP: not ours
      Buffer.alloc(10), // runt
      (() => { const f = udp4(7); f[14 + 10] ^= 0xff; return f; })(), // IPv4 header checksum wrong
    ];
    h.sendPrivate(frames);
    pollUntilIdle(h.gw);
    const c = h.gw.counters();
    expect(c.private_drop_no_route).toBe(1);
    expect(c.private_drop_no_sa).toBe(1);
    expect(c.private_ttl_expired).toBe(2);
    expect(c.private_too_big).toBe(1);
    expect(c.private_drop_unknown_ethertype).toBe(1);
    expect(c.private_drop_bad_header).toBe(2);
    const punts = h.gw.punts();
    expect(punts.map((p) => p.reason).sort()).toEqual(['control', 'control', 'too-big', 'ttl-exceeded', 'ttl-exceeded']);
    const big = punts.find((p) => p.reason === 'too-big')!;
    expect(big.frameLength).toBe(frames[4].length);
    expect(big.side).toBe('private');
    expect(h.receivePrivate()).toEqual([]);
  });

  it('rejects tampered, replayed and unknown-SPI ESP on the public side', () => {
    h = loopGateway();
    // Capture real ESP by giving the gateway a separate public wire to look at.
    h.close();
    h = makeHarness({
      mtu: 1500,
      private: { mac: GW_PRIV_MAC, ipv4: '10.1.0.1' },
      public: { mac: GW_PUB_MAC, addresses: ['192.0.2.1'] },
    });
    const k = keymat();
    h.gw.setRoutes([{ id: RouteId('v4'), net: '10.2.0.0/16', gateways: ['192.0.2.1'] }]);
    h.gw.addInboundSa({ queue: FIRST_QUEUE, route: RouteId('v4'), spi: Spi(0x2000), aead: 'aes-gcm-16-icv', keymat: k });
    h.gw.setOutboundSa({ queue: FIRST_QUEUE, route: RouteId('v4'), spi: Spi(0x2000), aead: 'aes-gcm-16-icv', keymat: k });
    h.gw.setNextHop('private', HOST_MAC);
    h.gw.setNextHop('public', '02:00:00:00:01:02');
    h.sendPrivate([udp4(1), udp4(2), udp4(3)]);
    pollUntilIdle(h.gw);
    const esp = h.receivePublic();
    expect(esp.length).toBe(3);

    const flipped = Buffer.from(esp[0]);
    flipped[flipped.length - 20] ^= 0x10; // inside the ciphertext
    const unknownSpi = Buffer.from(esp[1]);
    unknownSpi.writeUInt32BE(0x9999, 34);
    h.sendPublic([flipped, esp[1], esp[1], unknownSpi, esp[2], esp[0]]);
    pollUntilIdle(h.gw);
    expect(h.receivePrivate().map(seqOf)).toEqual([2, 3, 1]);
    const c = h.gw.counters();
    expect(c.public_drop_authentication).toBe(1);
    expect(c.public_drop_replay).toBe(1);
    expect(c.public_drop_unknown_spi).toBe(1);
    const inbound = h.gw.sas().find((s) => s.direction === 'inbound')!;
    expect(inbound.decryptErrors).toBe(1);
    expect(inbound.replayErrors).toBe(1);
  });

  it('spreads flows over queues; each queue uses its own SAs and public address', () => {
    h = loopGateway({ queues: 2 });
    const frames = Array.from({ length: 200 }, (_, i) => udp4(i, { src: `10.2.${i % 200}.${1 + (i % 7)}` }));
    h.sendPrivate(frames);
    pollUntilIdle(h.gw);
    expect(h.receivePrivate().map(seqOf).sort((a, b) => a - b)).toEqual(frames.map((_, i) => i));
    const q0 = h.gw.counters(QueueNumber(1)), q1 = h.gw.counters(QueueNumber(2));
    expect(q0.decapsulated_packets).toBeGreaterThan(20);
    expect(q1.decapsulated_packets).toBeGreaterThan(20);
    for (const sa of h.gw.sas().filter((s) => s.route === 'v4')) {
      expect(sa.packets).toBe((sa.queue === 1 ? q0 : q1).decapsulated_packets);
    }
  });

  it('rolls over to a new SA pair on running worker threads without losing a packet', async () => {
    h = loopGateway();
    const gw = h.gw;
    gw.start();
    const total = 30_000;
    const received: number[] = [];
    let next = 0;
    let spi = 0x1000;
    const rollovers: number[] = [];
    while (received.length < total) {
      if (next < total) {
        const batch: Buffer[] = [];
        for (let i = 0; i < 64 && next < total; i++) batch.push(udp4(next++));
        const accepted = h.sendPrivate(batch);
        next -= batch.length - accepted; // wire full: resend the rest next turn
      }
      // Every 5000 packets: new inbound first, then outbound, then retire the old inbound.
      if (next >= (rollovers.length + 1) * 5000 && next < total) {
        const k = keymat();
        const old = spi;
        spi += 0x100;
        gw.addInboundSa({ queue: FIRST_QUEUE, route: RouteId('v4'), spi: Spi(spi), aead: 'aes-gcm-16-icv', keymat: k });
        gw.commit();
        gw.setOutboundSa({ queue: FIRST_QUEUE, route: RouteId('v4'), spi: Spi(spi), aead: 'aes-gcm-16-icv', keymat: k });
        gw.commit();
        rollovers.push(old);
        setTimeout(() => gw.removeInboundSa(FIRST_QUEUE, Spi(old)), 20);
      }
      received.push(...h.receivePrivate().map(seqOf));
      await new Promise((r) => setImmediate(r));
    }
    gw.stop();
    expect(rollovers.length).toBeGreaterThanOrEqual(5);
    expect(received).toEqual(Array.from({ length: total }, (_, i) => i));
    const c = gw.counters();
    expect(c.public_drop_unknown_spi + c.public_drop_authentication + c.public_drop_replay).toBe(0);
  });

  it('refuses invalid configuration with a precise message and keeps the last good state', () => {
    h = loopGateway();
    expect(() => h!.gw.setRoutes([{ id: RouteId('x'), net: '10.0.0.0/33', gateways: ['192.0.2.1'] }])).toThrow(
      /route\[id='x'\]: not an IPv4 prefix: "10.0.0.0\/33" \(length over 32\)/,
    );
    expect(() => h!.gw.setRoutes([{ id: RouteId('x'), net: '10.0.0.0/8', gateways: ['2001:db8::1'] }])).toThrow(/same IP version/);
    expect(() => h!.gw.addInboundSa({ queue: FIRST_QUEUE, route: RouteId('v4'), spi: Spi(0x5000), aead: 'aes-gcm-16-icv', keymat: Buffer.alloc(16) })).toThrow(
      /key material must be 20 bytes/,
    );
    expect(() => h!.gw.addInboundSa({ queue: FIRST_QUEUE, route: RouteId('v4'), spi: Spi(7), aead: 'aes-gcm-16-icv', keymat: keymat() })).toThrow(/reserved/);
    // Queues as configured: 1..queues; an error names the number as given.
    expect(() => h!.gw.addInboundSa({ queue: QueueNumber(3), route: RouteId('v4'), spi: Spi(0x5000), aead: 'aes-gcm-16-icv', keymat: keymat() })).toThrow(/queue 3: no such queue \(the gateway has queues 1\.\.1\)/);
    expect(() => h!.gw.addInboundSa({ queue: QueueNumber(0), route: RouteId('v4'), spi: Spi(0x5000), aead: 'aes-gcm-16-icv', keymat: keymat() })).toThrow(/queue 0: no such queue/);
    expect(() => h!.gw.setOutboundSa({ queue: FIRST_QUEUE, route: RouteId('v4'), spi: Spi(0x5000), aead: 'chacha' as Aead, keymat: keymat() })).toThrow(/unknown AEAD/);
    // Still forwarding with the old state.
    h.sendPrivate([udp4(1)]);
    pollUntilIdle(h.gw);
    expect(h.receivePrivate().map(seqOf)).toEqual([1]);
  });
});
