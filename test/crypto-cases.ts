// Shared by the crypto tests: the reference (Node's crypto, i.e. OpenSSL),
// a seeded random stream so a failure can be replayed, and the length mix
// that favours the boundaries where AES-GCM code goes wrong.
import crypto from 'node:crypto';
import * as testkit from '../controlplane/testkit.js';
import type { GcmBatchItem } from '../controlplane/testkit.js';

export const gcm = testkit.gcm;

export type BatchItem = GcmBatchItem;

export const PATHS: string[] = gcm.paths();

export function refSeal(key: Buffer, iv: Buffer, aad: Buffer, pt: Buffer): { ct: Buffer; tag: Buffer } {
  const c = crypto.createCipheriv(key.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm', key, iv, { authTagLength: 16 });
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { ct, tag: c.getAuthTag() };
}

// Deterministic bytes from a seed (AES-CTR keystream of zeros): set
// CRYPTO_TEST_SEED to replay a failing run.
export class Stream {
  private readonly cipher: crypto.Cipher;
  constructor(readonly seed: string) {
    const key = crypto.createHash('sha256').update(seed).digest().subarray(0, 16);
    this.cipher = crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  }
  bytes(n: number): Buffer {
    return this.cipher.update(Buffer.alloc(n));
  }
  // Uniform enough in [0, n) for test selection (n < 2^32).
  int(n: number): number {
    return this.bytes(4).readUInt32LE(0) % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

export function testSeed(): string {
  return process.env.CRYPTO_TEST_SEED ?? crypto.randomBytes(8).toString('hex');
}

export const MAX_LEN = 9216;

// Lengths near block (16), vector (64) and group (128, 256) boundaries, tiny
// ones, and uniform ones up to a jumbo frame.
export function randomLength(s: Stream): number {
  switch (s.int(4)) {
    case 0:
      return s.pick([0, 1, 2, 12, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 80, MAX_LEN - 1, MAX_LEN]);
    case 1: {
      const edge = 16 * s.int(MAX_LEN / 16 + 1) + s.pick([-1, 0, 1]);
      return Math.min(MAX_LEN, Math.max(0, edge));
    }
    case 2:
      return s.int(300);
    default:
      return s.int(MAX_LEN + 1);
  }
}

// Mostly ESP's 12-byte AAD (8 without ESN), sometimes none, sometimes long
// enough to need its own GHASH reductions.
export function randomAadLength(s: Stream): number {
  const r = s.int(10);
  if (r < 6) return 12;
  if (r === 6) return 8;
  if (r === 7) return 0;
  return s.int(700);
}

// A copy of bytes starting `offset` bytes into a fresh buffer, so native code
// sees data at every alignment.
export function placed(bytes: Buffer, offset: number): Buffer {
  const whole = Buffer.alloc(bytes.length + offset + 64);
  bytes.copy(whole, offset);
  return whole.subarray(offset, offset + bytes.length);
}
