// `vitesse replay` on captures that end mid-record (a crashed writer, a copy
// cut short): every complete record is replayed, exactly as from the same
// capture cut at the last record boundary, and nothing else happens; a file
// too short to be a capture is refused with a message naming it. Captures
// from Vita's self-test (test/vectors/vita), its IPv4 gateway in
// data-plane mode (as in replay.test.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vitesse } from './support/cli-capture.js';
import { refOpen, type RefSa } from './support/esp-reference.js';
import { readPcap } from './support/pcap.js';
import { VITA } from './support/vectors.js';

const MAC = { private: '52:54:00:00:00:00', privateNextHop: '52:54:00:00:00:01', public: '52:54:00:00:00:ff', publicNextHop: '52:54:00:00:00:fe' };
const OUTBOUND: RefSa = { aead: 'aes-gcm-16-icv', spi: 2002, keymat: Buffer.concat([Buffer.alloc(16, 0x11), Buffer.alloc(4, 0x22)]) };
const sa = (spi: number, key: string, salt: string) => ({ route: 'loop', queue: 1, spi, aead: 'aes-gcm-16-icv', key, salt });
const CONFIG = {
  'vitesse-gateway:gateway': {
    mtu: 576,
    tfc: true,
    'private-interface': { device: 'lan', driver: 'pcap', mac: MAC.private, address: ['192.168.10.1'], 'next-hop': { address: '192.168.0.1', mac: MAC.privateNextHop } },
    'public-interface': { device: 'wan', driver: 'pcap', mac: MAC.public, queue: [{ id: 1, address: '203.0.113.1' }], 'next-hop': { address: '203.0.0.1', mac: MAC.publicNextHop } },
    route: [{ id: 'loop', net: '192.168.10.0/24', gateway: [{ queue: 1, address: '203.0.113.2' }] }],
    'data-plane': { 'inbound-sa': [sa(1001, '00'.repeat(16), '00'.repeat(4))], 'outbound-sa': [sa(2002, '11'.repeat(16), '22'.repeat(4))] },
  },
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-badpcap-'));
  fs.writeFileSync(path.join(dir, 'gw.json'), JSON.stringify(CONFIG));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});


// Replays `privateIn` and `publicIn` (file contents); returns what came out and the counters.
async function replay(name: string, privateIn: Buffer, publicIn: Buffer) {
  const f = (n: string) => path.join(dir, `${name}-${n}`);
  fs.writeFileSync(f('private-in.pcap'), privateIn);
  fs.writeFileSync(f('public-in.pcap'), publicIn);
  // Each replay from an empty sequence state, as if it were the first: the
  // outputs of two replays compare equal only if both start at sequence 1.
  const state = fs.mkdtempSync(path.join(dir, `${name}-state-`));
  const r = await vitesse(['replay', '--config', path.join(dir, 'gw.json'), '--private-in', f('private-in.pcap'), '--public-in', f('public-in.pcap'),
    '--private-out', f('private-out.pcap'), '--public-out', f('public-out.pcap'), '--state-dir', state, '--json']);
  if (r.code !== 0) return { code: r.code, err: r.err };
  const counters = JSON.parse(r.out.trim().split('\n').at(-1)!).dataplane as Record<string, number>;
  const frames = (n: string) => readPcap(f(n)).records.map((x) => withoutIpId(x.data).toString('hex'));
  return { code: 0, err: r.err, counters, privateOut: frames('private-out.pcap'), publicOut: frames('public-out.pcap') };
}

// The control plane numbers the IPv4 packets it makes (ICMP) from where its
// process left off; the rest of a frame is the replay's own doing. ESP is
// opened (Node's crypto) so that the packets inside compare the same way.
function withoutIpId(frame: Buffer): Buffer {
  const f = Buffer.from(frame);
  if (f.length < 34 || f.readUInt16BE(12) !== 0x0800) return f;
  f.fill(0, 18, 20).fill(0, 24, 26);
  if (f[23] !== 50) return f;
  const opened = refOpen(OUTBOUND, f.subarray(34), 0);
  if (!opened) return f;
  const inner = Buffer.from(opened.content);
  if (inner.length >= 20 && inner[0] >> 4 === 4) inner.fill(0, 4, 6).fill(0, 10, 12);
  return Buffer.concat([f.subarray(0, 34 + 16), inner]);
}

// Offsets where each record of a classic pcap file starts, and its end.
function boundaries(file: Buffer): number[] {
  const at = [24];
  while (at.at(-1)! + 16 <= file.length) at.push(at.at(-1)! + 16 + file.readUInt32LE(at.at(-1)! + 8));
  return at.filter((x) => x <= file.length);
}

describe('vitesse replay of a capture that ends mid-record', () => {
  const privateIn = fs.readFileSync(path.join(VITA, 'selftest-private-in.pcap'));
  const publicIn = fs.readFileSync(path.join(VITA, 'selftest-public-in.pcap'));

  it('replays every complete record, as from the capture cut at the last record boundary', async () => {
    expect(privateIn.readUInt32LE(0)).toBe(0xa1b2c3d4); // boundaries() reads little-endian lengths
    const bp = boundaries(privateIn), bq = boundaries(publicIn);
    // Cut both captures after a few records: inside a record header, and inside a record's frame.
    const cases = [
      { name: 'in-header', p: bp[5] + 7, q: bq[3] + 15 },
      { name: 'in-frame', p: bp[9] + 16 + 30, q: bq[6] + 16 + 1 },
    ];
    for (const c of cases) {
      const whole = (b: number[], at: number) => b.filter((x) => x <= at).at(-1)!;
      const cut = await replay(c.name, privateIn.subarray(0, c.p), publicIn.subarray(0, c.q));
      const clean = await replay(`${c.name}-clean`, privateIn.subarray(0, whole(bp, c.p)), publicIn.subarray(0, whole(bq, c.q)));
      expect(cut.code, cut.err).toBe(0);
      expect(clean.code, clean.err).toBe(0);
      expect(cut.counters).toEqual(clean.counters);
      expect(cut.privateOut).toEqual(clean.privateOut);
      expect(cut.publicOut).toEqual(clean.publicOut);
      expect(cut.privateOut!.length + cut.publicOut!.length).toBeGreaterThan(0);
    }
  });

  it('refuses a file shorter than the pcap global header, naming it', async () => {
    const r = await replay('short', privateIn.subarray(0, 10), publicIn);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/short-private-in\.pcap/);
    expect(r.err).toMatch(/10 bytes|global header|too short|shorter/i);
  });
});
