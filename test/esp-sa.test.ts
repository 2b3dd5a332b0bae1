// SA set-up and tear-down: key material and window sizes, the outbound
// counter, key wiping, and misuse of the handles.
import { describe, expect, it } from 'vitest';
import { AEADS, keyLength, randomSa } from './support/esp-reference.js';
import { randomIpPacket } from './support/ip-packets.js';
import { encapsulateAll, esp, inboundFor, outboundFor } from './support/esp-native.js';

describe.each(AEADS)('%s', (aead) => {
  it('key material must be exactly key ‖ salt', () => {
    const good = keyLength(aead) + 4;
    for (const len of [0, 4, 16, 20, 32, 36, good - 1, good + 1]) {
      if (len === good) continue;
      expect(() => esp.createOutbound(aead, 1, Buffer.alloc(len)), `length ${len}`).toThrow(/key material/);
      expect(() => esp.createInbound(aead, 1, Buffer.alloc(len)), `length ${len}`).toThrow(/key material/);
    }
    expect(() => esp.createOutbound(aead, 1, Buffer.alloc(good))).not.toThrow();
    expect(() => esp.createInbound(aead, 1, Buffer.alloc(good))).not.toThrow();
  });

  it('the first packet carries sequence number 1 and the counter counts up', () => {
    const sa = randomSa(aead);
    const tx = outboundFor(sa);
    expect(esp.counters(tx).seq).toBe(0n);
    const out = encapsulateAll(tx, [randomIpPacket(4, 40), randomIpPacket(6, 40), randomIpPacket(4, 40)]);
    expect(out.map((p) => p.readUInt32BE(4))).toEqual([1, 2, 3]);
    expect(out.map((p) => p.readUInt32BE(0))).toEqual([sa.spi, sa.spi, sa.spi]);
    expect(esp.counters(tx).seq).toBe(3n);
  });

  it('an exhausted 64-bit counter sends nothing rather than reuse a nonce', () => {
    const sa = randomSa(aead);
    const tx = outboundFor(sa, 2n ** 64n - 2n);
    const out = esp.encapsulate(tx, [randomIpPacket(4, 40), randomIpPacket(4, 40), randomIpPacket(4, 40)]);
    expect(out.map((r) => r.result)).toEqual(['ok', 'sequence_exhausted', 'sequence_exhausted']);
    expect(out[0].esp).not.toBeNull();
    expect(out[1].esp).toBeNull();
    expect(out[2].esp).toBeNull();
    const c = esp.counters(tx);
    expect(c.seq).toBe(2n ** 64n - 1n);
    expect(c.sequenceExhausted).toBe(2);
    expect(c.encapErrors).toBe(0);
    expect(c.packets).toBe(1);
  });

  it('wipe zeroes the key schedule and salt and retires the handle', () => {
    const sa = randomSa(aead);
    for (const h of [outboundFor(sa), inboundFor(sa)]) {
      expect(esp.wipe(h)).toBe(true);
      expect(() => esp.counters(h)).toThrow(/wiped/);
    }
  });
});

describe('replay window sizes', () => {
  const sa = randomSa('aes-gcm-16-icv');
  it('accepts powers of two from 32 to 4096', () => {
    for (let w = 32; w <= 4096; w *= 2) expect(esp.counters(inboundFor(sa, w)).windowSize).toBe(w);
  });
  it('refuses other sizes', () => {
    for (const w of [0, 1, 16, 100, 1000, 8192, 65536]) {
      expect(() => inboundFor(sa, w), `window ${w}`).toThrow(/windowSize/);
    }
  });
});

describe('handles', () => {
  const sa = randomSa('aes-gcm-16-icv');
  it('refuses an unknown AEAD, wrong directions and foreign objects', () => {
    expect(() => esp.createOutbound('aes-gcm-8-icv' as never, 1, sa.keymat)).toThrow(/unknown AEAD/);
    expect(() => esp.encapsulate(inboundFor(sa), [])).toThrow(/outbound/);
    expect(() => esp.decapsulate(outboundFor(sa), [])).toThrow(/inbound/);
    expect(() => esp.counters({} as never)).toThrow(/SA handle/);
    expect(() => esp.encapsulate(outboundFor(sa), ['x' as never])).toThrow(/Buffer/);
  });
});
