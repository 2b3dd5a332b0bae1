#!/usr/bin/env node
// `npm pack`'s last build step (package.json "prepack", after tsc and the
// manual): builds the addons (Release, no sanitizer) and copies them to
// prebuilds/linux-x64/, which the tarball carries and tools/install.mjs uses
// on hosts without a compiler. The product addon links libstdc++ and libgcc
// statically (binding.gyp), so it needs only glibc (2.36 or later, checked by
// test/package-install.test.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDONS, PLATFORM, prebuiltDir } from './prebuilt.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (PLATFORM !== 'linux-x64') {
  process.stderr.write(`prebuild: prebuilt addons are made on linux-x64 only (this is ${PLATFORM}); the package will build from source\n`);
  process.exit(0);
}
if (process.env.VITESSE_SANITIZE) {
  process.stderr.write('prebuild: VITESSE_SANITIZE is set: a sanitized addon is not shipped\n');
  process.exit(1);
}
const r = spawnSync('node-gyp', ['build', '-j', '2'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
if (r.status !== 0) process.exit(r.status ?? 1);
const dir = prebuiltDir(root);
fs.rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
for (const name of ADDONS) fs.copyFileSync(path.join(root, 'build', 'Release', name), path.join(dir, name));
process.stderr.write(`prebuild: ${ADDONS.join(', ')} in ${path.relative(root, dir)}\n`);
