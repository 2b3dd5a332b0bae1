// What a change to a running configuration reads again: only what it
// changes. Loading 20,000 routes takes seconds (yang-js alone takes about as
// long per route as everything else together), and an API change that read
// and evaluated them all held the event loop that long. List entries equal to
// an entry with the same keys in a document that passed the checks before
// (the last change's, or the running configuration's) are neither decoded
// again (their draft is reused: reading an entry depends on nothing else) nor
// evaluated by yang-js again. That loses nothing: no check yang-js makes
// spans entries of these lists (unique and leafrefs are the loader's, see
// model.ts; the loader refuses repeated keys before yang-js is asked; the
// lists have no min- or max-elements), so an entry it accepted once it
// accepts again. The checks across entries (constraints.ts) and everything
// outside these lists are run on every change, over everything.
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
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  let n = 0;
  for (const k in a) {
    if (!Object.hasOwn(a, k)) continue;
    if (!Object.hasOwn(b, k) || !sameJson((a as Json)[k], (b as Json)[k])) return false;
    n++;
  }
  for (const k in b) if (Object.hasOwn(b, k)) n--;
  return n === 0;
}

const keyOf = (e: unknown, keys: readonly string[]) => (isObject(e) ? JSON.stringify(keys.map((k) => own(e, k) ?? null)) : null);

export type EntryList = 'route' | 'inbound-sa' | 'outbound-sa';

/**
 * The entries of `document`'s lists that `accepted` has, equal and under the
 * same keys: each with its list and its position among the accepted list's
 * objects (the position of its draft, since the loader reads objects only).
 * Lists reached only through module-qualified member names are not matched.
 */
export function acceptedEntries(document: unknown, accepted: unknown): Map<object, { list: EntryList; index: number }> {
  const out = new Map<object, { list: EntryList; index: number }>();
  const top = isObject(document) ? own(document, TOP) : undefined;
  const old = isObject(accepted) ? own(accepted, TOP) : undefined;
  for (const { at, keys } of ENTRY_LISTS) {
    let list: unknown = top;
    let previous: unknown = old;
    for (const name of at) {
      list = isObject(list) ? own(list, name) : undefined;
      previous = isObject(previous) ? own(previous, name) : undefined;
    }
    if (!Array.isArray(list) || !Array.isArray(previous)) continue;
    const name = at[at.length - 1] as EntryList;
    // Most entries sit where they sat (a change edits, adds or removes a
    // few): an entry is compared with the one in its place if that has the
    // same keys, and searched for by key only when not (an index of the keys
    // is built then). Equal entries have equal keys.
    const inPlace = previous.every(isObject); // then an entry's position is its draft's
    let known: Map<string, { entry: unknown; index: number }> | null = null;
    list.forEach((e, i) => {
      if (!isObject(e)) return;
      if (inPlace && i < previous.length && keys.every((k) => own(e, k) === own(previous[i] as Json, k))) {
        // The same entry, edited or not.
        if (sameJson(e, previous[i])) out.set(e, { list: name, index: i });
        return;
      }
      if (!known) {
        known = new Map();
        let index = 0;
        for (const p of previous) {
          const k = keyOf(p, keys);
          if (k !== null && !known.has(k)) known.set(k, { entry: p, index });
          if (isObject(p)) index++;
        }
      }
      const k = keyOf(e, keys);
      const match = k === null ? undefined : known.get(k);
      if (match && sameJson(e, match.entry)) out.set(e, { list: name, index: match.index });
    });
  }
  return out;
}

/**
 * `document` without the list entries in `matched` (acceptedEntries);
 * `document` itself if there are none. Neither is modified.
 */
export function withoutAccepted(document: unknown, accepted: unknown, matched = acceptedEntries(document, accepted)): unknown {
  if (!matched.size || !isObject(document)) return document;
  const top = own(document, TOP);
  if (!isObject(top)) return document;
  const out: Json = { ...top };
  for (const { at } of ENTRY_LISTS) {
    // The containers along the way, copied so that the list can be replaced.
    let parent: Json | null = out;
    for (const name of at.slice(0, -1)) {
      const next: unknown = own(parent, name);
      parent = isObject(next) ? (parent[name] = { ...next }) : null;
      if (!parent) break;
    }
    if (!parent) continue;
    const name = at[at.length - 1];
    const list = own(parent, name);
    if (!Array.isArray(list)) continue;
    const changed = list.filter((e) => !(isObject(e) && matched.has(e)));
    if (changed.length) parent[name] = changed;
    else delete parent[name];
  }
  return { ...document, [TOP]: out };
}
