// vita-ske v5's worked example (test/vectors/vita-ske/example-v5.json, from
// the specification's §12, which Vita's own code reproduces) recomputed
// octet for octet by our responder and our initiator, each with the
// example's nonce and ephemeral keys injected through the constructor's
// random source: if anything on the wire or in the key derivation drifts
// from Vita, this fails.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileConfig, type ExchangeParams } from '../controlplane/exchange/config.js';
import { hash } from '../controlplane/exchange/primitives.js';
import { SpiAllocator } from '../controlplane/exchange/spi.js';
import { QueueNumber, RouteId, RouteSpi, Spi } from '../controlplane/exchange/types.js';
import { HandshakeState, protocolName } from '../controlplane/exchange/noise.js';
import { VitaInitiator } from '../controlplane/vita-ske/initiator.js';
import { encodeChallenge, encodeKnock } from '../controlplane/vita-ske/messages.js';
import { NOISE_PATTERN, vitaAddress, vitaOkm, vitaPrologue } from '../controlplane/vita-ske/protocol.js';
import { VitaResponder, type RandomSource } from '../controlplane/vita-ske/responder.js';
import { VECTORS } from './support/vectors.js';
import { FakeClock, Network, RecordingSink, silent } from './keymanager-harness.js';
import { KeyManager } from '../controlplane/keymanager.js';
import { refOpen, refSeal, type RefSa } from './support/esp-reference.js';
import { encapsulateAll, esp, inboundFor, outboundFor } from './support/esp-native.js';
import { randomIpPacket } from './support/ip-packets.js';

const ex = JSON.parse(fs.readFileSync(path.join(VECTORS, 'vita-ske/example-v5.json'), 'utf8'));
const h = (s: string) => Buffer.from(s, 'hex');
const hex = (b: Buffer) => b.toString('hex');
const I = ex.inputs;

function params(local: string, gateway: string): ExchangeParams {
  return compileConfig({
    routes: [{
      id: RouteId('vita'), spi: RouteSpi(I.route_spi), preSharedKey: h(I.psk), aead: 'aes-gcm-16-icv',
      queues: [{ queue: QueueNumber(1), localAddress: local, gatewayAddress: gateway }],
    }],
  }).exchanges[0];
}

/** Hands out the given buffers in order, then fails (the example needs no more). */
function fixed(...values: string[]): RandomSource {
  const left = values.map(h);
  return (n) => {
    const v = left.shift();
    if (!v || v.length !== n) throw new Error(`unexpected random(${n})`);
    return v;
  };
}

/** An SPI allocator that hands out the example's SPI. */
function spisGiving(spi: number): SpiAllocator {
  const a = new SpiAllocator();
  a.allocate = () => Spi(spi);
  return a;
}

describe('vita-ske v5 example (test/vectors/vita-ske/example-v5.json)', () => {
  it('the protocol name hash and the prologue', () => {
    expect(hex(hash(Buffer.from(protocolName(NOISE_PATTERN))))).toBe(ex.protocol_name_hash);
    const pro = vitaPrologue(I.route_spi, vitaAddress(I.initiator_address)!, vitaAddress(I.responder_address)!, h(I.nonce));
    expect(hex(pro)).toBe(ex.prologue);
  });

  it('knock and challenge', () => {
    expect(hex(encodeKnock(I.route_spi))).toBe(ex.knock);
    expect(hex(encodeChallenge(I.route_spi, h(I.nonce)))).toBe(ex.challenge);
  });

  it('both roles: every message and both SAs, octet for octet', () => {
    const initiator = new VitaInitiator(params(I.initiator_address, I.responder_address), fixed(I.initiator_ephemeral));
    // The responder draws its nonce, then its ephemeral key, when created and after each exchange.
    const responder = new VitaResponder(params(I.responder_address, I.initiator_address),
      fixed(I.nonce, I.responder_ephemeral, I.nonce, I.responder_ephemeral));

    expect(hex(initiator.initiate(0, 5000))).toBe(ex.knock);
    expect(hex(responder.challenge())).toBe(ex.challenge);
    const nonce = initiator.checkChallenge(h(ex.challenge));
    expect(nonce.ok).toBe(true);
    const proposal = initiator.receiveChallenge(nonce.ok ? nonce.value : Buffer.alloc(0), 0, 5000, spisGiving(I.initiator_spi), true)!;
    expect(hex(proposal)).toBe(ex.proposal);

    const read = responder.read(h(ex.proposal));
    if (!read.ok) throw new Error(read.reason);
    expect(read.value.theirSpi).toBe(I.initiator_spi);
    const agreed = responder.agree(read.value, spisGiving(I.responder_spi));
    if (!agreed.ok) throw new Error(agreed.reason);
    expect(hex(agreed.value.agreement)).toBe(ex.agreement);

    const got = initiator.receiveAgreement(h(ex.agreement));
    if (!got.ok) throw new Error(got.reason);
    const r2i = ex.responder_to_initiator, i2r = ex.initiator_to_responder;
    // Initiator: inbound = responder → initiator (its own SPI), outbound = initiator → responder.
    expect({ spi: got.value.inbound.spi, keymat: hex(got.value.inbound.keymat) }).toEqual({ spi: r2i.spi, keymat: r2i.key + r2i.salt });
    expect({ spi: got.value.outbound.spi, keymat: hex(got.value.outbound.keymat) }).toEqual({ spi: i2r.spi, keymat: i2r.key + i2r.salt });
    const rp = agreed.value.pair;
    expect({ spi: rp.inbound.spi, keymat: hex(rp.inbound.keymat) }).toEqual({ spi: i2r.spi, keymat: i2r.key + i2r.salt });
    expect({ spi: rp.outbound.spi, keymat: hex(rp.outbound.keymat) }).toEqual({ spi: r2i.spi, keymat: r2i.key + r2i.salt });
    expect(initiator.state).toBe('idle');
  });

  it('the final chaining key, handshake hash and Vita\'s 40-octet split', () => {
    const pro = h(ex.prologue);
    const i = new HandshakeState({ pattern: NOISE_PATTERN, initiator: true, prologue: pro, psk: h(I.psk), ephemeral: h(I.initiator_ephemeral) });
    const r = new HandshakeState({ pattern: NOISE_PATTERN, initiator: false, prologue: pro, psk: h(I.psk), ephemeral: h(I.responder_ephemeral) });
    const payload = (spi: number) => { const p = Buffer.alloc(32); p.writeUInt32BE(spi); return p; };
    r.readMessage(i.writeMessage(payload(I.initiator_spi)));
    i.readMessage(r.writeMessage(payload(I.responder_spi)));
    expect(hex(i.chainingKey())).toBe(ex.final_ck);
    expect(hex(r.chainingKey())).toBe(ex.final_ck);
    expect(hex(i.handshakeHash())).toBe(ex.final_h);
    expect(hex(vitaOkm(h(ex.final_ck)))).toBe(ex.okm);
  });

  it('a replayed proposal no longer authenticates once the exchange completed (new nonce)', () => {
    const responder = new VitaResponder(params(I.responder_address, I.initiator_address),
      fixed(I.nonce, I.responder_ephemeral, '00'.repeat(32).replace(/^00/, 'ff'), I.responder_ephemeral));
    const first = responder.read(h(ex.proposal));
    if (!first.ok) throw new Error(first.reason);
    expect(responder.agree(first.value, spisGiving(I.responder_spi)).ok).toBe(true);
    expect(responder.read(h(ex.proposal))).toEqual({ ok: false, reason: 'authentication' });
  });

  it('ESP under the example\'s SAs as Vita sends and reads it (ESN, IV = sequence number little-endian, zero padding)', () => {
    const r2i = ex.responder_to_initiator, i2r = ex.initiator_to_responder;
    const sa = (x: { spi: number; key: string; salt: string }): RefSa => ({ aead: 'aes-gcm-16-icv', spi: x.spi, keymat: h(x.key + x.salt), esn: true });
    // Vita (responder) → our initiator's inbound SA.
    const inner = [randomIpPacket(4, 61), randomIpPacket(6, 100), randomIpPacket(4, 1400)];
    const fromVita = inner.map((p, i) => {
      const seq = BigInt(i + 1);
      const iv = Buffer.alloc(8);
      iv.writeBigUInt64LE(seq);
      const padding = Buffer.alloc((4 - ((p.length + 2) % 4)) % 4); // zeros, as Vita pads
      return refSeal(sa(r2i), seq, p, { iv, padding });
    });
    const out = esp.decapsulate(inboundFor(sa(r2i)), fromVita);
    expect(out.map((o) => o.result)).toEqual(['ok', 'ok', 'ok']);
    expect(out.map((o) => hex(o.inner!))).toEqual(inner.map(hex));
    // Our initiator's outbound SA → Vita (responder): opened with ESN (seq-high in the AAD).
    const ours = encapsulateAll(outboundFor(sa(i2r)), inner);
    expect(ours.map((e, i) => hex(refOpen(sa(i2r), e, 0)!.content.subarray(0, inner[i].length)))).toEqual(inner.map(hex));
    expect(ours.map((e) => refOpen({ ...sa(i2r), esn: false }, e, 0))).toEqual([null, null, null]);
  });
});

describe('vita-ske v5 example through two key managers', () => {
  it('the four messages on the wire are the example\'s, and both SA pairs its SAs', () => {
    const clock = new FakeClock();
    const net = new Network(clock);
    const side = (local: string, gateway: string, random: RandomSource, spi: number) => {
      const sink = new RecordingSink(clock);
      const km = new KeyManager({
        saTtl: 600, negotiationTtl: 5,
        routes: [{
          id: RouteId('vita'), spi: RouteSpi(I.route_spi), preSharedKey: h(I.psk), aead: 'aes-gcm-16-icv', protocol: 'vita-ske-v5',
          queues: [{ queue: QueueNumber(1), localAddress: local, gatewayAddress: gateway }],
        }],
      }, { sink, transport: net.transport(), clock, logger: silent, vitaRandom: random, spis: spisGiving(spi) });
      net.attach(local, km);
      return { km, sink };
    };
    // The initiator's own responder draws a nonce and a key it never uses here; its initiator then the example's key.
    const initiator = side(I.initiator_address, I.responder_address, fixed('11'.repeat(32), '22'.repeat(32), I.initiator_ephemeral), I.initiator_spi);
    const responder = side(I.responder_address, I.initiator_address, fixed(I.nonce, I.responder_ephemeral, '33'.repeat(32), '44'.repeat(32)), I.responder_spi);
    initiator.km.tick(); // only the initiator starts
    net.flush();
    expect(net.log.map((d) => hex(d.payload))).toEqual([ex.knock, ex.challenge, ex.proposal, ex.agreement]);
    expect(net.log.map((d) => `${d.from.address}:${d.from.port} > ${d.to.address}:${d.to.port}`)).toEqual([
      '10.20.0.2:303 > 10.20.0.1:303', '10.20.0.1:303 > 10.20.0.2:303', '10.20.0.2:303 > 10.20.0.1:303', '10.20.0.1:303 > 10.20.0.2:303',
    ]);
    const r2i = ex.responder_to_initiator, i2r = ex.initiator_to_responder;
    expect(hex(initiator.sink.inbound.get(r2i.spi)!.keymat)).toBe(r2i.key + r2i.salt);
    expect(hex(initiator.sink.outbound.get('vita/1')!.keymat)).toBe(i2r.key + i2r.salt);
    expect(hex(responder.sink.inbound.get(i2r.spi)!.keymat)).toBe(i2r.key + i2r.salt);
    expect(hex(responder.sink.outbound.get('vita/1')!.keymat)).toBe(r2i.key + r2i.salt);
  });
});
