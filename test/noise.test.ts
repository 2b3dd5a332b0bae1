// Noise NNpsk0 (and NN, NNpsk2) against outside vectors: cacophony's Noise
// test vectors, Wycheproof's X25519 vectors; plus the failure behaviour our
// exchange relies on (refused messages change nothing).
import fs from 'node:fs';
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CipherState, HandshakeState, NoiseError, cipherFor, type PatternName } from '../controlplane/exchange/noise.js';
import { PublicKeyError, decrypt, dh, encrypt, generateKeyPair, hash, hkdf, hmac, keyPairFromPrivate } from '../controlplane/exchange/primitives.js';
import { VECTORS } from './support/vectors.js';

const hex = (s: string) => Buffer.from(s, 'hex');

interface NoiseVector {
  protocol_name: string;
  init_prologue: string;
  init_psks?: string[];
  init_ephemeral: string;
  init_static?: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_static?: string;
  resp_psks?: string[];
  resp_ephemeral: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const all: NoiseVector[] = JSON.parse(fs.readFileSync(`${VECTORS}/noise/cacophony-25519-blake2s.json`, 'utf8')).vectors;
// Every vector of the patterns we implement with our primitives (25519, AESGCM, BLAKE2s).
const ours = all.filter((v) => /^Noise_(NN(psk0|psk2)?|IK(psk1|psk2)?)_25519_AESGCM_BLAKE2s$/.test(v.protocol_name));

function pair(v: NoiseVector) {
  const pattern = v.protocol_name.split('_')[1] as PatternName;
  const init = new HandshakeState({
    pattern, initiator: true, prologue: hex(v.init_prologue), psk: v.init_psks && hex(v.init_psks[0]), ephemeral: hex(v.init_ephemeral),
    s: v.init_static ? keyPairFromPrivate(hex(v.init_static)) : undefined,
    rs: v.init_remote_static ? hex(v.init_remote_static) : undefined,
  });
  const resp = new HandshakeState({
    pattern, initiator: false, prologue: hex(v.resp_prologue), psk: v.resp_psks && hex(v.resp_psks[0]), ephemeral: hex(v.resp_ephemeral),
    s: v.resp_static ? keyPairFromPrivate(hex(v.resp_static)) : undefined,
  });
  return { init, resp };
}

describe('Noise vectors (cacophony)', () => {
  it('covers NN, NNpsk0, NNpsk2, IK, IKpsk1 and IKpsk2 with AESGCM', () => {
    expect(ours.map((v) => v.protocol_name).sort()).toEqual([
      'Noise_IK_25519_AESGCM_BLAKE2s', 'Noise_IKpsk1_25519_AESGCM_BLAKE2s', 'Noise_IKpsk2_25519_AESGCM_BLAKE2s',
      'Noise_NN_25519_AESGCM_BLAKE2s', 'Noise_NNpsk0_25519_AESGCM_BLAKE2s', 'Noise_NNpsk2_25519_AESGCM_BLAKE2s',
    ]);
  });

  for (const v of ours) {
    it(`${v.protocol_name}: every message and the handshake hash`, () => {
      const { init, resp } = pair(v);
      let send: [CipherState, CipherState] | null = null; // [initiator's, responder's]
      let recv: [CipherState, CipherState] | null = null;
      v.messages.forEach((m, i) => {
        const fromInitiator = i % 2 === 0;
        let ciphertext: Buffer;
        let payload: Buffer;
        if (!init.isFinished()) {
          const [writer, reader] = fromInitiator ? [init, resp] : [resp, init];
          ciphertext = writer.writeMessage(hex(m.payload));
          payload = reader.readMessage(ciphertext);
          if (init.isFinished()) {
            expect(resp.isFinished()).toBe(true);
            expect(init.handshakeHash().toString('hex')).toBe(v.handshake_hash);
            expect(resp.handshakeHash().toString('hex')).toBe(v.handshake_hash);
            const si = init.split();
            const sr = resp.split();
            expect(si.initiatorToResponder.equals(sr.initiatorToResponder)).toBe(true);
            expect(si.responderToInitiator.equals(sr.responderToInitiator)).toBe(true);
            send = [cipherFor(si.initiatorToResponder), cipherFor(sr.responderToInitiator)];
            recv = [cipherFor(sr.initiatorToResponder), cipherFor(si.responderToInitiator)];
          }
        } else {
          // Transport messages after Split(): c1 initiator → responder, c2 back.
          const k = fromInitiator ? 0 : 1;
          ciphertext = send![k].encryptWithAd(Buffer.alloc(0), hex(m.payload));
          payload = recv![k].decryptWithAd(Buffer.alloc(0), ciphertext);
        }
        expect(ciphertext.toString('hex'), `message ${i}`).toBe(m.ciphertext);
        expect(payload.toString('hex')).toBe(m.payload);
      });
      expect(init.isFinished()).toBe(true);
    });
  }
});

describe('X25519 (Wycheproof)', () => {
  const file = JSON.parse(fs.readFileSync(`${VECTORS}/wycheproof/x25519_test.json`, 'utf8'));
  const tests: { tcId: number; public: string; private: string; shared: string; result: string; flags: string[] }[] =
    file.testGroups.flatMap((g: { tests: unknown[] }) => g.tests);

  it(`computes every one of the ${tests.length} vectors, refusing each low-order public key`, () => {
    let refused = 0;
    for (const t of tests) {
      const kp = keyPairFromPrivate(hex(t.private));
      if (/^(00)+$/.test(t.shared)) {
        // A low-order point: the "shared secret" is zero, known to anyone.
        expect(t.flags, `tcId ${t.tcId}`).toContain('ZeroSharedSecret');
        expect(() => dh(kp, hex(t.public)), `tcId ${t.tcId}`).toThrow(PublicKeyError);
        refused++;
      } else {
        // valid and acceptable (twist points, non-canonical encodings): RFC 7748 results.
        expect(dh(kp, hex(t.public)).toString('hex'), `tcId ${t.tcId}`).toBe(t.shared);
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBe(tests.filter((t) => t.flags.includes('LowOrderPublic')).length);
  });

  it('derives public keys as RFC 7748 does (§6.1 test vector), and generated pairs agree', () => {
    const alice = keyPairFromPrivate(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    const bob = keyPairFromPrivate(hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    expect(alice.publicKey.toString('hex')).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(bob.publicKey.toString('hex')).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(dh(alice, bob.publicKey).toString('hex')).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    for (let i = 0; i < 20; i++) {
      const a = generateKeyPair();
      const b = generateKeyPair();
      expect(a.publicKey.length).toBe(32);
      expect(dh(a, b.publicKey).equals(dh(b, a.publicKey))).toBe(true);
    }
  });

  it('refuses public keys of the wrong length', () => {
    const kp = keyPairFromPrivate(crypto.randomBytes(32));
    for (const n of [0, 31, 33, 64]) expect(() => dh(kp, crypto.randomBytes(n))).toThrow(PublicKeyError);
  });
});

describe('Noise primitives', () => {
  it('HMAC-BLAKE2s is RFC 2104 over BLAKE2s with 64-octet blocks', () => {
    // Built here from the hash alone, as a check of the HMAC OpenSSL computes.
    const key = crypto.randomBytes(32);
    const msg = crypto.randomBytes(100);
    const pad = (b: number) => Buffer.from(Buffer.concat([key, Buffer.alloc(32)]).map((x) => x ^ b));
    expect(hmac(key, msg).equals(hash(pad(0x5c), hash(pad(0x36), msg)))).toBe(true);
  });

  it('HKDF outputs chain as in the specification', () => {
    const ck = crypto.randomBytes(32);
    const ikm = crypto.randomBytes(32);
    const [o1, o2, o3] = hkdf(ck, ikm, 3);
    const temp = hmac(ck, ikm);
    expect(o1.equals(hmac(temp, Buffer.from([1])))).toBe(true);
    expect(o2.equals(hmac(temp, o1, Buffer.from([2])))).toBe(true);
    expect(o3.equals(hmac(temp, o2, Buffer.from([3])))).toBe(true);
  });

  it('AESGCM uses the nonce 0^32 ‖ big-endian n and matches OpenSSL', () => {
    const k = crypto.randomBytes(32);
    const n = 0x1_0000_0002;
    const ct = encrypt(k, n, Buffer.from('ad'), Buffer.from('hello'));
    const iv = Buffer.from('000000000000000100000002', 'hex');
    const c = crypto.createCipheriv('aes-256-gcm', k, iv);
    c.setAAD(Buffer.from('ad'));
    const ref = Buffer.concat([c.update('hello'), c.final(), c.getAuthTag()]);
    expect(ct.equals(ref)).toBe(true);
    expect(decrypt(k, n, Buffer.from('ad'), ct)?.toString()).toBe('hello');
    expect(decrypt(k, n + 1, Buffer.from('ad'), ct)).toBeNull();
    expect(decrypt(k, n, Buffer.from('AD'), ct)).toBeNull();
  });
});

describe('Noise NNpsk0 handshake failures', () => {
  const psk = crypto.randomBytes(32);
  const prologue = Buffer.from('vitesse test prologue');
  const hs = (initiator: boolean, o: { psk?: Buffer; prologue?: Buffer } = {}) =>
    new HandshakeState({ pattern: 'NNpsk0', initiator, psk: o.psk ?? psk, prologue: o.prologue ?? prologue });

  it('a wrong pre-shared key or prologue fails authentication', () => {
    for (const other of [{ psk: crypto.randomBytes(32) }, { prologue: Buffer.from('another context') }]) {
      const m1 = hs(true).writeMessage(Buffer.from('spi!'));
      const r = hs(false, other);
      expect(() => r.readMessage(m1)).toThrow(expect.objectContaining({ reason: 'authentication' }));
    }
  });

  it('every tampered message is refused and leaves the reader as it was', () => {
    const i = hs(true);
    const r = hs(false);
    r.readMessage(i.writeMessage(Buffer.from('spi1')));
    const m2 = r.writeMessage(Buffer.from('spi2'));
    for (let at = 0; at < m2.length; at++) {
      const bad = Buffer.from(m2);
      bad[at] ^= 1 << (at % 8);
      expect(() => i.readMessage(bad)).toThrow(NoiseError);
    }
    expect(() => i.readMessage(m2.subarray(0, 40))).toThrow(NoiseError);
    // The genuine message still completes the handshake afterwards.
    expect(i.readMessage(m2).toString()).toBe('spi2');
    expect(i.handshakeHash().equals(r.handshakeHash())).toBe(true);
    expect(i.split().initiatorToResponder.equals(r.split().initiatorToResponder)).toBe(true);
  });

  it('a low-order ephemeral key from the responder is a public-key error and changes nothing', () => {
    const i = hs(true);
    const r = hs(false);
    r.readMessage(i.writeMessage(Buffer.from('spi1')));
    const m2 = r.writeMessage(Buffer.from('spi2'));
    const lowOrder = Buffer.alloc(32); // the point 0
    const forged = Buffer.concat([lowOrder, m2.subarray(32)]);
    expect(() => i.readMessage(forged)).toThrow(expect.objectContaining({ reason: 'public-key' }));
    expect(i.readMessage(m2).toString()).toBe('spi2');
  });

  it('refuses to run out of turn and needs a 32-octet psk', () => {
    const i = hs(true);
    expect(() => i.readMessage(Buffer.alloc(64))).toThrow(expect.objectContaining({ reason: 'state' }));
    expect(() => i.split()).toThrow(NoiseError);
    expect(() => new HandshakeState({ pattern: 'NNpsk0', initiator: true, prologue, psk: Buffer.alloc(31) })).toThrow(RangeError);
  });
});

describe('Noise IKpsk2 (the public-key mode)', () => {
  const initS = generateKeyPair();
  const respS = generateKeyPair();
  const psk = crypto.randomBytes(32);
  const prologue = Buffer.from('vitesse ik prologue');
  const init = (o: { rs?: Buffer; psk?: Buffer; s?: ReturnType<typeof generateKeyPair> } = {}) => new HandshakeState({
    pattern: 'IKpsk2', initiator: true, prologue, psk: o.psk ?? psk, s: o.s ?? initS, rs: o.rs ?? respS.publicKey,
  });
  const resp = () => new HandshakeState({ pattern: 'IKpsk2', initiator: false, prologue, s: respS });

  it('the responder learns the initiator\'s static key from message 1 and gives its psk afterwards', () => {
    const i = init();
    const r = resp();
    expect(r.readMessage(i.writeMessage(Buffer.from('spi1'))).toString()).toBe('spi1');
    expect(r.remoteStatic()!.equals(initS.publicKey)).toBe(true);
    expect(() => r.writeMessage(Buffer.from('spi2'))).toThrow(expect.objectContaining({ reason: 'state' }));
    r.providePsk(psk);
    expect(i.readMessage(r.writeMessage(Buffer.from('spi2'))).toString()).toBe('spi2');
    expect(i.split().responderToInitiator.equals(r.split().responderToInitiator)).toBe(true);
  });

  it('message 1 for another responder key fails authentication; a wrong psk fails message 2', () => {
    const r = resp();
    expect(() => r.readMessage(init({ rs: generateKeyPair().publicKey }).writeMessage(Buffer.from('spi1'))))
      .toThrow(expect.objectContaining({ reason: 'authentication' }));
    const i = init({ psk: crypto.randomBytes(32) });
    r.readMessage(i.writeMessage(Buffer.from('spi1')));
    r.providePsk(psk);
    expect(() => i.readMessage(r.writeMessage(Buffer.from('spi2')))).toThrow(expect.objectContaining({ reason: 'authentication' }));
  });

  it('every tampered message 1 is refused and leaves the responder as it was', () => {
    const i = init();
    const r = resp();
    const m1 = i.writeMessage(Buffer.from('spi1'));
    expect(m1.length).toBe(32 + 48 + 4 + 16);
    for (let at = 0; at < m1.length; at++) {
      const bad = Buffer.from(m1);
      bad[at] ^= 1 << (at % 8);
      expect(() => r.readMessage(bad)).toThrow(NoiseError);
      expect(r.remoteStatic()).toBeNull();
    }
    expect(() => r.readMessage(m1.subarray(0, 70))).toThrow(expect.objectContaining({ reason: 'format' }));
    expect(r.readMessage(m1).toString()).toBe('spi1');
  });

  it('needs our static key, and the initiator needs the responder\'s', () => {
    expect(() => new HandshakeState({ pattern: 'IKpsk2', initiator: true, prologue, psk, s: initS })).toThrow(RangeError);
    expect(() => new HandshakeState({ pattern: 'IKpsk2', initiator: false, prologue })).toThrow(RangeError);
    expect(() => new HandshakeState({ pattern: 'IKpsk2', initiator: true, prologue, s: initS, rs: respS.publicKey })).toThrow(RangeError);
  });
});
