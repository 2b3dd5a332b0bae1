// `vitesse bench crypto [--json]`: our AES-GCM against OpenSSL's, in the same
// process and run. For each packet size and key size: ns per packet and GB/s
// for our best path one packet per call, ours in batches (short packets
// interleaved), and OpenSSL 3 EVP with a reused context (the best a library
// user gets); encrypt is the headline, decrypt follows. The timing loop is
// C++ (dataplane/crypto/gcm_bench.cc), counts this thread's CPU time (the
// machine may be shared), keeps the fastest of several samples, and checks
// its results against OpenSSL.
import * as testkit from '../controlplane/testkit.js';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';

const spec: Record<string, OptionSpec> = {
  sizes: { type: 'string', default: '64,256,576,1400,9000', help: 'packet sizes in bytes, comma-separated' },
  'key-bits': { type: 'string', default: '128,256', help: 'key sizes, comma-separated (128, 256)' },
  path: { type: 'string', help: 'generic, avx2 or avx512 (default: the path the data plane uses)' },
  batch: { type: 'number', default: 32, help: 'packets per batch call' },
  'min-ms': { type: 'number', default: 10, help: 'minimum CPU time of each timed sample' },
  samples: { type: 'number', default: 9, help: 'timed samples per figure (the fastest is kept)' },
  'encrypt-only': { type: 'boolean', help: 'skip the decrypt figures' },
  json: { type: 'boolean', help: 'print the rows as one JSON array on the last line' },
  help: { type: 'boolean' },
};

type NativeRow = {
  size: number; keyBits: number; path: string;
  oursNs: number; oursBatchNs: number; opensslNs: number;
  oursOpenNs?: number; oursOpenBatchNs?: number; opensslOpenNs?: number;
};

export type CryptoBenchRow = {
  size: number; key_bits: number; path: string;
  ours_ns: number; ours_gbps: number; ours_batch_ns: number; ours_batch_gbps: number;
  openssl_ns: number; openssl_gbps: number; speedup: number; batch_speedup: number;
  ours_open_ns?: number; ours_open_gbps?: number; ours_open_batch_ns?: number; openssl_open_ns?: number; openssl_open_gbps?: number;
};

function numberList(name: string, value: string, allowed?: number[]): number[] {
  const out = value.split(',').map((s) => Number(s.trim()));
  for (const n of out) {
    if (!Number.isInteger(n) || n < 0 || n > 1 << 24) throw new UsageError(`--${name}: "${value}" is not a list of sizes`);
    if (allowed && !allowed.includes(n)) throw new UsageError(`--${name}: ${n} is not one of ${allowed.join(', ')}`);
  }
  return out;
}

const gbps = (size: number, ns: number) => size / ns; // bytes per ns = GB/s
const round = (x: number, digits: number) => Number(x.toFixed(digits));

function toRow(r: NativeRow): CryptoBenchRow {
  const row: CryptoBenchRow = {
    size: r.size, key_bits: r.keyBits, path: r.path,
    ours_ns: round(r.oursNs, 1), ours_gbps: round(gbps(r.size, r.oursNs), 2),
    ours_batch_ns: round(r.oursBatchNs, 1), ours_batch_gbps: round(gbps(r.size, r.oursBatchNs), 2),
    openssl_ns: round(r.opensslNs, 1), openssl_gbps: round(gbps(r.size, r.opensslNs), 2),
    speedup: round(r.opensslNs / r.oursNs, 2), batch_speedup: round(r.opensslNs / r.oursBatchNs, 2),
  };
  if (r.oursOpenNs !== undefined && r.oursOpenBatchNs !== undefined && r.opensslOpenNs !== undefined) {
    row.ours_open_ns = round(r.oursOpenNs, 1);
    row.ours_open_gbps = round(gbps(r.size, r.oursOpenNs), 2);
    row.ours_open_batch_ns = round(r.oursOpenBatchNs, 1);
    row.openssl_open_ns = round(r.opensslOpenNs, 1);
    row.openssl_open_gbps = round(gbps(r.size, r.opensslOpenNs), 2);
  }
  return row;
}

function table(rows: CryptoBenchRow[]): string {
  const withOpen = rows.some((r) => r.ours_open_ns !== undefined);
  const head = ['size', 'key', 'ours ns', 'GB/s', 'batch ns', 'GB/s', 'openssl ns', 'GB/s', 'x ossl', 'x batch'];
  if (withOpen) head.push('|', 'open ns', 'batch ns', 'openssl ns');
  const lines = [head];
  for (const r of rows) {
    const cells = [r.size, r.key_bits, r.ours_ns, r.ours_gbps, r.ours_batch_ns, r.ours_batch_gbps, r.openssl_ns,
      r.openssl_gbps, r.speedup, r.batch_speedup].map(String);
    if (withOpen) cells.push('|', String(r.ours_open_ns), String(r.ours_open_batch_ns), String(r.openssl_open_ns));
    lines.push(cells);
  }
  const widths = head.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  return lines.map((l) => l.map((cell, c) => cell.padStart(widths[c])).join('  ')).join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { options, positional } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench crypto [options]\n${usageText(spec)}\n\nexamples:\n  vitesse bench crypto\n  vitesse bench crypto --sizes 64,1400 --key-bits 256 --path avx2 --json\n`);
    return 0;
  }
  if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const crypto = testkit.gcm;
  const path = (options.path as string | undefined) ?? crypto.defaultPath();
  if (!crypto.paths().includes(path)) {
    throw new UsageError(`--path: "${path}" is not supported here (have: ${crypto.paths().join(', ')})`);
  }
  const batch = options.batch as number;
  if (!Number.isInteger(batch) || batch < 1 || batch > 4096) throw new UsageError(`--batch: must be an integer from 1 to 4096, got ${batch}`);
  const samples = options.samples as number;
  if (!Number.isInteger(samples) || samples < 1) throw new UsageError(`--samples: must be a positive integer, got ${samples}`);
  const minMs = options['min-ms'] as number;
  if (!(minMs > 0)) throw new UsageError(`--min-ms: must be positive, got ${minMs}`);

  const rows = (crypto.bench({
    sizes: numberList('sizes', options.sizes as string),
    keyBits: numberList('key-bits', options['key-bits'] as string, [128, 256]),
    path, batch, minMs, samples, decrypt: !options['encrypt-only'],
  }) as NativeRow[]).map(toRow);

  process.stdout.write(`AES-GCM seal (open after |), CPU ns per packet, fastest of ${samples}; ours: path ${path} ` +
    `(best here: ${crypto.bestPath()}), batch = ${batch} packets per call; OpenSSL ${process.versions.openssl} EVP, context reused\n`);
  process.stdout.write(table(rows) + '\n');
  if (options.json) process.stdout.write(JSON.stringify(rows) + '\n');
  return 0;
}
