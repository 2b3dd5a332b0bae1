// The corpus in test/configs: every good configuration is accepted and every
// bad one refused with exactly the problems listed in expected.json (path and
// reason), and yanglint and yang-js judge each file as expected.json says.
// A bad file yanglint accepts is a rule beyond the model (semantics.ts); a
// bad file yang-js accepts is one of the constraints it misses (model.ts).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../controlplane/config/index.js';
import { checkWithYangJs } from '../controlplane/config/model.js';
import { YANGLINT_MISSING, yanglintAvailable, yanglintFiles } from './config-yanglint.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'configs');

interface Expectation {
  problems: string[];
  yanglint: 'accepts' | 'rejects';
  /** null: not JSON, yang-js never sees it. */
  yangJs: 'accepts' | 'rejects' | null;
  note?: string;
}

const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Record<string, Expectation>;
const files = (kind: 'good' | 'bad') => fs.readdirSync(path.join(dir, kind)).filter((f) => f.endsWith('.json')).sort();
const good = files('good');
const bad = files('bad');
const read = (kind: string, f: string) => fs.readFileSync(path.join(dir, kind, f), 'utf8');
const name = (f: string) => f.replace(/\.json$/, '');

function problemsOf(text: string): string[] {
  try {
    parseConfig(text);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.reason}`);
    throw e;
  }
  return [];
}

describe('the corpus', () => {
  it('has at least 30 configurations, and an expectation for exactly the bad ones', () => {
    expect(good.length + bad.length).toBeGreaterThanOrEqual(30);
    expect(Object.keys(expected).sort()).toEqual(bad.map(name).sort());
  });

  it('covers rules beyond the model, and constraints yang-js misses', () => {
    const entries = Object.values(expected);
    expect(entries.filter((e) => e.yanglint === 'accepts').length).toBeGreaterThanOrEqual(4);
    expect(entries.filter((e) => e.yangJs === 'accepts').length).toBeGreaterThanOrEqual(10);
  });
});

describe('good configurations', () => {
  it.each(good)('%s is accepted', (f) => {
    expect(problemsOf(read('good', f))).toEqual([]);
  });

  it.each(good)('%s is accepted by yang-js', (f) => {
    expect(checkWithYangJs(JSON.parse(read('good', f)))).toBeNull();
  });
});

describe('bad configurations', () => {
  it.each(bad)('%s is refused with exactly its problems', (f) => {
    const want = expected[name(f)];
    expect(want.problems.length).toBeGreaterThan(0);
    expect(problemsOf(read('bad', f))).toEqual(want.problems);
  });

  it.each(bad.filter((f) => expected[name(f)].yangJs !== null))('%s: yang-js verdict as recorded', (f) => {
    const verdict = checkWithYangJs(JSON.parse(read('bad', f))) ? 'rejects' : 'accepts';
    expect(verdict).toBe(expected[name(f)].yangJs);
  });

  it('never shows key material in a problem', () => {
    const keys = new Set<string>();
    const collect = (json: unknown): void => {
      if (Array.isArray(json)) json.forEach(collect);
      else if (json && typeof json === 'object') {
        for (const [k, v] of Object.entries(json)) {
          if (['preshared-key', 'key', 'salt'].includes(k) && typeof v === 'string') keys.add(v.toLowerCase());
          collect(v);
        }
      }
    };
    for (const f of bad) {
      try { collect(JSON.parse(read('bad', f))); } catch { /* not JSON */ }
    }
    expect(keys.size).toBeGreaterThan(3);
    for (const f of bad) {
      const text = expected[name(f)].problems.join('\n').toLowerCase();
      for (const k of keys) expect(text.includes(k.slice(0, 16)), `${f} shows a key`).toBe(false);
    }
  });
});

describe.skipIf(!yanglintAvailable)('yanglint judges the corpus as the loader does', () => {
  // One yanglint process for the whole corpus.
  const all = [...good.map((f) => path.join(dir, 'good', f)), ...bad.map((f) => path.join(dir, 'bad', f))];
  const verdicts = yanglintAvailable ? yanglintFiles(all) : [];
  const verdict = (kind: string, f: string) => verdicts[all.indexOf(path.join(dir, kind, f))];

  it.each(good)('%s is valid for yanglint', (f) => {
    expect(verdict('good', f)).toEqual({ ok: true, messages: '' });
  });

  it.each(bad)('%s: yanglint verdict as recorded', (f) => {
    expect(verdict('bad', f).ok ? 'accepts' : 'rejects').toBe(expected[name(f)].yanglint);
  });

  it('yanglint refuses every bad configuration the model can express', () => {
    const beyond = bad.filter((f) => expected[name(f)].yanglint === 'accepts');
    for (const f of beyond) expect(expected[name(f)].note, `${f} needs a note saying why the model cannot refuse it`).toMatch(/beyond the model/);
  });
});

if (!yanglintAvailable) it.skip(YANGLINT_MISSING, () => {});
