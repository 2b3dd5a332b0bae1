// `vitesse run --check --config F`: the options and the file are checked as
// a start and a reload (SIGHUP) check them, and nothing else happens — so it
// answers while the gateway it checks for runs (same name, same locks, same
// socket), and a file the loader refuses though yanglint accepts it
// ("net": "10.1.0.1/16", host bits set) is refused here too, as is a
// vita-ske-v5 route with nat-traversal force (once only the key manager's
// configure refused it, so the check passed what the reload refused).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeNeeding, itNeeding } from './support/requires.js';
import { until } from '../controlplane/demo/memory-two-sites.js';
import { yanglintDocument } from './config-yanglint.js';
import { INSTALLED, service } from './support/systemd-unit.js';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'vitesse.js');
const PSK = crypto.randomBytes(32).toString('hex');

function config(net = '10.2.0.0/16'): Record<string, unknown> {
  const side = (device: string, n: number, extra: object) => ({
    device, driver: 'pcap', mac: `02:00:00:0c:0${n}:01`, 'next-hop': { address: n ? '192.0.2.254' : '10.1.0.2', mac: `02:00:00:0c:0${n}:02` }, ...extra,
  });
  return {
    'vitesse-gateway:gateway': {
      'private-interface': side('priv', 0, { address: ['10.1.0.1'] }),
      'public-interface': side('pub', 1, { queue: [{ id: 1, address: '192.0.2.1' }] }),
      route: [{ id: 'site-b', net, gateway: [{ queue: 1, address: '198.51.100.1' }], spi: 1001, 'preshared-key': PSK }],
    },
  };
}

function vitesse(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
let good: string;
let bad: string;
const children: ChildProcess[] = [];
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-check-'));
  good = path.join(dir, 'gw.json');
  bad = path.join(dir, 'host-bits.json');
  fs.writeFileSync(good, JSON.stringify(config(), null, 2), { mode: 0o600 });
  fs.writeFileSync(bad, JSON.stringify(config('10.1.0.1/16'), null, 2), { mode: 0o600 });
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describeNeeding(['cli'], 'vitesse run --check', () => {
  it('exits 0 for a valid file, saying so, and writes nothing anywhere', async () => {
    const before = fs.readdirSync(dir).sort();
    const r = await vitesse(['run', '--check', '--config', good, '--name', 'check-a', '--lock-dir', path.join(dir, 'lock'), '--socket', path.join(dir, 'a.sock')]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(`${good}: valid (1 route)\n`);
    // No lock directory, no socket, no sequence state.
    expect(fs.readdirSync(dir).sort()).toEqual(before);
  });

  it('refuses what the loader refuses (exit 2, naming the path), as a start does', async () => {
    const check = await vitesse(['run', '--check', '--config', bad, '--socket', 'none']);
    expect(check.code).toBe(2);
    expect(check.stdout).toBe('');
    expect(check.stderr).toMatch(/route\[id='site-b'\]\/net.*10\.1\.0\.1\/16/);
    // The start refuses with the very same words.
    const start = await vitesse(['run', '--config', bad, '--socket', 'none', '--metrics-listen', 'none', '--lock-dir', path.join(dir, 'lock-bad')]);
    expect(start.code).toBe(2);
    expect(start.stderr).toBe(check.stderr);
  });

  itNeeding(['yanglint'], 'refuses "net": "10.1.0.1/16", which yanglint accepts', () => {
    expect(yanglintDocument(config('10.1.0.1/16')).ok).toBe(true);
  });

  it('data-plane mode: refuses a sequence state that exists but cannot be read, as a start does; a missing one is fine', async () => {
    const dp = path.join(dir, 'dp.json');
    fs.copyFileSync(path.join(root, 'deploy', 'examples', 'data-plane', 'site-a.json'), dp);
    const args = ['run', '--check', '--config', dp, '--socket', 'none', '--state-dir', path.join(dir, 'state')];
    expect((await vitesse(args)).code).toBe(0);
    fs.mkdirSync(path.join(dir, 'state'));
    fs.writeFileSync(path.join(dir, 'state', 'dp.sequence.json'), '{ not json');
    const r = await vitesse(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sequence state .*dp\.sequence\.json exists but cannot be read/);
    expect(fs.readdirSync(path.join(dir, 'state'))).toEqual(['dp.sequence.json']); // no lock file left
  });

  it('refuses bad options as a start does (exit 2)', async () => {
    const r = await vitesse(['run', '--check', '--config', good, '--socket-mode', '0666', '--socket', 'none']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--socket-mode 0666/);
  });

  it('answers while the gateway runs (its name, locks and socket), and the SIGHUP after it agrees', async () => {
    const lockDir = path.join(dir, 'lock-run');
    const socket = path.join(dir, 'run.sock');
    const live = path.join(dir, 'live.json');
    fs.copyFileSync(good, live);
    const common = ['--config', live, '--name', 'check-run', '--lock-dir', lockDir, '--socket', socket];
    const child = spawn(process.execPath, [bin, 'run', ...common, '--metrics-listen', 'none']);
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    await until(() => /"msg":"running/.test(out) || child.exitCode !== null, 30_000, 'the gateway to start');
    expect(child.exitCode, err).toBeNull();
    const locks = fs.readdirSync(lockDir).sort();

    // A second start with these options is refused (the lock): the check is not.
    const second = await vitesse(['run', ...common, '--metrics-listen', 'none']);
    expect(second.code).toBe(2);
    const ok = await vitesse(['run', '--check', ...common]);
    expect([ok.code, ok.stderr]).toEqual([0, '']);
    expect(fs.readdirSync(lockDir).sort()).toEqual(locks);
    expect(fs.lstatSync(socket).isSocket()).toBe(true);

    // A bad edit: the check refuses it, and so does the reload it would have preceded.
    fs.copyFileSync(bad, live);
    const refused = await vitesse(['run', '--check', ...common]);
    expect(refused.code).toBe(2);
    const n = out.length;
    child.kill('SIGHUP');
    await until(() => /configuration not reloaded/.test(out.slice(n)), 15_000, 'the reload to be refused');
    const line = out.slice(n).split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => /configuration not reloaded/.test(l.msg));
    const problem = /route\[id='site-b'\]\/net: .*/.exec(line.msg)![0];
    expect(refused.stderr).toContain(problem);

    // What vita-ske-v5 cannot do (no NAT traversal) is the loader's to refuse too, with the same words both ways.
    const vita = config();
    Object.assign((vita['vitesse-gateway:gateway'] as { route: object[] }).route[0], { protocol: 'vita-ske-v5', 'nat-traversal': 'force' });
    fs.writeFileSync(live, JSON.stringify(vita, null, 2), { mode: 0o600 });
    const natRefused = await vitesse(['run', '--check', ...common]);
    expect(natRefused.code).toBe(2);
    const m = out.length;
    child.kill('SIGHUP');
    await until(() => /configuration not reloaded/.test(out.slice(m)), 15_000, 'the reload to be refused');
    const natLine = out.slice(m).split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => /configuration not reloaded/.test(l.msg));
    const natProblem = "/vitesse-gateway:gateway/route[id='site-b']/nat-traversal: is force, but vita-ske-v5 runs on protocol-port with plain ESP, as Vita does (no NAT traversal)";
    expect(natLine.msg).toContain(natProblem);
    expect(natRefused.stderr).toContain(natProblem);
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    await until(() => child.exitCode !== null, 15_000, 'the gateway to stop');
  });
});

describe('the systemd unit', () => {
  it('checks the file before it signals a reload: a bad file fails the reload (exit 2)', async () => {
    const reload = service.ExecReload;
    expect(reload).toEqual([
      `${INSTALLED.bin} run --check --config /etc/vitesse/%i.json --name %i $VITESSE_ARGS`,
      '/bin/kill -HUP $MAINPID',
    ]);
    // The first command as systemd runs it for instance "site-a" (files of this test instead of /etc/vitesse).
    const argv = (file: string) => reload[0].replaceAll('%i', 'site-a').split(/\s+/).slice(1)
      .filter((w) => w !== '$VITESSE_ARGS').map((w) => (w === '/etc/vitesse/site-a.json' ? file : w));
    const ok = await vitesse([...argv(good), '--socket', 'none']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await vitesse([...argv(bad), '--socket', 'none'])).code).toBe(2);
  });
});
