// Anti-replay and Extended Sequence Numbers: duplicates, numbers left of the
// window, reordering inside it, window sizes 64…4096, and the receiver's
// seq-high inference across 2^32 boundaries, packet by packet within a batch
// (RFC 4303 Appendix A). Packets are authentic unless a test forges them.
import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ReferenceReplayWindow, randomSa, refOpen, refSeal, type RefSa } from './support/esp-reference.js';
import { buildIpv4, randomIpPacket } from './support/ip-packets.js';
import { ethernet, makeHarness, pollUntilIdle, type Harness } from './support/gateway-harness.js';
import { FIRST_QUEUE, RouteId, Spi } from '../controlplane/exchange/types.js';
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

// A batch is decapsulated with one crypto call, but each packet's seq-high
// must be inferred from the window as the packets before it left it, and the
// window moves only for packets that authenticated.
describe('seq-high inference packet by packet within a batch (RFC 4303 Appendix A)', () => {
  // A copy of `p` whose ICV no longer verifies, whatever seq-high is tried.
  const forge = (p: Buffer) => {
    const f = Buffer.from(p);
    f[f.length - 1] ^= 0x01;
    return f;
  };

  it('issue 10: replay window 32, a fresh SA, 50 frames from 2^32 − 40 in one batch are all accepted', () => {
    const sa = randomSa('aes-gcm-16-icv');
    const inner = Array.from({ length: 50 }, () => randomIpPacket(4, 48));
    const ps = encapsulateAll(outboundFor(sa, TWO32 - 41n), inner); // 2^32 − 40 … 2^32 + 9
    const rx = inboundFor(sa, 32);
    const model = new ReferenceReplayWindow(32);
    const expected = ps.map((_, i) => model.verdict(TWO32 - 40n + BigInt(i)));
    expect(expected).toEqual(ps.map(() => 'ok'));
    const out = esp.decapsulate(rx, ps);
    expect(out.map((r) => r.result)).toEqual(expected);
    out.forEach((r, i) => expect(r.inner!.equals(inner[i])).toBe(true));
    const c = esp.counters(rx);
    expect([c.packets, c.replayErrors, c.decryptErrors]).toEqual([50, 0, 0]);
    expect(c.seq).toBe(TWO32 + 9n);
  });

  it('a forgery queued ahead does not move the window for the packets behind it', () => {
    const sa = randomSa('aes-gcm-16-icv');
    const ps = encapsulateAll(outboundFor(sa, TWO32 - 33n), Array.from({ length: 4 }, () => randomIpPacket(4, 48)));
    // ps[i] is 2^32 − 32 + i. Had the forged 2^32 − 32 authenticated, the
    // window would place 2^32 − 31 … in subspace 0; it did not, so a fresh
    // window reads them one subspace back, before number 0: replays.
    const batch = [forge(ps[0]), ps[1], ps[2], ps[0], ps[3]];
    const model = new ReferenceReplayWindow(32);
    const expected = [model.verdict(TWO32 - 32n, false), ...[1, 2, 0, 3].map((i) => model.verdict(TWO32 - 32n + BigInt(i)))];
    expect(expected).toEqual(['authentication', 'replay', 'replay', 'ok', 'ok']);
    const rx = inboundFor(sa, 32);
    expect(results(rx, batch)).toEqual(expected);
    expect(esp.counters(rx).seq).toBe(TWO32 - 29n);
  });

  it('a low half more than the window behind a packet queued ahead is read in the next subspace, as Appendix A reads it', () => {
    const sa = randomSa('aes-gcm-16-icv');
    // Window 32 at top 100: 200 moves it to 200, after which the low half
    // 150 lies left of the window and Appendix A reads it as 2^32 + 150.
    const batch = [refSeal(sa, 200n, randomIpPacket(4, 40)), refSeal(sa, TWO32 + 150n, randomIpPacket(4, 40))];
    const model = new ReferenceReplayWindow(32, 100n);
    expect([model.verdict(200n), model.verdict(TWO32 + 150n)]).toEqual(['ok', 'ok']);
    const rx = inboundFor(sa, 32, 100n);
    expect(results(rx, batch)).toEqual(['ok', 'ok']);
    expect(esp.counters(rx).seq).toBe(TWO32 + 150n);
    // Had 200 been forged, 150 would be read in subspace 0 (and fail).
    const rx2 = inboundFor(sa, 32, 100n);
    expect(results(rx2, [forge(batch[0]), batch[1]])).toEqual(['authentication', 'authentication']);
    expect(esp.counters(rx2).seq).toBe(100n);
  });

  // Random traffic around a 2^32 boundary for two SAs sharing each batch:
  // loss, duplicates, reordering within and beyond the window, forgeries,
  // batches of 1 to 150 packets (over the data plane's batch of 64).
  for (const w of [32, 64, 1024]) {
    for (const high of [0n, 1n, 0xfffen]) {
      it(`window ${w} around ${high + 1n} × 2^32: as Appendix A one packet at a time`, () => {
        const boundary = (high + 1n) * TWO32;
        const span = Math.min(3 * w, 1024);
        const lo = boundary - BigInt(span);
        const n = 2 * span;
        const streams = [0, 1].map((s) => {
          const sa = randomSa(s ? 'aes-256-gcm-16-icv' : 'aes-gcm-16-icv');
          const ps = stream(sa, lo - 1n, n); // ps[i] is lo + i
          // A fresh SA (top 0) where that can meet the boundary, else a top
          // somewhere before or inside the stream's start.
          const top = high === 0n && crypto.randomInt(2) === 0 ? 0n : lo - 1n + BigInt(crypto.randomInt(0, w));
          return { ps, rx: inboundFor(sa, w, top), model: new ReferenceReplayWindow(w, top) };
        });
        const packets: Buffer[] = [];
        const handles: SaHandle[] = [];
        const expected: string[] = [];
        for (let i = 0; i < 3 * n; ++i) {
          const s = streams[crypto.randomInt(2)];
          const centre = Math.floor(i / 3);
          const spread = crypto.randomInt(0, 6) === 0 ? 2 * w : Math.max(4, w / 4);
          const k = Math.min(n - 1, Math.max(0, centre + crypto.randomInt(-spread, spread + 1)));
          const forged = crypto.randomInt(0, 10) === 0;
          packets.push(forged ? forge(s.ps[k]) : s.ps[k]);
          handles.push(s.rx);
          expected.push(s.model.verdict(lo + BigInt(k), !forged));
        }
        const got: string[] = [];
        for (let i = 0; i < packets.length; ) {
          const size = crypto.randomInt(1, 151);
          got.push(...esp.decapsulate(handles.slice(i, i + size), packets.slice(i, i + size)).map((r) => r.result));
          i += size;
        }
        expect(got).toEqual(expected);
        for (const s of streams) {
          const accepted = expected.filter((e, i) => e === 'ok' && handles[i] === s.rx).length;
          expect(esp.counters(s.rx).packets).toBe(accepted);
          expect(esp.counters(s.rx).seq).toBe(s.model.top);
          // The traffic did cross the boundary.
          expect(accepted).toBeGreaterThan(n / 8);
          expect(s.model.top).toBeGreaterThan(boundary);
        }
      });
    }
  }
});

describe('the issue 10 repro through the gateway pipeline', () => {
  const GW_PUB_MAC = '02:00:00:00:01:01';
  const PEER_MAC = '02:00:00:00:01:02';
  let h: Harness | undefined;
  afterEach(() => {
    h?.close();
    h = undefined;
  });

  it('replay window 32: 50 ESP frames from 2^32 − 40 in one receive batch all reach the private side', () => {
    h = makeHarness({
      mtu: 1500,
      private: { mac: '02:00:00:00:00:01', ipv4: '10.1.0.1' },
      public: { mac: GW_PUB_MAC, addresses: ['192.0.2.1'] },
    });
    const sa = randomSa('aes-gcm-16-icv');
    h.gw.setRoutes([{ id: RouteId('site-b'), net: '10.2.0.0/16', gateways: ['192.0.2.9'] }]);
    h.gw.addInboundSa({ queue: FIRST_QUEUE, route: RouteId('site-b'), spi: Spi(sa.spi), aead: sa.aead, keymat: sa.keymat, replayWindow: 32 });
    h.gw.setNextHop('private', '02:00:00:00:00:02');
    h.gw.setNextHop('public', PEER_MAC);
    const frames = Array.from({ length: 50 }, (_, i) => {
      const payload = Buffer.alloc(28);
      payload.writeUInt32BE(i, 8);
      const inner = buildIpv4({ src: '10.2.0.7', dst: '10.1.0.2', payload });
      const espPacket = refSeal(sa, TWO32 - 40n + BigInt(i), inner);
      return ethernet(GW_PUB_MAC, PEER_MAC, 0x0800, buildIpv4({ src: '192.0.2.9', dst: '192.0.2.1', protocol: 50, payload: espPacket }));
    });
    pollUntilIdle(h.gw);
    expect(h.sendPublic(frames)).toBe(50);
    pollUntilIdle(h.gw);
    const delivered = h.receivePrivate().map((f) => f.readUInt32BE(14 + 20 + 8));
    expect(delivered).toEqual(frames.map((_, i) => i));
    const c = h.gw.counters();
    expect([c.decapsulated_packets, c.public_drop_replay, c.public_drop_authentication]).toEqual([50, 0, 0]);
    const inbound = h.gw.sas().find((s) => s.direction === 'inbound')!;
    expect([inbound.packets, inbound.replayErrors, inbound.decryptErrors]).toEqual([50, 0, 0]);
  });
});
