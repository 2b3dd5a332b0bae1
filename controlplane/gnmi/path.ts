// gNMI paths (gnmi.proto Path: elem names with list keys) resolved against
// the model:
//
//   /gateway-state/route[id=site-b]/inbound-packets
//   /vitesse-gateway:gateway/route[id=*]/net      (a key "*" or left out: every entry)
//
// The first element is one of the module's top-level containers, gateway
// (configuration) or gateway-state; names may carry the module prefix.
// Anything the model does not have is NOT_FOUND, naming the path as far as
// it was understood; a malformed path (keys on a container, an unknown key
// name, the deprecated string `element` form, name wildcards) is
// INVALID_ARGUMENT. Sizes are bounded before anything is looked up.
import { MODULE, TOPS, type Top } from '../api/schema.js';
import { RESERVED_NAMES } from '../api/path.js';
import { invalid, notFound } from './errors.js';
import { gnmiTops, type GnmiNode } from './schema.js';

export interface PathElem {
  name: string;
  key?: Record<string, string>;
}

export interface GnmiPath {
  origin?: string;
  elem?: PathElem[] | null;
  element?: string[] | null;
  target?: string;
}

/** The model is at most six levels deep: sixteen is generous and keeps a hostile path cheap. */
export const MAX_ELEMS = 16;
export const MAX_NAME = 128;
export const MAX_KEYS = 8;
export const MAX_KEY_VALUE = 1024;

export interface Step {
  node: GnmiNode;
  /** For a list: the keys given (a value "*" is not kept: it matches every entry). */
  keys: Record<string, string>;
}

export interface Resolved {
  /** null: the root (both top-level containers). */
  top: Top | null;
  steps: Step[];
  /** The path as text, for errors and logs. */
  text: string;
}

// Key names in the order elemText writes them, by the names as given: a
// Get of 20,000 SAs sorted four keys with localeCompare 20,000 times.
const keyOrders = new Map<string, string[]>();
const MAX_KEY_ORDERS = 1024;

function keyOrder(names: string[]): string[] {
  const id = names.join('\0');
  let order = keyOrders.get(id);
  if (!order) {
    order = [...names].sort((a, b) => a.localeCompare(b));
    if (keyOrders.size >= MAX_KEY_ORDERS) keyOrders.clear();
    keyOrders.set(id, order);
  }
  return order;
}

/** An element as gNMI's string form writes it: name[key=value], ']' and '\' escaped. */
export function elemText(e: PathElem): string {
  if (!e.key) return e.name;
  let out = e.name;
  for (const k of keyOrder(Object.keys(e.key))) {
    const v = String(e.key[k]);
    out += `[${k}=${/[\\\]]/.test(v) ? v.replace(/[\\\]]/g, (c) => `\\${c}`) : v}]`;
  }
  return out;
}

export function pathText(elems: readonly PathElem[]): string {
  return '/' + elems.map(elemText).join('/');
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9._-]*$/;

function checkSize(p: GnmiPath | null | undefined, what: string): PathElem[] {
  if (!p) return [];
  if (p.element?.length) throw invalid(`${what}: the deprecated "element" form of a path is not supported: use "elem"`);
  const elems = p.elem ?? [];
  if (elems.length > MAX_ELEMS) throw invalid(`${what}: ${elems.length} elements, more than ${MAX_ELEMS} (the model is not that deep)`);
  return elems;
}

/**
 * The node `prefix` + `path` names. `what` says which path of the request
 * this is ("path 2 of the subscription list") for the error messages.
 */
export function resolve(prefix: GnmiPath | null | undefined, path: GnmiPath | null | undefined, what: string): Resolved {
  for (const p of [prefix, path]) {
    const origin = p?.origin ?? '';
    if (origin !== '' && origin !== MODULE) throw notFound(`${what}: unknown origin "${origin.slice(0, MAX_NAME)}" (this target has only ${MODULE}, or no origin)`);
  }
  const a = checkSize(prefix, `${what} (prefix)`);
  const b = checkSize(path, what);
  if (a.length + b.length > MAX_ELEMS) throw invalid(`${what}: ${a.length + b.length} elements with the prefix, more than ${MAX_ELEMS}`);
  const elems = [...a, ...b];
  for (const e of elems) {
    if (typeof e.name !== 'string' || e.name.length > MAX_NAME) throw invalid(`${what}: an element name is longer than ${MAX_NAME} characters`);
    const keys = Object.entries(e.key ?? {});
    if (keys.length > MAX_KEYS) throw invalid(`${what}: element "${e.name}" has ${keys.length} keys, more than ${MAX_KEYS}`);
    for (const [k, v] of keys) {
      if (k.length > MAX_NAME || String(v).length > MAX_KEY_VALUE) throw invalid(`${what}: a key of element "${e.name}" is longer than ${k.length > MAX_NAME ? MAX_NAME : MAX_KEY_VALUE} characters`);
    }
  }
  const text = pathText(elems);
  if (!elems.length) return { top: null, steps: [], text };
  const bare = (name: string, i: number): string => {
    const colon = name.indexOf(':');
    const module = colon < 0 ? null : name.slice(0, colon);
    const local = colon < 0 ? name : name.slice(colon + 1);
    if (local === '*' || local === '...') throw invalid(`${what}: ${text}: wildcard element names are not supported (name the node; a list key may be "*")`);
    if (!IDENTIFIER.test(local) || RESERVED_NAMES.has(local)) throw invalid(`${what}: ${text}: "${name}" (element ${i + 1}) is not a node name`);
    if (module !== null && module !== MODULE) throw notFound(`${what}: ${text}: unknown module "${module}" (this target has only ${MODULE})`);
    return local;
  };
  const first = bare(elems[0].name, 0);
  if (!TOPS.includes(first as Top)) throw notFound(`${what}: ${text}: no such node "${first}" (the model's top-level nodes are ${TOPS.join(' and ')})`);
  if (Object.keys(elems[0].key ?? {}).length) throw invalid(`${what}: ${text}: ${first} is a container: it takes no key`);
  const top = first as Top;
  let node = gnmiTops().get(top)!;
  const steps: Step[] = [];
  for (let i = 1; i < elems.length; i++) {
    const name = bare(elems[i].name, i);
    const upTo = pathText(elems.slice(0, i + 1));
    if (node.kind === 'leaf' || node.kind === 'leaf-list') throw notFound(`${what}: ${upTo}: ${node.name} is a leaf: nothing is below it`);
    const child = node.children.get(name);
    if (!child) throw notFound(`${what}: ${upTo}: no such node "${name}" in ${pathText(elems.slice(0, i))}`);
    const keys: Record<string, string> = {};
    for (const [k, v] of Object.entries(elems[i].key ?? {})) {
      if (child.kind !== 'list') throw invalid(`${what}: ${upTo}: ${name} is not a list: it takes no key`);
      if (!child.keys.includes(k)) throw invalid(`${what}: ${upTo}: ${name} is keyed by ${child.keys.join(', ')}, not "${k}"`);
      if (v !== '*') keys[k] = String(v);
    }
    steps.push({ node: child, keys });
    node = child;
  }
  return { top, steps, text };
}
