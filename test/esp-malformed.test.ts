// Packets that are too short, or authentic but malformed inside: each is
// refused with its own reason and counted, and only what authenticated uses
// up its sequence number.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AEADS, ESP_HEADER_LEN, ICV_LEN, randomSa, refSeal, refSealPlaintext } from './support/esp-reference.js';
import { buildIpv4, buildIpv6, randomIpPacket } from './support/ip-packets.js';
import { encapsulateAll, esp, inboundFor, outboundFor } from './support/esp-native.js';

const trailer = (padLen: number, nextHeader: number) => Buffer.from([padLen, nextHeader]);

describe.each(AEADS)('%s', (aead) => {
  it('anything shorter than header + pad length + next header + ICV is truncated; longer cuts fail authentication', () => {
    const sa = randomSa(aead);
    const [p] = encapsulateAll(outboundFor(sa), [randomIpPacket(4, 64)]);
    const rx = inboundFor(sa);
    const cuts = Array.from({ length: p.length }, (_, n) => p.subarray(0, n));
    const got = esp.decapsulate(rx, cuts).map((r) => r.result);
    const min = ESP_HEADER_LEN + 2 + ICV_LEN;
    expect(got).toEqual(cuts.map((c) => (c.length < min ? 'truncated' : 'authentication')));
    const c = esp.counters(rx);
    expect(c.truncatedErrors).toBe(min);
    expect(c.decryptErrors).toBe(p.length - min);
    // None of them used up the sequence number.
    expect(esp.decapsulate(rx, [p])[0].result).toBe('ok');
  });

  const v4 = buildIpv4({ payload: crypto.randomBytes(30) });
  const v6 = buildIpv6({ payload: crypto.randomBytes(30) });
  const cases: { name: string; plaintext: Buffer; expect: string }[] = [
    { name: 'pad length beyond the payload', plaintext: Buffer.concat([v4, Buffer.alloc(2), trailer(v4.length + 3, 4)]), expect: 'bad_trailer' },
    { name: 'only a trailer, no inner packet', plaintext: trailer(0, 4), expect: 'bad_trailer' },
    { name: 'inner IPv4 shorter than its header', plaintext: Buffer.concat([v4.subarray(0, 19), Buffer.alloc(3), trailer(3, 4)]), expect: 'bad_trailer' },
    { name: 'IPv4 total length beyond the payload', plaintext: Buffer.concat([v4.subarray(0, v4.length - 1), Buffer.alloc(1), trailer(1, 4)]), expect: 'bad_trailer' },
    { name: 'IPv4 header length below 20', plaintext: Buffer.concat([Buffer.from([0x44]), v4.subarray(1), Buffer.alloc(2), trailer(2, 4)]), expect: 'bad_trailer' },
    { name: 'IPv4 total length below its header', plaintext: (() => { const b = Buffer.from(v4); b.writeUInt16BE(19, 2); return Buffer.concat([b, Buffer.alloc(2), trailer(2, 4)]); })(), expect: 'bad_trailer' },
    { name: 'IPv6 payload length beyond the payload', plaintext: Buffer.concat([v6.subarray(0, v6.length - 2), trailer(0, 41)]), expect: 'bad_trailer' },
    { name: 'next header 42', plaintext: Buffer.concat([v4, Buffer.alloc(2), trailer(2, 42)]), expect: 'bad_next_header' },
    { name: 'next header 59 (a dummy packet)', plaintext: Buffer.concat([v4, Buffer.alloc(2), trailer(2, 59)]), expect: 'bad_next_header' },
    { name: 'next header 4 on an IPv6 packet', plaintext: Buffer.concat([v6, Buffer.alloc(2), trailer(2, 4)]), expect: 'bad_next_header' },
    { name: 'next header 41 on an IPv4 packet', plaintext: Buffer.concat([v4, Buffer.alloc(2), trailer(2, 41)]), expect: 'bad_next_header' },
  ];
  for (const k of cases) {
    it(`authentic but ${k.name}: ${k.expect}, and its sequence number is used up`, () => {
      const sa = randomSa(aead);
      const rx = inboundFor(sa);
      expect(esp.decapsulate(rx, [refSealPlaintext(sa, 7n, k.plaintext)])[0].result).toBe(k.expect);
      expect(esp.counters(rx)[k.expect === 'bad_trailer' ? 'trailerErrors' : 'nextHeaderErrors']).toBe(1);
      expect(esp.counters(rx).seq).toBe(7n);
      // A well-formed packet with the same number now is a replay.
      expect(esp.decapsulate(rx, [refSeal(sa, 7n, v4)])[0].result).toBe('replay');
    });
  }

  it('IPv4 options and any padding contents are fine', () => {
    const sa = randomSa(aead);
    const withOptions = buildIpv4({ payload: crypto.randomBytes(25) });
    // Re-layout as a 24-byte header (one word of options: NOPs).
    const p = Buffer.concat([withOptions.subarray(0, 20), Buffer.from([1, 1, 1, 1]), withOptions.subarray(20)]);
    p[0] = 0x46;
    p.writeUInt16BE(p.length, 2);
    const plaintext = Buffer.concat([p, crypto.randomBytes(7), trailer(7, 4)]);
    const [r] = esp.decapsulate(inboundFor(sa), [refSealPlaintext(sa, 1n, plaintext)]);
    expect(r.result).toBe('ok');
    expect(r.inner!.equals(p)).toBe(true);
  });
});
