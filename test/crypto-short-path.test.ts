// The batch calls' short path (packets of up to 256 octets, interleaved
// through AES and finished four at a time), every length against Node's
// crypto (OpenSSL) on every path: AADs of one block or less ride in the
// data's registers one lane ahead on the AVX-512 path, so each AAD length
// from 0 to 17 octets meets each data length from 0 to 256 (whole
// registers, partial ones, the AAD alone), in batches that fill quads or
// leave them short, with one key and with a key per packet; a flipped tag
// bit is refused in every slot of a quad (docs/dataplane.md, "Round seven,
// the short path").
import { describe, expect, it } from 'vitest';
import { gcm, PATHS, placed, refSeal, Stream, type BatchItem } from './crypto-cases.js';

const AADS = [0, 1, 7, 8, 12, 15, 16, 17, 20];
const BATCHES = [1, 2, 3, 4, 5, 7, 8, 9, 13, 32];

describe.each(PATHS)('short path %s against OpenSSL', (path) => {
  it.each([16, 32])('%i-byte keys: every length to 256 with AADs of 0 to 20 octets, batched', (keyLen) => {
    const s = new Stream(`short-path:${path}:${keyLen}`);
    const shared = s.bytes(keyLen);
    const failures: string[] = [];
    const cases: { item: BatchItem; ct: Buffer; tag: Buffer; pt: Buffer }[] = [];
    for (let len = 0; len <= 256; len++) {
      for (const aadLen of AADS) {
        // Every third packet has a key of its own: batches mix keys too.
        const key = cases.length % 3 === 2 ? s.bytes(keyLen) : shared;
        const iv = s.bytes(12);
        const aad = s.bytes(aadLen);
        const pt = s.bytes(len);
        const ref = refSeal(key, iv, aad, pt);
        cases.push({ item: { key, iv, aad, data: placed(pt, cases.length % 64) }, ct: ref.ct, tag: ref.tag, pt });
      }
    }
    let at = 0, b = 0;
    while (at < cases.length) {
      const group = cases.slice(at, at + BATCHES[b++ % BATCHES.length]);
      const sealed = gcm.sealBatch(path, group.map((c) => c.item));
      const open = (tamper: number) =>
        gcm.openBatch(path, group.map((c, k) => {
          const tag = Buffer.from(c.tag);
          if (k === tamper) tag[k % 16] ^= 0x01;
          return { ...c.item, data: placed(c.ct, (at + k) % 64), tag };
        }));
      const opened = open(-1);
      const tampered = open(group.length - 1 - (at % group.length));
      group.forEach((c, k) => {
        const what = `len ${c.pt.length}, aad ${c.item.aad.length}, slot ${k} of ${group.length}`;
        if (!sealed[k].ciphertext.equals(c.ct) || !sealed[k].tag.equals(c.tag)) failures.push(`seal: ${what}`);
        if (opened[k] === null || !opened[k]!.equals(c.pt)) failures.push(`open: ${what}`);
        const refused = k === group.length - 1 - (at % group.length);
        if ((tampered[k] === null) !== refused) failures.push(`open with ${refused ? 'a flipped' : 'another packet\'s flipped'} tag bit: ${what}`);
      });
      at += group.length;
    }
    expect(cases.length).toBe(257 * AADS.length);
    expect(failures.slice(0, 10)).toEqual([]);
  });
});
