#!/usr/bin/env node
// `node tools/manual.mjs [--check]`: writes vitesse(8) (deploy/man/vitesse.8)
// and the bash completion (deploy/bash-completion/vitesse) from the compiled
// CLI's --help texts and the YANG model. `npm pack` runs it (prepack), so a
// package always carries pages that match its CLI; the copies in the
// repository are checked to be current by test/deploy-manual.test.ts
// (--check: exit 1 and the stale files' names if they differ).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist', p));
const { readCli, manPage } = await dist('controlplane/cli/manual.js');
const { bashCompletion } = await dist('controlplane/cli/completion.js');
const { schemaTree } = await dist('controlplane/config/model.js');

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const help = (words) => execFileSync(process.execPath, [path.join(root, 'bin', 'vitesse.js'), ...words, '--help'], { encoding: 'utf8' });
const cli = readCli(help);

const OUTPUTS = {
  'deploy/man/vitesse.8': manPage(cli, { version: pkg.version, description: pkg.description.replace(/:.*$/, '') }),
  'deploy/bash-completion/vitesse': bashCompletion(cli, schemaTree(), pkg.version),
};

const check = process.argv.includes('--check');
const stale = [];
for (const [file, text] of Object.entries(OUTPUTS)) {
  const at = path.join(root, file);
  const current = fs.existsSync(at) ? fs.readFileSync(at, 'utf8') : null;
  if (current === text) continue;
  if (check) stale.push(file);
  else {
    fs.mkdirSync(path.dirname(at), { recursive: true });
    fs.writeFileSync(at, text);
    console.log(`wrote ${file}`);
  }
}
if (stale.length) {
  console.error(`not made from the current CLI and model (run npm run build:ts && node tools/manual.mjs): ${stale.join(', ')}`);
  process.exit(1);
}
