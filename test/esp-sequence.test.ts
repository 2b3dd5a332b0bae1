// The data plane's side of issue 10 item 2, through the addon: an outbound
// SA's limit (the highest number reserved on disk) is never passed — a
// packet beyond it is dropped as `sequenceUnreserved` without using up a
// number — and SAs without ESN seal and open with the 8-octet AAD (SPI ‖
// seq), checked against Node's crypto (OpenSSL) both ways, over many random
// packets and sequence numbers up to 2^32-1.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AEADS, randomSa, refOpen, refSeal } from './support/esp-reference.js';
import { randomIpPacket } from './support/ip-packets.js';
import { encapsulate, esp } from './support/esp-native.js';

describe.each(AEADS)('%s', (aead) => {
  it('never sends beyond the limit; raising it lets the same packets through with the next numbers', () => {
    const sa = randomSa(aead);
    const tx = esp.createOutbound(aead, sa.spi, sa.keymat, 0, { limit: 3n });
    const first = esp.encapsulate(tx, Array.from({ length: 5 }, () => randomIpPacket(4, 60)));
    expect(first.map((r) => r.result)).toEqual(['ok', 'ok', 'ok', 'sequence_unreserved', 'sequence_unreserved']);
    expect(first.map((r) => (r.esp ? refOpen(sa, r.esp, 0)!.seq : null))).toEqual([1n, 2n, 3n, null, null]);
    expect(esp.counters(tx)).toMatchObject({ seq: 3n, limit: 3n, sequenceUnreserved: 2, encapErrors: 0, packets: 3 });
    esp.setLimit(tx, 5n);
    const next = encapsulate(tx, Array.from({ length: 3 }, () => randomIpPacket(6, 60)));
    expect(next.map((p) => (p ? refOpen(sa, p, 0)!.seq : null))).toEqual([4n, 5n, null]);
    expect(esp.counters(tx).sequenceUnreserved).toBe(3);
  });

  it('esn false: the data plane seals what OpenSSL opens with SPI ‖ seq, and opens what OpenSSL seals so', () => {
    for (let round = 0; round < 20; round++) {
      const sa = { ...randomSa(aead), esn: false };
      const start = BigInt(crypto.randomInt(0, 2 ** 32 - 40));
      const tx = esp.createOutbound(aead, sa.spi, sa.keymat, start, { esn: false });
      const inner = Array.from({ length: 8 }, (_, i) => randomIpPacket(i % 2 ? 6 : 4, 40 + crypto.randomInt(0, 600)));
      const sealed = encapsulate(tx, inner);
      sealed.forEach((p, i) => {
        const opened = refOpen(sa, p!, 0);
        expect(opened, `round ${round} packet ${i}`).not.toBeNull();
        expect(opened!.seq).toBe(start + BigInt(i) + 1n);
        expect(opened!.content.subarray(0, inner[i].length).equals(inner[i])).toBe(true);
        expect(refOpen({ ...sa, esn: true }, p!, 0)).toBeNull(); // the ESN AAD would not authenticate it
      });
      const rx = esp.createInbound(aead, sa.spi, sa.keymat, 1024, 0, { esn: false });
      const seqs = [start + 1n, start + 3n, start + 2n, start + 3n];
      const res = esp.decapsulate(rx, seqs.map((q, i) => refSeal(sa, q, inner[i])));
      expect(res.map((r) => r.result)).toEqual(['ok', 'ok', 'ok', 'replay']);
      expect(res[0].inner!.equals(inner[0])).toBe(true);
      expect(esp.decapsulate(rx, [refSeal({ ...sa, esn: true }, start + 9n, inner[0])])[0].result).toBe('authentication');
    }
  });

  it('esn false: the counter stops after 2^32-1 rather than wrap', () => {
    const sa = { ...randomSa(aead), esn: false };
    const tx = esp.createOutbound(aead, sa.spi, sa.keymat, 2n ** 32n - 2n, { esn: false });
    const out = esp.encapsulate(tx, [randomIpPacket(4, 40), randomIpPacket(4, 40), randomIpPacket(4, 40)]);
    expect(refOpen(sa, out[0].esp!, 0)!.seq).toBe(2n ** 32n - 1n);
    expect(out.slice(1)).toEqual([{ result: 'sequence_exhausted', esp: null }, { result: 'sequence_exhausted', esp: null }]);
    expect(esp.counters(tx)).toMatchObject({ seq: 2n ** 32n - 1n, encapErrors: 0, sequenceExhausted: 2, sequenceUnreserved: 0, esn: false });
  });

  it('an inbound SA started at a number takes every lower one as received', () => {
    const sa = randomSa(aead);
    const rx = esp.createInbound(aead, sa.spi, sa.keymat, 64, 0, { startAt: 999n });
    const p = randomIpPacket(4, 40);
    expect(esp.decapsulate(rx, [998n, 999n, 1000n, 936n, 1n].map((q) => refSeal(sa, q, p))).map((r) => r.result))
      .toEqual(['replay', 'replay', 'ok', 'replay', 'replay']);
  });
});
