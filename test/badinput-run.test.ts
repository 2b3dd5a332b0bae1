// Broken configuration files at `vitesse run`, as an operator meets them: at
// start the gateway refuses with exit status 2 and a message naming the file
// and what is wrong (never the key), and leaves nothing behind; on SIGHUP a
// running gateway refuses the file the same way in its log and keeps its last
// good configuration, then takes a good file again. Runs the compiled CLI
// (bin/vitesse.js) on capture-file interfaces, so it needs no privileges.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../controlplane/demo/memory-two-sites.js';
import { describeNeeding } from './support/requires.js';
import { untilRunning, watchProcess } from './support/gateway-process.js';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'vitesse.js');

const PSK = crypto.randomBytes(32).toString('hex');
const ROUTE = "/vitesse-gateway:gateway/route[id='site-b']";

function good(mtu = 1400, psk = PSK): Record<string, any> {
  const side = (device: string, n: number, extra: object) => ({
    device, driver: 'pcap', mac: `02:00:00:0d:0${n}:01`, 'next-hop': { address: n ? '192.0.2.254' : '10.1.0.2', mac: `02:00:00:0d:0${n}:02` }, ...extra,
  });
  return {
    'vitesse-gateway:gateway': {
      mtu,
      'private-interface': side('priv', 0, { address: ['10.1.0.1'] }),
      'public-interface': side('pub', 1, { queue: [{ id: 1, address: '192.0.2.1' }] }),
      route: [{ id: 'site-b', net: '10.2.0.0/16', gateway: [{ queue: 1, address: '198.51.100.1' }], spi: 1001, 'preshared-key': psk }],
    },
  };
}

const withPsk = (psk: string) => JSON.stringify(good(1400, psk));
const goodText = JSON.stringify(good(), null, 2);

// Each broken file: its contents (null: no file at all; 'dir': a directory)
// and what the message must say.
const BROKEN: { name: string; text: string | null | 'dir'; says: RegExp }[] = [
  { name: 'missing', text: null, says: /cannot read the file: ENOENT/ },
  { name: 'a directory', text: 'dir', says: /cannot read the file: EISDIR/ },
  { name: 'empty', text: '', says: /JSON|empty/i },
  { name: 'cut short', text: goodText.slice(0, goodText.length / 2), says: /JSON/ },
  { name: 'binary', text: crypto.randomBytes(200).toString('latin1'), says: /JSON/ },
  { name: 'a 31-octet key', text: withPsk(PSK.slice(0, 62)), says: new RegExp(`${escape(ROUTE)}/preshared-key: .*32-octet`) },
  { name: 'a 33-octet key', text: withPsk(PSK + 'ab'), says: new RegExp(`${escape(ROUTE)}/preshared-key: .*32-octet`) },
  { name: 'a key that is not hex', text: withPsk('zz' + PSK.slice(2)), says: new RegExp(`${escape(ROUTE)}/preshared-key`) },
  { name: 'a number as a string', text: JSON.stringify(good()).replace('"mtu":1400', '"mtu":"1400"'), says: /\/vitesse-gateway:gateway\/mtu/ },
  { name: 'a list as an object', text: JSON.stringify(good()).replace(/"route":\[(.*)\]\}\}$/, '"route":$1}}'), says: /\/vitesse-gateway:gateway\/route/ },
];

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-badinput-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function place(file: string, text: string | null | 'dir'): void {
  fs.rmSync(file, { recursive: true, force: true });
  if (text === 'dir') fs.mkdirSync(file);
  else if (text !== null) fs.writeFileSync(file, text, { mode: 0o600 });
}

function vitesse(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describeNeeding(['cli'], 'vitesse run with a broken configuration file', () => {
  it('refuses to start: exit 2, the file and the problem named, no key shown, no socket left', async () => {
    await Promise.all(BROKEN.map(async (b, i) => {
      const file = path.join(dir, `start-${i}.json`);
      const sock = path.join(dir, `start-${i}.sock`);
      place(file, b.text);
      const r = await vitesse(['run', '--config', file, '--socket', sock, '--metrics-listen', 'none']);
      expect(r.code, `${b.name}: ${r.stderr}`).toBe(2);
      expect(r.stderr, b.name).toContain(file);
      expect(r.stderr, b.name).toMatch(b.says);
      expect(r.stderr + r.stdout, b.name).not.toContain(PSK.slice(0, 32));
      expect(fs.existsSync(sock), b.name).toBe(false);
    }));
  });

  it('on SIGHUP, keeps its last good configuration and says why; a good file is taken again', async () => {
    const file = path.join(dir, 'running.json');
    const sock = path.join(dir, 'running.sock');
    place(file, goodText);
    const child = spawn(process.execPath, [bin, 'run', '--config', file, '--name', 'badinput', '--socket', sock, '--metrics-listen', 'none', '--lock-dir', dir],
      { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
    const gw = watchProcess(child);
    const { logs } = gw;
    const refusals = () => logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('configuration not reloaded'));
    try {
      await untilRunning(gw);
      for (const b of BROKEN) {
        const before = refusals().length;
        place(file, b.text);
        child.kill('SIGHUP');
        // A bound for a gateway that never answers, not a speed: a loaded CI
        // machine once took over 10 s for the first refusal.
        await until(() => refusals().length > before, 30_000, `the refusal of ${b.name}`);
        const said = refusals().at(-1)!;
        expect(said.level, b.name).toBe('error');
        expect(said.msg, b.name).toMatch(b.says);
      }
      const mtu = await vitesse(['config', 'get-config', '--socket', sock, '/mtu']);
      expect(JSON.parse(mtu.stdout)).toEqual({ 'vitesse-gateway:mtu': 1400 });

      place(file, JSON.stringify(good(1300)));
      child.kill('SIGHUP');
      await until(() => logs.some((l) => l.msg === 'configuration reloaded'), 30_000, 'the good reload');
      const after = await vitesse(['config', 'get-config', '--socket', sock, '/mtu']);
      expect(JSON.parse(after.stdout)).toEqual({ 'vitesse-gateway:mtu': 1300 });
      expect(logs.map((l) => JSON.stringify(l)).join('\n') + gw.stderr).not.toContain(PSK.slice(0, 32));
    } finally {
      child.kill('SIGTERM');
    }
    expect((await gw.end).code).toBe(0);
  }, 90_000);
});
