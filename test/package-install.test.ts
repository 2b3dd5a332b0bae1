// Installing without a compiler: `npm pack` makes a tarball with the compiled
// control plane (dist/) and prebuilt linux-x64 addons (prebuilds/), no tests;
// `npm install -g --prefix DIR` of it on a PATH with node, npm and a few
// coreutils — no g++, make or python3 — uses the prebuilt addons
// (tools/install.mjs), and the installed `vitesse` runs: --version, run
// --check on a shipped example, and a shipped benchmark (the testkit addon).
// The product addon needs only glibc, at most the version docs/operations.md
// states.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { describeNeeding } from './support/requires.js';
import { it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };
/** The glibc the prebuilt addon may need at most (docs/operations.md §1 says the same). */
const GLIBC_BASELINE = '2.36';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-package-'));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** This environment without what npm puts there for its own scripts (a test run by `npm test`). */
function cleanEnv(PATH: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return { ...env, PATH };
}

const which = (cmd: string, PATH = process.env.PATH ?? '') => {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8', env: { PATH } });
  return r.status === 0 ? r.stdout.trim() : null;
};

const versionOf = (v: string) => [...v.split('.').map(Number), 0, 0].slice(0, 3).reduce((n, x) => n * 1000 + x, 0);

describeNeeding(['npm', 'cli'], 'npm pack, then npm install -g without a compiler', () => {
  it('installs the prebuilt addons and the compiled control plane; vitesse --version, run --check and a benchmark work', () => {
    // A PATH of node, npm and coreutils only.
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    fs.symlinkSync(fs.realpathSync(which('npm')!), path.join(bin, 'npm'));
    for (const tool of ['sh', 'env', 'cat', 'cp', 'mv', 'rm', 'mkdir', 'ls', 'chmod', 'ln', 'uname']) fs.symlinkSync(fs.realpathSync(which(tool)!), path.join(bin, tool));
    for (const compiler of ['g++', 'c++', 'gcc', 'cc', 'make', 'python3', 'python']) expect(which(compiler, bin), compiler).toBeNull();

    // prepack's tsc would rewrite dist/ in place while other test files run
    // bin/vitesse.js from it (a half-written module failed one of them):
    // dist/ and the manual are what npm install and the repository made, so
    // only the addons are built here, then the package is packed as is.
    const prebuilt = spawnSync(process.execPath, [path.join(root, 'tools', 'prebuild.mjs')], { cwd: root, encoding: 'utf8' });
    expect(prebuilt.status, prebuilt.stderr).toBe(0);
    const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', env: cleanEnv(process.env.PATH!), maxBuffer: 64 << 20 });
    expect(packed.status, packed.stderr).toBe(0);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    const files = info.files.map((f) => f.path);
    for (const f of ['bin/vitesse.js', 'dist/controlplane/cli.js', 'dist/bench/index.js', 'prebuilds/linux-x64/vitesse.node', 'prebuilds/linux-x64/vitesse_testkit.node',
      'binding.gyp', 'tools/install.mjs', 'tools/sources.cjs', 'yang/vitesse-gateway.yang', 'deploy/man/vitesse.8', 'deploy/systemd/vitesse@.service', 'deploy/examples/two-sites/site-a.json']) {
      expect(files, f).toContain(f);
    }
    // No tests (deploy/prometheus's promtool unit tests of the alerts are deploy material, for operators).
    expect(files.filter((f) => /^(test|fuzz|bench)\/|^dist\/test\/|\.map$|\.test\.(ts|js)$/.test(f))).toEqual([]);

    // The product addon: libc only (libstdc++ and libgcc linked in), glibc no newer than the baseline.
    const addon = fs.readFileSync(path.join(root, 'prebuilds', 'linux-x64', 'vitesse.node')).toString('latin1');
    expect(addon).not.toContain('libstdc++.so');
    expect(addon).not.toContain('libgcc_s.so');
    const needs = [...new Set([...addon.matchAll(/GLIBC_(2\.\d+(?:\.\d+)?)/g)].map((m) => m[1]))].sort((a, b) => versionOf(a) - versionOf(b));
    expect(needs.length).toBeGreaterThan(0);
    expect(versionOf(needs.at(-1)!)).toBeLessThanOrEqual(versionOf(GLIBC_BASELINE));
    expect(fs.readFileSync(path.join(root, 'docs', 'operations.md'), 'utf8')).toContain(`glibc ${GLIBC_BASELINE} or later`);

    const prefix = path.join(dir, 'prefix');
    const tarball = path.join(dir, info.filename);
    const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], { encoding: 'utf8', env: cleanEnv(bin), maxBuffer: 64 << 20 });
    expect(install.status, `${install.stdout}${install.stderr}`).toBe(0);
    expect(`${install.stdout}${install.stderr}`).toContain('vitesse install: using the prebuilt linux-x64 addons (nothing compiled)');
    const installed = path.join(prefix, 'lib', 'node_modules', pkg.name);
    expect(fs.existsSync(path.join(installed, 'test'))).toBe(false);
    expect(fs.readFileSync(path.join(installed, 'build', 'Release', 'vitesse.node')).equals(fs.readFileSync(path.join(installed, 'prebuilds', 'linux-x64', 'vitesse.node')))).toBe(true);
    expect(fs.existsSync(path.join(prefix, 'share', 'man', 'man8', 'vitesse.8'))).toBe(true);

    const vitesse = (...args: string[]) => spawnSync(path.join(prefix, 'bin', 'vitesse'), args, { encoding: 'utf8', env: cleanEnv(bin), timeout: 120_000 });
    expect(vitesse('--version').stdout).toBe(`${pkg.version}\n`);
    const example = path.join(installed, 'deploy', 'examples', 'two-sites', 'site-a.json');
    const check = vitesse('run', '--check', '--config', example, '--socket', 'none');
    expect([check.status, check.stdout, check.stderr]).toEqual([0, `${example}: valid (1 route)\n`, '']);
    const bench = vitesse('bench', 'softbench', '--packets', '20000', '--json');
    expect(bench.status, bench.stderr).toBe(0);
    expect(JSON.parse(bench.stdout.trim().split('\n').at(-1)!)).toMatchObject({ packets: 20000, lost: 0 });
  }, 600_000);
});
