// deploy/systemd/vitesse@.service: systemd accepts it, its sandbox rates well
// with systemd-analyze security, and what it assumes of the gateway holds —
// the command line `vitesse run` takes, where the API socket and the saved
// configuration live, the exit status of a bad configuration (not restarted),
// the XDP program name its helper looks for. Running gateways under its
// capabilities and system-call filter is test/deploy-sandbox.test.ts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_DIR } from '../controlplane/api/socket.js';
import { DETACH_HELPER, INSTALLED, UNIT_FILE, repoRoot, service, setting, systemdAnalyzeAvailable, words } from './support/systemd-unit.js';
import { itNeeding } from './support/requires.js';


const vitesseBin = path.join(repoRoot, 'bin', 'vitesse.js');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-unit-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The unit as installed on a host where the package is this tree (what a drop-in for another prefix does). */
function unitForThisTree(instance: string): string {
  const text = fs.readFileSync(UNIT_FILE, 'utf8').replaceAll(INSTALLED.bin, vitesseBin).replaceAll(INSTALLED.package, repoRoot);
  const file = path.join(dir, `vitesse@${instance}.service`);
  fs.writeFileSync(file, text);
  return file;
}

/** ExecStart with %i filled in and $VITESSE_ARGS empty, as words. */
function execStart(instance: string): string[] {
  return setting('ExecStart').replaceAll('%i', instance).split(/\s+/).filter((w) => w && w !== '$VITESSE_ARGS');
}

describe('vitesse@.service', () => {
  itNeeding(['systemd-analyze'], 'systemd-analyze verify accepts an instance of it', () => {
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', unitForThisTree('site-a')], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  itNeeding(['systemd-analyze'], 'systemd-analyze security rates its exposure "OK" (at most 3.0 of 10)', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unitForThisTree('site-a')], { encoding: 'utf8' });
    const m = /Overall exposure level for \S+: (\d+\.\d+) (\S+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(3.0);
  });

  it('runs `vitesse run --config /etc/vitesse/NAME.json --name NAME` for instance NAME', () => {
    expect(execStart('site-a').slice(1)).toEqual(['run', '--config', '/etc/vitesse/site-a.json', '--name', 'site-a']);
    expect(execStart('site-a')[0]).toBe(INSTALLED.bin);
  });

  it('gives the API socket its directory, shared by every instance and kept when one stops', () => {
    expect(`/run/${setting('RuntimeDirectory')}`).toBe(RUN_DIR);
    expect(setting('RuntimeDirectoryPreserve')).toBe('yes');
  });

  it('may write only where the API saves the configuration (a temporary file beside it, renamed)', () => {
    expect(setting('ProtectSystem')).toBe('strict');
    const config = execStart('x')[execStart('x').indexOf('--config') + 1];
    expect(words('ReadWritePaths')).toEqual([path.dirname(config)]);
    expect(setting('UMask')).toBe('0077');
  });

  itNeeding(['cli'], 'does not restart a gateway whose configuration is wrong: vitesse run exits with RestartPreventExitStatus', () => {
    const prevent = words('RestartPreventExitStatus').map(Number);
    expect(setting('Restart')).toBe('on-failure');
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ 'vitesse-gateway:gateway': { mtu: 1 } }));
    for (const config of [bad, path.join(dir, 'missing.json')]) {
      const argv = execStart('site-a').slice(1).map((w) => (w === '/etc/vitesse/site-a.json' ? config : w));
      const r = spawnSync(process.execPath, [vitesseBin, ...argv, '--metrics-listen', 'none', '--socket', 'none'], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toMatch(/vitesse run: /);
      expect(prevent, r.stderr).toContain(r.status);
    }
  });

  it('takes a left-over XDP program off before starting and after stopping, fully privileged', () => {
    const helper = `+${INSTALLED.package}/${path.relative(repoRoot, DETACH_HELPER)} /etc/vitesse/%i.json`;
    expect(service.ExecStartPre).toEqual([helper]);
    expect(service.ExecStopPost).toEqual([helper]);
    expect(fs.statSync(DETACH_HELPER).mode & 0o111).toBe(0o111);
  });
});

describe('vitesse-xdp-detach', () => {
  const helper = (...args: string[]) => spawnSync(process.execPath, [DETACH_HELPER, ...args], { encoding: 'utf8' });

  it('looks for the program the data plane loads', () => {
    const header = fs.readFileSync(path.join(repoRoot, 'dataplane', 'io', 'xdp_program.h'), 'utf8');
    const name = /kProgramName = "([^"]+)"/.exec(header)![1];
    expect(fs.readFileSync(DETACH_HELPER, 'utf8')).toContain(`const PROGRAM = '${name}';`);
  });

  it('does nothing for a configuration without af-xdp, or one it cannot read (the gateway reports that)', () => {
    const example = helper(path.join(repoRoot, 'deploy', 'examples', 'two-sites', 'site-a.json'));
    expect([example.status, example.stdout, example.stderr]).toEqual([0, '', '']);
    const missing = helper(path.join(dir, 'nothing.json'));
    expect(missing.status).toBe(0);
    expect(missing.stderr).toMatch(/nothing\.json: .*nothing detached/);
  });

  it('wants exactly one argument', () => {
    expect(helper().status).toBe(2);
    expect(helper('a', 'b').status).toBe(2);
  });
});
