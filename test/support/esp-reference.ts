// A plain reference implementation of ESP (RFC 4303 tunnel mode, RFC 4106
// AES-GCM, ESN) on Node's crypto (OpenSSL), written from the RFCs for
// differential tests of the data plane: sealing with any IV, padding and TFC
// length, opening with an explicit seq-high, and the anti-replay rules
// (RFC 4303 §3.4.3 and Appendix A2.2) as a naive set of received numbers.
import crypto from 'node:crypto';

export type AeadName = 'aes-gcm-16-icv' | 'aes-256-gcm-16-icv';
export const AEADS: readonly AeadName[] = ['aes-gcm-16-icv', 'aes-256-gcm-16-icv'];

export const ESP_HEADER_LEN = 16;
export const ICV_LEN = 16;

export function keyLength(aead: AeadName): number {
  return aead === 'aes-gcm-16-icv' ? 16 : 32;
}

export interface RefSa {
  aead: AeadName;
  spi: number;
  keymat: Buffer; // key ‖ salt
  /** Extended sequence numbers (default true); false: the AAD is SPI ‖ seq (8 octets), RFC 4106 §5. */
  esn?: boolean;
}

export function randomSa(aead: AeadName, spi = crypto.randomInt(256, 2 ** 32 - 1)): RefSa {
  return { aead, spi, keymat: crypto.randomBytes(keyLength(aead) + 4) };
}

function cipherName(aead: AeadName): crypto.CipherGCMTypes {
  return aead === 'aes-gcm-16-icv' ? 'aes-128-gcm' : 'aes-256-gcm';
}

function aad(spi: number, seq: bigint, esn = true): Buffer {
  if (!esn) {
    const a = Buffer.alloc(8);
    a.writeUInt32BE(spi >>> 0, 0);
    a.writeUInt32BE(Number(seq & 0xffffffffn) >>> 0, 4);
    return a;
  }
  const a = Buffer.alloc(12);
  a.writeUInt32BE(spi >>> 0, 0);
  a.writeUInt32BE(Number(seq >> 32n) >>> 0, 4);
  a.writeUInt32BE(Number(seq & 0xffffffffn) >>> 0, 8);
  return a;
}

// RFC 4303's default padding 1, 2, 3, … up to 4-octet alignment.
export function defaultPadding(contentLen: number): Buffer {
  const n = (4 - ((contentLen + 2) % 4)) % 4;
  return Buffer.from(Array.from({ length: n }, (_, i) => i + 1));
}

export interface SealOptions {
  iv?: Buffer; // default: the sequence number, big-endian
  tfcLength?: number; // zero octets after the inner packet
  padding?: Buffer; // default: defaultPadding
  nextHeader?: number; // default: from the inner IP version
}

export function refSeal(sa: RefSa, seq: bigint, inner: Buffer, opts: SealOptions = {}): Buffer {
  const content = Buffer.concat([inner, Buffer.alloc(opts.tfcLength ?? 0)]);
  const padding = opts.padding ?? defaultPadding(content.length);
  const nextHeader = opts.nextHeader ?? (inner[0] >> 4 === 6 ? 41 : 4);
  return refSealPlaintext(sa, seq, Buffer.concat([content, padding, Buffer.from([padding.length, nextHeader])]), opts.iv);
}

// Seals exactly `plaintext` (trailer included, however wrong it may be).
export function refSealPlaintext(sa: RefSa, seq: bigint, plaintext: Buffer, ivIn?: Buffer): Buffer {
  const keyLen = keyLength(sa.aead);
  const iv = ivIn ?? Buffer.alloc(8);
  if (!ivIn) iv.writeBigUInt64BE(seq);
  const nonce = Buffer.concat([sa.keymat.subarray(keyLen), iv]);
  const c = crypto.createCipheriv(cipherName(sa.aead), sa.keymat.subarray(0, keyLen), nonce);
  c.setAAD(aad(sa.spi, seq, sa.esn));
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(sa.spi >>> 0, 0);
  header.writeUInt32BE(Number(seq & 0xffffffffn), 4);
  return Buffer.concat([header, iv, ciphertext, c.getAuthTag()]);
}

export interface Opened {
  spi: number;
  seq: bigint;
  iv: Buffer;
  plaintext: Buffer; // everything encrypted: content ‖ padding ‖ pad length ‖ next header
  content: Buffer; // inner packet ‖ TFC padding
  padding: Buffer;
  nextHeader: number;
}

// Opens an ESP packet with the given seq-high; null if it does not
// authenticate or its pad length does not fit.
export function refOpen(sa: RefSa, esp: Buffer, seqHigh: number): Opened | null {
  if (esp.length < ESP_HEADER_LEN + 2 + ICV_LEN) return null;
  const keyLen = keyLength(sa.aead);
  const spi = esp.readUInt32BE(0);
  const seq = (BigInt(seqHigh) << 32n) | BigInt(esp.readUInt32BE(4));
  const iv = esp.subarray(8, 16);
  const d = crypto.createDecipheriv(cipherName(sa.aead), sa.keymat.subarray(0, keyLen), Buffer.concat([sa.keymat.subarray(keyLen), iv]));
  d.setAAD(aad(spi, seq, sa.esn));
  d.setAuthTag(esp.subarray(esp.length - ICV_LEN));
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([d.update(esp.subarray(ESP_HEADER_LEN, esp.length - ICV_LEN)), d.final()]);
  } catch {
    return null;
  }
  const padLength = plaintext[plaintext.length - 2];
  if (padLength + 2 > plaintext.length) return null;
  const contentLen = plaintext.length - 2 - padLength;
  return {
    spi,
    seq,
    iv: Buffer.from(iv),
    plaintext,
    content: plaintext.subarray(0, contentLen),
    padding: plaintext.subarray(contentLen, contentLen + padLength),
    nextHeader: plaintext[plaintext.length - 1],
  };
}

// The anti-replay rules with a set instead of a bitmap. A window of size W
// with highest received number T accepts s > T, or T - W < s <= T not yet
// received; 0 is never accepted.
export class ReferenceReplayWindow {
  private readonly received = new Set<bigint>();
  constructor(readonly size: number, public top = 0n) {}

  // RFC 4303 A2.2; null where the inferred number would be negative.
  infer(seqLow: number): bigint | null {
    const w = BigInt(this.size);
    const th = this.top >> 32n;
    const tl = this.top & 0xffffffffn;
    const low = BigInt(seqLow);
    if (tl >= w - 1n) {
      return low >= tl - w + 1n ? (th << 32n) | low : ((th + 1n) << 32n) | low;
    }
    const bottom = (tl - w + 1n + 2n ** 32n) % 2n ** 32n;
    if (low >= bottom) return th === 0n ? null : ((th - 1n) << 32n) | low;
    return (th << 32n) | low;
  }

  accepts(seq: bigint): boolean {
    if (seq === 0n) return false;
    if (seq > this.top) return true;
    return this.top - seq < BigInt(this.size) && !this.received.has(seq);
  }

  // Whether a failed authentication of the guess `seq` is counted as a
  // replay: read one subspace back, the number is nearer the top and behind it.
  likelyStale(seq: bigint): boolean {
    if (seq <= this.top || seq < 2n ** 32n) return false;
    const previous = seq - 2n ** 32n;
    return previous <= this.top && this.top - previous < seq - this.top;
  }

  // The receiver's verdict on a packet with number `seq`, one packet at a
  // time as Appendix A has it: authentic, or forged (fails authentication
  // whatever seq-high is guessed).
  verdict(seq: bigint, authentic = true): 'ok' | 'replay' | 'authentication' {
    const guess = this.infer(Number(seq & 0xffffffffn));
    if (guess === null || !this.accepts(guess)) return 'replay';
    if (!authentic || guess !== seq) return this.likelyStale(guess) ? 'replay' : 'authentication';
    this.record(seq);
    return 'ok';
  }

  record(seq: bigint): void {
    this.received.add(seq);
    if (seq > this.top) this.top = seq;
  }
}
