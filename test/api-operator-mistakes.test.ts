// Careless operators against `vitesse run` and `vitesse config` (child
// processes on capture-file interfaces; no privileges needed):
//
// - temporaries a gateway killed during a save left behind (they hold keys)
//   are removed at the next start; a live writer's are not;
// - a configuration path that is a symlink stays one: changes are written
//   to its target;
// - an API change refuses (409) to overwrite an edit of the file the
//   operator has not applied yet; after SIGHUP it goes through;
// - `echo $KEY | vitesse config set … -` (an unquoted key) is refused
//   without printing any of the key, saying a leaf value is a JSON string;
// - `--socket-mode 0666` is refused (exit 2) unless --insecure;
// - a configuration nested a million deep is refused naming the depth
//   limit, at start, on SIGHUP and through `vitesse config`.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNeeding } from './support/requires.js';
import { stopProcess, untilRunning, watchProcess, type WatchedProcess } from './support/gateway-process.js';
import { until } from '../controlplane/demo/memory-two-sites.js';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'vitesse.js');
const PSK = crypto.randomBytes(32).toString('hex');

function config(mtu: number): Record<string, unknown> {
  const side = (device: string, n: number, extra: object) => ({
    device, driver: 'pcap', mac: `02:00:00:0f:0${n}:01`, 'next-hop': { address: n ? '192.0.2.254' : '10.1.0.2', mac: `02:00:00:0f:0${n}:02` }, ...extra,
  });
  return {
    'vitesse-gateway:gateway': {
      mtu,
      'private-interface': side('priv', 0, { address: ['10.1.0.1'] }),
      'public-interface': side('pub', 1, { queue: [{ id: 1, address: '192.0.2.1' }] }),
      route: [{ id: 'site-b', net: '10.2.0.0/16', gateway: [{ queue: 1, address: '198.51.100.1' }], spi: 1001, 'preshared-key': PSK }],
    },
  };
}

function vitesse(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

interface Run extends WatchedProcess { child: ChildProcess }

async function run(args: string[]): Promise<Run> {
  // Locks of its own: another run of this suite beside it uses the same names.
  const child = spawn(process.execPath, [bin, 'run', '--metrics-listen', 'none', '--lock-dir', path.join(dir, 'lock'), ...args]);
  const r: Run = Object.assign(watchProcess(child), { child });
  runs.push(r);
  await untilRunning(r);
  return r;
}

const stop = (r: Run) => stopProcess(r.child, r);

async function sighup(r: Run, expectMsg: RegExp): Promise<Record<string, any>> {
  const n = r.logs.length;
  r.child.kill('SIGHUP');
  await until(() => r.logs.slice(n).some((l) => expectMsg.test(String(l.msg))), 15_000, `a log line matching ${expectMsg}`);
  return r.logs.slice(n).find((l) => expectMsg.test(String(l.msg)))!;
}

const runs: Run[] = [];
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-mistakes-'));
});

afterAll(() => {
  for (const r of runs) r.child.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A PID no process has (above the kernel's pid_max is never used). */
const DEAD_PID = 4194304 + 17;

describeNeeding(['cli'], 'the configuration file under the API', () => {
  it('removes stale temporaries at start, writes through a symlink, and refuses to overwrite an unapplied edit (409)', async () => {
    const real = path.join(dir, 'etc');
    fs.mkdirSync(real);
    const target = path.join(real, 'site-a.json');
    const link = path.join(dir, 'gw.json');
    fs.writeFileSync(target, JSON.stringify(config(1400), null, 2), { mode: 0o600 });
    fs.symlinkSync(target, link);
    // Left by gateways killed during a save (beside the link and beside its target), and one a live process is writing.
    const stale = [path.join(dir, `.gw.json.${DEAD_PID}.tmp`), path.join(real, `.site-a.json.${DEAD_PID}.tmp`)];
    const live = path.join(real, `.site-a.json.${process.pid}.tmp`);
    const unrelated = path.join(real, `.other.json.${DEAD_PID}.tmp`);
    for (const f of [...stale, live, unrelated]) fs.writeFileSync(f, JSON.stringify(config(1400)), { mode: 0o600 });

    const socket = path.join(dir, 'gw.sock');
    const gw = await run(['--config', link, '--name', 'mistakes', '--socket', socket]);
    try {
      expect(stale.filter((f) => fs.existsSync(f))).toEqual([]);
      expect(fs.existsSync(live) && fs.existsSync(unrelated)).toBe(true);
      expect(gw.logs.filter((l) => String(l.msg).startsWith('removed a temporary configuration file')).map((l) => l.file).sort()).toEqual([...stale].sort());

      // A change is written to the link's target; the link stays.
      const set = await vitesse(['config', 'set', '--socket', socket, '/mtu', '-'], '1300');
      expect(set, set.stderr).toMatchObject({ code: 0, stderr: '' });
      expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
      expect(fs.readlinkSync(link)).toBe(target);
      expect(JSON.parse(fs.readFileSync(target, 'utf8'))['vitesse-gateway:gateway'].mtu).toBe(1300);
      expect(fs.statSync(target).mode & 0o777).toBe(0o600);
      expect(fs.readdirSync(real).filter((f) => f.endsWith('.tmp')).sort()).toEqual([path.basename(live), path.basename(unrelated)].sort());

      // The operator edits the file and has not reloaded yet: the API does not overwrite the edit.
      const edited = JSON.stringify(config(1280), null, 2);
      fs.writeFileSync(target, edited);
      const refused = await vitesse(['config', 'set', '--socket', socket, '/mtu', '-'], '1350');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`${link} changed on disk since the gateway loaded it: nothing was changed`);
      expect(refused.stderr).toMatch(/SIGHUP/);
      const status = await new Promise<number>((resolve, reject) => {
        http.request({ socketPath: socket, method: 'PUT', path: '/restconf/data/vitesse-gateway:gateway/mtu', headers: { 'content-type': 'application/yang-data+json' } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        }).on('error', reject).end('{"vitesse-gateway:mtu":1350}');
      });
      expect(status).toBe(409);
      expect(fs.readFileSync(target, 'utf8')).toBe(edited);
      expect(JSON.parse((await vitesse(['config', 'get-config', '--socket', socket, '/mtu'])).stdout)).toEqual({ 'vitesse-gateway:mtu': 1300 });

      // Once reloaded, the edit is the running configuration and changes go through again.
      await sighup(gw, /^configuration reloaded$/);
      expect(JSON.parse((await vitesse(['config', 'get-config', '--socket', socket, '/mtu'])).stdout)).toEqual({ 'vitesse-gateway:mtu': 1280 });
      const again = await vitesse(['config', 'set', '--socket', socket, '/mtu', '-'], '1350');
      expect(again, again.stderr).toMatchObject({ code: 0 });
      expect(JSON.parse(fs.readFileSync(target, 'utf8'))['vitesse-gateway:gateway'].mtu).toBe(1350);

      // An unquoted key on stdin: refused, saying what a leaf value is, without a trace of the key.
      const key = crypto.randomBytes(32).toString('hex');
      const unquoted = await vitesse(['config', 'set', '--socket', socket, "/route=site-b/preshared-key", '-'], `${key}\n`);
      expect(unquoted.code).toBe(2);
      expect(unquoted.stderr).toMatch(/stdin is not JSON .*the input is not shown: it may hold a key.*a key is a JSON string, in quotes/);
      for (let i = 0; i + 6 <= key.length; i += 2) expect(unquoted.stderr + unquoted.stdout).not.toContain(key.slice(i, i + 6));
      // Keys that begin with digits parse as a number up to the first letter: also refused, also without the key.
      const digits = '1234' + key.slice(4);
      const numeric = await vitesse(['config', 'set', '--socket', socket, "/route=site-b/preshared-key", '-'], digits);
      expect(numeric.code).not.toBe(0);
      for (let i = 0; i + 6 <= digits.length; i += 2) expect(numeric.stderr + numeric.stdout).not.toContain(digits.slice(i, i + 6));

      // A configuration nested a million deep: through the API, and on SIGHUP.
      const deep = `{"vitesse-gateway:gateway":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`;
      const viaCli = await vitesse(['config', 'set', '--socket', socket, '/', '-'], deep);
      expect(viaCli.code).toBe(2);
      expect(viaCli.stderr).toMatch(/stdin is nested deeper than 32 levels of objects and arrays \(the limit\), at line 1, column \d+/);
      fs.writeFileSync(target, deep);
      const refusedReload = await sighup(gw, /^configuration not reloaded/);
      expect(refusedReload.msg).toMatch(/nested deeper than 32 levels of objects and arrays \(the limit\)/);
      expect(refusedReload.msg).not.toMatch(/call stack/);
      expect(gw.exited).toBe(false);
    } finally {
      await stop(gw);
    }
  }, 120_000);
});

describeNeeding(['cli'], 'vitesse run refuses what an operator did not mean', () => {
  it('a configuration nested a million deep: exit 2 naming the depth limit, not a stack overflow', async () => {
    const file = path.join(dir, 'deep.json');
    fs.writeFileSync(file, `{"vitesse-gateway:gateway":{"route":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}}`);
    const r = await vitesse(['run', '--lock-dir', path.join(dir, 'lock'), '--config', file, '--socket', path.join(dir, 'deep.sock'), '--metrics-listen', 'none']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/nested deeper than 32 levels of objects and arrays \(the limit\), at line 1, column \d+/);
    expect(r.stderr).not.toMatch(/call stack/);
  });

  it('a weak API token or a token file every user can read: exit 2 before the data plane starts, the token never shown', async () => {
    const file = path.join(dir, 'token-run.json');
    fs.writeFileSync(file, JSON.stringify(config(1400)), { mode: 0o600 });
    const cert = path.join(dir, 'unused.crt');
    fs.writeFileSync(cert, 'not read: the token is refused first\n');
    const token = path.join(dir, 'run.token');
    const socket = path.join(dir, 'token.sock');
    const cases: Array<[string, number, RegExp]> = [
      ['a'.repeat(16), 0o600, /the token is too weak: it has 16 characters, fewer than 32/],
      [crypto.randomBytes(32).toString('hex'), 0o644, /is readable by every user \(mode 0644\): chmod 600/],
    ];
    for (const [text, mode, says] of cases) {
      fs.writeFileSync(token, text + '\n');
      fs.chmodSync(token, mode);
      const r = await vitesse(['run', '--lock-dir', path.join(dir, 'lock'), '--config', file, '--socket', socket, '--metrics-listen', 'none', '--name', 'weaktoken',
        '--api-listen', '127.0.0.1:0', '--api-tls-cert', cert, '--api-tls-key', cert, '--api-token-file', token]);
      expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 2, stderr: expect.stringMatching(says) });
      expect(r.stdout + r.stderr).not.toContain(text);
      expect(r.stdout).not.toContain('gateway started'); // refused before the data plane
      expect(fs.existsSync(socket)).toBe(false);
    }
  });

  it('--socket-mode open to every user: exit 2, unless --insecure (then a warning)', async () => {
    const file = path.join(dir, 'mode.json');
    fs.writeFileSync(file, JSON.stringify(config(1400)), { mode: 0o600 });
    const socket = path.join(dir, 'mode.sock');
    for (const mode of ['0666', '0602', '0777']) {
      const r = await vitesse(['run', '--lock-dir', path.join(dir, 'lock'), '--config', file, '--socket', socket, '--socket-mode', mode, '--metrics-listen', 'none']);
      expect({ mode, code: r.code }).toEqual({ mode, code: 2 });
      expect(r.stderr).toContain(`--socket-mode ${mode} lets every user of the host change the gateway`);
      expect(fs.existsSync(socket)).toBe(false);
    }
    const gw = await run(['--config', file, '--socket', socket, '--socket-mode', '0666', '--insecure', '--name', 'insecure']);
    try {
      expect(fs.statSync(socket).mode & 0o777).toBe(0o666);
      expect(gw.logs.some((l) => l.level === 'warn' && String(l.msg).startsWith('--insecure: the API socket is open to every user'))).toBe(true);
    } finally {
      await stop(gw);
    }
  }, 60_000);
});
