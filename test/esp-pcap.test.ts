// test/support/pcap.ts: the capture reader/writer other tests rely on.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatPcap, LINKTYPE_ETHERNET, parsePcap, PcapError, readPcap, reencode, writePcap } from './support/pcap.js';
import { VITA } from './support/vectors.js';


function randomRecords(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    data: crypto.randomBytes(crypto.randomInt(0, 1600)),
    tsSec: 1_700_000_000 + i,
    tsUsec: crypto.randomInt(0, 1_000_000),
  }));
}

describe('pcap', () => {
  it('reads back what it writes', () => {
    const recs = randomRecords(50);
    const file = parsePcap(formatPcap(recs));
    expect(file).toMatchObject({ littleEndian: true, nanosecond: false, versionMajor: 2, versionMinor: 4, linkType: LINKTYPE_ETHERNET, truncated: false });
    expect(file.records.map((r) => r.data)).toEqual(recs.map((r) => r.data));
    expect(file.records.map((r) => [r.tsSec, r.tsFrac, r.origLen])).toEqual(recs.map((r) => [r.tsSec, r.tsUsec, r.data.length]));
  });

  it('reads both byte orders and nanosecond files', () => {
    const recs = randomRecords(10);
    for (const bigEndian of [false, true]) {
      for (const nanosecond of [false, true]) {
        const file = parsePcap(reencode(formatPcap(recs), bigEndian, nanosecond));
        expect(file.littleEndian).toBe(!bigEndian);
        expect(file.nanosecond).toBe(nanosecond);
        expect(file.linkType).toBe(LINKTYPE_ETHERNET);
        expect(file.records.map((r) => r.data)).toEqual(recs.map((r) => r.data));
        expect(file.records.map((r) => r.tsFrac)).toEqual(recs.map((r) => r.tsUsec));
      }
    }
  });

  it('a file cut anywhere gives the complete records before the cut and says so', () => {
    const recs = randomRecords(6).map((r, i) => ({ ...r, data: r.data.subarray(0, 40 + i) }));
    const whole = formatPcap(recs);
    const ends: number[] = [];
    for (let off = 24; off < whole.length; off += 16 + whole.readUInt32LE(off + 8)) ends.push(off + 16 + whole.readUInt32LE(off + 8));
    for (let cut = 24; cut <= whole.length; ++cut) {
      const file = parsePcap(whole.subarray(0, cut), 'cut.pcap');
      const complete = ends.filter((e) => e <= cut).length;
      expect(file.records.length, `cut at ${cut}`).toBe(complete);
      expect(file.records.map((r) => r.data)).toEqual(recs.slice(0, complete).map((r) => r.data));
      const atBoundary = cut === 24 || ends.includes(cut);
      expect(file.truncated, `cut at ${cut}`).toBe(!atBoundary);
      if (!atBoundary) expect(file.problem).toMatch(new RegExp(`^cut\\.pcap: record ${complete} at byte \\d+: file ends inside`));
    }
  });

  it('a corrupt record length stops the reader with a message, not an exception', () => {
    const whole = formatPcap(randomRecords(3));
    const second = 24 + 16 + whole.readUInt32LE(24 + 8);
    whole.writeUInt32LE(0xfffffff0, second + 8);
    const file = parsePcap(whole);
    expect(file.records.length).toBe(1);
    expect(file.truncated).toBe(true);
    expect(file.problem).toMatch(/record 1 .*not plausible/);
  });

  it('refuses what is not a pcap file, saying why', () => {
    expect(() => parsePcap(Buffer.alloc(10), 'x.pcap')).toThrow(PcapError);
    expect(() => parsePcap(Buffer.alloc(10), 'x.pcap')).toThrow(/x\.pcap: 10 bytes, shorter than/);
    const pcapng = Buffer.alloc(64);
    pcapng.writeUInt32BE(0x0a0d0d0a, 0);
    expect(() => parsePcap(pcapng, 'y.pcapng')).toThrow(/y\.pcapng: not a classic pcap file \(magic 0x0a0d0d0a\)/);
  });

  it('reads the Vita captures whole, and files round-trip through disk', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-pcap-'));
    try {
      for (const name of fs.readdirSync(VITA).filter((f) => f.endsWith('.pcap'))) {
        const bytes = fs.readFileSync(path.join(VITA, name));
        const file = readPcap(path.join(VITA, name));
        expect(file).toMatchObject({ truncated: false, linkType: LINKTYPE_ETHERNET, littleEndian: true, nanosecond: false });
        expect(24 + file.records.reduce((n, r) => n + 16 + r.data.length, 0)).toBe(bytes.length);
        const copy = path.join(dir, name);
        writePcap(copy, file.records.map((r) => ({ data: r.data, tsSec: r.tsSec, tsUsec: r.tsFrac, origLen: r.origLen })), { snapLen: file.snapLen });
        expect(fs.readFileSync(copy).equals(bytes), name).toBe(true);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
