// The test suite's configuration for `npm run test:asan` (fuzz/test-asan.mjs):
// the same, plus asan-setup.ts in every worker.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../vitest.config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export default mergeConfig(base, defineConfig({
  root,
  test: { setupFiles: [path.join(root, 'fuzz', 'asan-setup.ts')] },
}));
