#!/usr/bin/env node
// `npm run test:asan [-- vitest arguments…]`: the test suite (or the given
// test files) against an AddressSanitizer + UndefinedBehaviorSanitizer build
// of the addon. Fails if a test fails or a sanitizer reports anything.
//
// The addon is built with VITESSE_SANITIZE=1 (binding.gyp) in its own
// node-gyp directory, build/asan-src, and both addons (vitesse.node and
// vitesse_testkit.node) are copied to build/asan/, so the normal build/Release
// is left alone; VITESSE_ADDON=asan makes controlplane/native.ts load them. Node itself is not instrumented, so the
// ASan runtime is preloaded (it must come first) into vitest and its workers
// only (asan-setup.ts: programs the tests start run without it), leak
// detection is off (Node keeps memory to the end on purpose), and reports go
// to files in build/asan/logs, which this script reads after the run: a
// report from a worker thread is not lost in vitest's output.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cxxOptimization, gypDirectory } from '../tools/gyp-flags.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'build', 'asan-src');
const out = path.join(root, 'build', 'asan');
const logs = path.join(out, 'logs');

function sh(cmd, args, opts) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

function runtime(name) {
  const r = spawnSync('g++', [`-print-file-name=${name}`], { encoding: 'utf8' });
  const file = r.stdout?.trim();
  if (!file || !fs.existsSync(file)) throw new Error(`cannot find ${name} (g++ -print-file-name); install g++ (libasan comes with it)`);
  return fs.realpathSync(file);
}

// A node-gyp directory of its own: binding.gyp copied, the sources linked.
function buildAddon() {
  gypDirectory(root, src, 'vitesse-asan');
  const gyp = path.join(root, 'node_modules', '.bin', 'node-gyp');
  const env = { ...process.env, VITESSE_SANITIZE: '1' };
  if (sh(gyp, ['configure'], { cwd: src, env }) !== 0) throw new Error('the ASan build of the addon failed (configure)');
  // -O1 keeps ASan's reports exact (higher levels fold and inline frames away).
  for (const target of ['vitesse_core', 'vitesse', 'vitesse_testkit']) {
    const level = cxxOptimization(path.join(src, 'build', `${target}.target.mk`));
    if (level !== '-O1') throw new Error(`the ASan build compiles ${target}'s C++ with ${level}, not -O1 (binding.gyp)`);
  }
  if (sh(gyp, ['build', '-j', '2'], { cwd: src, env }) !== 0) throw new Error('the ASan build of the addon failed');
  fs.mkdirSync(out, { recursive: true });
  for (const addon of ['vitesse.node', 'vitesse_testkit.node']) {
    fs.copyFileSync(path.join(src, 'build', 'Release', addon), path.join(out, addon));
  }
}

function main() {
  const vitestArgs = process.argv.slice(2);
  buildAddon();
  fs.rmSync(logs, { recursive: true, force: true });
  fs.mkdirSync(logs, { recursive: true });
  const env = {
    ...process.env,
    VITESSE_ADDON: 'asan',
    LD_PRELOAD: [runtime('libasan.so'), process.env.LD_PRELOAD].filter(Boolean).join(' '),
    ASAN_OPTIONS: `detect_leaks=0:log_path=${logs}/asan:log_exe_name=1:detect_stack_use_after_return=0:allow_user_segv_handler=1`,
    UBSAN_OPTIONS: `print_stacktrace=1:log_path=${logs}/ubsan:log_exe_name=1`,
  };
  const t0 = Date.now();
  const config = path.join(root, 'fuzz', 'vitest.asan.config.ts');
  const status = sh(path.join(root, 'node_modules', '.bin', 'vitest'), ['run', '--config', config, ...vitestArgs], { cwd: root, env });
  const reports = fs.readdirSync(logs).map((f) => path.join(logs, f)).filter((f) => fs.statSync(f).size > 0);
  for (const f of reports) process.stdout.write(`\n=== ${path.relative(root, f)}\n${fs.readFileSync(f, 'utf8')}`);
  const seconds = ((Date.now() - t0) / 1000).toFixed(0);
  if (reports.length) {
    process.stdout.write(`\ntest:asan: ${reports.length} sanitizer report(s) (above), tests ${status === 0 ? 'passed' : 'failed'}, ${seconds} s\n`);
    return 1;
  }
  process.stdout.write(`\ntest:asan: no sanitizer reports, tests ${status === 0 ? 'passed' : 'failed'}, ${seconds} s\n`);
  return status === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (err) {
  process.stderr.write(`test:asan: ${err.message}\n`);
  process.exitCode = 2;
}
