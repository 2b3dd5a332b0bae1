// Differential tests: our ESP against a plain implementation on Node's
// crypto (test/support/esp-reference.ts), both ways, for both AEADs, IPv4 and
// IPv6 inner packets, random sizes, with and without TFC padding.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AEADS, ESP_HEADER_LEN, ICV_LEN, randomSa, refOpen, refSeal } from './support/esp-reference.js';
import { randomIpPacket } from './support/ip-packets.js';
import { encapsulateAll, esp, inboundFor, outboundFor } from './support/esp-native.js';

const PACKETS = 48;
const MAX_INNER = 9000;
const MAX_ESP = 9472; // the addon's largest packet (kMaxFrame)

function randomLen(version: 4 | 6): number {
  const min = version === 4 ? 20 : 40;
  // Mostly small and mid-sized packets, some jumbo ones.
  return crypto.randomInt(10) === 0 ? crypto.randomInt(min, MAX_INNER + 1) : crypto.randomInt(min, 1501);
}

describe.each(AEADS)('%s', (aead) => {
  describe.each([4, 6] as const)('IPv%i inner', (version) => {
    for (const tfc of [false, true]) {
      it(`ours → reference${tfc ? ', TFC' : ''}`, () => {
        const sa = randomSa(aead);
        const first = BigInt(crypto.randomInt(0, 2 ** 40));
        const ours = outboundFor(sa, first);
        const inner = Array.from({ length: PACKETS }, () => randomIpPacket(version, randomLen(version)));
        const padTo = tfc ? crypto.randomInt(20, 1600) : 0;
        const out = encapsulateAll(ours, inner, padTo);
        for (const [i, p] of out.entries()) {
          const seq = first + BigInt(i) + 1n;
          const opened = refOpen(sa, p, Number(seq >> 32n));
          expect(opened, `packet ${i} authenticates with seq ${seq}`).not.toBeNull();
          const o = opened!;
          expect(o.spi).toBe(sa.spi);
          expect(o.seq).toBe(seq);
          expect(o.iv.readBigUInt64BE(0)).toBe(seq); // IV = counter, big-endian
          const tfcLen = Math.max(0, padTo - inner[i].length);
          expect(o.content.length).toBe(inner[i].length + tfcLen);
          expect(o.content.subarray(0, inner[i].length).equals(inner[i])).toBe(true);
          expect(o.content.subarray(inner[i].length).every((b) => b === 0)).toBe(true);
          // RFC 4303 default padding, just enough for 4-octet alignment.
          expect(o.padding.length).toBeLessThan(4);
          expect([...o.padding]).toEqual(Array.from({ length: o.padding.length }, (_, k) => k + 1));
          expect(o.plaintext.length % 4).toBe(0);
          expect(o.nextHeader).toBe(version === 4 ? 4 : 41);
          expect(p.length).toBe(ESP_HEADER_LEN + o.plaintext.length + ICV_LEN);
          // What the pipeline budgets for (MTU checks) is what it gets.
          expect(esp.encapsulatedLength(inner[i].length, padTo)).toBe(p.length);
        }
        const c = esp.counters(ours);
        expect(c.seq).toBe(first + BigInt(PACKETS));
        expect(c.packets).toBe(PACKETS);
        expect(c.bytes).toBe(inner.reduce((n, p) => n + p.length, 0));
      });

      it(`reference → ours${tfc ? ', TFC' : ''}`, () => {
        const sa = randomSa(aead);
        const ours = inboundFor(sa);
        const inner = Array.from({ length: PACKETS }, () => randomIpPacket(version, randomLen(version)));
        const sealed = inner.map((p, i) => {
          // Any IV, any padding contents and length: the receiver must not care.
          // TFC padding up to 600 octets, as long as the ESP packet (34 octets
          // of header, trailer and ICV, up to 255 of padding) stays within the
          // largest packet the addon takes.
          const content = p.length + (tfc ? Math.min(crypto.randomInt(0, 600), MAX_ESP - 34 - 255 - p.length) : 0);
          const minPad = (4 - ((content + 2) % 4)) % 4;
          const padLen = crypto.randomInt(0, 2) ? minPad : minPad + 4 * crypto.randomInt(0, 63);
          return refSeal(sa, BigInt(i + 1), p, {
            iv: crypto.randomBytes(8),
            tfcLength: content - p.length,
            padding: crypto.randomInt(0, 2) ? Buffer.alloc(padLen) : crypto.randomBytes(padLen),
          });
        });
        const out = esp.decapsulate(ours, sealed);
        for (const [i, r] of out.entries()) {
          expect(r.result, `packet ${i}`).toBe('ok');
          expect(r.inner!.equals(inner[i]), `packet ${i}`).toBe(true);
        }
        expect(esp.counters(ours).packets).toBe(PACKETS);
      });
    }
  });

  it('ours → ours, one batch mixing SAs', () => {
    const sas = [randomSa(aead), randomSa(aead), randomSa(aead)];
    const tx = sas.map((sa) => outboundFor(sa));
    const rx = sas.map((sa) => inboundFor(sa));
    const which = Array.from({ length: 100 }, () => crypto.randomInt(sas.length));
    const inner = which.map(() => randomIpPacket(4, randomLen(4)));
    const sealed = encapsulateAll(which.map((k) => tx[k]), inner);
    // Each SA numbered its own packets 1, 2, 3, …
    sas.forEach((sa, k) => {
      const mine = sealed.filter((_, i) => which[i] === k);
      expect(mine.map((p) => p.readUInt32BE(0))).toEqual(mine.map(() => sa.spi));
      expect(mine.map((p) => p.readUInt32BE(4))).toEqual(mine.map((_, i) => i + 1));
    });
    const out = esp.decapsulate(which.map((k) => rx[k]), sealed);
    out.forEach((r, i) => {
      expect(r.result).toBe('ok');
      expect(r.inner!.equals(inner[i])).toBe(true);
    });
    // A packet handed to the wrong SA does not authenticate.
    const wrong = esp.decapsulate(which.map((k) => rx[(k + 1) % sas.length]), sealed);
    expect(wrong.map((r) => r.result)).toEqual(sealed.map(() => 'authentication'));
  });

  it('ours → ours, in batches larger than one pipeline batch', () => {
    const sa = randomSa(aead);
    const inner = Array.from({ length: 200 }, (_, i) => randomIpPacket(i % 2 ? 6 : 4, randomLen(i % 2 ? 6 : 4)));
    const sealed = encapsulateAll(outboundFor(sa), inner, 256);
    const out = esp.decapsulate(inboundFor(sa), sealed);
    expect(out.map((r) => r.result)).toEqual(inner.map(() => 'ok'));
    out.forEach((r, i) => expect(r.inner!.equals(inner[i])).toBe(true));
  });
});
