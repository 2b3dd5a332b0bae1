// The long path's boundaries, every one of them against Node's crypto
// (OpenSSL) on every path: where the last group's reduction takes the tail
// and the length block or leaves them their own (tails of 0–16 blocks after
// 1–6 groups, with AAD of 0–17 blocks in front), where the AVX2 path's
// spans of groups end, and where the AVX-512 path stops stepping counters
// in their last octet (a packet of 254 blocks does, of 255 does not:
// docs/dataplane.md, "Round seven, AES-GCM at IMIX"). One packet per call and
// the same packets as one batch.
import { describe, expect, it } from 'vitest';
import { gcm, PATHS, placed, refSeal, Stream, type BatchItem } from './crypto-cases.js';

const GROUP_TAILS = [0, 1, 15, 16, 17, 48, 52, 63, 64, 65, 191, 192, 193, 207, 208, 239, 240, 241, 255];
const AADS = [0, 8, 12, 16, 17, 32, 33, 240, 256, 272];

function lengths(): number[] {
  const out: number[] = [];
  for (let groups = 1; groups <= 6; groups++) for (const t of GROUP_TAILS) out.push(256 * groups + t);
  for (let len = 4032; len <= 4112; len++) out.push(len);  // 252–257 blocks
  return out;
}

describe.each(PATHS)('long path %s against OpenSSL', (path) => {
  it.each([16, 32])('%i-byte keys: group, span and counter boundaries', (keyLen) => {
    const s = new Stream(`long-path:${path}:${keyLen}`);
    const key = s.bytes(keyLen);
    const failures: string[] = [];
    const items: BatchItem[] = [];
    const refs: { ct: Buffer; tag: Buffer; pt: Buffer }[] = [];
    let cases = 0;
    for (const len of lengths()) {
      for (const aadLen of len > 4000 ? [0, 12] : AADS) {
        const iv = s.bytes(12);
        const aad = s.bytes(aadLen);
        const pt = s.bytes(len);
        const ref = refSeal(key, iv, aad, pt);
        const what = `len ${len}, aad ${aadLen}`;
        const data = placed(pt, cases % 64);
        const tag = gcm.sealInPlace(path, key, iv, aad, data);
        if (!data.equals(ref.ct) || !tag.equals(ref.tag)) failures.push(`seal: ${what}`);
        const back = placed(ref.ct, (cases + 7) % 64);
        if (!gcm.openInPlace(path, key, iv, aad, back, ref.tag) || !back.equals(pt)) failures.push(`open: ${what}`);
        items.push({ key, iv, aad, data: placed(pt, cases % 64) });
        refs.push({ ...ref, pt });
        cases++;
      }
    }
    // The same packets in batches of 32: long ones run alone or beside others.
    for (let at = 0; at < items.length; at += 32) {
      const batch = items.slice(at, at + 32);
      const sealed = gcm.sealBatch(path, batch);
      const opened = gcm.openBatch(path, batch.map((it, k) => ({ ...it, data: placed(refs[at + k].ct, 5), tag: refs[at + k].tag })));
      for (let k = 0; k < batch.length; k++) {
        const r = refs[at + k];
        const what = `len ${r.pt.length}, aad ${batch[k].aad.length}`;
        if (!sealed[k].ciphertext.equals(r.ct) || !sealed[k].tag.equals(r.tag)) failures.push(`batch seal: ${what}`);
        if (opened[k] === null || !opened[k]!.equals(r.pt)) failures.push(`batch open: ${what}`);
      }
    }
    expect(cases).toBeGreaterThan(1000);
    expect(failures.slice(0, 10)).toEqual([]);
  });
});
