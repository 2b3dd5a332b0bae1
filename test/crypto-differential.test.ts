// Differential test against Node's crypto (OpenSSL): at least 10,000 random
// keys per path (half 128-bit, half 256-bit), lengths 0–9216 biased to block
// and group boundaries, AAD of every size, data at every alignment; seal and
// open, one packet per call and in batches of mixed lengths in which
// neighbours often share a key (as packets of one SA do).
import { describe, expect, it } from 'vitest';
import {
  gcm, PATHS, placed, randomAadLength, randomLength, refSeal, Stream, testSeed, type BatchItem,
} from './crypto-cases.js';

const KEYS_PER_SIZE = 5_000;
const CHUNK = 500;

type Case = { key: Buffer; iv: Buffer; aad: Buffer; pt: Buffer; offset: number; ct: Buffer; tag: Buffer };

// A quarter of the cases reuse the previous case's key.
function makeCases(s: Stream, keyLen: number, n: number): Case[] {
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) {
    const key = i > 0 && s.int(4) === 0 ? cases[i - 1].key : s.bytes(keyLen);
    const iv = s.bytes(12);
    const aad = s.bytes(randomAadLength(s));
    const pt = s.bytes(randomLength(s));
    const ref = refSeal(key, iv, aad, pt);
    cases.push({ key, iv, aad, pt, offset: s.int(64), ct: ref.ct, tag: ref.tag });
  }
  return cases;
}

function describeCase(c: Case, i: number): string {
  return `case ${i}: len ${c.pt.length}, aad ${c.aad.length}, offset ${c.offset}, key ${c.key.toString('hex')}, iv ${c.iv.toString('hex')}`;
}

describe.each(PATHS)('path %s against OpenSSL', (path) => {
  describe.each([16, 32])('%i-byte keys', (keyLen) => {
    it(`${KEYS_PER_SIZE}+ random keys: seal and open, single and batched`, () => {
      const seed = `${testSeed()}:${path}:${keyLen}`;
      const s = new Stream(seed);
      const failures: string[] = [];
      const fail = (what: string, c: Case, i: number) => {
        if (failures.length < 10) failures.push(`${what} — ${describeCase(c, i)}`);
      };
      const keys = new Set<string>();
      while (keys.size < KEYS_PER_SIZE) {
        const cases = makeCases(s, keyLen, CHUNK);
        for (const c of cases) keys.add(c.key.toString('hex'));

        // One packet per call, in place at the case's alignment.
        for (const [i, c] of cases.entries()) {
          const data = placed(c.pt, c.offset);
          const tag = gcm.sealInPlace(path, c.key, c.iv, c.aad, data);
          if (!data.equals(c.ct)) fail('seal: ciphertext differs', c, i);
          if (!tag.equals(c.tag)) fail('seal: tag differs', c, i);
          const back = placed(c.ct, (c.offset + 17) % 64);
          if (!gcm.openInPlace(path, c.key, c.iv, c.aad, back, c.tag)) fail('open: refused', c, i);
          else if (!back.equals(c.pt)) fail('open: plaintext differs', c, i);
        }

        // Batches of 1 to 40 packets of mixed lengths.
        for (let at = 0; at < cases.length; ) {
          const n = Math.min(cases.length - at, 1 + s.int(40));
          const group = cases.slice(at, at + n);
          const items: BatchItem[] = group.map((c) => ({ key: c.key, iv: c.iv, aad: c.aad, data: placed(c.pt, c.offset) }));
          const sealed = gcm.sealBatch(path, items);
          const opened = gcm.openBatch(path, group.map((c, k) => ({ ...items[k], data: placed(c.ct, 63 - c.offset), tag: c.tag })));
          for (const [k, c] of group.entries()) {
            if (!sealed[k].ciphertext.equals(c.ct)) fail('batch seal: ciphertext differs', c, at + k);
            if (!sealed[k].tag.equals(c.tag)) fail('batch seal: tag differs', c, at + k);
            if (opened[k] === null) fail('batch open: refused', c, at + k);
            else if (!opened[k]!.equals(c.pt)) fail('batch open: plaintext differs', c, at + k);
          }
          at += n;
        }
      }
      expect(failures, `seed ${seed} (set CRYPTO_TEST_SEED to replay)`).toEqual([]);
    });
  });
});
