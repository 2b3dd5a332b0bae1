// A deterministic measure of work, for tests that assert how code scales
// without timing it: while counting, every element a linear search visits is
// one unit (the callbacks of find, findIndex, some, every and filter; the
// length of the array for includes and indexOf) and so is every
// Buffer.equals. A loop that searches the entries seen so far (the quadratic
// pattern that made a 20,000-route configuration take 41 s) grows with the
// square of the entries; Map and Set lookups are not counted at all.
type Method = 'find' | 'findIndex' | 'some' | 'every' | 'filter';
const SEARCHES: readonly Method[] = ['find', 'findIndex', 'some', 'every', 'filter'];
const SCANS = ['includes', 'indexOf'] as const;

export async function countWork<T>(f: () => T | Promise<T>): Promise<{ result: T; work: number }> {
  let work = 0;
  // The methods are replaced by wrappers of their own signatures.
  type Fn = (this: unknown[], ...args: any[]) => unknown;
  const proto = Array.prototype as unknown as Record<string, Fn>;
  const saved = new Map<string, Fn>();
  for (const m of SEARCHES) {
    const original = proto[m];
    saved.set(m, original);
    proto[m] = function (this: unknown[], callback: (...a: unknown[]) => unknown, ...rest: unknown[]) {
      return original.call(this, function (this: unknown, ...a: unknown[]) {
        work++;
        return callback.apply(this, a);
      }, ...rest);
    };
  }
  for (const m of SCANS) {
    const original = proto[m];
    saved.set(m, original);
    proto[m] = function (this: unknown[], ...args: unknown[]) {
      work += this.length;
      return original.apply(this, args);
    };
  }
  const equals = Buffer.prototype.equals;
  Buffer.prototype.equals = function (this: Buffer, other: Uint8Array) {
    work++;
    return equals.call(this, other);
  };
  try {
    const result = await f();
    return { result, work };
  } finally {
    for (const [m, original] of saved) proto[m] = original;
    Buffer.prototype.equals = equals;
  }
}
