// Anti-replay and Extended Sequence Numbers: duplicates, numbers left of the
// window, reordering inside it, window sizes 64…4096, and the receiver's
// seq-high inference across 2^32 boundaries. All packets here are authentic;
// only their order and repetition vary.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReferenceReplayWindow, randomSa, refOpen, refSeal, type RefSa } from './support/esp-reference.js';
import { randomIpPacket } from './support/ip-packets.js';
import { encapsulateAll, esp, inboundFor, outboundFor, type SaHandle } from './support/esp-native.js';

const TWO32 = 2n ** 32n;

// Packets with sequence numbers first+1 … first+n from our sender.
function stream(sa: RefSa, first: bigint, n: number): Buffer[] {
  return encapsulateAll(outboundFor(sa, first), Array.from({ length: n }, (_, i) => randomIpPacket(i % 2 ? 6 : 4, 48)));
}

function results(rx: SaHandle, packets: Buffer[]): string[] {
  return esp.decapsulate(rx, packets).map((r) => r.result);
}

function shuffle<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; --i) {
    const j = crypto.randomInt(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

describe('duplicates', () => {
  it('a packet received twice is refused the second time, in separate batches', () => {
    const sa = randomSa('aes-gcm-16-icv');
    const [p] = stream(sa, 0n, 1);
    const rx = inboundFor(sa);
    expect(results(rx, [p])).toEqual(['ok']);
    expect(results(rx, [p])).toEqual(['replay']);
    expect(esp.counters(rx).replayErrors).toBe(1);
  });

  it('two copies in one batch both pass the pre-check; the second is caught after authentication', () => {
    const sa = randomSa('aes-256-gcm-16-icv');
    const ps = stream(sa, 0n, 3);
    const rx = inboundFor(sa);
    expect(results(rx, [ps[0], ps[1], ps[0], ps[2], ps[1], ps[1]])).toEqual(['ok', 'ok', 'replay', 'ok', 'replay', 'replay']);
    const c = esp.counters(rx);
    expect(c.packets).toBe(3);
    expect(c.replayErrors).toBe(3);
    expect(c.decryptErrors).toBe(0);
  });
});

describe.each([64, 128, 256, 512, 1024, 2048, 4096])('window of %i', (w) => {
  it('accepts reordering inside the window and refuses what falls left of it', () => {
    const sa = randomSa('aes-gcm-16-icv');
    const n = w + 50;
    const ps = stream(sa, 0n, n); // ps[i] has sequence number i + 1
    const rx = inboundFor(sa, w);
    expect(esp.counters(rx).windowSize).toBe(w);
    // The newest first: the window's top is n.
    expect(results(rx, [ps[n - 1]])).toEqual(['ok']);
    // Too old: n - w and below.
    expect(results(rx, [ps[n - w - 1], ps[n - w - 2], ps[0]])).toEqual(['replay', 'replay', 'replay']);
    // Everything from n - w + 1 to n - 1, in any order, is new.
    const inside = shuffle(ps.slice(n - w, n - 1));
    expect(results(rx, inside)).toEqual(inside.map(() => 'ok'));
    // … exactly once.
    expect(results(rx, inside)).toEqual(inside.map(() => 'replay'));
    const c = esp.counters(rx);
    expect(c.packets).toBe(w);
    expect(c.replayErrors).toBe(3 + w - 1);
    expect(c.seq).toBe(BigInt(n));
  });
});

describe('against a naive reference window', () => {
  for (const w of [64, 1024, 4096]) {
    it(`window ${w}: random loss, duplication and reordering, random batch sizes`, () => {
      const sa = randomSa('aes-gcm-16-icv');
      const n = w + 1500;
      const ps = stream(sa, 0n, n);
      // Deliver numbers near a moving point, some far behind, some repeated.
      const order: number[] = [];
      for (let i = 0; i < 2 * n; ++i) {
        const centre = Math.floor(i / 2);
        const spread = crypto.randomInt(0, 8) === 0 ? 2 * w : 40;
        order.push(Math.min(n - 1, Math.max(0, centre + crypto.randomInt(-spread, spread + 1))));
      }
      const rx = inboundFor(sa, w);
      const model = new ReferenceReplayWindow(w);
      let got: string[] = [];
      for (let i = 0; i < order.length; ) {
        const batch = order.slice(i, i + crypto.randomInt(1, 100));
        got = got.concat(results(rx, batch.map((k) => ps[k])));
        i += batch.length;
      }
      const expected = order.map((k) => model.verdict(BigInt(k + 1)));
      expect(got).toEqual(expected);
      expect(esp.counters(rx).seq).toBe(model.top);
    });
  }
});

describe('Extended Sequence Numbers across 2^32 boundaries', () => {
  for (const high of [0n, 1n, 0xfffen]) {
    const boundary = (high + 1n) * TWO32;
    it(`our sender uses seq-high in the AAD from ${boundary} on (sender counter from boundary − 5)`, () => {
      const sa = randomSa('aes-256-gcm-16-icv');
      const ps = stream(sa, boundary - 6n, 10); // boundary - 5 … boundary + 4
      ps.forEach((p, i) => {
        const seq = boundary - 5n + BigInt(i);
        expect(p.readUInt32BE(4)).toBe(Number(seq % TWO32));
        expect(refOpen(sa, p, Number(seq >> 32n)), `seq ${seq}`).not.toBeNull();
        // The other seq-high does not authenticate: ESN really is in the AAD.
        expect(refOpen(sa, p, Number(seq >> 32n) ^ 1)).toBeNull();
      });
    });

    for (const w of [64, 4096]) {
      it(`window ${w} infers seq-high around ${boundary}, with reordering around the boundary`, () => {
        const sa = randomSa('aes-gcm-16-icv');
        const first = boundary - 40n;
        const ps = stream(sa, first - 1n, 80); // first … boundary + 39
        const rx = inboundFor(sa, w, first - 1n);
        const model = new ReferenceReplayWindow(w, first - 1n);
        // Local shuffles of 16 packets: numbers from both sides of the
        // boundary arrive while the top is on the other side.
        const order: number[] = [];
        for (let i = 0; i < ps.length; i += 16) order.push(...shuffle(Array.from({ length: 16 }, (_, k) => i + k)));
        // And some late duplicates.
        order.push(0, 39, 40, 79);
        const got = order.map((k) => esp.decapsulate(rx, [ps[k]])[0]);
        const expected = order.map((k) => model.verdict(first + BigInt(k)));
        expect(got.map((r) => r.result)).toEqual(expected);
        expect(expected.filter((e) => e === 'ok').length).toBe(80);
        expect(esp.counters(rx).seq).toBe(boundary + 39n);
      });
    }

    it(`a reference sender crossing ${boundary} is understood by our receiver`, () => {
      const sa = randomSa('aes-gcm-16-icv');
      const rx = inboundFor(sa, 128, boundary - 100n);
      const seqs = shuffle(Array.from({ length: 60 }, (_, i) => boundary - 30n + BigInt(i)));
      const inner = seqs.map(() => randomIpPacket(4, 100));
      const out = esp.decapsulate(rx, seqs.map((s, i) => refSeal(sa, s, inner[i], { iv: crypto.randomBytes(8) })));
      out.forEach((r, i) => {
        expect(r.result, `seq ${seqs[i]}`).toBe('ok');
        expect(r.inner!.equals(inner[i])).toBe(true);
      });
    });
  }

  it('the receiver authenticates with exactly one seq-high guess: a jump of 2^32 is not found', () => {
    const sa = randomSa('aes-gcm-16-icv');
    // Sender 2^32 + 10 ahead of a receiver at 5: the low half looks new but
    // the inferred seq-high is 0, so authentication fails (no resync search).
    const [p] = stream(sa, TWO32 + 10n, 1);
    const rx = inboundFor(sa, 1024, 5n);
    expect(results(rx, [p])).toEqual(['authentication']);
    expect(esp.counters(rx).seq).toBe(5n);
  });

  it('numbers that would lie before sequence number 1 are replays', () => {
    const sa = randomSa('aes-gcm-16-icv');
    const rx = inboundFor(sa, 1024, 10n);
    // Low half 2^32 - 1 against a top of 10 means seq-high -1.
    const p = refSeal(sa, TWO32 - 1n, randomIpPacket(4, 40));
    expect(results(rx, [p])).toEqual(['replay']);
    // Sequence number 0 is never sent.
    expect(results(rx, [refSeal(sa, 0n, randomIpPacket(4, 40))])).toEqual(['replay']);
  });
});
