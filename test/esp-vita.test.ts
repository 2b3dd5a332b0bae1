// Interoperability with Vita: ESP frames from its self-test captures
// (test/vectors/vita, SA in its README) through our decapsulation.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPcap } from './support/pcap.js';
import { ethernetIp, ipOwnLength, ipPacketValid } from './support/ip-packets.js';
import { refOpen, type RefSa } from './support/esp-reference.js';
import { esp, inboundFor, type DecapResultName } from './support/esp-native.js';
import { VITA } from './support/vectors.js';

const SA: RefSa = { aead: 'aes-gcm-16-icv', spi: 1001, keymat: Buffer.alloc(20) };
const PROTO_ESP = 50;

function espFrames(file: string) {
  return readPcap(path.join(VITA, file))
    .records.map((r, i) => ({ frame: i + 1, ip: ethernetIp(r.data) }))
    .filter((f) => f.ip?.protocol === PROTO_ESP)
    .map((f) => ({ frame: f.frame, fragment: f.ip!.fragment, esp: Buffer.from(f.ip!.payload) }));
}

describe('Vita self-test, ESP it sent (public-out)', () => {
  for (const file of ['selftest-public-out.pcap', 'selftest6-public-out.pcap']) {
    it(`${file}: every ESP frame decapsulates to a valid inner packet, TFC padding removed`, () => {
      const frames = espFrames(file);
      expect(frames.length).toBeGreaterThan(0);
      const sa = inboundFor(SA);
      const out = esp.decapsulate(sa, frames.map((f) => f.esp));
      for (const [i, f] of frames.entries()) {
        expect(out[i].result, `frame ${f.frame}`).toBe('ok');
        const inner = out[i].inner!;
        expect(ipPacketValid(inner), `frame ${f.frame}: ${inner.toString('hex')}`).toBe(true);
        expect(inner[0] >> 4).toBe(file.startsWith('selftest6') ? 6 : 4);
        // Independently: Node's AES-GCM sees the same packet followed by
        // zero TFC padding (these frames were padded to the MTU).
        const ref = refOpen(SA, f.esp, 0)!;
        expect(ref).not.toBeNull();
        expect(ref.content.subarray(0, inner.length).equals(inner)).toBe(true);
        expect(ref.content.length).toBeGreaterThan(inner.length);
        expect(ref.content.subarray(ipOwnLength(inner)).every((b) => b === 0)).toBe(true);
      }
      const c = esp.counters(sa);
      expect(c.packets).toBe(frames.length);
      expect(c.bytes).toBe(out.reduce((n, o) => n + o.inner!.length, 0));
      expect(c.decryptErrors + c.replayErrors + c.truncatedErrors + c.trailerErrors + c.nextHeaderErrors).toBe(0);
    });
  }
});

// What each ESP frame in the public-in captures is, read off the frames (see
// the README and the decrypted trailers): Vita's self-test sends three good
// packets, IP fragments of ESP (the pipeline drops those before decap), an
// unknown SPI, a replay of sequence number 1, a packet whose next header is
// 42 (not IP) and a TFC-padded packet.
type Expect = DecapResultName | 'fragment' | 'other_spi';
const PUBLIC_IN: Record<string, Record<number, { seq: number; expect: Expect }>> = {
  'selftest-public-in.pcap': {
    2: { seq: 1, expect: 'ok' },
    4: { seq: 2, expect: 'ok' },
    5: { seq: 3, expect: 'ok' },
    6: { seq: 4, expect: 'fragment' }, // MF set
    7: { seq: 5, expect: 'fragment' }, // fragment offset 17
    8: { seq: 1, expect: 'other_spi' }, // SPI 0
    9: { seq: 1, expect: 'replay' }, // frame 2 again
    10: { seq: 6, expect: 'bad_next_header' }, // next header 42
    11: { seq: 7, expect: 'ok' }, // TFC-padded to the MTU
  },
  'selftest6-public-in.pcap': {
    2: { seq: 1, expect: 'ok' },
    4: { seq: 2, expect: 'ok' },
    5: { seq: 3, expect: 'ok' },
    6: { seq: 1, expect: 'other_spi' },
    7: { seq: 1, expect: 'replay' },
    8: { seq: 4, expect: 'bad_next_header' },
    9: { seq: 5, expect: 'ok' },
  },
};

describe('Vita self-test, ESP it received (public-in)', () => {
  for (const [file, table] of Object.entries(PUBLIC_IN)) {
    it(`${file}: authentic frames accepted, the rest refused for the right reason`, () => {
      const frames = espFrames(file);
      expect(frames.map((f) => f.frame)).toEqual(Object.keys(table).map(Number));
      // The table is what the frames say, checked here rather than trusted.
      for (const f of frames) {
        const t = table[f.frame];
        expect(f.esp.readUInt32BE(4), `frame ${f.frame} seq`).toBe(t.seq);
        expect(f.fragment, `frame ${f.frame} fragment`).toBe(t.expect === 'fragment');
        expect(f.esp.readUInt32BE(0) === SA.spi, `frame ${f.frame} spi`).toBe(t.expect !== 'other_spi');
        const ref = refOpen({ ...SA, spi: f.esp.readUInt32BE(0) }, f.esp, 0);
        expect(ref, `frame ${f.frame} authentic`).not.toBeNull();
        expect([4, 41].includes(ref!.nextHeader), `frame ${f.frame} next header`).toBe(t.expect !== 'bad_next_header');
      }

      const sa = inboundFor(SA);
      const fed = frames.filter((f) => table[f.frame].expect !== 'fragment' && table[f.frame].expect !== 'other_spi');
      // One frame at a time, in capture order, as a gateway would see them.
      const got = fed.map((f) => esp.decapsulate(sa, [f.esp])[0]);
      for (const [i, f] of fed.entries()) {
        expect(got[i].result, `frame ${f.frame}`).toBe(table[f.frame].expect);
        if (got[i].result === 'ok') expect(ipPacketValid(got[i].inner!)).toBe(true);
      }
      const count = (e: Expect) => fed.filter((f) => table[f.frame].expect === e).length;
      const c = esp.counters(sa);
      expect(c.packets).toBe(count('ok'));
      expect(c.replayErrors).toBe(count('replay'));
      expect(c.nextHeaderErrors).toBe(count('bad_next_header'));
      expect(c.decryptErrors).toBe(0);

      // Handed to this SA anyway, a frame for another SPI is not authentic.
      const foreign = frames.filter((f) => table[f.frame].expect === 'other_spi').map((f) => f.esp);
      expect(esp.decapsulate(sa, foreign).map((r) => r.result)).toEqual(foreign.map(() => 'authentication'));
    });
  }
});
