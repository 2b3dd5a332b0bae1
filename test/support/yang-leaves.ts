// The leaves of a YANG module's data tree with their descriptions, groupings
// expanded: enough of YANG's syntax (statements, quoted and concatenated
// strings, comments) to check the model against the code's declarations.
import fs from 'node:fs';

interface Statement { keyword: string; arg: string; children: Statement[] }

function tokens(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    if (text.startsWith('//', i)) { i = text.indexOf('\n', i); if (i < 0) break; continue; }
    if (text.startsWith('/*', i)) { i = text.indexOf('*/', i) + 2; continue; }
    if (c === '{' || c === '}' || c === ';') { out.push(c); i++; continue; }
    if (c === '"' || c === "'") {
      let s = '';
      let j = i + 1;
      for (; text[j] !== c; j++) s += c === '"' && text[j] === '\\' ? text[++j] : text[j];
      // A string continued with +: the parts are one argument.
      if (out.at(-1) === '+') { out.pop(); out.push(`\0${out.pop()!.slice(1)}${s}`); } else out.push(`\0${s}`);
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < text.length && !/[\s{};]/.test(text[j])) j++;
    out.push(text.slice(i, j));
    i = j;
  }
  return out;
}

function parse(toks: string[]): Statement[] {
  let i = 0;
  const block = (): Statement[] => {
    const list: Statement[] = [];
    while (i < toks.length && toks[i] !== '}') {
      const keyword = toks[i++];
      let arg = '';
      if (toks[i] !== ';' && toks[i] !== '{') arg = toks[i++].replace(/^\0/, '');
      const children: Statement[] = [];
      if (toks[i] === '{') { i++; children.push(...block()); i++; } else i++;
      list.push({ keyword, arg, children });
    }
    return list;
  };
  return block();
}

const DATA = new Set(['container', 'list', 'leaf', 'leaf-list', 'uses', 'choice', 'case']);

/** Every leaf under the top-level container `top`, by its path below it ("a/b/leaf"), with its description (whitespace collapsed). */
export function yangLeaves(file: string, top: string): Map<string, string> {
  const module = parse(tokens(fs.readFileSync(file, 'utf8')))[0];
  const groupings = new Map(module.children.filter((s) => s.keyword === 'grouping').map((s) => [s.arg, s]));
  const out = new Map<string, string>();
  const walk = (list: Statement[], prefix: string) => {
    for (const s of list) {
      if (!DATA.has(s.keyword)) continue;
      if (s.keyword === 'uses') walk(groupings.get(s.arg)!.children, prefix);
      else if (s.keyword === 'leaf' || s.keyword === 'leaf-list') {
        const d = s.children.find((c) => c.keyword === 'description')?.arg ?? '';
        out.set(prefix + s.arg, d.replace(/\s+/g, ' ').trim());
      } else if (s.keyword === 'choice' || s.keyword === 'case') walk(s.children, prefix);
      else walk(s.children, `${prefix}${s.arg}/`);
    }
  };
  walk(module.children.find((s) => s.keyword === 'container' && s.arg === top)!.children, '');
  return out;
}
