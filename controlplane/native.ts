// Loads the compiled addons: build/<variant>/vitesse.node, the N-API the
// product calls (the gateway and instance parts; typed by
// controlplane/dataplane.ts and instance-lock.ts), and, for testkit.ts only,
// vitesse_testkit.node (test and benchmark hooks). The variant is Release
// unless VITESSE_ADDON names another (the ASan build: asan).
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

export type AddonName = 'vitesse' | 'vitesse_testkit';

export function addonPath(name: AddonName): string {
  return path.join(packageRoot, 'build', process.env.VITESSE_ADDON ?? 'Release', `${name}.node`);
}

export function loadAddon(name: AddonName): unknown {
  const file = addonPath(name);
  if (!fs.existsSync(file)) {
    throw new Error(`vitesse: native addon not built (${file} missing); run "npm install" or "npm run build:addon"`);
  }
  return require(file);
}

// Untyped on purpose and used only by the typed wrappers (dataplane.ts,
// instance-lock.ts, api/peer.ts): nothing else reads the addon directly.
export const native: any = loadAddon('vitesse');
