// Reading configuration text. JSON.parse keeps the last of two members with
// the same name without a word; in a configuration that hides a mistake (two
// "preshared-key"s, two "mtu"s), and yanglint refuses it, so this module finds
// duplicate members as well.

/** Where a value sits in the parsed JSON: member names and array indices. */
export type JsonPointer = ReadonlyArray<string | number>;

export type JsonParseResult =
  | { ok: true; value: unknown; duplicates: JsonPointer[] }
  | { ok: false; reason: string };

export function parseJsonText(text: string): JsonParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `not valid JSON: ${describeSyntaxError(text, (e as Error).message)}` };
  }
  return { ok: true, value, duplicates: findDuplicateMembers(text) };
}

function describeSyntaxError(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  if (!m) return message;
  const offset = Number(m[1]);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `${message.replace(/\s*\(line \d+ column \d+\)$/, '')} (line ${line}, column ${column})`;
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
