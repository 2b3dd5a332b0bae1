// Any change to what a tag covers must be refused, and a refused open must
// leave zeros, not plaintext, in the buffer: every bit of the tag, every bit
// of short ciphertexts and a sample of long ones' bits, and a sample of the
// AAD and IV bits, through the single and the batch calls.
import { describe, expect, it } from 'vitest';
import { gcm, PATHS, Stream, testSeed } from './crypto-cases.js';

const LENGTHS = [0, 1, 16, 33, 64, 255, 1400];

function flipBit(b: Buffer, bit: number): Buffer {
  const c = Buffer.from(b);
  c[bit >> 3] ^= 1 << (bit & 7);
  return c;
}

// Every bit of a short buffer; for a long one the first and last bits of each
// 16-byte block edge region plus a random sample.
function bitsToFlip(s: Stream, len: number): number[] {
  const bits = len * 8;
  if (bits <= 64 * 8) return Array.from({ length: bits }, (_, i) => i);
  const chosen = new Set<number>([0, 7, bits - 8, bits - 1, 8 * 16 * Math.floor(len / 32), bits - 8 * 17]);
  while (chosen.size < 160) chosen.add(s.int(bits));
  return [...chosen];
}

describe.each(PATHS)('path %s refuses tampered packets', (path) => {
  describe.each([16, 32])('%i-byte key', (keyLen) => {
    it.each(LENGTHS)('%i-byte packet', (len) => {
      const seed = `${testSeed()}:${path}:${keyLen}:${len}`;
      const s = new Stream(seed);
      const key = s.bytes(keyLen), iv = s.bytes(12), aad = s.bytes(12), pt = s.bytes(len);
      const { ciphertext: ct, tag } = gcm.seal(path, key, iv, aad, pt);

      type Variant = { what: string; iv: Buffer; aad: Buffer; ct: Buffer; tag: Buffer };
      const variants: Variant[] = [];
      for (let bit = 0; bit < 128; bit++) variants.push({ what: `tag bit ${bit}`, iv, aad, ct, tag: flipBit(tag, bit) });
      for (const bit of bitsToFlip(s, len)) variants.push({ what: `ciphertext bit ${bit}`, iv, aad, ct: flipBit(ct, bit), tag });
      for (let k = 0; k < 16; k++) {
        variants.push({ what: `aad bit`, iv, aad: flipBit(aad, s.int(96)), ct, tag });
        variants.push({ what: `iv bit`, iv: flipBit(iv, s.int(96)), aad, ct, tag });
      }
      variants.push({ what: 'aad one byte longer', iv, aad: Buffer.concat([aad, Buffer.alloc(1)]), ct, tag });
      if (len > 0) variants.push({ what: 'ciphertext one byte shorter', iv, aad, ct: ct.subarray(0, len - 1), tag });

      const accepted: string[] = [];
      const leaked: string[] = [];
      for (const v of variants) {
        const data = Buffer.from(v.ct);
        if (gcm.openInPlace(path, key, v.iv, v.aad, data, v.tag)) accepted.push(v.what);
        else if (!data.every((b) => b === 0)) leaked.push(v.what);
      }
      expect(accepted, `seed ${seed}: single opens accepted`).toEqual([]);
      expect(leaked, `seed ${seed}: refused opens left data`).toEqual([]);

      // The same variants in one batch, with the genuine packet in the middle.
      const items = variants.map((v) => ({ key, iv: v.iv, aad: v.aad, data: Buffer.from(v.ct), tag: v.tag }));
      const middle = Math.floor(items.length / 2);
      items.splice(middle, 0, { key, iv, aad, data: Buffer.from(ct), tag });
      const ok = gcm.openBatchInPlace(path, items);
      expect(ok[middle], 'genuine packet opens in the batch').toBe(true);
      expect(items[middle].data.equals(pt), 'genuine packet decrypts in the batch').toBe(true);
      const batchAccepted = ok.flatMap((o, i) => (o && i !== middle ? [i] : []));
      const batchLeaked = items.flatMap((it, i) => (i !== middle && !it.data.every((b) => b === 0) ? [i] : []));
      expect(batchAccepted, `seed ${seed}: batch opens accepted`).toEqual([]);
      expect(batchLeaked, `seed ${seed}: refused batch opens left data`).toEqual([]);
    });
  });
});
