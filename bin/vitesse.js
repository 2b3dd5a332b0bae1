#!/usr/bin/env node
// The `vitesse` command: runs the compiled control plane (npm install builds it).
import { main } from '../dist/controlplane/cli.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code ?? 0; },
  (err) => {
    process.stderr.write(`vitesse: ${err && err.message ? err.message : err}\n`);
    process.exitCode = 1;
  },
);
