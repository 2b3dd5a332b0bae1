// Gateways run as vitesse@.service runs them: `vitesse run` child processes
// with exactly the unit's capabilities (setpriv: the bounding set, no new
// privileges) and systemd's default RLIMIT_MEMLOCK (8 MiB), on real
// interfaces in network namespaces (controlplane/demo/two-sites.ts) —
// gateway A with af-xdp, gateway B with af-packet. Checked:
//
// - without any one of the unit's capabilities, gateway A does not start
//   (the unit grants nothing it does not need);
// - with them, the tunnel comes up, the management API answers and saves a
//   change to the configuration file, SIGHUP reloads the file;
// - after SIGKILL, the unit's helper takes off the XDP program the dead
//   gateway left, and the gateway starts again with the same capabilities;
// - with strace installed, every system call both gateways made is one the
//   unit's SystemCallFilter allows, and every socket family one its
//   RestrictAddressFamilies allows.
//
// Needs root, ip, ping, ethtool, setpriv and prlimit (util-linux), and the
// compiled CLI; skipped with the reason otherwise.
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketPathFor } from '../controlplane/api/socket.js';
import { waitForTunnel } from '../controlplane/demo/demo.js';
import { vitesseBin } from '../controlplane/demo/gateway-process.js';
import { buildTwoSites, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import { describeNeeding, itNeeding, missing } from './support/requires.js';
import { DETACH_HELPER, allowedSyscalls, capabilities, words } from './support/systemd-unit.js';

const SYSTEMD_DEFAULT_MEMLOCK = 8 * 1024 * 1024;

const straceMissing = missing('strace', 'systemd-analyze');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  child: ChildProcess;
  stderr: string;
  exit: Promise<number | null>;
  trace?: string;
}

describeNeeding(['root', 'ip', 'ping', 'ethtool', 'setpriv', 'prlimit', 'cli'], 'gateways under vitesse@.service\'s restrictions', () => {
  let lab: TwoSiteLab;
  let dir: string;
  const runs: Run[] = [];
  const files = { a: '', b: '' };
  const names = { a: `sbx${process.pid}a`, b: `sbx${process.pid}b` };
  let a: Run;
  let b: Run;
  let traces = 0;

  /** `vitesse run` in the gateway's namespace, confined like the unit confines it. */
  function start(side: 'a' | 'b', caps: string[], trace = false): Run {
    const ns = side === 'a' ? lab.ns.gwA : lab.ns.gwB;
    const confine = [
      'prlimit', `--memlock=${SYSTEMD_DEFAULT_MEMLOCK}:${SYSTEMD_DEFAULT_MEMLOCK}`, '--',
      'setpriv', '--bounding-set', ['-all', ...caps.map((c) => `+${c}`)].join(','), '--inh-caps', '-all', '--no-new-privs', '--',
    ];
    const traceFile = trace && !straceMissing ? path.join(dir, `strace-${side}-${traces++}.txt`) : undefined;
    const strace = traceFile ? ['strace', '-f', '-qq', '-o', traceFile] : [];
    const child = lab.lab.spawn(ns, [...confine, ...strace, process.execPath, vitesseBin, 'run', '--config', files[side], '--name', names[side], '--log-level', 'warn']);
    const run: Run = { child, stderr: '', trace: traceFile, exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
    child.stderr!.on('data', (d) => (run.stderr += d));
    child.stdout!.resume();
    runs.push(run);
    return run;
  }

  /** The node process of a run (under strace, the child of strace; otherwise the run itself: ip, prlimit and setpriv exec). */
  function gatewayPid(run: Run): number {
    if (!run.trace) return run.child.pid!;
    const children = fs.readFileSync(`/proc/${run.child.pid}/task/${run.child.pid}/children`, 'utf8').trim().split(/\s+/);
    return Number(children[0]);
  }

  const cli = (args: string[], input?: string) =>
    spawnSync(process.execPath, [vitesseBin, ...args], { encoding: 'utf8', input, timeout: 30_000 });

  const xdpPrograms = (device: string): string[] => {
    const [link] = JSON.parse(lab.lab.exec(lab.ns.gwA, ['ip', '-j', '-d', 'link', 'show', 'dev', device]));
    const xdp = link.xdp;
    return (xdp?.attached ?? (xdp?.prog ? [xdp] : [])).map((x: { prog: { name: string } }) => x.prog.name);
  };

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-sandbox-'));
    lab = buildTwoSites({ driver: 'af-xdp', prefix: 'vsandbox' });
    const gwB = (lab.configB as Record<string, Record<string, Record<string, unknown>>>)['vitesse-gateway:gateway'];
    gwB['private-interface'].driver = 'af-packet';
    gwB['public-interface'].driver = 'af-packet';
    files.a = path.join(dir, 'a.json');
    files.b = path.join(dir, 'b.json');
    fs.writeFileSync(files.a, JSON.stringify(lab.configA, null, 2), { mode: 0o600 });
    fs.writeFileSync(files.b, JSON.stringify(lab.configB, null, 2), { mode: 0o600 });
  });

  afterAll(async () => {
    for (const r of runs) r.child.kill('SIGKILL');
    await Promise.all(runs.map((r) => Promise.race([r.exit, sleep(5000)])));
    // A gateway killed by a failing test leaves its API socket behind.
    for (const name of Object.values(names)) fs.rmSync(socketPathFor(name), { force: true });
    lab?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('without any one of the unit\'s capabilities, an af-xdp gateway does not start', async () => {
    const all = capabilities();
    expect(all.length).toBeGreaterThan(0);
    for (const missing of all) {
      const run = start('a', all.filter((c) => c !== missing));
      const code = await Promise.race([run.exit, sleep(20_000).then(() => 'still running')]);
      expect(code, `without ${missing}: ${run.stderr}`).toBe(1);
      expect(run.stderr, `without ${missing}`).toMatch(/cannot start the gateway: .*(not permitted|No buffer space)/);
    }
  });

  it('with exactly them, the tunnel comes up (af-xdp at A, af-packet at B)', async () => {
    a = start('a', capabilities(), true);
    b = start('b', capabilities(), true);
    await waitForTunnel(lab, performance.now());
    expect(xdpPrograms('public')).toEqual(['vitesse_xsk']);
  });

  it('the management API answers and saves a change to the configuration file, owner-only', () => {
    const status = cli(['status', '--name', names.a, '--sample', '0']);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/site-b/);
    const set = cli(['config', 'set', '--name', names.a, '/mtu', '-'], '1400');
    expect(set.status, set.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(files.a, 'utf8'))['vitesse-gateway:gateway'].mtu).toBe(1400);
    expect(fs.statSync(files.a).mode & 0o777).toBe(0o600);
  });

  it('SIGHUP (systemctl reload) reads the file again', async () => {
    const config = JSON.parse(fs.readFileSync(files.a, 'utf8'));
    config['vitesse-gateway:gateway'].mtu = 1380;
    fs.writeFileSync(files.a, JSON.stringify(config));
    process.kill(gatewayPid(a), 'SIGHUP');
    const mtu = () => JSON.parse(cli(['config', 'get-config', '--name', names.a, '/mtu']).stdout)['vitesse-gateway:mtu'];
    for (let i = 0; i < 50 && mtu() !== 1380; i++) await sleep(100);
    expect(mtu()).toBe(1380);
  });

  it('after SIGKILL the helper takes off the XDP program left behind, and the gateway starts again', async () => {
    process.kill(gatewayPid(a), 'SIGKILL');
    await a.exit;
    expect(xdpPrograms('public')).toEqual(['vitesse_xsk']);
    const helper = await lab.lab.execAsync(lab.ns.gwA, [process.execPath, DETACH_HELPER, files.a]);
    expect(helper).toMatch(/private: detached a left-over vitesse_xsk/);
    expect(helper).toMatch(/public: detached a left-over vitesse_xsk/);
    expect(xdpPrograms('public')).toEqual([]);
    a = start('a', capabilities(), true);
    await waitForTunnel(lab, performance.now());
  });

  it('SIGTERM stops both cleanly, and the af-xdp gateway takes its program off itself', async () => {
    for (const r of [a, b]) process.kill(gatewayPid(r), 'SIGTERM');
    expect(await a.exit, a.stderr).toBe(0);
    expect(await b.exit, b.stderr).toBe(0);
    expect(xdpPrograms('public')).toEqual([]);
    expect(xdpPrograms('private')).toEqual([]);
  });

  itNeeding(['strace', 'systemd-analyze'], 'every system call they made is in SystemCallFilter, every socket family in RestrictAddressFamilies', () => {
    const allowed = allowedSyscalls();
    const families = new Set(words('RestrictAddressFamilies'));
    const used = new Set<string>();
    const usedFamilies = new Set<string>();
    const traced = runs.filter((r) => r.trace);
    expect(traced.length).toBe(3);
    for (const r of traced) {
      for (const line of fs.readFileSync(r.trace!, 'utf8').split('\n')) {
        const call = /^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]/.exec(line);
        if (call) used.add(call[1]);
        const socket = /\bsocket\((AF_[A-Z0-9]+)/.exec(line);
        if (socket) usedFamilies.add(socket[1]);
      }
    }
    // The trace starts at strace's own execve of node.
    expect(used).toContain('bpf');
    expect(usedFamilies).toContain('AF_XDP');
    expect([...used].filter((c) => !allowed.has(c))).toEqual([]);
    expect([...usedFamilies].filter((f) => !families.has(f))).toEqual([]);
  });
});
