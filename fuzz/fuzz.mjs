#!/usr/bin/env node
// `npm run fuzz -- [--seconds N] [--jobs N] [--build-only] [target…]`
//
// Builds the libFuzzer targets (every dataplane/**/*_fuzz.cc) with clang under
// AddressSanitizer and UndefinedBehaviorSanitizer, then runs each for N
// seconds (default 30) starting from its seed corpus in fuzz/corpus/<target>/.
// Without targets, all of them. Exits non-zero if a target finds a problem or
// does not build; the crashing input is kept in build/fuzz/artifacts/<target>/
// and is reproduced with `build/fuzz/<target> <file>`.
//
// Needs clang and its runtime (Debian: clang, libclang-rt-14-dev). Objects
// are cached in build/fuzz/obj and rebuilt when a source or a header it
// includes changes; new inputs the fuzzer finds go to build/fuzz/corpus, never
// into the repository's seeds.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'build', 'fuzz');
const CXX = process.env.CXX_FUZZ ?? 'clang++';
const SANITIZE = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer'];
const CXXFLAGS = ['-std=c++20', '-O1', '-g', ...SANITIZE, '-I', path.join(root, 'dataplane')];
// Per-target libFuzzer options; the rest get DEFAULT_MAX_LEN.
const DEFAULT_MAX_LEN = 4096;
const MAX_LEN = { decap_fuzz: 2048, pipeline_fuzz: 10000, pcap_fuzz: 20000, gso_fuzz: 66000, gso_coalesce_fuzz: 66004, udp_gso_coalesce_fuzz: 66004 };

const USAGE = `usage: npm run fuzz -- [--seconds N] [--jobs N] [--build-only] [target…]
  --seconds N    run each target for N seconds (default 30)
  --jobs N       parallel compiler processes (default 2)
  --build-only   build the targets, run nothing
targets: ${targets().map((t) => t.name).join(', ')}`;

function walk(dir) {
  const found = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) found.push(...walk(rel));
    else if (e.name.endsWith('.cc')) found.push(rel);
  }
  return found.sort();
}

function targets() {
  return walk('dataplane')
    .filter((f) => f.endsWith('_fuzz.cc'))
    .map((source) => ({ name: path.basename(source, '.cc'), source }));
}

// The data plane without its N-API glue and what needs OpenSSL's headers
// (Node's own, only the addon build has them): what the targets link against.
function librarySources() {
  return walk('dataplane').filter((f) => {
    if (/(_fuzz|_main|_napi)\.cc$/.test(f) || f === 'dataplane/addon.cc') return false;
    const text = fs.readFileSync(path.join(root, f), 'utf8');
    return !/#include\s*[<"](napi\.h|openssl\/)/.test(text);
  });
}

function parseArgs(argv) {
  const o = { seconds: 30, jobs: 2, buildOnly: false, names: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive whole number, got "${argv[i] ?? ''}"`);
      return v;
    };
    if (a === '--seconds') o.seconds = value();
    else if (a === '--jobs') o.jobs = value();
    else if (a === '--build-only') o.buildOnly = true;
    else if (a === '--help' || a === '-h') o.help = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else o.names.push(a);
  }
  return o;
}

const mtime = (f) => {
  try {
    return fs.statSync(f).mtimeMs;
  } catch {
    return -1;
  }
};

// True if `obj` is older than its source or any header its .d file lists.
function stale(obj, dep) {
  const t = mtime(obj);
  if (t < 0 || mtime(dep) < 0) return true;
  const deps = fs.readFileSync(dep, 'utf8').replace(/\\\n/g, ' ').split(':').slice(1).join(':').trim().split(/\s+/);
  return deps.some((d) => d && mtime(d) > t);
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    child.on('error', (err) => resolve({ code: 127, text: `${cmd}: ${err.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 1, text }));
  });
}

async function compileAll(jobs) {
  const objDir = path.join(out, 'obj');
  fs.mkdirSync(objDir, { recursive: true });
  const work = librarySources().map((src) => {
    const base = path.join(objDir, src.replace(/^dataplane\//, '').replace(/\//g, '__').replace(/\.cc$/, ''));
    return { src, obj: `${base}.o`, dep: `${base}.d` };
  });
  const todo = work.filter((w) => stale(w.obj, w.dep));
  if (todo.length) process.stdout.write(`compiling ${todo.length} of ${work.length} data-plane sources (${CXX}, ASan+UBSan)\n`);
  let failed = null;
  const queue = [...todo];
  await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let w; !failed && (w = queue.shift()); ) {
      const r = await run(CXX, [...CXXFLAGS, '-fsanitize=fuzzer-no-link', '-MMD', '-MF', w.dep, '-c', path.join(root, w.src), '-o', w.obj]);
      if (r.code !== 0) failed = `${w.src}:\n${r.text}`;
    }
  }));
  if (failed) throw new Error(`cannot compile ${failed}`);
  const lib = path.join(out, 'libvitesse-fuzz.a');
  if (todo.length || mtime(lib) < 0) {
    fs.rmSync(lib, { force: true });
    const r = spawnSync('ar', ['rcs', lib, ...work.map((w) => w.obj)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ar: ${r.stderr || r.error}`);
  }
  return lib;
}

async function link(target, lib) {
  const bin = path.join(out, target.name);
  const dep = `${bin}.d`;
  if (!stale(bin, dep) && mtime(bin) > mtime(lib)) return bin;
  process.stdout.write(`building ${target.name}\n`);
  const r = await run(CXX, [...CXXFLAGS, '-fsanitize=fuzzer', '-MMD', '-MF', dep, path.join(root, target.source), lib, '-o', bin, '-lpthread']);
  if (r.code !== 0) throw new Error(`cannot build ${target.name}:\n${r.text}`);
  return bin;
}

function symbolizer() {
  for (const p of ['/usr/bin/llvm-symbolizer', '/usr/lib/llvm-14/bin/llvm-symbolizer']) if (fs.existsSync(p)) return p;
  return undefined;
}

async function fuzz(target, bin, seconds) {
  const corpus = path.join(out, 'corpus', target.name);
  const artifacts = path.join(out, 'artifacts', target.name);
  const seeds = path.join(root, 'fuzz', 'corpus', target.name);
  fs.mkdirSync(corpus, { recursive: true });
  fs.mkdirSync(artifacts, { recursive: true });
  const args = [
    `-max_total_time=${seconds}`,
    `-max_len=${MAX_LEN[target.name] ?? DEFAULT_MAX_LEN}`,
    '-timeout=25',
    '-rss_limit_mb=2560',
    '-print_final_stats=1',
    `-artifact_prefix=${artifacts}/`,
    corpus,
  ];
  if (fs.existsSync(seeds)) args.push(seeds);
  /** @type {NodeJS.ProcessEnv} */
  const env = {
    ...process.env,
    ASAN_OPTIONS: 'abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  };
  const sym = symbolizer();
  if (sym) env.ASAN_SYMBOLIZER_PATH = sym;
  const t0 = Date.now();
  const r = await run(bin, args, { env });
  fs.writeFileSync(path.join(out, `${target.name}.log`), r.text);
  const stat = (name) => r.text.match(new RegExp(`stat::${name}:\\s*(\\d+)`))?.[1] ?? '?';
  const cov = [...r.text.matchAll(/cov: (\d+) ft: (\d+) corp: (\d+)/g)].pop();
  const summary = `${target.name.padEnd(16)} ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s  ` +
    `${stat('number_of_executed_units').padStart(9)} runs  ${stat('average_exec_per_sec').padStart(6)}/s  ` +
    `cov ${cov?.[1] ?? '?'} ft ${cov?.[2] ?? '?'} corpus ${cov?.[3] ?? '?'}  rss ${stat('peak_rss_mb')} MB`;
  if (r.code === 0) {
    process.stdout.write(`${summary}  ok\n`);
    return true;
  }
  process.stdout.write(`${summary}  FAILED (exit ${r.code})\n`);
  process.stdout.write(r.text.split('\n').slice(-80).join('\n') + '\n');
  const found = fs.readdirSync(artifacts).map((f) => path.join(artifacts, f));
  if (found.length) process.stdout.write(`input(s) kept: ${found.join(' ')}\nreproduce: ${bin} <input>\n`);
  return false;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const all = targets();
  const unknown = o.names.filter((n) => !all.some((t) => t.name === n));
  if (unknown.length) throw new Error(`unknown target ${unknown.join(', ')} (have: ${all.map((t) => t.name).join(', ')})`);
  const chosen = o.names.length ? all.filter((t) => o.names.includes(t.name)) : all;
  const lib = await compileAll(o.jobs);
  const bins = [];
  for (const t of chosen) bins.push(await link(t, lib));
  if (o.buildOnly) return 0;
  let ok = true;
  for (let i = 0; i < chosen.length; i++) ok = (await fuzz(chosen[i], bins[i], o.seconds)) && ok;
  return ok ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    process.stderr.write(`fuzz: ${err.message}\n${USAGE}\n`);
    process.exitCode = 2;
  },
);
