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

  const skipSpace = () => { while (i < text.length && ' \t\r\n'.includes(text[i])) i++; };
  const readString = (): string => {
    const start = i;
    i++; // opening quote
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const skipScalar = () => { while (i < text.length && !',]} \t\r\n'.includes(text[i])) i++; };

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
        const name = readString();
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
      readString();
    } else {
      skipScalar();
    }
  };

  value();
  return found;
}
