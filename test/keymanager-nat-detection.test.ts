// NAT detection in the public-key key exchange (exchange/nat-detection.ts,
// docs/key-exchange.md 11.7): both ends see a NAT in front of A, each from
// its own side; without a NAT neither does; with nat-traversal auto the SAs
// send ESP in UDP exactly when one was seen, and a NAT that appears or goes
// away takes effect with the next SA pair; altered detection data fails the
// message's tag (refused, counted, nothing installed); an on-path rewrite of
// the addresses is detected (it is a NAT), never hidden; routes without a
// peer (NNpsk0, vita-ske) refuse auto.
import crypto from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MessageType } from '../controlplane/exchange/messages.js';
import { detectNat, natDetectionData } from '../controlplane/exchange/nat-detection.js';
import { QueueNumber, RouteSpi, type KeyManagerConfig } from '../controlplane/exchange/types.js';
import { ConfigError, KeyManager } from '../controlplane/keymanager.js';
import { FakeClock, RecordingSink, outboundWorks, silent, type Side } from './keymanager-harness.js';
import { A, B, NAT_T, NatWorld, ROUTE, privB, type Wire } from './support/nat-world.js';

const Q = QueueNumber(1);
const outOf = (s: Side) => s.sink.outbound.get('peer/1') as unknown as { spi: number; udpSourcePort?: number; udpDestinationPort?: number };
const up = (w: NatWorld) => outboundWorks(w.a, w.b) && outboundWorks(w.b, w.a);
const type = (w: Wire) => w.payload[4];

describe('NAT detection digests', () => {
  const nonce = crypto.randomBytes(32);
  const at = { address: '192.0.2.1', port: 4500 };
  it('match the endpoint they were made for, in any spelling of its address, and nothing else', () => {
    const data = natDetectionData(nonce, at, { address: '198.51.100.2', port: 4500 });
    expect(detectNat(nonce, data, { address: '::ffff:192.0.2.1', port: 4500 }, { address: '198.51.100.2', port: 4500 })).toEqual({ remote: false, local: false });
    expect(detectNat(nonce, data, { address: '192.0.2.1', port: 4501 }, { address: '198.51.100.2', port: 4500 })).toEqual({ remote: true, local: false });
    expect(detectNat(nonce, data, at, { address: '198.51.100.3', port: 4500 })).toEqual({ remote: false, local: true });
    // As docs/key-exchange.md 11.7 defines them, computed here with Node's BLAKE2s directly.
    const reference = (address: Buffer, port: number) => crypto.createHash('blake2s256')
      .update(Buffer.concat([Buffer.from('vitesse-ske nat-d'), nonce, address, Buffer.from([port >> 8, port & 0xff])])).digest().subarray(0, 16);
    const v4 = (a: number[]) => Buffer.from([...Array(10).fill(0), 0xff, 0xff, ...a]);
    expect(data).toEqual(Buffer.concat([reference(v4([192, 0, 2, 1]), 4500), reference(v4([198, 51, 100, 2]), 4500)]));
    const v6 = natDetectionData(nonce, { address: '2001:db8::1', port: 61001 }, at);
    expect(v6.subarray(0, 16)).toEqual(reference(Buffer.from('20010db8000000000000000000000001', 'hex'), 61001));
    // Bound to the negotiation's nonce: the same endpoints under another nonce do not match.
    expect(detectNat(crypto.randomBytes(32), data, at, { address: '198.51.100.2', port: 4500 })).toEqual({ remote: true, local: true });
  });
});

describe('key manager: NAT detection (public-key routes)', () => {
  it('a NAT in front of A: A sees it in front of itself, B in front of A; with auto, both send ESP in UDP', () => {
    const w = new NatWorld({ natTraversal: { a: 'auto', b: 'auto' } });
    w.run(100);
    expect(up(w)).toBe(true);
    expect(w.a.km.natDetected(ROUTE, Q)).toBe(true);
    expect(w.b.km.natDetected(ROUTE, Q)).toBe(true);
    expect(outOf(w.a)).toMatchObject({ udpSourcePort: NAT_T, udpDestinationPort: NAT_T });
    expect(outOf(w.b)).toMatchObject({ udpSourcePort: NAT_T, udpDestinationPort: w.outside.port });
    // The exchange ran on the NAT-T port from the first message (so it shares the NAT's binding with ESP).
    for (const x of w.log) expect(x.to.port === NAT_T || x.from.port === NAT_T).toBe(true);
    expect(w.log.filter((x) => x.to.address === B).every((x) => x.to.port === NAT_T)).toBe(true);
    expect(w.a.km.counters.rxerrors + w.b.km.counters.rxerrors).toBe(0);
  });

  it('no NAT: neither end sees one; with auto the SAs send plain ESP, though the exchange runs on the NAT-T port', () => {
    const w = new NatWorld({ nat: false, natTraversal: { a: 'auto', b: 'auto' } });
    w.run(100);
    expect(up(w)).toBe(true);
    expect(w.a.km.natDetected(ROUTE, Q)).toBe(false);
    expect(w.b.km.natDetected(ROUTE, Q)).toBe(false);
    for (const s of [w.a, w.b]) {
      expect(outOf(s).udpSourcePort).toBeUndefined();
      expect(outOf(s).udpDestinationPort).toBeUndefined();
    }
    expect(w.log.length).toBeGreaterThan(0);
    for (const x of w.log) expect([x.from.port, x.to.port]).toEqual([NAT_T, NAT_T]);
  });

  it('force: ESP in UDP whether or not a NAT is seen (and the detection still reported)', () => {
    const w = new NatWorld({ nat: false, natTraversal: { a: 'force', b: 'force' } });
    w.run(100);
    expect(up(w)).toBe(true);
    expect(w.a.km.natDetected(ROUTE, Q)).toBe(false);
    for (const s of [w.a, w.b]) expect(outOf(s)).toMatchObject({ udpSourcePort: NAT_T, udpDestinationPort: NAT_T });
  });

  it('one end auto, the other force: each end\'s outbound follows its own setting', () => {
    const w = new NatWorld({ nat: false, natTraversal: { a: 'auto', b: 'force' } });
    w.run(100);
    expect(up(w)).toBe(true);
    expect(outOf(w.a).udpSourcePort).toBeUndefined();
    expect(outOf(w.b)).toMatchObject({ udpSourcePort: NAT_T });
  });

  it('the NAT goes away, then comes back: each next SA pair follows its own negotiation\'s detection; each change logged once', () => {
    const lines: { gw: string; msg: string; natDetected?: boolean; local?: boolean; remote?: boolean }[] = [];
    const logger = pino({ level: 'info' }, { write: (t: string) => { lines.push(JSON.parse(t)); } });
    const w = new NatWorld({ natTraversal: { a: 'auto', b: 'auto' }, logger });
    w.run(100);
    expect(outOf(w.a).udpSourcePort).toBe(NAT_T);
    const natSpi = outOf(w.a).spi;
    w.nat = false; // A now reaches B directly (B learns A's own address from its next authenticated message)
    w.run(3000); // sa-ttl 2 s: rekeyed at least once
    expect(outOf(w.a).spi).not.toBe(natSpi);
    expect(w.a.km.natDetected(ROUTE, Q)).toBe(false);
    expect(w.b.km.natDetected(ROUTE, Q)).toBe(false);
    for (const s of [w.a, w.b]) expect(outOf(s).udpSourcePort).toBeUndefined();
    expect(up(w)).toBe(true);
    const plainSpi = outOf(w.a).spi;
    w.nat = true;
    w.outside = { address: '203.0.113.8', port: 40002 };
    w.run(3000);
    expect(outOf(w.a).spi).not.toBe(plainSpi);
    expect(w.a.km.natDetected(ROUTE, Q)).toBe(true);
    expect(w.b.km.natDetected(ROUTE, Q)).toBe(true);
    expect(outOf(w.a)).toMatchObject({ udpSourcePort: NAT_T });
    expect(outOf(w.b)).toMatchObject({ udpSourcePort: NAT_T, udpDestinationPort: 40002 });
    expect(up(w)).toBe(true);
    // Through many rekeys, each end said it three times: detected, gone, detected again.
    const said = (gw: string) => lines.filter((l) => l.gw === gw && /NAT/.test(l.msg)).map((l) => [l.msg, l.local, l.remote]);
    expect(said('A')).toEqual([['NAT detected', true, false], ['NAT no longer detected', false, false], ['NAT detected', true, false]]);
    expect(said('B')).toEqual([['NAT detected', false, true], ['NAT no longer detected', false, false], ['NAT detected', false, true]]);
  });

  for (const which of ['proposal', 'agreement'] as const) {
    it(`altered detection data in the ${which} fails its tag: refused (authentication), nothing installed from it`, () => {
      const t = which === 'proposal' ? MessageType.proposal : MessageType.agreement;
      let altered = 0;
      const w = new NatWorld({
        nat: false,
        natTraversal: { a: 'auto', b: 'auto' },
        tamper: (x) => {
          if (type(x) !== t) return x;
          // The detection data is the payload's last 32 octets before the 16-octet tag:
          // an attacker who wants "no NAT" / "NAT" changes them.
          const p = Buffer.from(x.payload);
          p[p.length - 16 - 1] ^= 0x01;
          altered++;
          return { ...x, payload: p };
        },
      });
      w.run(300);
      expect(altered).toBeGreaterThan(0);
      // Both ends initiate (each needs its own confirmed pair), so each refuses the other's.
      expect(w.a.km.counters.authentication_errors + w.b.km.counters.authentication_errors).toBe(altered);
      expect(w.a.sink.outbound.size + w.b.sink.outbound.size).toBe(0);
      expect(w.a.km.natDetected(ROUTE, Q)).toBeNull();
    });
  }

  it('an on-path attacker rewriting the outer addresses cannot hide it: it is a NAT, and detected as one', () => {
    // Rewrites the source port of A's messages, and back the destination of the answers (as a NAT
    // would): B sees it in A's messages, A in B's (the agreement's digest of where B sent it).
    const w = new NatWorld({
      nat: false,
      natTraversal: { a: 'auto', b: 'auto' },
      tamper: (x) => {
        if (x.from.address === A) return { ...x, from: { address: A, port: 41000 } };
        if (x.to.address === A && x.to.port === 41000) return { ...x, to: { address: A, port: NAT_T } };
        return x;
      },
    });
    w.run(100);
    expect(up(w)).toBe(true);
    expect(w.b.km.natDetected(ROUTE, Q)).toBe(true);
    expect(w.a.km.natDetected(ROUTE, Q)).toBe(true);
  });

  it('routes without a peer refuse auto: NNpsk0 (its prologue binds the configured addresses) and vita-ske-v5', () => {
    const mk = (r: object) => new KeyManager(
      { saTtl: 2, negotiationTtl: 0.5, privateKey: privB, routes: [{ id: ROUTE, spi: RouteSpi(7), aead: 'aes-gcm-16-icv', queues: [{ queue: Q, localAddress: B, gatewayAddress: A }], ...r }] as KeyManagerConfig['routes'] },
      { sink: new RecordingSink(new FakeClock()), transport: { send() {} }, logger: silent },
    );
    expect(() => mk({ preSharedKey: crypto.randomBytes(32), natTraversal: 'auto' })).toThrow(/nat-traversal: auto needs NAT detection/);
    expect(() => mk({ preSharedKey: crypto.randomBytes(32), natTraversal: 'auto', protocol: 'vita-ske-v5' })).toThrow(ConfigError);
    // force stays available to NNpsk0 routes, as before (explicit addresses at both ends).
    expect(() => mk({ preSharedKey: crypto.randomBytes(32), natTraversal: 'force' })).not.toThrow();
  });
});
