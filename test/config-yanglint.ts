// Runs yanglint (Debian package libyang2-tools) on configurations, so tests
// can hold the loader to the judgement of an independent YANG implementation.
// Tests that need it are skipped, with this message, where it is missing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { modelFile } from '../controlplane/config/index.js';
import { missing } from './support/requires.js';

export const yanglintAvailable = !missing('yanglint');

export const YANGLINT_MISSING = `yanglint checks [skipped: ${missing('yanglint')}]`;

export interface Verdict {
  ok: boolean;
  /** yanglint's messages (errors and warnings), empty when there were none. */
  messages: string;
}

/** `yanglint -t <type> <model> <file>`: config for configurations, get for configuration and state. */
export function yanglintFile(file: string, type: 'config' | 'get' = 'config'): Verdict {
  const r = spawnSync('yanglint', ['-t', type, modelFile(), file], { encoding: 'utf8' });
  return { ok: r.status === 0, messages: `${r.stdout}${r.stderr}`.trim() };
}

export function yanglintDocument(document: unknown, type: 'config' | 'get' = 'config'): Verdict {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-yanglint-'));
  try {
    const file = path.join(dir, 'document.json');
    fs.writeFileSync(file, JSON.stringify(document));
    return yanglintFile(file, type);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs yanglint with exactly these arguments. */
export function runYanglint(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('yanglint', args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface ManyOptions {
  type?: 'config' | 'get';
  /** Also print each valid document with every default filled in (Verdict.output). */
  withDefaults?: boolean;
}

/**
 * Judges many files with one yanglint process (its interactive mode, fed on
 * stdin), which is far cheaper than one process each.
 */
export function yanglintFiles(files: string[], options: ManyOptions = {}): Array<Verdict & { output?: unknown }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-yanglint-'));
  try {
    const outputs = files.map((_, i) => path.join(dir, `out-${i}.json`));
    const print = (i: number) => (options.withDefaults ? `-f json -d all -o ${outputs[i]} ` : '');
    const script = [`add ${modelFile()}`, ...files.map((f, i) => `data -t ${options.type ?? 'config'} ${print(i)}${f}`), 'quit', ''].join('\n');
    // HOME: interactive yanglint keeps a history file there.
    const r = spawnSync('yanglint', [], { input: script, encoding: 'utf8', env: { ...process.env, HOME: dir } });
    const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => !l.startsWith('YANGLINT[W]'));
    // Messages come before the "Failed to parse" line that names their file.
    const verdicts: Array<Verdict & { output?: unknown }> = files.map(() => ({ ok: true, messages: '' }));
    let pending: string[] = [];
    for (const line of lines) {
      const failed = /Failed to parse input data file "([^"]+)"/.exec(line);
      if (failed) {
        verdicts[files.indexOf(failed[1])] = { ok: false, messages: [...pending, line].join('\n') };
        pending = [];
      } else if (line.trim()) {
        pending.push(line);
      }
    }
    if (pending.length) throw new Error(`yanglint said something about no particular file:\n${pending.join('\n')}`);
    if (options.withDefaults) {
      verdicts.forEach((v, i) => { if (v.ok) v.output = JSON.parse(fs.readFileSync(outputs[i], 'utf8')); });
    }
    return verdicts;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** yanglintFiles for documents in memory. */
export function yanglintMany(documents: unknown[], options: ManyOptions = {}): Verdict[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-documents-'));
  try {
    const files = documents.map((d, i) => {
      const file = path.join(dir, `${i}.json`);
      fs.writeFileSync(file, JSON.stringify(d));
      return file;
    });
    return yanglintFiles(files, options);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
