// Reading configuration text. JSON.parse keeps the last of two members with
// the same name without a word; in a configuration that hides a mistake (two
// "preshared-key"s, two "mtu"s), and yanglint refuses it, so this module finds
// duplicate members as well.

/** Where a value sits in the parsed JSON: member names and array indices. */
export type JsonPointer = ReadonlyArray<string | number>;

export type JsonParseResult =
  | { ok: true; value: unknown; duplicates: JsonPointer[] }
  | { ok: false; reason: string };

/**
 * How deep a configuration (or an API body) may nest objects and arrays. The
 * model needs 5 levels; the limit is checked on the text before anything
 * recursive (JSON.stringify, structuredClone, the duplicate finder, yang-js)
 * sees the document, so a document nested a million deep is refused with
 * this number instead of overflowing the stack.
 */
export const MAX_JSON_DEPTH = 32;

export function parseJsonText(text: string): JsonParseResult {
  const deep = tooDeep(text);
  if (deep) return { ok: false, reason: deep };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `not valid JSON: ${describeJsonError(text, e)}` };
  }
  return { ok: true, value, duplicates: findDuplicateMembers(text) };
}

/**
 * Why `text` nests deeper than MAX_JSON_DEPTH (with the line and column
 * where it does), or null. One pass, no recursion; brackets inside strings
 * do not count.
 */
export function tooDeep(text: string, limit = MAX_JSON_DEPTH): string | null {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // a string: skip to its closing quote
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return `nested deeper than ${limit} levels of objects and arrays (the limit), at ${lineColumn(text, i)}`;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return null;
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  return `line ${before.split('\n').length}, column ${offset - before.lastIndexOf('\n')}`;
}

/**
 * A JSON syntax error without the input: V8's messages quote the text around
 * the error ("Unexpected token 'a', "a1b2c3d4"... is not valid JSON"), and
 * the text may be a key (`echo $KEY | vitesse config set … -`). Only the
 * kind of error and where it is are kept.
 */
export function describeJsonError(text: string, e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const m = /at position (\d+)/.exec(message);
  const kind = message
    .replace(/\s*\(line \d+ column \d+\)$/, '')
    .replace(/, ".*$/s, '') // Unexpected token 'x', "…" is not valid JSON
    .replace(/'[^']*[A-Za-z0-9][^']*'|"[^"]*"/g, '') // punctuation such as ':' stays
    .replace(/\s+/g, ' ')
    .trim();
  return `${kind || 'malformed'}${m ? ` (${lineColumn(text, Number(m[1]))})` : ''}`;
}

/** The pointers of members that repeat an earlier member of the same object. Assumes valid JSON. */
function findDuplicateMembers(text: string): JsonPointer[] {
  const found: JsonPointer[] = [];
  const path: Array<string | number> = [];
  let i = 0;

  // Character codes and indexOf rather than a string per character, and
  // member names decoded only when they hold an escape: the text of a
  // configuration with 20,000 routes is several megabytes.
  const skipSpace = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 13 || c === 10; c = text.charCodeAt(++i));
  };
  /** Skips the string at i (its opening quote); returns its value if `decode`. */
  const readString = (decode: boolean): string => {
    const start = i;
    let end = text.indexOf('"', i + 1);
    for (;;) {
      let backslashes = 0;
      while (text.charCodeAt(end - 1 - backslashes) === 92) backslashes++;
      if (backslashes % 2 === 0) break;
      end = text.indexOf('"', end + 1);
    }
    i = end + 1;
    if (!decode) return '';
    const raw = text.slice(start + 1, end);
    return raw.includes('\\') ? (JSON.parse(text.slice(start, i)) as string) : raw;
  };
  const skipScalar = () => {
    for (let c = text.charCodeAt(i); i < text.length && c !== 44 && c !== 93 && c !== 125 && c !== 32 && c !== 9 && c !== 13 && c !== 10; c = text.charCodeAt(++i));
  };

  const value = (): void => {
    skipSpace();
    const c = text[i];
    if (c === '{') {
      i++;
      const names = new Set<string>();
      skipSpace();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        skipSpace();
        const name = readString(true);
        if (names.has(name)) found.push([...path, name]);
        names.add(name);
        skipSpace();
        i++; // ':'
        path.push(name);
        value();
        path.pop();
        skipSpace();
        if (text[i++] === '}') return;
      }
    } else if (c === '[') {
      i++;
      skipSpace();
      if (text[i] === ']') { i++; return; }
      for (let index = 0; ; index++) {
        path.push(index);
        value();
        path.pop();
        skipSpace();
        if (text[i++] === ']') return;
      }
    } else if (c === '"') {
      readString(false);
    } else {
      skipScalar();
    }
  };

  value();
  return found;
}
