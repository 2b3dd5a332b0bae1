// tools/ci-skipped.mjs, which makes CI fail when a test was skipped: it
// passes a report where every test ran and fails one with a skipped, todo or
// missing test, naming it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const TOOL = path.resolve(__dirname, '../tools/ci-skipped.mjs');

function check(results: { status: string; fullName: string }[]): { status: number | null; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-ci-skipped-'));
  try {
    const file = path.join(dir, 'report.json');
    fs.writeFileSync(file, JSON.stringify({ testResults: [{ name: '/x/test/a.test.ts', assertionResults: results }] }));
    const r = spawnSync(process.execPath, [TOOL, file], { encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('tools/ci-skipped.mjs', () => {
  it('passes when every test ran', () => {
    const r = check([{ status: 'passed', fullName: 'a' }, { status: 'failed', fullName: 'b' }]);
    expect(r.output).toContain('2 tests ran, none skipped');
    expect(r.status).toBe(0);
  });

  it('fails on a skipped or todo test and names it with its reason', () => {
    const r = check([
      { status: 'passed', fullName: 'a' },
      { status: 'skipped', fullName: 'promtool checks [skipped: needs promtool (Debian: prometheus)]' },
      { status: 'todo', fullName: 'later' },
    ]);
    expect(r.status).toBe(1);
    expect(r.output).toContain('needs promtool (Debian: prometheus)');
    expect(r.output).toContain('later (todo)');
  });

  it('fails when nothing ran', () => {
    expect(check([]).status).toBe(1);
  });
});
