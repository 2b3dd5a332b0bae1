// The import graph of controlplane/ and bench/ (static, type-only, re-export
// and dynamic imports alike) has no cycle, stays inside those two folders (no
// product code imports test/), and no command or benchmark imports the CLI
// dispatcher (controlplane/cli.ts), which loads them.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const DISPATCHER = 'controlplane/cli.ts';

function tsFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return tsFiles(rel);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** The relative module specifiers a TypeScript source imports. */
function importsOf(source: string): string[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs: string[] = [];
  const patterns = [/\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /^\s*import\s*['"]([^'"]+)['"]/gm];
  for (const re of patterns) for (const m of text.matchAll(re)) if (m[1].startsWith('.')) specs.push(m[1]);
  return specs;
}

/** Module file → the repository files it imports (a `.js` specifier names the `.ts` source). */
function graph(files: string[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files) {
    const deps = importsOf(fs.readFileSync(path.join(ROOT, f), 'utf8')).map((s) =>
      path.posix.normalize(path.posix.join(path.posix.dirname(f), s)).replace(/\.js$/, '.ts'),
    );
    g.set(f, deps);
  }
  return g;
}

/** Every cycle found by a depth-first search, each as the path of files that closes it. */
function cycles(g: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of g.get(f) ?? []) {
      if (!g.has(d)) continue;
      if (state.get(d) === 'open') found.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of [...g.keys()].sort()) if (!state.has(f)) visit(f);
  return found;
}

const FILES = [...tsFiles('controlplane'), ...tsFiles('bench')];
const GRAPH = graph(FILES);

describe('import graph of controlplane/ and bench/', () => {
  it('reads the imports of every kind', () => {
    const src = "import a from './a.js';\nimport type { B } from '../b.js';\nexport { c } from './c.js';\nimport './d.js';\nconst e = await import('./e.js');\n// import x from './x.js';\nimport fs from 'node:fs';";
    expect(importsOf(src).sort()).toEqual(['../b.js', './a.js', './c.js', './d.js', './e.js']);
    expect(GRAPH.get(DISPATCHER)).toContain('controlplane/commands/run.ts');
    expect(GRAPH.get(DISPATCHER)).toContain('bench/index.ts');
  });

  it('finds a cycle where there is one', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('has no cycle', () => {
    expect(cycles(GRAPH).map((c) => c.join(' → '))).toEqual([]);
  });

  it('no product module (controlplane/, bench/: shipped in dist/) imports test code', () => {
    expect([...GRAPH].flatMap(([f, deps]) => deps.filter((d) => !d.startsWith('controlplane/') && !d.startsWith('bench/')).map((d) => `${f} → ${d}`))).toEqual([]);
  });

  it('no command or benchmark imports the CLI dispatcher', () => {
    const importers = [...GRAPH].filter(([, deps]) => deps.includes(DISPATCHER)).map(([f]) => f);
    expect(importers).toEqual([]);
  });
});
