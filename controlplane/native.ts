// Loads the compiled addon (build/Release/vitesse.node). Every TypeScript
// module that talks to the data plane goes through controlplane/dataplane.ts;
// this file only locates the binary.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

const require = createRequire(import.meta.url);

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('vitesse: cannot find the package root (binding.gyp)');
    dir = up;
  }
}

export const packageRoot = findRoot();

function load(): any {
  const variant = process.env.VITESSE_ADDON ?? 'Release';
  const file = path.join(packageRoot, 'build', variant, 'vitesse.node');
  if (!fs.existsSync(file)) {
    throw new Error(`vitesse: native addon not built (${file} missing); run "npm install" or "npm run build:addon"`);
  }
  return require(file);
}

export const native: any = load();
