// RESTCONF data resource paths (RFC 8040 §3.5.3) and where they lead in an
// RFC 7951 document:
//
//   /restconf/data/vitesse-gateway:gateway/route=site2/gateway=1/address
//     → top "gateway", then route[id='site2'], gateway[queue='1'], address
//
// A list entry is named by its key values in key order, comma-separated and
// percent-encoded; a leaf-list value likewise (`address=10.1.0.1`). Names
// after the first may repeat the module prefix. A whole list without keys
// (`/route`) is also accepted, for reading and replacing all its entries.
// Errors name the node as an instance identifier (error-path), the form the
// configuration loader uses too.
import { RestconfError } from './errors.js';
import { LEAF_LISTS, LISTS, MODULE, TOPS, qualified, type Top } from './schema.js';

export interface Segment {
  name: string;
  /** Key values (list entry) or the value (leaf-list item); null: the node itself. */
  keys: string[] | null;
}

export interface DataPath {
  top: Top;
  segments: Segment[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9._-]*$/;

/**
 * Names no node of the model has, and that JavaScript objects answer for
 * themselves (`doc["__proto__"]` is Object.prototype): refused as node and
 * member names, so that no path or body reaches the objects' prototypes. As
 * list key values (a route called "constructor") they are ordinary strings.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** `obj[key]` if it is obj's own property: inherited members are never data. */
export function own<T>(obj: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function decode(text: string, whole: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw RestconfError.of('invalid-value', `"${whole}": bad percent-encoding`, { type: 'protocol' });
  }
}

/** The schema path of the node a path leads to (e.g. "route/gateway"). */
export function schemaPath(segments: readonly Segment[]): string {
  return segments.map((s) => s.name).join('/');
}

/**
 * Parses what follows /restconf/data (e.g. "/vitesse-gateway:gateway/route=site2");
 * null for the datastore itself ("" or "/").
 */
export function parseDataPath(text: string): DataPath | null {
  const parts = text.split('/').filter((p, i) => i > 0 || p !== '');
  if (parts.length && parts[parts.length - 1] === '') parts.pop(); // a trailing slash
  if (!parts.length) return null;
  let top: Top | null = null;
  const segments: Segment[] = [];
  for (const [i, part] of parts.entries()) {
    const eq = part.indexOf('=');
    const rawName = decode(eq < 0 ? part : part.slice(0, eq), text);
    const colon = rawName.indexOf(':');
    const module = colon < 0 ? null : rawName.slice(0, colon);
    const name = colon < 0 ? rawName : rawName.slice(colon + 1);
    if (!IDENTIFIER.test(name) || (module !== null && !IDENTIFIER.test(module))) {
      throw RestconfError.of('invalid-value', `"${text}": "${rawName}" is not a node name`, { type: 'protocol' });
    }
    if (RESERVED_NAMES.has(name) || (module !== null && RESERVED_NAMES.has(module))) {
      throw RestconfError.of('invalid-value', `"${text}": segment ${i + 1} ("${rawName}") is not a node name: ${[...RESERVED_NAMES].join(', ')} are reserved`, { type: 'protocol' });
    }
    if (module !== null && module !== MODULE) {
      throw RestconfError.of('unknown-namespace', `"${text}": unknown module "${module}" (this server has only ${MODULE})`, { type: 'protocol', status: 404 });
    }
    if (i === 0) {
      if (module === null) throw RestconfError.of('invalid-value', `"${text}": the first node must name its module, e.g. ${qualified('gateway')}`, { type: 'protocol' });
      if (!TOPS.includes(name as Top)) throw RestconfError.of('invalid-value', `"${text}": no such node: ${rawName} (there are ${TOPS.map(qualified).join(' and ')})`, { type: 'protocol', status: 404 });
      if (eq >= 0) throw RestconfError.of('invalid-value', `"${text}": ${rawName} is a container, not a list`, { type: 'protocol' });
      top = name as Top;
      continue;
    }
    const keys = eq < 0 ? null : part.slice(eq + 1).split(',').map((k) => decode(k, text));
    segments.push({ name, keys });
  }
  return { top: top!, segments };
}

function quote(value: string): string {
  return value.includes("'") ? `"${value}"` : `'${value}'`;
}

/** The instance identifier of a path, as error-path reports it: /vitesse-gateway:gateway/route[id='site2']/net. */
export function instancePath(path: DataPath, upTo = path.segments.length): string {
  let out = `/${qualified(path.top)}`;
  const segs = path.segments.slice(0, upTo);
  for (const [i, s] of segs.entries()) {
    out += `/${s.name}`;
    if (!s.keys) continue;
    const sp = schemaPath(segs.slice(0, i + 1));
    const list = own(LISTS[path.top], sp);
    if (list) out += list.keys.map((k, j) => `[${k}=${quote(s.keys![j] ?? '')}]`).join('');
    else out += `[.=${quote(s.keys[0] ?? '')}]`;
  }
  return out;
}

/** The request URI of a path (for Location headers). */
export function dataUri(path: DataPath): string {
  const segs = path.segments.map((s) => (s.keys ? `${s.name}=${s.keys.map(encodeURIComponent).join(',')}` : s.name));
  return ['/restconf/data', qualified(path.top), ...segs].join('/');
}

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where a path leads in a document: the node, and how to replace or remove it. */
export type Target =
  | { kind: 'top' }
  /** A container, leaf, or a whole list or leaf-list: a member of `parent`. */
  | { kind: 'member'; parent: Json; name: string }
  /** A list entry (index −1: there is none with these keys). */
  | { kind: 'entry'; parent: Json; name: string; keys: Record<string, string>; index: number }
  /** A leaf-list value (index −1: absent). */
  | { kind: 'item'; parent: Json; name: string; value: string; index: number };

/** Key values as they appear in JSON (numbers unquoted) compared with those of a path. */
export function entryMatches(entry: unknown, keys: Record<string, string>): boolean {
  return isObject(entry) && Object.entries(keys).every(([k, v]) => own(entry, k) !== undefined && String(entry[k]) === v);
}

/**
 * Follows a path into the top container's content `doc`. Every node before the
 * last must exist; the last may not (its Target says where it would go).
 * `missing` is the error for an absent intermediate node (404 for a read,
 * data-missing for a change).
 */
export function locate(doc: Json, path: DataPath, missing: 'read' | 'edit'): Target {
  if (!path.segments.length) return { kind: 'top' };
  let node: Json = doc;
  for (let i = 0; i < path.segments.length; i++) {
    const s = path.segments[i];
    const sp = schemaPath(path.segments.slice(0, i + 1));
    const list = own(LISTS[path.top], sp);
    const leafList = LEAF_LISTS[path.top].has(sp);
    const last = i === path.segments.length - 1;
    let target: Target;
    if (s.keys) {
      if (list) {
        if (s.keys.length !== list.keys.length) {
          throw RestconfError.of('invalid-value', `${s.name} is a list keyed by ${list.keys.join(', ')}: give ${list.keys.length === 1 ? 'one value' : `${list.keys.length} values, comma-separated`}, e.g. ${s.name}=${list.keys.map((k) => `<${k}>`).join(',')}`, { path: instancePath(path, i), type: 'protocol' });
        }
        const keys = Object.fromEntries(list.keys.map((k, j) => [k, s.keys![j]]));
        const entries = own(node, s.name);
        const index = Array.isArray(entries) ? entries.findIndex((e) => entryMatches(e, keys)) : -1;
        target = { kind: 'entry', parent: node, name: s.name, keys, index };
      } else if (leafList) {
        if (s.keys.length !== 1) throw RestconfError.of('invalid-value', `${s.name} is a leaf-list: give one value`, { path: instancePath(path, i), type: 'protocol' });
        const values = own(node, s.name);
        const index = Array.isArray(values) ? values.findIndex((v) => String(v) === s.keys![0]) : -1;
        target = { kind: 'item', parent: node, name: s.name, value: s.keys[0], index };
      } else {
        throw RestconfError.of('invalid-value', `${s.name} is not a list: it takes no key`, { path: instancePath(path, i), type: 'protocol' });
      }
    } else {
      if (list && !last) {
        throw RestconfError.of('invalid-value', `${s.name} is a list: name an entry by its key, e.g. ${s.name}=${list.keys.map((k) => `<${k}>`).join(',')}`, { path: instancePath(path, i + 1), type: 'protocol' });
      }
      target = { kind: 'member', parent: node, name: s.name };
    }
    if (last) return target;
    const value = valueAt(target);
    if (!isObject(value)) {
      if (value === undefined) {
        const where = instancePath(path, i + 1);
        if (missing === 'read') throw RestconfError.of('invalid-value', 'no such data node', { path: where, status: 404 });
        throw RestconfError.of('data-missing', 'no such data node (create it first)', { path: where });
      }
      throw RestconfError.of('invalid-value', `${s.name} has no children`, { path: instancePath(path, i + 1), type: 'protocol', status: 404 });
    }
    node = value;
  }
  throw new Error('unreachable');
}

/** The node a target names, or undefined if there is none. */
export function valueAt(t: Target, doc?: Json): unknown {
  switch (t.kind) {
    case 'top': return doc;
    case 'member': return own(t.parent, t.name);
    case 'entry': return t.index >= 0 ? (t.parent[t.name] as unknown[])[t.index] : undefined;
    case 'item': return t.index >= 0 ? (t.parent[t.name] as unknown[])[t.index] : undefined;
  }
}

/** The node's name in its parent. */
export function targetName(path: DataPath): string {
  return path.segments.length ? path.segments[path.segments.length - 1].name : path.top;
}
