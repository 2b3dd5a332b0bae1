// Issue 10 item 2 with the real process: `vitesse run` (bin/vitesse.js, the
// compiled CLI) on capture files, restarted with the same configuration,
// stopped normally and killed with SIGKILL, never sends a sequence number of
// an explicit key twice: each run resumes above the mark the last one wrote
// before it could send. An unreadable state file stops the start (exit 2);
// a reload whose new SA cannot be reserved keeps the last good configuration.
// `vitesse status` shows where the numbers stand.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_SEQUENCE_RESERVE } from '../controlplane/sequence-keeper.js';
import { writePcap } from './support/pcap.js';
import { OUTBOUND, lanFrames, sentEsp, sequenceConfig } from './support/sequence-setup.js';
import { describeNeeding } from './support/requires.js';
import { watchProcess, type WatchedProcess } from './support/gateway-process.js';
import { until } from '../controlplane/demo/memory-two-sites.js';

const R = DEFAULT_SEQUENCE_RESERVE;
const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'vitesse.js');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-seq-run-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

interface Running extends WatchedProcess {
  child: ChildProcessWithoutNullStreams;
}

function run(config: string, sock: string, extra: string[] = []): Running {
  const child = spawn(process.execPath, [bin, 'run', '--config', config, '--socket', sock, '--metrics-listen', 'none', '--lock-dir', dir, ...extra],
    { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
  return Object.assign(watchProcess(child), { child });
}

async function outboundSa(sock: string): Promise<Record<string, any> | undefined> {
  const r = await cli(['config', 'get-state', '--socket', sock, '/sa']);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout)['vitesse-gateway:sa'] as Record<string, any>[]).find((sa) => sa.direction === 'outbound');
}

/** Polls the API until the outbound SA has encrypted `n` packets; returns its state then. */
async function encrypted(sock: string, n: number, p: Running): Promise<Record<string, any>> {
  let sa: Record<string, any> | undefined;
  const t0 = Date.now();
  while (!(sa && Number(sa.packets) >= n)) {
    if (Date.now() - t0 > 20_000) throw new Error(`timed out waiting for ${n} packets (stderr: ${p.stderr})`);
    await new Promise((r) => setTimeout(r, 100));
    sa = await outboundSa(sock);
  }
  return sa;
}

/** Writes the configuration with this run's captures. */
function configure(file: string, tag: string, frames: number, extra: Parameters<typeof sequenceConfig>[0] = {}): string {
  const lan = path.join(dir, `${tag}-lan.pcap`), wan = path.join(dir, `${tag}-wan.pcap`);
  if (frames > 0) writePcap(lan, lanFrames(frames, tag.charCodeAt(0)).map((data) => ({ data })));
  fs.writeFileSync(file, JSON.stringify(sequenceConfig({ ...extra, pcap: { private: { input: lan }, public: { output: wan } } })));
  return wan;
}

describeNeeding(['cli'], 'vitesse run restarted, stopped and killed with one configuration', () => {
  it('each run resumes above the last mark; SIGKILL included; status shows the numbers', async () => {
    const config = path.join(dir, 'site.json');
    const sock = path.join(dir, 'site.sock');
    const stateFile = path.join(dir, 'site.sequence.json');
    const seqs: bigint[][] = [];

    // 1: from an empty state, stopped with SIGTERM.
    const wan1 = configure(config, 'a', 5);
    const one = run(config, sock);
    const sa1 = await encrypted(sock, 5, one);
    expect(sa1).toMatchObject({ esn: true, 'next-sequence': '6', 'reserved-sequence': String(R) });
    const status = await cli(['status', '--socket', sock, '--sample', '0']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/sequence numbers:/);
    expect(status.stdout).toMatch(new RegExp(`outbound\\s+site-b\\s+1\\s+4098\\s+yes\\s+6\\s+${R}`));
    expect(status.stdout).toMatch(/inbound\s+site-b\s+1\s+8193\s+yes\s+0\s+-/);
    one.child.kill('SIGTERM');
    expect((await one.end).code).toBe(0);
    seqs.push(sentEsp(wan1).map((e) => e.seq));

    // 2: killed with SIGKILL while running.
    const wan2 = configure(config, 'b', 5);
    const two = run(config, sock);
    const sa2 = await encrypted(sock, 5, two);
    // The capture of a killed run may miss its last frames (the pcap writer
    // buffers): the state read before the kill records what it sent.
    expect(sa2).toMatchObject({ packets: '5', 'next-sequence': String(R + 6n), 'reserved-sequence': String(2n * R) });
    two.child.kill('SIGKILL');
    expect((await two.end).signal).toBe('SIGKILL');
    seqs.push(sentEsp(wan2).map((e) => e.seq));

    // 3: after the crash (its stale socket is taken over).
    const wan3 = configure(config, 'c', 5);
    const three = run(config, sock);
    await encrypted(sock, 5, three);
    three.child.kill('SIGTERM');
    expect((await three.end).code).toBe(0);
    seqs.push(sentEsp(wan3).map((e) => e.seq));

    expect(seqs[0]).toEqual([1n, 2n, 3n, 4n, 5n]);
    for (const s of seqs[1]) expect(s > R && s <= R + 5n).toBe(true);
    expect(seqs[2]).toEqual([1n, 2n, 3n, 4n, 5n].map((n) => 2n * R + n));
    const all = seqs.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(JSON.parse(fs.readFileSync(stateFile, 'utf8'))['vitesse-sequence-state']['outbound-sa'][0].reserved).toBe(String(3n * R));
  }, 120_000);
});

describeNeeding(['cli'], 'vitesse run and a sequence state it cannot use', () => {
  it('an unreadable state file stops the start: exit 2, the file, the reason and the remedy named, no socket left', async () => {
    const config = path.join(dir, 'broken.json');
    const sock = path.join(dir, 'broken.sock');
    configure(config, 'd', 1);
    fs.writeFileSync(path.join(dir, 'broken.sequence.json'), 'not json');
    const r = await cli(['run', '--config', config, '--socket', sock, '--metrics-listen', 'none', '--lock-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(path.join(dir, 'broken.sequence.json'));
    expect(r.stderr).toMatch(/exists but cannot be read \(not JSON/);
    expect(r.stderr).toMatch(/new key/);
    expect(fs.existsSync(sock)).toBe(false);
    expect(r.stderr + r.stdout).not.toContain(OUTBOUND.keymat.subarray(0, 16).toString('hex'));
  });

  it('on SIGHUP, a new SA whose numbers cannot be reserved is refused; the last good configuration runs on', async () => {
    const config = path.join(dir, 'hup.json');
    const sock = path.join(dir, 'hup.sock');
    const state = fs.mkdtempSync(path.join(dir, 'hup-state-'));
    configure(config, 'e', 1);
    const p = run(config, sock, ['--state-dir', state]);
    try {
      await encrypted(sock, 1, p);
      const blocker = path.join(state, `.hup.sequence.json.${p.child.pid}.tmp`);
      fs.mkdirSync(blocker);
      const rekeyed = { ...OUTBOUND, spi: 4099, keymat: Buffer.alloc(20, 0x77) };
      configure(config, 'e', 0, { outboundSa: rekeyed }); // the same captures: only the SA differs
      const refusals = () => p.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('configuration not reloaded'));
      p.child.kill('SIGHUP');
      await until(() => refusals().length > 0, 10_000, 'the refusal');
      expect(refusals()[0].msg).toMatch(/cannot write the sequence state/);
      expect((await outboundSa(sock))!.spi).toBe(4098);

      fs.rmdirSync(blocker);
      p.child.kill('SIGHUP');
      await until(() => p.logs.some((l) => l.msg === 'configuration reloaded'), 10_000, 'the reload');
      const sa = (await outboundSa(sock))!;
      expect(sa.spi).toBe(4099);
      expect(sa['next-sequence']).toBe('1'); // a new key starts afresh
      expect(sa['reserved-sequence']).toBe(String(R));
    } finally {
      p.child.kill('SIGTERM');
    }
    expect((await p.end).code).toBe(0);
  }, 60_000);
});
