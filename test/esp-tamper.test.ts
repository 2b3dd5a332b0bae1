// Every single-bit change to an ESP packet is refused. A flip in the SPI, IV,
// ciphertext or ICV is an authentication failure; a flip in seq-low changes
// the sequence number the receiver infers, so it is refused as a replay when
// that number is already received or left of the window (before decrypting,
// or after a failed attempt in the next subspace: ReplayWindow::likely_stale),
// and as an authentication failure otherwise. Refused packets
// leave the window as it was: the untouched packet is accepted afterwards.
import { describe, expect, it } from 'vitest';
import { AEADS, ReferenceReplayWindow, randomSa } from './support/esp-reference.js';
import { randomIpPacket } from './support/ip-packets.js';
import { encapsulateAll, esp, inboundFor, outboundFor } from './support/esp-native.js';

const WINDOW = 1024;

function flip(p: Buffer, bit: number): Buffer {
  const q = Buffer.from(p);
  q[bit >> 3] ^= 0x80 >> (bit & 7);
  return q;
}

describe.each(AEADS)('%s', (aead) => {
  for (const [version, received] of [[4, 999], [6, 70000]] as const) {
    it(`IPv${version} inner, after ${received} packets: every single-bit flip is refused`, () => {
      const sa = randomSa(aead);
      // The receiver has seen the last part of the sender's history (its
      // window starts where that part does).
      const start = received - Math.min(received, 1500);
      const tx = outboundFor(sa, start);
      const rx = inboundFor(sa, WINDOW, start);
      const model = new ReferenceReplayWindow(WINDOW, BigInt(start));
      const earlier = encapsulateAll(tx, Array.from({ length: received - start }, () => randomIpPacket(version, 60)));
      expect(esp.decapsulate(rx, earlier).every((r) => r.result === 'ok')).toBe(true);
      for (let s = start + 1; s <= received; ++s) model.record(BigInt(s));

      const inner = randomIpPacket(version, 77);
      const [packet] = encapsulateAll(tx, [inner]);
      const bits = packet.length * 8;
      const flipped = Array.from({ length: bits }, (_, b) => flip(packet, b));
      const expected = flipped.map((q, b) => {
        if (b < 32 || b >= 64) return 'authentication';
        const guess = model.infer(q.readUInt32BE(4));
        if (guess === null || !model.accepts(guess)) return 'replay';
        return model.likelyStale(guess) ? 'replay' : 'authentication';
      });
      const before = esp.counters(rx);
      const got = esp.decapsulate(rx, flipped).map((r) => r.result);
      expect(got).toEqual(expected);
      // Both kinds occur, so the seq-low rule above is really exercised.
      expect(expected.filter((e) => e === 'replay').length).toBeGreaterThan(0);
      expect(expected.slice(32, 64).filter((e) => e === 'authentication').length).toBeGreaterThan(0);

      const after = esp.counters(rx);
      expect(after.decryptErrors - before.decryptErrors).toBe(expected.filter((e) => e === 'authentication').length);
      expect(after.replayErrors - before.replayErrors).toBe(expected.filter((e) => e === 'replay').length);
      expect(after.packets).toBe(before.packets);
      expect(after.seq).toBe(before.seq);

      const [ok] = esp.decapsulate(rx, [packet]);
      expect(ok.result).toBe('ok');
      expect(ok.inner!.equals(inner)).toBe(true);
    });
  }
});
