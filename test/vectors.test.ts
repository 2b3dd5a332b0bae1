// The suite stands on its own: the vectors it uses are in the repository,
// unchanged from what test/vectors/README.md records, and no test, benchmark,
// fuzz seed or script names a path outside the repository.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { VECTORS } from './support/vectors.js';

const SELF = fileURLToPath(import.meta.url); // holds such paths on purpose, as examples
const ROOT = path.dirname(path.dirname(SELF));
const SCANNED = ['test', 'bench', 'fuzz', 'tools', 'controlplane', 'dataplane', 'deploy', '.ci', 'bin'];
const SOURCE = /\.(ts|mts|mjs|js|cc|h|sh|json|gyp|py|service|yml|yaml)$|^run$/;

function* files(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (p !== VECTORS && !['corpus', 'node_modules'].includes(e.name)) yield* files(p);
    } else if (SOURCE.test(e.name) && p !== SELF) yield p;
  }
}

/** Every line of the project's code that names a place outside the repository. */
export function pathsOutside(root: string): string[] {
  const found: string[] = [];
  const named = [/\/work\//, /(^|[^\w.])\.\.\/shared\b/, /\bshared\/vectors\b/, /\/home\/\w+/, /\/root\//];
  for (const dir of SCANNED) {
    if (!fs.existsSync(path.join(root, dir))) continue;
    for (const file of files(path.join(root, dir))) {
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        const where = `${path.relative(root, file)}:${i + 1}: ${line.trim()}`;
        if (named.some((re) => re.test(line))) found.push(where);
        // A relative path in a string that climbs out of the repository.
        for (const m of line.matchAll(/['"`]((?:\.\.\/)+[^'"`$]*)['"`]/g)) {
          const target = path.resolve(path.dirname(file), m[1]);
          if (target !== root && !target.startsWith(root + path.sep)) found.push(where);
        }
      });
    }
  }
  return found;
}

describe('test vectors from outside the project', () => {
  const readme = fs.readFileSync(path.join(VECTORS, 'README.md'), 'utf8');
  const listed = [...readme.matchAll(/`([\w/.-]+\.(?:json|pcap))`[^\n]*?([0-9a-f]{16})\s*\|?\s*$/gm)].map((m) => ({ file: m[1], sha: m[2] }));

  it('README lists every vector file with its SHA-256, and each file matches', () => {
    const present = [...(function* walk(d: string): Generator<string> {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) yield* walk(path.join(d, e.name));
        else if (/\.(json|pcap)$/.test(e.name)) yield path.relative(VECTORS, path.join(d, e.name));
      }
    })(VECTORS)].sort();
    const named = listed.map((l) => (l.file.includes('/') ? l.file : `vita/${l.file}`)).sort();
    expect(named).toEqual(present);
    for (const { file, sha } of listed) {
      const p = path.join(VECTORS, file.includes('/') ? file : `vita/${file}`);
      expect(crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16), file).toBe(sha);
    }
  });

  it('README gives a source and a licence for each kind of vector', () => {
    for (const kind of ['wycheproof/aes_gcm_test.json', 'wycheproof/x25519_test.json', 'noise/cacophony-25519-blake2s.json', 'vita/*.pcap', 'vita-ske/example-v5.json']) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${kind}\``));
      expect(row, kind).toBeDefined();
      expect(row!.split('|').length, kind).toBeGreaterThanOrEqual(6);
      expect(row, kind).toMatch(/Apache-2\.0|public domain/);
    }
  });
});

describe('no path outside the repository', () => {
  it('no test, benchmark, fuzz seed or script names one', () => {
    expect(pathsOutside(ROOT)).toEqual([]);
  });

  it('the check finds such paths (it can fail)', () => {
    const tmp = fs.mkdtempSync(path.join(ROOT, '.vectors-check-'));
    try {
      fs.mkdirSync(path.join(tmp, 'test'));
      // The outside paths are assembled, so that no file of the repository names one, this one included.
      const outside = ['', 'work', 'shared', 'vectors', 'vita'].join('/');
      const beside = ['..', '..', 'shared', 'x'].join('/');
      fs.writeFileSync(path.join(tmp, 'test/a.test.ts'), `const A = '${outside}';\nconst B = path.resolve(__dirname, '${beside}');\nconst C = '../ok';\n`);
      fs.writeFileSync(path.join(tmp, 'test/b.ts'), "const D = '../../../elsewhere';\n");
      const found = pathsOutside(tmp);
      expect(found.some((l) => l.startsWith('test/a.test.ts:1:'))).toBe(true);
      expect(found.some((l) => l.startsWith('test/a.test.ts:2:'))).toBe(true);
      expect(found.some((l) => l.startsWith('test/a.test.ts:3:'))).toBe(false);
      expect(found.some((l) => l.startsWith('test/b.ts:1:'))).toBe(true);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
