#!/usr/bin/env node
// `npm install`'s build step (package.json "install").
//
// In a clone (a .git beside package.json): builds everything from source, as
// always — the addons with node-gyp (g++, make, python3), the control plane
// with tsc.
//
// From a packed tarball (npm pack; tools/prebuild.mjs put the addons in
// prebuilds/linux-x64/ and the compiled control plane in dist/): if the
// prebuilt addons load on this host — Linux on x86-64 with glibc 2.36 or
// later (docs/operations.md §1); they are built for baseline x86-64 and
// choose their wide paths at run time — they are copied where the control
// plane loads them (build/Release/) and nothing is compiled. Only when they do
// not fit is the data plane built from source.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDONS, PLATFORM, prebuiltDir } from './prebuilt.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Why the prebuilt addons cannot be used here, or null if they can. */
function unfit() {
  if (fs.existsSync(path.join(root, '.git'))) return 'a clone builds from source';
  const dir = prebuiltDir(root);
  if (!fs.existsSync(dir)) return `no prebuilt addon for ${PLATFORM}`;
  for (const name of ADDONS) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) return `${file} is missing`;
    // Loaded in a child: a glibc too old (or another libc) fails here, not in the gateway.
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { encoding: 'utf8' });
    if (r.status !== 0) return `the prebuilt ${name} does not load here: ${(r.stderr.split('\n').find((l) => /Error/.test(l)) ?? r.stderr).trim()}`;
  }
  return null;
}

function run(command, args) {
  process.stderr.write(`vitesse install: ${command} ${args.join(' ')}\n`);
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (r.error) throw new Error(`${command}: ${r.error.message}${/ENOENT/.test(String(r.error)) ? ' (building from source needs g++ 12 or later, make and python3)' : ''}`);
  if (r.status !== 0) process.exit(r.status ?? 1);
}

try {
  const why = unfit();
  if (why === null) {
    const release = path.join(root, 'build', 'Release');
    fs.mkdirSync(release, { recursive: true });
    for (const name of ADDONS) fs.copyFileSync(path.join(prebuiltDir(root), name), path.join(release, name));
    process.stderr.write(`vitesse install: using the prebuilt ${PLATFORM} addons (nothing compiled)\n`);
  } else {
    process.stderr.write(`vitesse install: building the data plane from source (${why})\n`);
    run('node-gyp', ['rebuild', '-j', '2']);
  }
  // The tarball carries the compiled control plane; a clone compiles it.
  if (fs.existsSync(path.join(root, '.git')) || !fs.existsSync(path.join(root, 'dist', 'controlplane', 'cli.js'))) run('tsc', ['-p', 'tsconfig.json']);
} catch (e) {
  process.stderr.write(`vitesse install: ${e.message}\n`);
  process.exit(1);
}
