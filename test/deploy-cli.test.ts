// What operators type: every command (and every benchmark) answers --help
// with exit status 0 and at least one example of itself, and --version
// prints the package's version. The commands and benchmarks are the ones
// `vitesse --help` and `vitesse bench --help` list, so a new one is covered
// without touching this file. Runs the compiled CLI (bin/vitesse.js).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/systemd-unit.js';
import { describeNeeding } from './support/requires.js';

const run = promisify(execFile);
const bin = path.join(repoRoot, 'bin', 'vitesse.js');

async function vitesse(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** The indented lines after an "example:" or "examples:" heading. */
function examples(help: string): string[] {
  const lines = help.split('\n');
  const at = lines.findIndex((l) => /^examples?:\s*$/.test(l));
  if (at < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (!/^\s+\S/.test(l)) break;
    out.push(l.trim());
  }
  return out;
}

/** The names a help text lists under its heading (`commands:`), or in a <a|b|c> usage. */
function listed(help: string): string[] {
  const alternatives = /<([a-z0-9|-]+)>/.exec(help.split('\n')[0]);
  if (alternatives && alternatives[1].includes('|')) return alternatives[1].split('|');
  const lines = help.split('\n');
  const at = lines.findIndex((l) => /^commands:\s*$/.test(l));
  const out: string[] = [];
  for (const l of lines.slice(at + 1)) {
    const m = /^\s+([a-z][a-z0-9-]*)\b/.exec(l);
    if (!m) break;
    out.push(m[1]);
  }
  return out;
}

/** Checks `vitesse ...words --help`: exit 0, and an example that runs this very command. */
async function expectHelpWithExample(words: string[]): Promise<void> {
  const r = await vitesse(...words, '--help');
  const what = `vitesse ${words.join(' ')} --help`;
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
  const own = new RegExp(`(^|\\s)vitesse ${words.join(' ')}(\\s|$)`);
  expect(examples(r.stdout).filter((e) => own.test(e)), `${what} shows no example of itself:\n${r.stdout}`).not.toEqual([]);
}

describeNeeding(['cli'], 'vitesse --help, --version', () => {
  it('--version prints the package version', async () => {
    const r = await vitesse('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
  });

  it('--help lists the commands and shows examples', async () => {
    const r = await vitesse('--help');
    expect(r.code).toBe(0);
    expect(listed(r.stdout)).toEqual(expect.arrayContaining(['run', 'config', 'status', 'keygen', 'bench']));
    expect(examples(r.stdout).some((e) => /^vitesse run /.test(e))).toBe(true);
  });

  it('every command answers --help with exit status 0 and an example of itself', async () => {
    const commands = listed((await vitesse('--help')).stdout);
    expect(commands.length).toBeGreaterThanOrEqual(7);
    await Promise.all(commands.map((c) => expectHelpWithExample([c])));
  });

  it('every benchmark answers --help with exit status 0 and an example of itself', async () => {
    const benches = listed((await vitesse('bench', '--help')).stdout);
    expect(benches).toEqual(expect.arrayContaining(['crypto', 'softbench', 'lookup', 'keyexchange']));
    for (const b of benches) await expectHelpWithExample(['bench', b]);
  });

  it('an unknown command fails with status 2 and the usage', async () => {
    const r = await vitesse('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"[\s\S]*usage: vitesse <command>/);
  });
});
