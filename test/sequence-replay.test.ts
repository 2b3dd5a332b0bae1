// Issue 10 item 2 with `vitesse replay`: an outbound SA with an explicit key
// never sends one (key, sequence number) twice across runs. The repro: two
// replays of one configuration with different private-side captures used to
// send SPI 4098, sequence 1, IV 1 both times (the XOR of the ciphertexts was
// the XOR of the plaintexts). Also: an unreadable state file refuses the run,
// initial-sequence against the recorded mark (the higher wins), and SAs
// without extended sequence numbers, checked against Node's crypto (OpenSSL).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../controlplane/config/index.js';
import { Gateway } from '../controlplane/gateway.js';
import { DEFAULT_SEQUENCE_RESERVE } from '../controlplane/sequence-keeper.js';
import { keyFingerprint } from '../controlplane/sequence-state.js';
import { refSeal } from './support/esp-reference.js';
import { ethernet } from './support/gateway-harness.js';
import { buildIpv4, ethernetIp } from './support/ip-packets.js';
import { readPcap, writePcap } from './support/pcap.js';
import { INBOUND, MAC, OUTBOUND, lanFrames, sentEsp, sequenceConfig, vitesse, type SaExtra } from './support/sequence-setup.js';

const RESERVE = DEFAULT_SEQUENCE_RESERVE;
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-seq-replay-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory holding `name.json`, its captures and (by default) its state file. */
function setup(name: string, extra: { outbound?: SaExtra; inbound?: SaExtra } = {}) {
  const d = fs.mkdtempSync(path.join(dir, `${name}-`));
  const config = path.join(d, `${name}.json`);
  fs.writeFileSync(config, JSON.stringify(sequenceConfig(extra)));
  const f = (n: string) => path.join(d, n);
  const replay = async (tag: string, frames: { private?: Buffer[]; public?: Buffer[] }, args: string[] = []) => {
    if (frames.private) writePcap(f(`${tag}-lan.pcap`), frames.private.map((data) => ({ data })));
    if (frames.public) writePcap(f(`${tag}-wan-in.pcap`), frames.public.map((data) => ({ data })));
    const r = await vitesse(['replay', '--config', config, ...(frames.private ? ['--private-in', f(`${tag}-lan.pcap`)] : []),
      ...(frames.public ? ['--public-in', f(`${tag}-wan-in.pcap`)] : []),
      '--public-out', f(`${tag}-wan.pcap`), '--private-out', f(`${tag}-lan-out.pcap`), '--json', ...args]);
    const last = r.out.trim().split('\n').at(-1) ?? '{}';
    return { ...r, result: r.code === 0 ? JSON.parse(last) : null, wan: f(`${tag}-wan.pcap`), lanOut: f(`${tag}-lan-out.pcap`) };
  };
  return { d, config, stateFile: path.join(d, `${name}.sequence.json`), replay };
}

const stateOf = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'))['vitesse-sequence-state'];

describe('vitesse replay twice with one configuration (the repro)', () => {
  it('never repeats (SPI, sequence number, IV): the second run starts above the first run\'s reservation', async () => {
    const s = setup('repro');
    const one = await s.replay('one', { private: lanFrames(5, 0xaa) });
    expect(one.err).toBe('');
    expect(one.code).toBe(0);
    const two = await s.replay('two', { private: lanFrames(5, 0x55) });
    expect(two.code).toBe(0);
    const a = sentEsp(one.wan), b = sentEsp(two.wan);
    expect(a.length).toBe(5);
    expect(b.length).toBe(5);
    // The first run, from an empty state directory, starts at 1 as before.
    expect(a.map((e) => e.seq)).toEqual([1n, 2n, 3n, 4n, 5n]);
    // The second resumes above what the first reserved.
    expect(b.map((e) => e.seq)).toEqual([1n, 2n, 3n, 4n, 5n].map((n) => RESERVE + n));
    const nonces = [...a, ...b].map((e) => `${e.spi}/${e.seq}/${e.iv}`);
    expect(new Set(nonces).size).toBe(10);
    expect(new Set([...a, ...b].map((e) => e.iv)).size).toBe(10);
    // The reused-keystream symptom is gone: XOR of ciphertexts ≠ XOR of plaintexts.
    const xor = (x: Buffer, y: Buffer) => Buffer.from(x.map((v, i) => v ^ y[i]));
    expect(xor(a[0].ciphertext, b[0].ciphertext).equals(xor(a[0].content, b[0].content).subarray(0, a[0].ciphertext.length))).toBe(false);

    // The state file names the SA by a fingerprint of its key, never the key.
    const text = fs.readFileSync(s.stateFile, 'utf8');
    const state = stateOf(s.stateFile);
    expect(state['outbound-sa']).toEqual([{ fingerprint: keyFingerprint(OUTBOUND.keymat.subarray(0, 16)), spi: 4098, route: 'site-b', queue: 1, reserved: String(2n * RESERVE) }]);
    for (const secret of [OUTBOUND.keymat.subarray(0, 16), OUTBOUND.keymat.subarray(16), INBOUND.keymat.subarray(0, 16)]) {
      expect(text).not.toContain(secret.toString('hex'));
    }
    expect(one.out + two.out + one.err + two.err).not.toContain(OUTBOUND.keymat.subarray(0, 16).toString('hex'));
  });

  it('--state-dir keeps the state there; an empty state directory starts at 1', async () => {
    const s = setup('statedir');
    const elsewhere = fs.mkdtempSync(path.join(dir, 'state-'));
    const r = await s.replay('one', { private: lanFrames(2, 1) }, ['--state-dir', elsewhere]);
    expect(r.code).toBe(0);
    expect(sentEsp(r.wan).map((e) => e.seq)).toEqual([1n, 2n]);
    expect(fs.existsSync(path.join(elsewhere, 'statedir.sequence.json'))).toBe(true);
    expect(fs.existsSync(s.stateFile)).toBe(false);
    const again = await s.replay('two', { private: lanFrames(2, 1) }, ['--state-dir', elsewhere]);
    expect(sentEsp(again.wan).map((e) => e.seq)).toEqual([RESERVE + 1n, RESERVE + 2n]);
  });

  it('a new key under the same SPI starts afresh; the old key keeps its mark', async () => {
    const s = setup('rekey');
    await s.replay('one', { private: lanFrames(1, 1) });
    const other = { ...OUTBOUND, keymat: Buffer.concat([Buffer.alloc(16, 0x66), OUTBOUND.keymat.subarray(16)]) };
    fs.writeFileSync(s.config, JSON.stringify(sequenceConfig({ outboundSa: other })));
    const r = await s.replay('two', { private: lanFrames(1, 1) });
    expect(sentEsp(r.wan, other).map((e) => e.seq)).toEqual([1n]);
    fs.writeFileSync(s.config, JSON.stringify(sequenceConfig()));
    const back = await s.replay('three', { private: lanFrames(1, 1) });
    expect(sentEsp(back.wan).map((e) => e.seq)).toEqual([RESERVE + 1n]);
    expect(stateOf(s.stateFile)['outbound-sa'].length).toBe(2);
  });
});

describe('a state file that exists but cannot be read', () => {
  const BROKEN: { name: string; place: (file: string) => void; says: RegExp }[] = [
    { name: 'not JSON', place: (f) => fs.writeFileSync(f, '{"vitesse-sequence-state": {"version": 1, "outbound-sa": [{"finger'), says: /not JSON/ },
    { name: 'empty', place: (f) => fs.writeFileSync(f, ''), says: /not JSON/ },
    { name: 'a directory', place: (f) => fs.mkdirSync(f), says: /EISDIR/ },
    { name: 'another version', place: (f) => fs.writeFileSync(f, JSON.stringify({ 'vitesse-sequence-state': { version: 2, 'outbound-sa': [] } })), says: /version 2/ },
    { name: 'a mark that is not a uint64', place: (f) => fs.writeFileSync(f, JSON.stringify({ 'vitesse-sequence-state': { version: 1, 'outbound-sa': [{ fingerprint: 'ab'.repeat(16), reserved: '-1' }] } })), says: /reserved/ },
  ];
  it.each(BROKEN)('$name: the replay is refused (exit 2), saying why and what to do, and sends nothing', async (b) => {
    const s = setup(`broken-${b.name.replaceAll(' ', '-')}`);
    b.place(s.stateFile);
    const r = await s.replay('one', { private: lanFrames(2, 1) });
    expect(r.code).toBe(2);
    expect(r.err).toContain(s.stateFile);
    expect(r.err).toMatch(/exists but cannot be read/);
    expect(r.err).toMatch(b.says);
    expect(r.err).toMatch(/not installed/);
    expect(r.err).toMatch(/Restore the file/);
    expect(r.err).toMatch(/new key/);
    expect(fs.existsSync(r.wan)).toBe(false);
  });
});

describe('one user of a state file at a time', () => {
  it('a replay beside a gateway running the same configuration is refused (exit 2); what a dead process left is cleared', async () => {
    const s = setup('locked');
    const gw = new Gateway(parseConfig(sequenceConfig()), {
      logger: pino({ level: 'silent' }), sequenceState: s.stateFile,
      links: { private: { driver: 'pcap' }, public: { driver: 'pcap' } },
    });
    let r;
    try {
      r = await s.replay('one', { private: lanFrames(1, 1) });
    } finally {
      gw.close();
    }
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`sequence state ${s.stateFile} is in use by process ${process.pid}`));
    expect(fs.existsSync(r.wan)).toBe(false);

    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    fs.writeFileSync(path.join(s.d, 'locked.sequence.lock'), `${dead}\n`);
    const stale = path.join(s.d, `.locked.sequence.json.${dead}.tmp`); // a write the crash cut short
    fs.writeFileSync(stale, '{"vitesse-seq');
    const after = await s.replay('two', { private: lanFrames(1, 1) });
    expect(after.code).toBe(0);
    expect(fs.existsSync(stale)).toBe(false);
    expect(sentEsp(after.wan).map((e) => e.seq)).toEqual([RESERVE + 1n]); // above what the gateway reserved
    expect(fs.existsSync(path.join(s.d, 'locked.sequence.lock'))).toBe(false);
  });
});

describe('initial-sequence against the recorded mark: the higher wins', () => {
  it('a higher initial-sequence wins over the mark, and a higher mark over a lower initial-sequence', async () => {
    const s = setup('initial', { outbound: { 'initial-sequence': '3000000' } });
    expect(3000000n).toBeGreaterThan(RESERVE); // above the mark the first run leaves
    const one = await s.replay('one', { private: lanFrames(2, 1) });
    expect(sentEsp(one.wan).map((e) => e.seq)).toEqual([3000000n, 3000001n]);
    fs.writeFileSync(s.config, JSON.stringify(sequenceConfig({ outbound: { 'initial-sequence': '5' } })));
    const two = await s.replay('two', { private: lanFrames(2, 1) });
    expect(sentEsp(two.wan).map((e) => e.seq)).toEqual([3000000n + RESERVE, 3000001n + RESERVE]);
    fs.writeFileSync(s.config, JSON.stringify(sequenceConfig({ outbound: { 'initial-sequence': '9000000' } })));
    const three = await s.replay('three', { private: lanFrames(1, 1) });
    expect(sentEsp(three.wan).map((e) => e.seq)).toEqual([9000000n]);
  });

  it('across 2^32 with ESN: seq-high is carried in the AAD (opened with seq-high 1)', async () => {
    const s = setup('esn-high', { outbound: { 'initial-sequence': String(2n ** 32n + 7n) } });
    const r = await s.replay('one', { private: lanFrames(2, 1) });
    expect(sentEsp(r.wan, OUTBOUND, 1).map((e) => e.seq)).toEqual([2n ** 32n + 7n, 2n ** 32n + 8n]);
  });

  it('an inbound initial-sequence: every lower number counts as received', async () => {
    const s = setup('inbound-initial', { inbound: { 'initial-sequence': '100' } });
    const inner = (n: number) => buildIpv4({ src: '10.2.0.9', dst: '10.1.0.7', protocol: 17, payload: Buffer.alloc(16, n) });
    const esp = (seq: bigint) => ethernet(MAC.public, MAC.publicNextHop, 0x0800,
      buildIpv4({ src: '198.51.100.2', dst: '192.0.2.1', protocol: 50, payload: refSeal(INBOUND, seq, inner(Number(seq))) }));
    const r = await s.replay('one', { public: [esp(1n), esp(99n), esp(100n), esp(101n)] });
    expect(r.code).toBe(0);
    const inbound = r.result.sas.find((x: { direction: string }) => x.direction === 'inbound');
    expect(inbound.packets).toBe(2);
    expect(inbound.replayErrors).toBe(2);
    const delivered = readPcap(r.lanOut).records.map((x) => ethernetIp(x.data)).filter((ip) => ip?.protocol === 17);
    expect(delivered.map((ip) => ip!.ip[20])).toEqual([100, 101]);
  });
});

describe('esn false: a peer without extended sequence numbers (RFC 4303 §2.2.1)', () => {
  it('outbound ESP authenticates with the 8-octet AAD (SPI ‖ seq) under OpenSSL, not with the ESN one', async () => {
    const s = setup('no-esn', { outbound: { esn: false }, inbound: { esn: false } });
    const r = await s.replay('one', { private: lanFrames(3, 7) });
    expect(r.code).toBe(0);
    expect(sentEsp(r.wan, { ...OUTBOUND, esn: false }).map((e) => e.seq)).toEqual([1n, 2n, 3n]);
    expect(() => sentEsp(r.wan, OUTBOUND)).toThrow(/does not open/);
  });

  it('inbound ESP sealed without ESN is delivered; sealed with ESN it fails as decrypt-errors', async () => {
    const s = setup('no-esn-in', { inbound: { esn: false } });
    const inner = buildIpv4({ src: '10.2.0.9', dst: '10.1.0.7', protocol: 17, payload: Buffer.alloc(16, 9) });
    const esp = (esn: boolean, seq: bigint) => ethernet(MAC.public, MAC.publicNextHop, 0x0800,
      buildIpv4({ src: '198.51.100.2', dst: '192.0.2.1', protocol: 50, payload: refSeal({ ...INBOUND, esn }, seq, inner) }));
    const r = await s.replay('one', { public: [esp(false, 1n), esp(false, 2n), esp(true, 3n)] });
    const inbound = r.result.sas.find((x: { direction: string }) => x.direction === 'inbound');
    expect(inbound.packets).toBe(2);
    expect(inbound.decryptErrors).toBe(1);
    expect(r.result.dataplane.public_drop_authentication).toBe(1);
  });

  it('the SA is exhausted after 2^32-1: later packets are not sent (sequence-exhausted errors), the number never wraps', async () => {
    const s = setup('no-esn-end', { outbound: { esn: false, 'initial-sequence': String(2n ** 32n - 2n) } });
    const r = await s.replay('one', { private: lanFrames(5, 3) });
    expect(sentEsp(r.wan, { ...OUTBOUND, esn: false }).map((e) => e.seq)).toEqual([2n ** 32n - 2n, 2n ** 32n - 1n]);
    expect(r.result.dataplane.private_drop_sequence_exhausted).toBe(3);
    expect(r.result.dataplane.private_drop_encapsulation_failed).toBe(0);
    const again = await s.replay('two', { private: lanFrames(2, 3) });
    expect(sentEsp(again.wan, { ...OUTBOUND, esn: false })).toEqual([]);
    expect(again.result.dataplane.private_drop_sequence_exhausted).toBe(2);
  });

  it('the loader refuses an initial-sequence beyond 32 bits without ESN', async () => {
    const s = setup('no-esn-range', { outbound: { esn: false, 'initial-sequence': String(2n ** 32n) } });
    const r = await s.replay('one', { private: lanFrames(1, 1) });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/outbound-sa\[route='site-b'\]\[queue='1'\]\/initial-sequence: 4294967296 is beyond 4294967295: without ESN/);
  });
});
