// The Noise Protocol Framework (revision 34) for the handshake patterns our
// key exchange uses: NN, NNpsk0 and NNpsk2 (ephemeral and pre-shared keys
// only; NNpsk0 is the pre-shared-key mode), and IK, IKpsk1 and IKpsk2
// (static keys, the responder's known in advance; IKpsk2 is the public-key
// mode). Names and steps follow the specification's §5 (CipherState,
// SymmetricState, HandshakeState) so the two can be read side by side; the
// DH, cipher and hash functions are in primitives.ts.
//
// readMessage is all-or-nothing: a message that fails (bad tag, unsafe public
// key, wrong length) leaves the handshake exactly as it was, so a forged
// message cannot disturb a negotiation in progress.
import {
  DHLEN, HASHLEN, KEYLEN, TAGLEN, PublicKeyError,
  decrypt, dh, encrypt, generateKeyPair, hash, hkdf, keyPairFromPrivate, wipe,
  type KeyPair,
} from './primitives.js';

export type NoiseFailure = 'authentication' | 'public-key' | 'format' | 'state';

/** Why a handshake step was refused; the handshake itself is unchanged. */
export class NoiseError extends Error {
  constructor(readonly reason: NoiseFailure, message: string) {
    super(message);
  }
}

type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';

export const PATTERNS = {
  NN: [['e'], ['e', 'ee']],
  NNpsk0: [['psk', 'e'], ['e', 'ee']],
  NNpsk2: [['e'], ['e', 'ee', 'psk']],
  IK: [['e', 'es', 's', 'ss'], ['e', 'ee', 'se']],
  IKpsk1: [['e', 'es', 's', 'ss', 'psk'], ['e', 'ee', 'se']],
  IKpsk2: [['e', 'es', 's', 'ss'], ['e', 'ee', 'se', 'psk']],
} as const satisfies Record<string, readonly (readonly Token[])[]>;

export type PatternName = keyof typeof PATTERNS;

/**
 * The IK patterns: the pre-message `<- s` (the initiator knows the
 * responder's static key beforehand) and the initiator's `s`, so both ends
 * need a static key pair.
 */
const RESPONDER_STATIC_KNOWN: ReadonlySet<PatternName> = new Set(['IK', 'IKpsk1', 'IKpsk2']);

export const PSK_LENGTH = 32;
// n = 2^64-1 is reserved (§5.1); we stop at 2^53 where numbers lose precision,
// far beyond any use here.
const MAX_NONCE = Number.MAX_SAFE_INTEGER;

export function protocolName(pattern: PatternName): string {
  return `Noise_${pattern}_25519_AESGCM_BLAKE2s`;
}

export class CipherState {
  private k: Buffer | null = null;
  private n = 0;

  initializeKey(key: Buffer | null): void {
    wipe(this.k);
    this.k = key;
    this.n = 0;
  }

  hasKey(): boolean {
    return this.k !== null;
  }

  encryptWithAd(ad: Buffer, plaintext: Buffer): Buffer {
    if (!this.k) return Buffer.from(plaintext);
    if (this.n >= MAX_NONCE) throw new NoiseError('state', 'nonce exhausted');
    return encrypt(this.k, this.n++, ad, plaintext);
  }

  /** Throws NoiseError('authentication'); n advances only on success. */
  decryptWithAd(ad: Buffer, ciphertext: Buffer): Buffer {
    if (!this.k) return Buffer.from(ciphertext);
    if (this.n >= MAX_NONCE) throw new NoiseError('state', 'nonce exhausted');
    const plaintext = decrypt(this.k, this.n, ad, ciphertext);
    if (!plaintext) throw new NoiseError('authentication', 'message failed to authenticate');
    this.n++;
    return plaintext;
  }

  /** The raw key (for deriving ESP keys after Split); null before one is set. */
  key(): Buffer | null {
    return this.k;
  }

  snapshot(): { k: Buffer | null; n: number } {
    return { k: this.k && Buffer.from(this.k), n: this.n };
  }

  restore(s: { k: Buffer | null; n: number }): void {
    wipe(this.k);
    this.k = s.k;
    this.n = s.n;
  }

  destroy(): void {
    this.initializeKey(null);
  }
}

class SymmetricState {
  ck: Buffer;
  h: Buffer;
  readonly cipher = new CipherState();

  constructor(name: string) {
    const bytes = Buffer.from(name, 'ascii');
    if (bytes.length <= HASHLEN) {
      this.h = Buffer.alloc(HASHLEN);
      bytes.copy(this.h);
    } else {
      this.h = hash(bytes);
    }
    this.ck = Buffer.from(this.h);
  }

  mixKey(ikm: Buffer): void {
    const [ck, tempK] = hkdf(this.ck, ikm, 2);
    wipe(this.ck);
    this.ck = ck;
    this.cipher.initializeKey(tempK.subarray(0, KEYLEN));
  }

  mixHash(data: Buffer): void {
    this.h = hash(this.h, data);
  }

  mixKeyAndHash(ikm: Buffer): void {
    const [ck, tempH, tempK] = hkdf(this.ck, ikm, 3);
    wipe(this.ck);
    this.ck = ck;
    this.mixHash(tempH);
    wipe(tempH);
    this.cipher.initializeKey(tempK.subarray(0, KEYLEN));
  }

  encryptAndHash(plaintext: Buffer): Buffer {
    const ciphertext = this.cipher.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Buffer): Buffer {
    const plaintext = this.cipher.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  split(): [Buffer, Buffer] {
    const [k1, k2] = hkdf(this.ck, Buffer.alloc(0), 2);
    return [k1.subarray(0, KEYLEN), k2.subarray(0, KEYLEN)];
  }

  snapshot() {
    return { ck: Buffer.from(this.ck), h: this.h, cipher: this.cipher.snapshot() };
  }

  restore(s: ReturnType<SymmetricState['snapshot']>): void {
    wipe(this.ck);
    this.ck = s.ck;
    this.h = s.h;
    this.cipher.restore(s.cipher);
  }

  destroy(): void {
    wipe(this.ck);
    this.cipher.destroy();
  }
}

export interface HandshakeOptions {
  pattern: PatternName;
  initiator: boolean;
  prologue: Buffer;
  /**
   * Required by the psk patterns (32 octets); copied. A responder of a
   * pattern whose psk comes after the initiator's static key (IKpsk2) may
   * give it later, once it knows who the initiator is (providePsk()).
   */
  psk?: Buffer;
  /** Our static key pair (IK patterns); not copied, not destroyed (it outlives handshakes). */
  s?: KeyPair;
  /** The peer's static public key, known beforehand: the responder's, for an IK initiator. */
  rs?: Buffer;
  /**
   * DH(s, rs) computed beforehand (copied): the same in every handshake
   * between two static keys, so computed once per peer (as WireGuard does).
   * A responder gives the one with the peer it expects: an initiator with
   * another static key then fails to authenticate its first message.
   */
  staticShared?: Buffer;
  /** Raw ephemeral private key; only test vectors fix it (copied). */
  ephemeral?: Buffer;
}

/** The transport keys of a finished handshake (Split()), 32 octets each. */
export interface SplitKeys {
  initiatorToResponder: Buffer;
  responderToInitiator: Buffer;
}

export class HandshakeState {
  private readonly ss: SymmetricState;
  private readonly messages: readonly (readonly Token[])[];
  private readonly initiator: boolean;
  private psk: Buffer | null;
  private readonly pskMode: boolean;
  private e: KeyPair | null = null;
  private readonly s: KeyPair | null;
  private fixedEphemeral: Buffer | null;
  private re: Buffer | null = null;
  private rs: Buffer | null;
  private readonly staticShared: Buffer | null;
  private index = 0;

  constructor(o: HandshakeOptions) {
    this.messages = PATTERNS[o.pattern];
    this.pskMode = o.pattern.includes('psk');
    const pskLater = o.pattern === 'IKpsk2' && !o.initiator;
    if (this.pskMode && o.psk?.length !== PSK_LENGTH && !(pskLater && o.psk === undefined)) {
      throw new RangeError(`${o.pattern} needs a ${PSK_LENGTH}-octet pre-shared key`);
    }
    this.psk = this.pskMode && o.psk ? Buffer.from(o.psk) : null;
    this.initiator = o.initiator;
    this.fixedEphemeral = o.ephemeral ? Buffer.from(o.ephemeral) : null;
    const statics = RESPONDER_STATIC_KNOWN.has(o.pattern);
    if (statics && !o.s) throw new RangeError(`${o.pattern} needs our static key pair`);
    if (RESPONDER_STATIC_KNOWN.has(o.pattern) && o.initiator && o.rs?.length !== DHLEN) {
      throw new RangeError(`${o.pattern} needs the responder's ${DHLEN}-octet static public key`);
    }
    this.s = statics ? o.s! : null;
    this.rs = o.rs ? Buffer.from(o.rs) : null;
    this.staticShared = o.staticShared ? Buffer.from(o.staticShared) : null;
    this.ss = new SymmetricState(protocolName(o.pattern));
    this.ss.mixHash(o.prologue);
    // Pre-message `<- s` (§7.1): both hash the responder's static public key.
    if (RESPONDER_STATIC_KNOWN.has(o.pattern)) this.ss.mixHash(o.initiator ? this.rs! : this.s!.publicKey);
  }

  /** The psk of a responder that learns who the initiator is from its first message (IKpsk2). */
  providePsk(psk: Buffer): void {
    if (!this.pskMode || this.psk) throw new NoiseError('state', 'pre-shared key already set');
    if (psk.length !== PSK_LENGTH) throw new RangeError(`pre-shared key must be ${PSK_LENGTH} octets`);
    this.psk = Buffer.from(psk);
  }

  /** The peer's static public key: known beforehand, or read from its message (a copy). */
  remoteStatic(): Buffer | null {
    return this.rs && Buffer.from(this.rs);
  }

  /** True when it is our turn to write. */
  isMyTurn(): boolean {
    return !this.isFinished() && (this.index % 2 === 0) === this.initiator;
  }

  isFinished(): boolean {
    return this.index >= this.messages.length;
  }

  writeMessage(payload: Buffer): Buffer {
    if (!this.isMyTurn()) throw new NoiseError('state', 'not our turn to write');
    // Checked before anything changes: a write that cannot finish must not start.
    if ((this.messages[this.index] as readonly Token[]).includes('psk') && !this.psk) throw new NoiseError('state', 'no pre-shared key given');
    const out: Buffer[] = [];
    for (const token of this.messages[this.index]) {
      switch (token) {
        case 'e': {
          this.e = this.fixedEphemeral ? keyPairFromPrivate(this.fixedEphemeral) : generateKeyPair();
          wipe(this.fixedEphemeral);
          this.fixedEphemeral = null;
          out.push(this.e.publicKey);
          this.ss.mixHash(this.e.publicKey);
          if (this.pskMode) this.ss.mixKey(this.e.publicKey);
          break;
        }
        case 's':
          out.push(this.ss.encryptAndHash(this.s!.publicKey));
          break;
        case 'psk':
          this.mixPsk();
          break;
        default:
          this.mixDh(token);
      }
    }
    out.push(this.ss.encryptAndHash(payload));
    this.index++;
    return Buffer.concat(out);
  }

  /** Returns the payload; throws NoiseError and leaves the state unchanged on failure. */
  readMessage(message: Buffer): Buffer {
    if (this.isFinished() || this.isMyTurn()) throw new NoiseError('state', 'not our turn to read');
    const saved = this.ss.snapshot();
    const savedRe = this.re;
    const savedRs = this.rs;
    try {
      let at = 0;
      for (const token of this.messages[this.index]) {
        switch (token) {
          case 'e': {
            if (message.length - at < DHLEN) throw new NoiseError('format', 'message too short for an ephemeral key');
            this.re = Buffer.from(message.subarray(at, at + DHLEN));
            at += DHLEN;
            this.ss.mixHash(this.re);
            if (this.pskMode) this.ss.mixKey(this.re);
            break;
          }
          case 's': {
            const length = DHLEN + (this.ss.cipher.hasKey() ? TAGLEN : 0);
            if (message.length - at < length) throw new NoiseError('format', 'message too short for a static key');
            this.rs = this.ss.decryptAndHash(message.subarray(at, at + length));
            at += length;
            break;
          }
          case 'psk':
            this.mixPsk();
            break;
          default:
            this.mixDh(token);
        }
      }
      const rest = message.subarray(at);
      if (this.ss.cipher.hasKey() && rest.length < TAGLEN) throw new NoiseError('format', 'message too short for its tag');
      const payload = this.ss.decryptAndHash(rest);
      this.index++;
      wipe(saved.ck, saved.cipher.k);
      return payload;
    } catch (err) {
      this.ss.restore(saved);
      this.re = savedRe;
      this.rs = savedRs;
      throw err;
    }
  }

  private mixPsk(): void {
    if (!this.psk) throw new NoiseError('state', 'no pre-shared key given');
    this.ss.mixKeyAndHash(this.psk);
  }

  // ee, es, se, ss: the first letter is the initiator's key, the second the responder's (§7.2).
  private mixDh(token: 'ee' | 'es' | 'se' | 'ss'): void {
    if (token === 'ss' && this.staticShared) {
      this.ss.mixKey(this.staticShared);
      return;
    }
    const mine = token[this.initiator ? 0 : 1] === 'e' ? this.e : this.s;
    const theirs = token[this.initiator ? 1 : 0] === 'e' ? this.re : this.rs;
    if (!mine || !theirs) throw new NoiseError('state', `no key for ${token}`);
    let shared: Buffer;
    try {
      shared = dh(mine, theirs);
    } catch (err) {
      if (err instanceof PublicKeyError) throw new NoiseError('public-key', err.message);
      throw err;
    }
    this.ss.mixKey(shared);
    wipe(shared);
  }

  /** h: binds everything said in the handshake (channel binding, §11.2). */
  handshakeHash(): Buffer {
    return Buffer.from(this.ss.h);
  }

  /** Split() of a finished handshake. The caller owns (and wipes) the keys. */
  split(): SplitKeys {
    if (!this.isFinished()) throw new NoiseError('state', 'handshake not finished');
    const [k1, k2] = this.ss.split();
    return { initiatorToResponder: k1, responderToInitiator: k2 };
  }

  /** The final chaining key of a finished handshake, a copy (vita-ske's Split derives from it). */
  chainingKey(): Buffer {
    if (!this.isFinished()) throw new NoiseError('state', 'handshake not finished');
    return Buffer.from(this.ss.ck);
  }

  /** Zeroes the handshake's secrets; the object must not be used afterwards. */
  destroy(): void {
    this.ss.destroy();
    wipe(this.psk, this.fixedEphemeral, this.staticShared);
    this.e = null;
  }
}

/** A CipherState keyed with one of Split()'s outputs, for transport messages. */
export function cipherFor(key: Buffer): CipherState {
  const c = new CipherState();
  c.initializeKey(Buffer.from(key));
  return c;
}
