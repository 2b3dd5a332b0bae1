// The four-message exchange on the wire: layouts, strict decoding, the
// challenge's bindings, and each refusal counted under its own name.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../controlplane/exchange/address.js';
import { ChallengeIssuer } from '../controlplane/exchange/challenge.js';
import {
  AGREEMENT_LENGTH, CHALLENGE_LENGTH, KNOCK_LENGTH, MessageType, PROPOSAL_LENGTH,
  decodeChallenge, decodeHeader, decodeKnock, decodeProposal, encodeChallenge, encodeKnock, encodeProposal,
} from '../controlplane/exchange/messages.js';
import { encrypt, generateKeyPair, hash, hkdf } from '../controlplane/exchange/primitives.js';
import { PROTOCOL_VERSION, espKeymat, prologue } from '../controlplane/exchange/protocol.js';
import { RouteSpi } from '../controlplane/exchange/types.js';
import { PSK, world, type Datagram } from './keymanager-harness.js';

const type = (d: Datagram) => d.payload[4];

describe('wire format', () => {
  it('has the documented sizes and header', () => {
    expect([KNOCK_LENGTH, CHALLENGE_LENGTH, PROPOSAL_LENGTH, AGREEMENT_LENGTH]).toEqual([44, 44, 96, 60]);
    const knock = encodeKnock(RouteSpi(0x01020304), { cookie: Buffer.alloc(16, 0xaa) });
    expect(knock.subarray(0, 12).toString('hex')).toBe('010203040b000000' + '01000000');
    expect(knock.subarray(12, 28).equals(Buffer.alloc(16, 0xaa))).toBe(true);
    expect(knock.subarray(28).equals(Buffer.alloc(16))).toBe(true);
    const challenge = encodeChallenge(RouteSpi(7), 'aes-256-gcm-16-icv', Buffer.alloc(32, 1));
    expect(challenge.subarray(0, 12).toString('hex')).toBe('000000070c000000' + '01020000');
    const proposal = encodeProposal(RouteSpi(7), 'aes-gcm-16-icv', Buffer.alloc(32, 1), Buffer.alloc(52, 2));
    expect(proposal.subarray(0, 12).toString('hex')).toBe('000000070d000000' + '01010000');
    expect(decodeHeader(proposal)).toEqual({ routeSpi: 7, type: MessageType.proposal });
  });

  it('decodes strictly: lengths, reserved and padding octets, version first', () => {
    const knock = encodeKnock(RouteSpi(1), { cookie: crypto.randomBytes(16) });
    expect(decodeKnock(knock).ok).toBe(true);
    expect(decodeKnock(knock.subarray(0, 43))).toEqual({ ok: false, reason: 'protocol' });
    expect(decodeKnock(Buffer.concat([knock, Buffer.alloc(1)]))).toEqual({ ok: false, reason: 'protocol' });
    for (const at of [9, 10, 11, 28, 43]) {
      const bad = Buffer.from(knock);
      bad[at] = 1;
      expect(decodeKnock(bad), `octet ${at}`).toEqual({ ok: false, reason: 'protocol' });
    }
    const v2 = Buffer.from(knock);
    v2[8] = PROTOCOL_VERSION + 1;
    expect(decodeKnock(v2)).toEqual({ ok: false, reason: 'version' });
    expect(decodeKnock(Buffer.concat([v2, Buffer.alloc(20)]))).toEqual({ ok: false, reason: 'version' });
    const header = Buffer.from(knock);
    header[6] = 1;
    expect(decodeHeader(header)).toBeNull();
    expect(decodeHeader(knock.subarray(0, 7))).toBeNull();
    const challenge = encodeChallenge(RouteSpi(1), 'aes-gcm-16-icv', crypto.randomBytes(32));
    challenge[10] = 1;
    expect(decodeChallenge(challenge)).toEqual({ ok: false, reason: 'protocol' });
    expect(decodeProposal(Buffer.alloc(PROPOSAL_LENGTH))).toEqual({ ok: false, reason: 'version' });
  });

  it('prologue binds version, AEAD, route SPI, both addresses and the nonce', () => {
    const base = {
      version: PROTOCOL_VERSION, aead: 'aes-gcm-16-icv' as const, routeSpi: RouteSpi(0x0a0b0c0d),
      initiatorAddress: parseAddress('192.0.2.1')!, responderAddress: parseAddress('2001:db8::2')!, nonce: Buffer.alloc(32, 0xee),
    };
    const p = prologue(base);
    expect(p.length).toBe(70);
    expect(p.toString('hex')).toBe(
      '01' + '01' + '0a0b0c0d' + '00000000000000000000ffffc0000201' + '20010db8000000000000000000000002' + 'ee'.repeat(32),
    );
  });

  it('derives ESP key material of the AEAD\'s length from a Split() key', () => {
    const k = crypto.randomBytes(32);
    const a = espKeymat(k, 'aes-gcm-16-icv');
    const b = espKeymat(k, 'aes-256-gcm-16-icv');
    expect(a.length).toBe(20);
    expect(b.length).toBe(36);
    expect(b.subarray(0, 20).equals(a)).toBe(true); // a prefix of the same HKDF output
    expect(espKeymat(crypto.randomBytes(32), 'aes-gcm-16-icv').equals(a)).toBe(false);
    // HKDF-Expand (RFC 5869) with HMAC-BLAKE2s, computed here by OpenSSL directly.
    const t1 = crypto.createHmac('blake2s256', k).update(Buffer.from([1])).digest();
    const t2 = crypto.createHmac('blake2s256', k).update(Buffer.concat([t1, Buffer.from([2])])).digest();
    expect(a.equals(t1.subarray(0, 20))).toBe(true);
    expect(b.equals(Buffer.concat([t1, t2]).subarray(0, 36))).toBe(true);
  });
});

describe('addresses', () => {
  it('parses IPv4 (as IPv4-mapped) and IPv6 into 16 octets', () => {
    const h = (s: string) => parseAddress(s)?.toString('hex');
    expect(h('192.0.2.1')).toBe('00000000000000000000ffffc0000201');
    expect(h('::ffff:192.0.2.1')).toBe(h('192.0.2.1'));
    expect(h('::FFFF:c000:201')).toBe(h('192.0.2.1'));
    expect(h('2001:db8::1')).toBe('20010db8000000000000000000000001');
    expect(h('2001:0db8:0:0:0:0:0:1')).toBe(h('2001:db8::1'));
    expect(h('::')).toBe('0'.repeat(32));
    expect(h('1::')).toBe('0001' + '0'.repeat(28));
    expect(h('1:2:3:4:5:6:7:8')).toBe('00010002000300040005000600070008');
    expect(h('64:ff9b::198.51.100.7')).toBe('0064ff9b0000000000000000c6336407');
    for (const bad of ['', '192.0.2', '192.0.2.256', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', 'host', '1::2::3']) {
      expect(parseAddress(bad), bad).toBeNull();
    }
  });
});

describe('challenge nonces', () => {
  const ctx = Buffer.from('route and addresses');
  const cookie = crypto.randomBytes(16);

  it('are recognised without state, only in their context, only once, for one to two epochs', () => {
    const issuer = new ChallengeIssuer(1000);
    const nonce = issuer.issue(ctx, cookie, 5_500);
    expect(nonce.subarray(0, 16).equals(cookie)).toBe(true);
    expect(issuer.remembered()).toBe(0);
    expect(issuer.verify(Buffer.from('another route'), nonce, 5_600)).toBeNull();
    const forged = Buffer.from(nonce);
    forged[31] ^= 1;
    expect(issuer.verify(ctx, forged, 5_600)).toBeNull();
    const otherEpoch = Buffer.from(nonce);
    otherEpoch[16] ^= 0x80; // the epoch's parity: points at the other secret, whose MAC does not match
    expect(issuer.verify(ctx, otherEpoch, 6_100)).toBeNull();
    const epoch = issuer.verify(ctx, nonce, 6_999)!; // next epoch: still valid
    expect(epoch).not.toBeNull();
    issuer.consume(epoch, nonce);
    expect(issuer.verify(ctx, nonce, 6_999)).toBeNull(); // used
    const other = issuer.issue(ctx, crypto.randomBytes(16), 6_000);
    expect(issuer.verify(ctx, other, 7_999)).not.toBeNull();
    expect(issuer.verify(ctx, other, 8_000)).toBeNull(); // two epochs on: retired
    expect(issuer.remembered()).toBe(0);
  });
});

// Noise message 1 (-> psk, e) written from the specification with our
// primitives, so that a test can choose the ephemeral public key.
function handwrittenProposalNoise(psk: Buffer, pro: Buffer, ePublic: Buffer, spi: number): Buffer {
  let h = hash(Buffer.from('Noise_NNpsk0_25519_AESGCM_BLAKE2s', 'ascii')); // 33 octets > HASHLEN: hashed
  let ck = h;
  h = hash(h, pro);
  const [ck1, tempH, tempK] = hkdf(ck, psk, 3);
  ck = ck1;
  h = hash(h, tempH);
  void tempK;
  h = hash(h, ePublic);
  const [, k] = hkdf(ck, ePublic, 2);
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(spi);
  return Buffer.concat([ePublic, encrypt(k, 0, h, payload)]);
}

describe('exchange refusals', () => {
  // A initiates; the test stands between A and B.
  function challenged() {
    const w = world();
    w.a.km.tick();
    w.net.flush(); // knock → B, challenge → A, proposal → B, agreement → A
    const challenge = w.net.log.find((d) => type(d) === MessageType.challenge)!;
    const proposal = w.net.log.find((d) => type(d) === MessageType.proposal)!;
    return { w, challenge, proposal };
  }

  it('a proposal written by hand from the specification is accepted (the construction is right)', () => {
    const w = world();
    w.a.km.configure({ routes: [] }); // A stays silent; the test is the initiator
    const knock = encodeKnock(RouteSpi(1001), { cookie: crypto.randomBytes(16) });
    w.b.km.receive({ address: w.a.address, port: 303 }, knock, { address: w.b.address, port: 303 });
    const challenge = w.net.queue.shift()!;
    const nonce = challenge.payload.subarray(12, 44);
    const pro = prologue({
      version: PROTOCOL_VERSION, aead: 'aes-gcm-16-icv', routeSpi: RouteSpi(1001),
      initiatorAddress: parseAddress(w.a.address)!, responderAddress: parseAddress(w.b.address)!, nonce,
    });
    const noise = handwrittenProposalNoise(PSK, pro, generateKeyPair().publicKey, 0x12345678);
    w.b.km.receive(challenge.to, encodeProposal(RouteSpi(1001), 'aes-gcm-16-icv', nonce, noise), challenge.from);
    expect(w.b.km.counters).toMatchObject({ keypairs_offered: 1, rxerrors: 0 });
    expect(w.net.queue.map(type)).toEqual([MessageType.agreement]);
  });

  it('a low-order ephemeral key in an authentic proposal is a public-key error, no SA', () => {
    const w = world();
    w.a.km.configure({ routes: [] });
    const knock = encodeKnock(RouteSpi(1001), { cookie: crypto.randomBytes(16) });
    w.b.km.receive({ address: w.a.address, port: 303 }, knock, { address: w.b.address, port: 303 });
    const challenge = w.net.queue.shift()!;
    const nonce = challenge.payload.subarray(12, 44);
    const pro = prologue({
      version: PROTOCOL_VERSION, aead: 'aes-gcm-16-icv', routeSpi: RouteSpi(1001),
      initiatorAddress: parseAddress(w.a.address)!, responderAddress: parseAddress(w.b.address)!, nonce,
    });
    const lowOrder = Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex');
    for (const e of [Buffer.alloc(32), Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]), lowOrder]) {
      const noise = handwrittenProposalNoise(PSK, pro, e, 0x12345678);
      w.b.km.receive(challenge.to, encodeProposal(RouteSpi(1001), 'aes-gcm-16-icv', nonce, noise), challenge.from);
    }
    expect(w.b.km.counters).toMatchObject({ public_key_errors: 3, rxerrors: 3, keypairs_offered: 0 });
    expect(w.b.sink.inbound.size + w.b.sink.outbound.size).toBe(0);
    expect(w.net.queue.length).toBe(0);
  });

  it('a challenge that does not echo our knock\'s cookie is an authentication error', () => {
    const w = world();
    w.a.km.tick();
    const knock = w.net.queue.shift()!;
    const forged = encodeChallenge(RouteSpi(1001), 'aes-gcm-16-icv', crypto.randomBytes(32));
    w.a.km.receive(knock.to, forged, knock.from);
    expect(w.a.km.counters).toMatchObject({ authentication_errors: 1, challenges_accepted: 0 });
    expect(w.a.km.state()[0].negotiation).toBe('awaiting-challenge');
    expect(w.net.queue.length).toBe(0);
  });

  it('version and AEAD mismatches in a challenge are version and parameter errors', () => {
    const w = world();
    w.a.km.tick();
    const knock = w.net.queue.shift()!;
    const cookie = knock.payload.subarray(12, 28);
    const good = encodeChallenge(RouteSpi(1001), 'aes-gcm-16-icv', Buffer.concat([cookie, Buffer.alloc(16)]));
    const v2 = Buffer.from(good);
    v2[8] = 2;
    w.a.km.receive(knock.to, v2, knock.from);
    w.a.km.receive(knock.to, encodeChallenge(RouteSpi(1001), 'aes-256-gcm-16-icv', Buffer.concat([cookie, Buffer.alloc(16)])), knock.from);
    expect(w.a.km.counters).toMatchObject({ version_errors: 1, parameter_errors: 1, rxerrors: 2 });
    w.a.km.receive(knock.to, good, knock.from);
    expect(w.a.km.counters.challenges_accepted).toBe(1);
  });

  it('a proposal moved to another route, or to another pair of gateways, fails', () => {
    const { w, proposal } = challenged();
    // Same psk, other route SPI: B has no such route.
    const moved = Buffer.from(proposal.payload);
    moved.writeUInt32BE(2002, 0);
    w.b.km.receive(proposal.from, moved, proposal.to);
    expect(w.b.km.counters.route_errors).toBe(1);
    // Same route, other source gateway: not the route's gateway.
    w.b.km.receive({ address: '192.0.2.99', port: 303 }, proposal.payload, proposal.to);
    expect(w.b.km.counters.route_errors).toBe(2);
  });

  it('a knock costs the responder no memory', () => {
    const w = world({ options: { rateLimit: { perSecond: 1e9, burst: 1e9 } } });
    for (let i = 0; i < 1000; i++) {
      const knock = encodeKnock(RouteSpi(1001), { cookie: crypto.randomBytes(16) });
      w.b.km.receive({ address: w.a.address, port: 303 }, knock, { address: w.b.address, port: 303 });
    }
    expect(w.b.km.counters.challenges_offered).toBe(1000);
    expect(w.b.km.state()).toEqual([{ route: 'peer', queue: 1, pair: 0, peer: null, usable: true, negotiation: 'idle', inbound: [], outbound: null, queued: [] }]);
    const challenges = w.net.queue.splice(0);
    expect(new Set(challenges.map((d) => d.payload.toString('hex'))).size).toBe(1000);
    // A challenge is never larger than the knock that caused it.
    for (const c of challenges) expect(c.payload.length).toBeLessThanOrEqual(KNOCK_LENGTH);
  });
});
