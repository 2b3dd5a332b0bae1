// The data plane's counters and drop reasons, as declared once in
// dataplane/pipeline/counters.h (see there for the columns). The metrics,
// the YANG state and `vitesse status` are made from this table; tests check
// yang/vitesse-gateway.yang and docs/operations.md against it.
//
// A counter is read by a name of the table: misspelt in TypeScript, it is a
// type error (Counters has exactly these keys); looked up by a name made at
// run time, counterValue throws rather than reading 0.
import { native } from './native.js';
import { COUNTER_NAMES, type CounterName } from './counter-names.js';

export { COUNTER_NAMES, type CounterName };

export type CounterKind = 'traffic' | 'error' | 'answered' | 'resource' | 'driver';

export interface CounterEntry {
  readonly name: CounterName;
  /** The interface it is counted on ('' for the worker's own counters). */
  readonly side: 'private' | 'public' | '';
  readonly kind: CounterKind;
  /** vitesse_<metric>_total. */
  readonly metric: string;
  /** The metric's distinguishing label value (reason, direction) or ''. */
  readonly label: string;
  /** The leaf's path under gateway-state (and queue[id], but for the next hops). */
  readonly yang: string;
  readonly help: string;
}

export type Counters = Readonly<Record<CounterName, number>>;

function load(): readonly CounterEntry[] {
  const table = native.gateway.counterTable as CounterEntry[];
  const names = table.map((c) => c.name);
  if (names.join() !== COUNTER_NAMES.join()) {
    throw new Error('vitesse: the addon\'s counters are not those of controlplane/counter-names.ts: rebuild, or run node tools/counter-names.mjs');
  }
  return Object.freeze(table.map((c) => Object.freeze({ ...c })));
}

export const COUNTER_TABLE: readonly CounterEntry[] = load();

const BY_NAME = new Map<string, CounterEntry>(COUNTER_TABLE.map((c) => [c.name, c]));

/** The table's entry for a counter name; throws for a name not in the table. */
export function counterEntry(name: string): CounterEntry {
  const entry = BY_NAME.get(name);
  if (!entry) throw new Error(`no data-plane counter is named "${name}" (dataplane/pipeline/counters.h)`);
  return entry;
}

/** A counter's value by a name made at run time; throws for a name not in the table, never reads 0. */
export function counterValue(c: Counters, name: string): number {
  counterEntry(name);
  if (!Object.hasOwn(c, name)) throw new Error(`the counters read lack "${name}"`);
  return c[name as CounterName];
}

/** The sum of the named counters (each checked as counterValue does). */
export function counterSum(c: Counters, names: Iterable<string>): number {
  let sum = 0;
  for (const n of names) sum += counterValue(c, n);
  return sum;
}

/** The entries whose YANG leaf is `path` (exactly one for every leaf the table names). */
export function counterAt(path: string): CounterEntry {
  const found = COUNTER_TABLE.filter((c) => c.yang === path);
  if (found.length !== 1) throw new Error(`${found.length} data-plane counters at ${path}`);
  return found[0];
}
