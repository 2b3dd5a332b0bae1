// The pcap driver (dataplane/io/pcap_link.*): Vita's captures read through the
// driver and written back by it come out record for record identical (checked
// with the independent reader in support/pcap.ts); either byte order and both
// timestamp resolutions are read; a capture cut short delivers its complete
// records and says it was truncated.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import * as testkit from '../controlplane/testkit.js';
import { formatPcap, parsePcap, readPcap, reencode } from './support/pcap.js';
import { VITA } from './support/vectors.js';

const captures = fs.readdirSync(VITA).filter((f) => f.endsWith('.pcap')).sort();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-io-pcap-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let fileCounter = 0;
function tmpFile(contents?: Buffer): string {
  const f = path.join(tmp, `f${fileCounter++}.pcap`);
  if (contents) fs.writeFileSync(f, contents);
  return f;
}

// Reads everything the driver delivers (in bursts of up to 64).
function readAll(link: { receive(max?: number): Buffer[] }): Buffer[] {
  const out: Buffer[] = [];
  for (;;) {
    const got = link.receive(64);
    if (got.length === 0) return out;
    out.push(...got);
  }
}

function records(n: number, maxLen = 1600) {
  return Array.from({ length: n }, (_, i) => ({
    data: crypto.randomBytes(crypto.randomInt(14, maxLen)),
    tsSec: 1_700_000_000 + i,
    tsUsec: i,
  }));
}

describe('pcap driver: Vita captures round trip', () => {
  it.each(captures)('%s: read then written by the driver, record for record identical', (name) => {
    const input = path.join(VITA, name);
    const output = tmpFile();
    const link = testkit.io.open({ driver: 'pcap', pcapIn: input, pcapOut: output });
    const frames = readAll(link);
    expect(link.send(frames)).toBe(frames.length);
    const c = link.counters();
    link.close();

    const want = readPcap(input);
    const got = readPcap(output);
    expect(want.truncated).toBe(false);
    expect(frames.length).toBe(want.records.length);
    expect(got.records.length).toBe(want.records.length);
    expect(got.linkType).toBe(1);
    got.records.forEach((r, i) => {
      expect(r.data.equals(want.records[i].data), `record ${i}`).toBe(true);
      expect(r.origLen).toBe(want.records[i].data.length);
    });
    expect(c.rx_packets).toBe(want.records.length);
    expect(c.tx_packets).toBe(want.records.length);
    expect(c.rx_truncated).toBe(0);
  });
});

describe('pcap driver: reading', () => {
  const recs = records(40);
  const le = formatPcap(recs);

  it.each([
    ['little-endian, microseconds', false, false],
    ['big-endian, microseconds', true, false],
    ['little-endian, nanoseconds', false, true],
    ['big-endian, nanoseconds', true, true],
  ])('%s', (_name, bigEndian, nanosecond) => {
    const link = testkit.io.open({ driver: 'pcap', pcapIn: tmpFile(reencode(le, bigEndian, nanosecond)) });
    const frames = readAll(link);
    expect(frames.map((f) => f.toString('hex'))).toEqual(recs.map((r) => r.data.toString('hex')));
    expect(link.counters().rx_truncated).toBe(0);
    link.close();
  });

  it('delivers every complete record of a file cut short, and reports the truncation', () => {
    const full = formatPcap(recs);
    // Record boundaries, to cut inside a record header and inside record data.
    const starts: number[] = [];
    for (let off = 24; off < full.length; off += 16 + full.readUInt32LE(off + 8)) starts.push(off);
    const cuts = [starts[5] + 7, starts[17] + 16 + 3, starts[39] + 16 + recs[39].data.length - 1];
    for (const cut of cuts) {
      const complete = starts.filter((s, i) => s + 16 + recs[i].data.length <= cut).length;
      const link = testkit.io.open({ driver: 'pcap', pcapIn: tmpFile(full.subarray(0, cut)) });
      const frames = readAll(link);
      expect(frames.length, `cut at ${cut}`).toBe(complete);
      frames.forEach((f, i) => expect(f.equals(recs[i].data)).toBe(true));
      expect(link.counters().rx_truncated, `cut at ${cut}`).toBe(1);
      expect(link.receive(64)).toEqual([]); // stays at the end, no crash
      link.close();
    }
  });

  it('a file that ends exactly after a record is not truncated', () => {
    const link = testkit.io.open({ driver: 'pcap', pcapIn: tmpFile(formatPcap(recs.slice(0, 3))) });
    expect(readAll(link).length).toBe(3);
    expect(link.counters().rx_truncated).toBe(0);
    link.close();
  });

  it('skips and counts a record larger than a packet buffer, and reads on', () => {
    const big = { data: crypto.randomBytes(12_000) };
    const link = testkit.io.open({ driver: 'pcap', pcapIn: tmpFile(formatPcap([recs[0], big, recs[1]])) });
    const frames = readAll(link);
    expect(frames.map((f) => f.toString('hex'))).toEqual([recs[0].data.toString('hex'), recs[1].data.toString('hex')]);
    expect(link.counters().rx_oversize).toBe(1);
    link.close();
  });

  it('stops at a record length no frame can have, as truncated', () => {
    const file = formatPcap(recs.slice(0, 3));
    const second = 24 + 16 + recs[0].data.length;
    file.writeUInt32LE(0x7fffffff, second + 8);
    const link = testkit.io.open({ driver: 'pcap', pcapIn: tmpFile(file) });
    expect(readAll(link).length).toBe(1);
    expect(link.counters().rx_truncated).toBe(1);
    link.close();
  });

  it('refuses what is not a classic Ethernet pcap, naming the file and the problem', () => {
    const pcapng = Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex');
    const short = formatPcap([]).subarray(0, 10);
    const wrongLink = formatPcap(recs.slice(0, 1), { linkType: 101 });
    let f = tmpFile(pcapng);
    expect(() => testkit.io.open({ driver: 'pcap', pcapIn: f })).toThrow(`pcap: ${f}: pcapng is not supported`);
    f = tmpFile(short);
    expect(() => testkit.io.open({ driver: 'pcap', pcapIn: f })).toThrow(`pcap: ${f}: not a pcap file (10 bytes`);
    f = tmpFile(wrongLink);
    expect(() => testkit.io.open({ driver: 'pcap', pcapIn: f })).toThrow(`pcap: ${f}: linktype 101, only Ethernet (1)`);
    f = tmpFile(Buffer.from('this is not a capture at all'));
    expect(() => testkit.io.open({ driver: 'pcap', pcapIn: f })).toThrow(/not a pcap file \(magic 0x/);
    expect(() => testkit.io.open({ driver: 'pcap', pcapIn: path.join(tmp, 'missing.pcap') })).toThrow(/missing\.pcap: No such file/);
  });
});

describe('pcap driver: writing', () => {
  it('writes a capture other readers accept, and nothing without an output file', () => {
    const out = tmpFile();
    const link = testkit.io.open({ driver: 'pcap', pcapOut: out });
    const frames = records(100, 9000).map((r) => r.data);
    expect(link.send(frames)).toBe(100);
    expect(link.receive(64)).toEqual([]); // no input: nothing to read
    link.close();
    const file = parsePcap(fs.readFileSync(out));
    expect(file.truncated).toBe(false);
    expect(file.littleEndian).toBe(true);
    expect(file.records.map((r) => r.data.toString('hex'))).toEqual(frames.map((f) => f.toString('hex')));

    const noOut = testkit.io.open({ driver: 'pcap', pcapIn: out });
    expect(noOut.send(frames.slice(0, 3))).toBe(0);
    noOut.close();
  });

  it('a closed link refuses use', () => {
    const link = testkit.io.open({ driver: 'pcap', pcapOut: tmpFile() });
    link.close();
    link.close();
    expect(() => link.send([Buffer.alloc(60)])).toThrow('io: link is closed');
  });
});
