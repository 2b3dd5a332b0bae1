// Project Wycheproof's AES-GCM vectors (12-byte IV, 16-byte tag, 128- and
// 256-bit keys) on every path this CPU has, one packet per call and as one
// batch: valid vectors seal to the given ciphertext and tag and open back;
// invalid ones are refused and leave no plaintext behind.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gcm, PATHS } from './crypto-cases.js';
import { VECTORS } from './support/vectors.js';

type Vector = {
  tcId: number; comment: string; key: Buffer; iv: Buffer; aad: Buffer; msg: Buffer; ct: Buffer; tag: Buffer;
  result: 'valid' | 'invalid' | 'acceptable';
};

function loadVectors(): Vector[] {
  const file = path.join(VECTORS, 'wycheproof/aes_gcm_test.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const out: Vector[] = [];
  for (const g of json.testGroups) {
    if (g.ivSize !== 96 || g.tagSize !== 128 || (g.keySize !== 128 && g.keySize !== 256)) continue;
    for (const t of g.tests) {
      const hex = (s: string) => Buffer.from(s, 'hex');
      out.push({ tcId: t.tcId, comment: t.comment, key: hex(t.key), iv: hex(t.iv), aad: hex(t.aad), msg: hex(t.msg),
        ct: hex(t.ct), tag: hex(t.tag), result: t.result });
    }
  }
  return out;
}

const vectors = loadVectors();
const valid = vectors.filter((v) => v.result === 'valid');
const invalid = vectors.filter((v) => v.result === 'invalid');

describe('Wycheproof AES-GCM vectors', () => {
  it('covers both key sizes, valid and invalid, with no "acceptable" left unhandled', () => {
    expect(vectors.filter((v) => v.key.length === 16).length).toBeGreaterThan(50);
    expect(vectors.filter((v) => v.key.length === 32).length).toBeGreaterThan(50);
    expect(invalid.length).toBeGreaterThan(40);
    expect(vectors.filter((v) => v.result === 'acceptable')).toEqual([]);
  });

  describe.each(PATHS)('path %s', (path) => {
    it('seals every valid vector to its ciphertext and tag, and opens it', () => {
      for (const v of valid) {
        const id = `tcId ${v.tcId} (${v.comment})`;
        const { ciphertext, tag } = gcm.seal(path, v.key, v.iv, v.aad, v.msg);
        expect(ciphertext.toString('hex'), id).toBe(v.ct.toString('hex'));
        expect(tag.toString('hex'), id).toBe(v.tag.toString('hex'));
        expect(gcm.open(path, v.key, v.iv, v.aad, v.ct, v.tag)?.toString('hex'), id).toBe(v.msg.toString('hex'));
      }
    });

    it('refuses every invalid vector and zeroes the buffer', () => {
      for (const v of invalid) {
        const id = `tcId ${v.tcId} (${v.comment})`;
        const data = Buffer.from(v.ct);
        expect(gcm.openInPlace(path, v.key, v.iv, v.aad, data, v.tag), id).toBe(false);
        expect(data.every((b) => b === 0), `${id}: buffer zeroed`).toBe(true);
        // Our own seal of the message must not produce the forged pair.
        const sealed = gcm.seal(path, v.key, v.iv, v.aad, v.msg);
        expect(sealed.ciphertext.equals(v.ct) && sealed.tag.equals(v.tag), id).toBe(false);
      }
    });

    it('gives the same results in one batch of all vectors (mixed keys and lengths)', () => {
      const sealed = gcm.sealBatch(path, valid.map((v) => ({ key: v.key, iv: v.iv, aad: v.aad, data: v.msg })));
      for (const [i, v] of valid.entries()) {
        expect(sealed[i].ciphertext.toString('hex'), `tcId ${v.tcId}`).toBe(v.ct.toString('hex'));
        expect(sealed[i].tag.toString('hex'), `tcId ${v.tcId}`).toBe(v.tag.toString('hex'));
      }
      const all = [...valid, ...invalid];
      const opened = gcm.openBatch(path, all.map((v) => ({ key: v.key, iv: v.iv, aad: v.aad, data: v.ct, tag: v.tag })));
      for (const [i, v] of all.entries()) {
        if (v.result === 'valid') expect(opened[i]?.toString('hex'), `tcId ${v.tcId}`).toBe(v.msg.toString('hex'));
        else expect(opened[i], `tcId ${v.tcId}`).toBeNull();
      }
    });
  });
});
