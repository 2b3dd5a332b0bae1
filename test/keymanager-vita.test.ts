// vita-ske v5 between two of our key managers over the in-memory network
// (test/keymanager-harness.ts): our initiator against our responder and the
// other way round, rollover under a numbered stream, Vita's lifecycle
// timing, and refusals counted (wrong PSK, wrong route SPI, truncated,
// replayed and forged messages, low-order keys). The §12 example checks the
// wire against Vita's own octets (vita-ske-example.test.ts); this checks the
// behaviour around it.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { hash, encrypt, hkdf } from '../controlplane/exchange/primitives.js';
import { protocolName } from '../controlplane/exchange/noise.js';
import { MessageType } from '../controlplane/exchange/messages.js';
import { RouteId, RouteSpi } from '../controlplane/exchange/types.js';
import { KeyManager } from '../controlplane/keymanager.js';
import { vitaAddress, vitaPrologue } from '../controlplane/vita-ske/protocol.js';
import { udpChecksum } from '../controlplane/vita-ske/checksum.js';
import { encodeKnock } from '../controlplane/vita-ske/messages.js';
import {
  FakeClock, Network, PSK, RecordingSink, outboundWorks, routeTo, silent, world, type Datagram, type World,
} from './keymanager-harness.js';

const VITA = { protocol: 'vita-ske-v5' as const };
const vitaWorld = (o: Parameters<typeof world>[0] = {}) =>
  world({ ...o, routeA: { ...VITA, ...o.routeA }, routeB: { ...VITA, ...o.routeB } });
const sent = (w: World, type: number) => w.net.log.filter((d) => d.payload[4] === type);

describe('vita-ske v5 between our own key managers (memory wires)', () => {
  it('knock → challenge → proposal → agreement in Vita\'s lengths; SAs work both ways', () => {
    const w = vitaWorld();
    w.run(200);
    expect(outboundWorks(w.a, w.b)).toBe(true);
    expect(outboundWorks(w.b, w.a)).toBe(true);
    expect(sent(w, MessageType.knock).every((d) => d.payload.length === 12)).toBe(true);
    expect(sent(w, MessageType.challenge).every((d) => d.payload.length === 76)).toBe(true);
    expect(sent(w, MessageType.proposal).every((d) => d.payload.length === 88)).toBe(true);
    expect(sent(w, MessageType.agreement).every((d) => d.payload.length === 88)).toBe(true);
    expect(sent(w, MessageType.knock).length).toBeGreaterThan(0);
    // Replies go to the configured gateway address, port 303.
    expect(w.net.log.every((d) => d.to.port === 303)).toBe(true);
    for (const s of [w.a, w.b]) {
      expect(s.km.counters.rxerrors).toBe(0);
      expect(s.km.counters.keypairs_negotiated + s.km.counters.keypairs_offered).toBeGreaterThan(0);
      // AES-128-GCM: key (16) ‖ salt (4).
      for (const sa of s.sink.inbound.values()) expect(sa.keymat.length).toBe(20);
    }
  });

  it('over IPv6 and with two queues (one exchange per queue, each with its own addresses)', () => {
    const w = vitaWorld({ addressA: '2001:db8:a::1', addressB: '2001:db8:b::1', routeA: { queues: 2 }, routeB: { queues: 2 } });
    w.run(300);
    for (const q of ['peer/1', 'peer/2']) {
      expect(outboundWorks(w.a, w.b, q)).toBe(true);
      expect(outboundWorks(w.b, w.a, q)).toBe(true);
    }
    expect(w.a.km.counters.rxerrors + w.b.km.counters.rxerrors).toBe(0);
  });

  it('each role against the other: only A initiates, only B initiates', () => {
    for (const [initiator, responder] of [['a', 'b'], ['b', 'a']] as const) {
      const w = vitaWorld();
      // The responder side never starts: its knocks are lost.
      w.net.lose = (d) => d.payload[4] === MessageType.knock && d.from.address === w[responder].address;
      w.run(200);
      expect(w[initiator].km.counters.keypairs_negotiated).toBe(1);
      expect(w[responder].km.counters.keypairs_offered).toBe(1);
      expect(outboundWorks(w.a, w.b)).toBe(true);
      expect(outboundWorks(w.b, w.a)).toBe(true);
    }
  });

  it('a lost agreement: the initiator retries under the same SPI and the responder\'s outbound SA is updated', () => {
    const w = vitaWorld({ config: { saTtl: 60, negotiationTtl: 1 } });
    let lost = 0;
    w.net.lose = (d) => (d.payload[4] === MessageType.knock && d.from.address === w.b.address)
      || (d.payload[4] === MessageType.agreement && lost++ === 0);
    w.run(3000);
    expect(lost).toBeGreaterThanOrEqual(2);
    expect(w.a.km.counters.negotiations_expired).toBe(1);
    expect(w.b.km.counters.outbound_sa_updated).toBe(1);
    expect(w.b.km.counters.keypairs_offered).toBe(2);
    expect(outboundWorks(w.a, w.b)).toBe(true);
    expect(outboundWorks(w.b, w.a)).toBe(true);
  });

  it('rollover every 2 s under a numbered stream: no packet without an SA the peer can decrypt', () => {
    // sa-ttl 4 s: rekey at 2..2.5 s; activation after min(1.5 × negotiation-ttl, 3/16 sa-ttl) = 0.75 s.
    const w = vitaWorld({ config: { saTtl: 4, negotiationTtl: 1 } });
    w.run(100);
    let sent = 0, lost = 0;
    const outbound = new Set<number>();
    w.run(30_000, 10, () => {
      for (const [from, to] of [[w.a, w.b], [w.b, w.a]] as const) {
        sent++; // packet number `sent`, sent on the active outbound SA at this moment
        const out = from.sink.outbound.get('peer/1');
        if (out) outbound.add(out.spi);
        if (!outboundWorks(from, to)) lost++;
      }
    });
    expect(sent).toBe(6000);
    expect(lost).toBe(0);
    // About one SA pair per 2–2.5 s and direction over 30 s.
    expect(outbound.size).toBeGreaterThanOrEqual(2 * 10);
    expect(w.a.km.counters.rxerrors + w.b.km.counters.rxerrors).toBe(0);
  });

  it('Vita\'s lifecycle timing: later SAs activate 1.5 × negotiation-ttl after agreement; rekey at sa-ttl/2 + sa-ttl/8·U', () => {
    for (const u of [0, 0.999]) {
      const w = vitaWorld({ config: { saTtl: 600, negotiationTtl: 5 }, options: { random: () => u } });
      w.run(100);
      const first = w.a.sink.outbound.get('peer/1')!;
      const t0 = w.clock.t;
      const before = w.a.sink.events.length;
      w.run(600_000, 100);
      const ev = w.a.sink.events.slice(before);
      // (Both ends negotiated at start; the second pair's activation is not the rekey.)
      const nextIn = ev.find((e) => e.kind === 'in+' && e.at > t0 + 200_000)!;
      const nextOut = ev.find((e) => e.kind === 'out+' && e.at >= nextIn.at && e.spi !== first.spi)!;
      // Rekey: sa-ttl/2 + sa-ttl/8 · u after the first pair (± one step).
      expect(Math.abs(nextIn.at - (t0 + 300_000 + 75_000 * u))).toBeLessThanOrEqual(200);
      // Activation of the new outbound SA: 1.5 × 5 s after it was negotiated.
      expect(nextOut.at - nextIn.at).toBeGreaterThanOrEqual(7_500);
      expect(nextOut.at - nextIn.at).toBeLessThanOrEqual(7_600);
    }
  });

  it('wrong PSK: proposals refused as authentication-errors, no SA', () => {
    const other = Buffer.alloc(32, 7);
    const w = vitaWorld({ routeB: { preSharedKey: other } });
    w.run(2000);
    expect(w.a.sink.inbound.size + w.b.sink.inbound.size).toBe(0);
    expect(w.a.km.counters.authentication_errors).toBeGreaterThan(0);
    expect(w.b.km.counters.authentication_errors).toBeGreaterThan(0);
    expect(w.a.km.counters.keypairs_offered + w.b.km.counters.keypairs_offered).toBe(0);
  });

  it('wrong route SPI: route-errors', () => {
    const w = vitaWorld({ routeB: { spi: RouteSpi(1002) } });
    w.run(500);
    expect(w.a.km.counters.route_errors).toBeGreaterThan(0);
    expect(w.b.km.counters.route_errors).toBeGreaterThan(0);
    expect(w.a.sink.inbound.size + w.b.sink.inbound.size).toBe(0);
  });

  it('truncated, extended and retyped messages: protocol-errors, nothing changes', () => {
    const w = vitaWorld();
    w.run(200);
    const recorded = [MessageType.knock, MessageType.challenge, MessageType.proposal, MessageType.agreement]
      .map((t) => sent(w, t)[0]);
    const state = JSON.stringify([w.a.km.state(), w.b.km.state()]);
    const before = w.b.km.counters.protocol_errors;
    let n = 0;
    for (const d of recorded) {
      for (const m of [d.payload.subarray(0, d.payload.length - 1), Buffer.concat([d.payload, Buffer.alloc(1)]), d.payload.subarray(0, 9)]) {
        w.b.km.receive({ address: w.a.address, port: 303 }, m, { address: w.b.address, port: 303 });
        n++;
      }
      const retyped = Buffer.from(d.payload);
      retyped[4] = 15;
      w.b.km.receive({ address: w.a.address, port: 303 }, retyped, { address: w.b.address, port: 303 });
      n++;
    }
    expect(w.b.km.counters.protocol_errors - before).toBe(n);
    expect(JSON.stringify([w.a.km.state(), w.b.km.state()])).toBe(state);
  });

  it('replayed proposal and agreement, out-of-state challenge: refused and counted', () => {
    const w = vitaWorld();
    w.net.lose = (d) => d.payload[4] === MessageType.knock && d.from.address === w.b.address; // A initiates
    w.run(200);
    const proposal = sent(w, MessageType.proposal)[0];
    const agreement = sent(w, MessageType.agreement)[0];
    const challenge = sent(w, MessageType.challenge)[0];
    const c = { ...w.b.km.counters };
    const inB = w.b.sink.inbound.size;
    w.b.km.receive(proposal.from, proposal.payload, proposal.to);
    expect(w.b.km.counters.authentication_errors - c.authentication_errors).toBe(1); // the nonce was renewed
    expect(w.b.sink.inbound.size).toBe(inB);
    const ca = { ...w.a.km.counters };
    w.a.km.receive(agreement.from, agreement.payload, agreement.to); // A awaits none
    w.a.km.receive(challenge.from, challenge.payload, challenge.to); // nor a challenge
    expect(w.a.km.counters.protocol_errors - ca.protocol_errors).toBe(2);
    expect(w.net.queue.length).toBe(0); // nothing answered
  });

  it('a replayed challenge (a nonce one of our exchanges completed with) is refused while we wait; the genuine one is taken', () => {
    const w = vitaWorld({ config: { saTtl: 4, negotiationTtl: 1 } });
    w.net.lose = (d) => d.payload[4] === MessageType.knock && d.from.address === w.b.address; // A initiates
    w.run(100);
    const old = sent(w, MessageType.challenge).filter((d) => d.to.address === w.a.address);
    expect(old.length).toBe(1);
    // The next negotiation (A's rekey), with B's challenges held back.
    w.net.lose = (d) => d.payload[4] === MessageType.challenge || (d.payload[4] === MessageType.knock && d.from.address === w.b.address);
    while (w.a.km.state()[0].negotiation !== 'awaiting-challenge') w.run(10);
    const genuine = sent(w, MessageType.challenge).at(-1)!;
    expect(genuine.payload.equals(old[0].payload)).toBe(false); // B renewed its nonce
    const before = { ...w.a.km.counters };
    w.a.km.receive(old[0].from, old[0].payload, old[0].to);
    expect(w.a.km.counters.authentication_errors - before.authentication_errors).toBe(1);
    expect(w.a.km.state()[0].negotiation).toBe('awaiting-challenge');
    w.net.lose = () => false;
    w.a.km.receive(genuine.from, genuine.payload, genuine.to);
    w.net.flush();
    expect(w.a.km.counters.keypairs_negotiated - before.keypairs_negotiated).toBe(1);
  });

  it('a forged challenge with a wrong version or AEAD: version-errors, parameter-errors', () => {
    const w = vitaWorld();
    w.net.lose = (d) => d.payload[4] === MessageType.challenge || (d.payload[4] === MessageType.knock && d.from.address === w.b.address);
    w.run(20); // A knocked and awaits a challenge
    const knock = sent(w, MessageType.knock).find((d) => d.from.address === w.a.address)!;
    expect(knock).toBeDefined();
    const ch = Buffer.alloc(76);
    ch.writeUInt32BE(1001, 0); ch[4] = 12; ch.writeUInt32BE(4, 8); ch.write('aes-gcm-16-icv', 12, 'ascii');
    const from = { address: w.b.address, port: 303 }, to = { address: w.a.address, port: 303 };
    w.a.km.receive(from, ch, to);
    expect(w.a.km.counters.version_errors).toBe(1);
    ch.writeUInt32BE(5, 8); ch[43] = 1; // the AEAD field's last (padding) octet
    w.a.km.receive(from, ch, to);
    expect(w.a.km.counters.parameter_errors).toBe(1);
    ch[43] = 0;
    w.a.km.receive(from, ch, to); // well-formed: taken (no cookie in vita-ske)
    expect(w.a.km.counters.challenges_accepted).toBe(1);
    expect(w.a.km.state()[0].negotiation).toBe('awaiting-agreement');
  });

  it('reserved octets and the knock\'s version are not checked (as Vita); a knock changes no state', () => {
    const w = vitaWorld();
    w.net.lose = () => true;
    const knock = Buffer.from('000003e90bffffff00000063', 'hex'); // reserved ff, version 99
    w.b.km.receive({ address: w.a.address, port: 40000 }, knock, { address: w.b.address, port: 303 });
    expect(w.b.km.counters.challenges_offered).toBe(1);
    const answer = w.net.log.at(-1)!;
    expect(answer.payload.length).toBe(76);
    expect(answer.to).toEqual({ address: w.a.address, port: 303 }); // the gateway's port, not the source's
    w.b.km.receive({ address: w.a.address, port: 303 }, knock, { address: w.b.address, port: 303 });
    expect(w.net.log.at(-1)!.payload.equals(answer.payload)).toBe(true); // the same nonce until an exchange completes
  });

  it('a low-order ephemeral key in an authentic proposal: public-key-errors, no SA', () => {
    const w = vitaWorld();
    w.net.lose = () => true;
    // Message 1 written by hand (the PSK holder chooses e = 0, a low-order point).
    const e = Buffer.alloc(32);
    const nonce = (() => {
      w.b.km.receive({ address: w.a.address, port: 303 }, Buffer.from('000003e90b00000000000005', 'hex'), { address: w.b.address, port: 303 });
      return w.net.log.at(-1)!.payload.subarray(44);
    })();
    let h: Buffer = hash(Buffer.from(protocolName('NNpsk0')));
    let ck: Buffer = Buffer.from(h);
    h = hash(h, vitaPrologue(1001, vitaAddress(w.a.address)!, vitaAddress(w.b.address)!, nonce));
    const [ck1, th, k0] = hkdf(ck, PSK, 3);
    ck = ck1; h = hash(h, th); void k0;
    h = hash(h, e);
    const [ck2, k] = hkdf(ck, e, 2);
    void ck2;
    const payload = Buffer.alloc(32); payload.writeUInt32BE(4242);
    const c = encrypt(k, 0, h, payload);
    const m = Buffer.concat([Buffer.from('000003e90d000000', 'hex'), e, c]);
    w.b.km.receive({ address: w.a.address, port: 303 }, m, { address: w.b.address, port: 303 });
    expect(w.b.km.counters.public_key_errors).toBe(1);
    expect(w.b.km.counters.authentication_errors).toBe(0); // it did authenticate
    expect(w.b.sink.inbound.size).toBe(0);
  });

  it('an agreement with a low-order ephemeral key: public-key-errors before any AEAD; the genuine one still completes', () => {
    const w = vitaWorld();
    w.net.lose = (d) => d.payload[4] === MessageType.agreement || (d.payload[4] === MessageType.knock && d.from.address === w.b.address);
    w.a.km.tick();
    w.net.flush();
    expect(w.a.km.state()[0].negotiation).toBe('awaiting-agreement');
    const genuine = sent(w, MessageType.agreement)[0];
    const forged = Buffer.concat([Buffer.from('000003e90e000000', 'hex'), Buffer.alloc(32), Buffer.alloc(48, 0x17)]);
    w.a.km.receive(genuine.from, forged, genuine.to);
    expect(w.a.km.counters.public_key_errors).toBe(1);
    expect(w.a.km.counters.authentication_errors).toBe(0);
    expect(w.a.km.state()[0].negotiation).toBe('awaiting-agreement');
    w.a.km.receive(genuine.from, genuine.payload, genuine.to);
    expect(w.a.km.counters.keypairs_negotiated).toBe(1);
    expect(outboundWorks(w.a, w.b)).toBe(true);
  });

  it('forged proposals: reading them costs the knock budget only; our own negotiations go on, the genuine budget is untouched', () => {
    const w = vitaWorld({ options: { rateLimit: { perSecond: 2, burst: 4 } } });
    w.net.lose = (d) => d.payload[4] === MessageType.knock && d.from.address === w.a.address; // B initiates
    const forged = Buffer.concat([Buffer.from('000003e90d000000', 'hex'), Buffer.alloc(80, 0x42)]);
    w.run(2000, 10, () => {
      for (let i = 0; i < 50; i++) w.b.km.receive({ address: w.a.address, port: 303 }, forged, { address: w.b.address, port: 303 });
    });
    const c = w.b.km.counters;
    // 10,000 forgeries; only the budget's worth were read (burst 4, 2/s: at most 8 in 2 s).
    expect(c.proposals_ratelimited + c.authentication_errors).toBe(50 * 200);
    expect(c.authentication_errors).toBeLessThanOrEqual(8);
    expect(c.proposals_ratelimited).toBeGreaterThanOrEqual(50 * 200 - 8);
    expect(c.ratelimited).toBe(0);
    // B's own negotiations with A went through, and gave SAs both ways.
    expect(c.keypairs_negotiated).toBeGreaterThanOrEqual(1);
    expect(outboundWorks(w.a, w.b)).toBe(true);
    expect(outboundWorks(w.b, w.a)).toBe(true);
  });

  it('forged proposals under the budget spend none of the genuine budget: a flood below it does not stop the genuine exchange', () => {
    const w = vitaWorld({ options: { rateLimit: { perSecond: 1000, burst: 1000 } } });
    w.net.lose = (d) => d.payload[4] === MessageType.knock && d.from.address === w.b.address; // A initiates
    const forged = Buffer.concat([Buffer.from('000003e90d000000', 'hex'), Buffer.alloc(80, 0x42)]);
    w.run(200, 10, () => {
      for (let i = 0; i < 5; i++) w.b.km.receive({ address: w.a.address, port: 303 }, forged, { address: w.b.address, port: 303 });
    });
    expect(w.b.km.counters.authentication_errors).toBe(100);
    expect(w.b.km.counters.proposals_ratelimited).toBe(0);
    expect(w.b.km.counters.keypairs_offered).toBe(1);
    expect(outboundWorks(w.a, w.b)).toBe(true);
  });

  it('a knock flood is answered within the knock budget only (knocks-ratelimited)', () => {
    const w = vitaWorld({ options: { rateLimit: { perSecond: 2, burst: 4 } } });
    w.net.lose = () => true;
    const knock = Buffer.from('000003e90b00000000000005', 'hex');
    for (let i = 0; i < 100; i++) w.b.km.receive({ address: w.a.address, port: 303 }, knock, { address: w.b.address, port: 303 });
    expect(w.b.km.counters.challenges_offered).toBe(4);
    expect(w.b.km.counters.knocks_ratelimited).toBe(96);
  });
});

describe('UDP checksum 0, which Vita refuses', () => {
  it('a knock whose UDP checksum would be 0 goes with a reserved octet changed; the exchange completes', () => {
    const [A, B] = ['192.0.2.1', '198.51.100.2'];
    let spi = 256;
    while (udpChecksum(encodeKnock(spi), A, B, 303, 303) !== 0) spi++;
    const w = vitaWorld({ addressA: A, addressB: B, routeA: { spi: RouteSpi(spi) }, routeB: { spi: RouteSpi(spi) } });
    w.run(200);
    // Both ends' knocks (the pseudo-header's sum does not depend on the direction).
    const knocks = sent(w, MessageType.knock);
    expect(new Set(knocks.map((k) => k.from.address))).toEqual(new Set([A, B]));
    for (const k of knocks) {
      expect(k.payload[7]).toBe(1);
      expect(udpChecksum(k.payload, k.from.address, k.to.address, 303, 303)).not.toBe(0);
    }
    expect(outboundWorks(w.a, w.b)).toBe(true);
    expect(outboundWorks(w.b, w.a)).toBe(true);
    // Every other message went as encoded (reserved octets zero).
    expect(w.net.log.filter((d) => !knocks.includes(d)).every((d) => d.payload.subarray(5, 8).equals(Buffer.alloc(3)))).toBe(true);
  });
});

describe('routes of both protocols on one gateway', () => {
  it('a route whose ends disagree on the protocol: no SA, refusals counted, and each end says what the other speaks (once a minute)', () => {
    const lines: { msg: string; peer?: string; protocol?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const w = world({ routeA: VITA, optionsA: { logger }, optionsB: { logger } });
    w.run(3000);
    expect(w.a.sink.inbound.size + w.b.sink.inbound.size).toBe(0);
    // A (vita-ske-v5) reads B's 44-octet knocks as malformed; B reads A's (version octet 0) as another version.
    expect(w.a.km.counters.protocol_errors).toBeGreaterThan(0);
    expect(w.b.km.counters.version_errors).toBeGreaterThan(0);
    const hints = lines.filter((l) => l.msg.includes('set the same protocol at both ends'));
    expect(hints.map((l) => [l.protocol, l.peer]).sort()).toEqual([['vita-ske-v5', 'vitesse-ske'], ['vitesse-ske', 'vita-ske-v5']]);
  });

  it('changing a route\'s protocol drops its SAs and negotiates anew in the other protocol', () => {
    const w = world({ config: { saTtl: 4, negotiationTtl: 1 } });
    w.run(200);
    const old = w.a.sink.outbound.get('peer/1')!.spi;
    const knocks = sent(w, MessageType.knock).length;
    for (const s of [w.a, w.b]) {
      const peer = s === w.a ? w.b : w.a;
      s.km.configure({ saTtl: 4, negotiationTtl: 1, routes: [routeTo(peer.address, s.address, VITA)] }, [RouteId('peer')]);
    }
    w.run(200);
    expect(w.a.sink.inbound.has(old)).toBe(false);
    expect(outboundWorks(w.a, w.b)).toBe(true);
    expect(outboundWorks(w.b, w.a)).toBe(true);
    expect(sent(w, MessageType.knock).slice(knocks).every((d) => d.payload.length === 12)).toBe(true);
    expect(w.a.km.counters.rxerrors + w.b.km.counters.rxerrors).toBe(0);
  });

  it('one key manager speaks vitesse-ske to one peer and vita-ske-v5 to another, on the same port', () => {
    const clock = new FakeClock();
    const net = new Network(clock);
    const config = { saTtl: 4, negotiationTtl: 1 };
    const mk = (address: string, routes: ReturnType<typeof routeTo>[]) => {
      const sink = new RecordingSink(clock);
      const km = new KeyManager({ ...config, routes }, { sink, transport: net.transport(), clock, logger: silent });
      net.attach(address, km);
      return { km, sink, address };
    };
    const A = '192.0.2.1', B = '198.51.100.2', C = '203.0.113.3';
    const a = mk(A, [
      routeTo(B, A, { id: RouteId('ours'), spi: RouteSpi(1001) }),
      routeTo(C, A, { id: RouteId('vita'), spi: RouteSpi(2002), preSharedKey: Buffer.alloc(32, 9), ...VITA }),
    ]);
    const b = mk(B, [routeTo(A, B, { id: RouteId('ours'), spi: RouteSpi(1001) })]);
    const c = mk(C, [routeTo(A, C, { id: RouteId('vita'), spi: RouteSpi(2002), preSharedKey: Buffer.alloc(32, 9), ...VITA })]);
    for (let t = 0; t < 10_000; t += 10) {
      clock.t += 10;
      a.km.tick(); b.km.tick(); c.km.tick();
      net.flush();
    }
    expect(outboundWorks(a, b, 'ours/1')).toBe(true);
    expect(outboundWorks(b, a, 'ours/1')).toBe(true);
    expect(outboundWorks(a, c, 'vita/1')).toBe(true);
    expect(outboundWorks(c, a, 'vita/1')).toBe(true);
    const lengths = (to: string) => new Set(net.log.filter((d: Datagram) => d.to.address === to || d.from.address === to).map((d) => d.payload.length));
    expect([...lengths(C)].sort()).toEqual([12, 76, 88]);
    expect(lengths(B).has(12)).toBe(false);
    for (const s of [a, b, c]) expect(s.km.counters.rxerrors).toBe(0);
    // A vita-ske knock on the vitesse-ske route, and ours on the vita route: protocol-errors.
    a.km.receive({ address: B, port: 303 }, Buffer.from('000003e90b00000000000005', 'hex'), { address: A, port: 303 });
    const ourKnock = net.log.find((d) => d.from.address === B && d.payload[4] === MessageType.knock)!.payload;
    const onVita = Buffer.from(ourKnock); onVita.writeUInt32BE(2002, 0);
    a.km.receive({ address: C, port: 303 }, onVita, { address: A, port: 303 });
    // (Our knock's version octet is 0 in Vita's: version-errors, as for any other version.)
    expect(a.km.counters.version_errors).toBe(1);
    expect(a.km.counters.protocol_errors).toBe(1);
  });
});

