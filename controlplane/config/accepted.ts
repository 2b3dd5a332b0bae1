// yang-js takes about as long per route as everything else in loading
// together, so an API change that re-evaluated all 20,000 routes of a running
// configuration held the event loop for seconds. A change evaluates again only
// what it changes: list entries equal to an entry with the same keys in a
// document the model already accepted (the running configuration's) are left
// out of the model's evaluation. That loses nothing: no check yang-js makes
// spans entries of these lists (unique and leafrefs are the loader's, see
// model.ts; the loader refuses repeated keys before yang-js is asked; the
// lists have no min- or max-elements), so an entry it accepted once it
// accepts again. Everything outside these lists is always evaluated.
import { TOP } from './defaults.js';

type Json = Record<string, unknown>;

/** The lists judged entry by entry: their member path below the gateway container and their keys. */
const ENTRY_LISTS: ReadonlyArray<{ at: readonly string[]; keys: readonly string[] }> = [
  { at: ['route'], keys: ['id'] },
  { at: ['data-plane', 'inbound-sa'], keys: ['spi'] },
  { at: ['data-plane', 'outbound-sa'], keys: ['route', 'queue'] },
];

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const own = (o: Json, k: string) => (Object.hasOwn(o, k) ? o[k] : undefined);

/** Equality of two JSON values (member order aside). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (!isObject(a) || !isObject(b)) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
}

const keyOf = (e: unknown, keys: readonly string[]) => (isObject(e) ? JSON.stringify(keys.map((k) => own(e, k) ?? null)) : null);

/**
 * `document` without the list entries that `accepted` has, equal and under the
 * same keys; `document` itself if there is nothing to leave out. Neither is
 * modified. Lists only reached through module-qualified member names are
 * kept whole.
 */
export function withoutAccepted(document: unknown, accepted: unknown): unknown {
  if (!isObject(document) || !isObject(accepted)) return document;
  const top = own(document, TOP);
  const old = own(accepted, TOP);
  if (!isObject(top) || !isObject(old)) return document;
  const out: Json = { ...top };
  let left = 0;
  for (const { at, keys } of ENTRY_LISTS) {
    // The containers along the way, copied so that the list can be replaced.
    let parent: Json | null = out;
    let before: unknown = old;
    for (const name of at.slice(0, -1)) {
      const next: unknown = own(parent, name);
      before = isObject(before) ? own(before, name) : undefined;
      parent = isObject(next) ? (parent[name] = { ...next }) : null;
      if (!parent) break;
    }
    if (!parent) continue;
    const name = at[at.length - 1];
    const list = own(parent, name);
    const previous = isObject(before) ? own(before, name) : undefined;
    if (!Array.isArray(list) || !Array.isArray(previous)) continue;
    const known = new Map<string, unknown>();
    for (const e of previous) {
      const k = keyOf(e, keys);
      if (k !== null && !known.has(k)) known.set(k, e);
    }
    const changed = list.filter((e) => {
      const k = keyOf(e, keys);
      return k === null || !known.has(k) || !sameJson(e, known.get(k));
    });
    left += list.length - changed.length;
    if (changed.length) parent[name] = changed;
    else delete parent[name];
  }
  return left ? { ...document, [TOP]: out } : document;
}
