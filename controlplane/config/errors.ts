// Configuration problems: each names the data node (a YANG instance path in
// the form yanglint and RESTCONF error reports use) and the reason. A
// ConfigError carries every problem found, not just the first, so an operator
// fixes a file in one round.

export interface Problem {
  /** e.g. /vitesse-gateway:gateway/route[id='site2']/net */
  readonly path: string;
  /** e.g. "10.0.0.0/33" is not an IPv4 prefix */
  readonly reason: string;
}

export class ConfigError extends Error {
  constructor(
    readonly problems: readonly Problem[],
    /** The file the configuration came from, if any. */
    readonly source?: string,
  ) {
    super(describe(problems, source));
    this.name = 'ConfigError';
  }
}

function describe(problems: readonly Problem[], source?: string): string {
  const lines = problems.map((p) => `${p.path}: ${p.reason}`);
  const where = source ? `${source}: ` : '';
  if (lines.length === 1) return `${where}${lines[0]}`;
  return `${where}${lines.length} problems in the configuration:\n  ${lines.join('\n  ')}`;
}

/** Collects problems while a configuration is checked. */
export class Problems {
  readonly list: Problem[] = [];

  add(path: string, reason: string): void {
    this.list.push({ path, reason });
  }

  get count(): number {
    return this.list.length;
  }

  throwIfAny(source?: string): void {
    if (this.list.length) throw new ConfigError(this.list, source);
  }
}

/** A key value inside an instance-path predicate: quoted with ' unless it contains one. */
function quote(value: string | number): string {
  const s = String(value);
  return s.includes("'") ? `"${s}"` : `'${s}'`;
}

export function child(path: string, name: string): string {
  return `${path}/${name}`;
}

/** A list entry by its keys, e.g. route[id='site2'], or by position when a key is unusable. */
export function entry(path: string, name: string, keys: ReadonlyArray<readonly [string, string | number]> | number): string {
  if (typeof keys === 'number') return `${path}/${name}[${keys}]`;
  return `${path}/${name}${keys.map(([k, v]) => `[${k}=${quote(v)}]`).join('')}`;
}

/** A leaf-list item by its value, e.g. address[.='10.1.0.1'], or by position. */
export function item(path: string, name: string, value: string | number | null, position: number): string {
  return value === null ? `${path}/${name}[${position}]` : `${path}/${name}[.=${quote(value)}]`;
}

/** A JSON value for a message; objects and arrays are not spelled out (they may hold keys). */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return '[…]';
  if (typeof value === 'object' && value !== null) return '{…}';
  const s = JSON.stringify(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
