// binding.gyp's effective C++ optimisation level, read from what node-gyp
// writes: the product addon is -O3, the sanitizer build (VITESSE_SANITIZE,
// `npm run test:asan`) -O1 — an -O1 in cflags alone is undone by the later
// -O3 of cflags_cc on the compiler's command line.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error tools/*.mjs has no declaration file (checked by tsconfig.typecheck-js.json)
import { cxxOptimization, gypDirectory } from '../tools/gyp-flags.mjs';

const ROOT = path.resolve(__dirname, '..');
const WORK = path.join(ROOT, 'build', `gyp-flags-${process.pid}`);

/**
 * `node-gyp configure` of binding.gyp in a directory of its own; the
 * optimisation level it gives C++ in each target (the data plane's static
 * library, the product addon, the testkit addon), which must agree.
 */
function configure(sanitize: boolean): string | null {
  const dir = path.join(WORK, sanitize ? 'asan' : 'product');
  gypDirectory(ROOT, dir, 'vitesse-gyp-flags');
  const env = { ...process.env, VITESSE_SANITIZE: sanitize ? '1' : '' };
  const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'node-gyp'), ['configure'], { cwd: dir, env, encoding: 'utf8' });
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  const levels = ['vitesse_core', 'vitesse', 'vitesse_testkit'].map((t) => cxxOptimization(path.join(dir, 'build', `${t}.target.mk`)));
  expect(new Set(levels).size, `levels per target: ${levels.join(', ')}`).toBe(1);
  return levels[0];
}

afterAll(() => fs.rmSync(WORK, { recursive: true, force: true }));

describe('binding.gyp optimisation level', () => {
  it('compiles the product addon with -O3', () => {
    expect(configure(false)).toBe('-O3');
  });

  it('compiles the sanitizer build with -O1', () => {
    expect(configure(true)).toBe('-O1');
  });
});
