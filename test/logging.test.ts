// The gateway's log (controlplane/logging.ts): levels as names, ISO 8601
// times; the syslog priority before each line when stdout is the journal
// (JOURNAL_STREAM names stdout's device and inode), so `journalctl -p
// warning` works; the level changed at run time through the API's
// set-log-level operation (`vitesse log-level`), for every part of the
// gateway, with no restart.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isJournalStream, withPriority } from '../controlplane/logging.js';
import { ApiClient } from '../controlplane/api/client.js';
import { until } from '../controlplane/demo/memory-two-sites.js';
import { describeNeeding } from './support/requires.js';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'vitesse.js');

let dir: string;
const children: ChildProcess[] = [];
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-logging-'));
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const streamOf = (fd: number) => {
  const st = fs.fstatSync(fd, { bigint: true });
  return `${st.dev}:${st.ino}`;
};

describe('journal detection', () => {
  it('matches JOURNAL_STREAM against the descriptor\'s device and inode', () => {
    const fd = fs.openSync(path.join(dir, 'journal'), 'w');
    const other = fs.openSync(path.join(dir, 'other'), 'w');
    try {
      expect(isJournalStream(fd, { JOURNAL_STREAM: streamOf(fd) })).toBe(true);
      expect(isJournalStream(other, { JOURNAL_STREAM: streamOf(fd) })).toBe(false); // stdout redirected under systemd
      expect(isJournalStream(fd, {})).toBe(false);
      expect(isJournalStream(fd, { JOURNAL_STREAM: 'garbage' })).toBe(false);
      expect(isJournalStream(fd, { JOURNAL_STREAM: `${streamOf(fd)}0` })).toBe(false);
    } finally {
      fs.closeSync(fd);
      fs.closeSync(other);
    }
  });

  it('gives each level its syslog priority', () => {
    const p = (level: string) => withPriority(`{"level":"${level}","time":"x"}\n`).slice(0, 3);
    expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map(p)).toEqual(['<7>', '<7>', '<6>', '<4>', '<3>', '<2>']);
  });
});

function vitesse(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describeNeeding(['cli'], 'vitesse run under the journal, and vitesse log-level', () => {
  it('prefixes every line with its priority; `vitesse log-level debug` turns on the key manager\'s debug lines at once, and warn turns them off', async () => {
    const config = path.join(dir, 'gw.json');
    const side = (device: string, n: number, extra: object) => ({
      device, driver: 'pcap', mac: `02:00:00:0d:0${n}:01`, 'next-hop': { address: n ? '192.0.2.254' : '10.1.0.2', mac: `02:00:00:0d:0${n}:02` }, ...extra,
    });
    fs.writeFileSync(config, JSON.stringify({
      'vitesse-gateway:gateway': {
        'negotiation-ttl': 1,
        'private-interface': side('priv', 0, { address: ['10.1.0.1'] }),
        'public-interface': side('pub', 1, { queue: [{ id: 1, address: '192.0.2.1' }] }),
        route: [{ id: 'site-b', net: '10.2.0.0/16', gateway: [{ queue: 1, address: '198.51.100.1' }], spi: 1001, 'preshared-key': crypto.randomBytes(32).toString('hex') }],
      },
    }), { mode: 0o600 });
    const journal = path.join(dir, 'journal.log');
    const out = fs.openSync(journal, 'w');
    const socket = path.join(dir, 'gw.sock');
    const child = spawn(process.execPath, [bin, 'run', '--config', config, '--name', 'logging', '--socket', socket, '--lock-dir', path.join(dir, 'lock'), '--metrics-listen', 'none'], {
      stdio: ['ignore', out, 'pipe'], env: { ...process.env, JOURNAL_STREAM: streamOf(out) },
    });
    fs.closeSync(out);
    children.push(child);
    const lines = () => fs.readFileSync(journal, 'utf8').split('\n').filter(Boolean);
    const parsed = (from = 0) => lines().slice(from).map((l) => {
      const m = /^<(\d)>(\{.*\})$/.exec(l);
      expect(m, l).not.toBeNull();
      return { priority: Number(m![1]), ...JSON.parse(m![2]) } as Record<string, any>;
    });
    await until(() => lines().some((l) => l.includes('"msg":"running')) || child.exitCode !== null, 30_000, 'the gateway to start');
    expect(child.exitCode).toBeNull();
    for (const l of parsed()) {
      expect(l.priority).toBe(6);
      expect(l.level).toBe('info');
      expect(new Date(l.time).toISOString()).toBe(l.time);
    }
    expect(parsed().some((l) => l.level === 'debug')).toBe(false);

    const show = await vitesse(['log-level', '--socket', socket]);
    expect([show.code, show.stdout]).toEqual([0, 'info\n']);
    const at = lines().length;
    const set = await vitesse(['log-level', '--socket', socket, 'debug']);
    expect([set.code, set.stdout, set.stderr]).toEqual([0, 'info -> debug\n', '']);
    // The key manager (a child logger made at start) retries every negotiation-ttl: its debug lines come.
    await until(() => parsed(at).some((l) => l.level === 'debug' && l.module === 'keymanager'), 15_000, 'a debug line of the key manager');
    const changed = parsed(at).find((l) => l.msg === 'log level changed')!;
    expect(changed).toMatchObject({ priority: 4, level: 'warn', newLevel: 'debug', previousLevel: 'info' });
    expect(parsed(at).filter((l) => l.level === 'debug').every((l) => l.priority === 7)).toBe(true);

    expect((await vitesse(['log-level', '--socket', socket, 'warn'])).stdout).toBe('debug -> warn\n');
    const quiet = lines().length;
    // Two more negotiation-ttls of retries: no line below warn.
    const initiated = async () => Number((await vitesse(['config', 'get-state', '--socket', socket, '/key-manager/negotiations-initiated'])).stdout.replace(/\D/g, ''));
    const n = await initiated();
    for (let tries = 0; (await initiated()) < n + 2; tries++) {
      expect(tries, 'two more negotiations').toBeLessThan(150);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(parsed(quiet).filter((l) => l.priority > 4)).toEqual([]);

    // Refused: not a level (the CLI, and the API), a malformed input, an unknown operation, GET.
    expect((await vitesse(['log-level', '--socket', socket, 'loud'])).code).toBe(2);
    const api = new ApiClient({ socket });
    const op = '/restconf/operations/vitesse-gateway:set-log-level';
    expect((await api.get('/restconf/operations'))).toEqual({ 'ietf-restconf:operations': { 'vitesse-gateway:set-log-level': [null], 'vitesse-gateway:drain': [null] } });
    const loud = await api.request('POST', op, { 'vitesse-gateway:input': { level: 'loud' } });
    expect(loud.status).toBe(400);
    expect(JSON.stringify(loud.body)).toMatch(/not a log level/);
    expect((await api.request('POST', op, { level: 'debug' })).status).toBe(400);
    expect((await api.request('POST', '/restconf/operations/vitesse-gateway:reboot', {})).status).toBe(404);
    expect((await api.request('GET', op)).status).toBe(405);
    expect((await vitesse(['log-level', '--socket', socket])).stdout).toBe('warn\n');
    child.kill('SIGTERM');
    await until(() => child.exitCode !== null, 15_000, 'the gateway to stop');
  });
});
