// The edits of RESTCONF's PUT, PATCH, POST and DELETE on an RFC 7951
// configuration document. They only rearrange JSON: whether the result is a
// valid configuration is the loader's call afterwards (change.ts), so an edit
// here never needs to know the model beyond lists and their keys.
//
// A request body names the node it carries, module-qualified or not:
//   PUT  …/route=site2        {"vitesse-gateway:route": [{ "id": "site2", … }]}
//   PUT  …/mtu                {"vitesse-gateway:mtu": 1400}
//   POST …/gateway            {"vitesse-gateway:route": [{ "id": "site3", … }]}   (creates a child)
import { REDACTED } from '../config/index.js';
import { RestconfError } from './errors.js';
import { RESERVED_NAMES, instancePath, isObject, locate, own, schemaPath, targetName, valueAt, type DataPath, type Json, type Target } from './path.js';
import { LEAF_LISTS, LISTS, MODULE, SECRET_LEAVES, keyValue, type ListSchema, type Top } from './schema.js';

const join = (sp: string, name: string) => (sp ? `${sp}/${name}` : name);

/** The one member of a request body: its name (without module) and value. */
export function bodyMember(body: unknown): { name: string; value: unknown } {
  if (!isObject(body)) throw RestconfError.of('malformed-message', 'the body must be a JSON object with one member naming the node it holds, e.g. {"vitesse-gateway:mtu": 1400}', { type: 'protocol' });
  const names = Object.keys(body);
  if (names.length !== 1) throw RestconfError.of('malformed-message', `the body must have exactly one member (the node it holds), not ${names.length}`, { type: 'protocol' });
  const full = names[0];
  const colon = full.indexOf(':');
  if (RESERVED_NAMES.has(colon < 0 ? full : full.slice(colon + 1))) {
    throw RestconfError.of('invalid-value', `the body's member "${full}" is not a node name: ${[...RESERVED_NAMES].join(', ')} are reserved`, { type: 'protocol' });
  }
  if (colon >= 0 && full.slice(0, colon) !== MODULE) {
    throw RestconfError.of('unknown-namespace', `unknown module "${full.slice(0, colon)}" in the body (this server has only ${MODULE})`, { type: 'protocol' });
  }
  return { name: colon < 0 ? full : full.slice(colon + 1), value: body[full] };
}

/** One list entry from a body: `[{…}]` as RFC 8040 writes it, or `{…}`. */
function oneEntry(value: unknown, where: string): Json {
  const entry = Array.isArray(value) && value.length === 1 ? value[0] : value;
  if (!isObject(entry)) throw RestconfError.of('invalid-value', 'a list entry must be one JSON object (or an array of exactly one)', { path: where });
  return entry;
}

/** Key leaves of an entry must agree with the path's key values; missing ones are filled in. */
function withKeys(entry: Json, keys: Record<string, string>, list: ListSchema, where: string): Json {
  const out = { ...entry };
  for (const [k, v] of Object.entries(keys)) {
    if (own(out, k) === undefined) out[k] = keyValue(list, k, v);
    else if (String(out[k]) !== v) {
      throw RestconfError.of('invalid-value', `the body's ${k} (${JSON.stringify(out[k])}) differs from the key in the path (${JSON.stringify(v)})`, { path: `${where}/${k}` });
    }
  }
  return out;
}

/** PUT: creates or replaces the target. Returns the new top content and whether the node was created. */
export function put(doc: Json, path: DataPath, body: unknown): { doc: Json; created: boolean } {
  const { name, value } = bodyMember(body);
  const expected = targetName(path);
  const where = instancePath(path);
  if (name !== expected) throw RestconfError.of('invalid-value', `the body holds "${name}" but the path names "${expected}"`, { path: where, type: 'protocol' });
  const t = locate(doc, path, 'edit');
  const sp = schemaPath(path.segments);
  switch (t.kind) {
    case 'top':
      if (!isObject(value)) throw RestconfError.of('invalid-value', 'the configuration must be a JSON object', { path: where });
      return { doc: value, created: false };
    case 'member': {
      const created = own(t.parent, t.name) === undefined;
      if ((own(LISTS[path.top], sp) || LEAF_LISTS[path.top].has(sp)) && !Array.isArray(value)) {
        throw RestconfError.of('invalid-value', `${t.name} is a list: its value is a JSON array`, { path: where });
      }
      t.parent[t.name] = value;
      return { doc, created };
    }
    case 'entry': {
      const entry = withKeys(oneEntry(value, where), t.keys, own(LISTS[path.top], sp)!, where);
      const list = Array.isArray(own(t.parent, t.name)) ? (t.parent[t.name] as unknown[]) : (t.parent[t.name] = []) as unknown[];
      if (t.index >= 0) list[t.index] = entry;
      else list.push(entry);
      return { doc, created: t.index < 0 };
    }
    case 'item': {
      const v = Array.isArray(value) && value.length === 1 ? value[0] : value;
      if (String(v) !== t.value) throw RestconfError.of('invalid-value', `the body's value (${JSON.stringify(v)}) differs from the one in the path (${JSON.stringify(t.value)})`, { path: where });
      if (t.index >= 0) return { doc, created: false };
      const list = Array.isArray(own(t.parent, t.name)) ? (t.parent[t.name] as unknown[]) : (t.parent[t.name] = []) as unknown[];
      list.push(v);
      return { doc, created: true };
    }
  }
}

/**
 * A list's entries by their key values (the first of equal ones, as a search
 * from the start would find), so that matching M entries against a list of N
 * costs M + N, not M × N: a request naming one route of 20,000 must not
 * compare every route with every other. An entry matches as entryMatches has
 * it: every key present, compared as text.
 */
function byKeys(entries: readonly unknown[], keys: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  entries.forEach((e, i) => {
    const k = keysOf(e, keys);
    if (k !== null && !out.has(k)) out.set(k, i);
  });
  return out;
}

/** An entry's key values as one string (JSON, so that no two tuples clash), or null if one is missing. */
function keysOf(e: unknown, keys: readonly string[]): string | null {
  if (!isObject(e) || keys.some((k) => e[k] === undefined)) return null;
  return JSON.stringify(keys.map((k) => String(e[k])));
}

/** A merge as NETCONF's: containers and list entries (matched by key) merge, leaf-lists gain values, leaves are replaced. */
function mergeValue(top: Top, sp: string, existing: unknown, incoming: unknown): unknown {
  const list = own(LISTS[top], sp);
  if (list && Array.isArray(existing) && Array.isArray(incoming)) {
    const out = [...existing];
    const index = byKeys(out, list.keys);
    for (const e of incoming) {
      const k = isObject(e) ? JSON.stringify(list.keys.map((key) => String(e[key]))) : null;
      const i = k === null ? undefined : index.get(k);
      if (i !== undefined) out[i] = mergeValue(top, sp, out[i], e);
      else {
        out.push(e);
        if (k !== null && isObject(e) && list.keys.every((key) => e[key] !== undefined)) index.set(k, out.length - 1);
      }
    }
    return out;
  }
  if (LEAF_LISTS[top].has(sp) && Array.isArray(existing) && Array.isArray(incoming)) {
    return [...existing, ...incoming.filter((v) => !existing.some((x) => String(x) === String(v)))];
  }
  if (isObject(existing) && isObject(incoming)) {
    const out: Json = { ...existing };
    for (const [k, v] of Object.entries(incoming)) out[k] = own(out, k) === undefined ? v : mergeValue(top, join(sp, k), out[k], v);
    return out;
  }
  return incoming;
}

/** PATCH (plain patch, RFC 8040 §4.6.1): merges the body into the target, which must exist. */
export function merge(doc: Json, path: DataPath, body: unknown): Json {
  const { name, value } = bodyMember(body);
  const expected = targetName(path);
  const where = instancePath(path);
  if (name !== expected) throw RestconfError.of('invalid-value', `the body holds "${name}" but the path names "${expected}"`, { path: where, type: 'protocol' });
  const t = locate(doc, path, 'edit');
  const sp = schemaPath(path.segments);
  const existing = valueAt(t, doc);
  if (existing === undefined) throw RestconfError.of('data-missing', 'no such data node: PATCH does not create one (use PUT or POST)', { path: where });
  switch (t.kind) {
    case 'top':
      return mergeValue(path.top, '', doc, value) as Json;
    case 'member':
      t.parent[t.name] = mergeValue(path.top, sp, existing, value);
      return doc;
    case 'entry': {
      const entry = withKeys(oneEntry(value, where), t.keys, own(LISTS[path.top], sp)!, where);
      (t.parent[t.name] as unknown[])[t.index] = mergeValue(path.top, sp, existing, entry);
      return doc;
    }
    case 'item':
      return doc;
  }
}

/** POST: creates a child of the target (named by the body), which must not exist yet. Returns the child's path. */
export function create(doc: Json, path: DataPath, body: unknown): { doc: Json; created: DataPath } {
  const { name, value } = bodyMember(body);
  const t = locate(doc, path, 'edit');
  const parent = valueAt(t, doc);
  const parentWhere = instancePath(path);
  if (parent === undefined) throw RestconfError.of('data-missing', 'no such data node (create it first)', { path: parentWhere });
  if (!isObject(parent)) throw RestconfError.of('invalid-value', 'this node has no children to create', { path: parentWhere, type: 'protocol' });
  const sp = join(schemaPath(path.segments), name);
  const list = own(LISTS[path.top], sp);
  if (list) {
    const entry = oneEntry(value, `${parentWhere}/${name}`);
    const missing = list.keys.filter((k) => own(entry, k) === undefined);
    if (missing.length) throw RestconfError.of('invalid-value', `a new ${name} needs its key${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, { path: `${parentWhere}/${name}` });
    const keys = list.keys.map((k) => String(entry[k]));
    const created: DataPath = { top: path.top, segments: [...path.segments, { name, keys }] };
    const target = locate(doc, created, 'edit') as Target & { kind: 'entry' };
    if (target.index >= 0) throw RestconfError.of('resource-denied', 'already exists (PUT replaces, PATCH merges)', { path: instancePath(created) });
    const entries = Array.isArray(own(parent, name)) ? (parent[name] as unknown[]) : (parent[name] = []) as unknown[];
    entries.push(entry);
    return { doc, created };
  }
  if (LEAF_LISTS[path.top].has(sp)) {
    const v = Array.isArray(value) && value.length === 1 ? value[0] : value;
    const created: DataPath = { top: path.top, segments: [...path.segments, { name, keys: [String(v)] }] };
    const values = Array.isArray(own(parent, name)) ? (parent[name] as unknown[]) : (parent[name] = []) as unknown[];
    if (values.some((x) => String(x) === String(v))) throw RestconfError.of('resource-denied', 'already exists', { path: instancePath(created) });
    values.push(v);
    return { doc, created };
  }
  const created: DataPath = { top: path.top, segments: [...path.segments, { name, keys: null }] };
  if (own(parent, name) !== undefined) throw RestconfError.of('resource-denied', 'already exists (PUT replaces, PATCH merges)', { path: instancePath(created) });
  parent[name] = value;
  return { doc, created };
}

/** DELETE: removes the target, which must exist. */
export function remove(doc: Json, path: DataPath): Json {
  const t = locate(doc, path, 'edit');
  const where = instancePath(path);
  if (valueAt(t, doc) === undefined) throw RestconfError.of('data-missing', 'no such data node', { path: where });
  switch (t.kind) {
    case 'top':
      return {};
    case 'member':
      delete t.parent[t.name];
      return doc;
    case 'entry':
    case 'item': {
      const list = t.parent[t.name] as unknown[];
      list.splice(t.index, 1);
      if (!list.length) delete t.parent[t.name];
      return doc;
    }
  }
}

/** True if "<redacted>" is a value anywhere in `v` (a plain walk: no copy, no text). */
function holdsRedacted(v: unknown): boolean {
  if (v === REDACTED) return true;
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (holdsRedacted(x)) return true;
    return false;
  }
  for (const k in v) if (Object.hasOwn(v, k) && holdsRedacted((v as Record<string, unknown>)[k])) return true;
  return false;
}

/**
 * A key shown as "<redacted>" (as GET shows every key) and sent back means
 * "keep the current one": each such leaf takes the running configuration's
 * value at the same place (the same route, the same SA). Where there is none,
 * the leaf stays "<redacted>" and the loader refuses it, naming the path.
 */
export function restoreSecrets(next: Json, current: Json, top: Top = 'gateway', sp = ''): void {
  for (const [k, v] of Object.entries(next)) {
    const childSp = join(sp, k);
    const old = own(current, k);
    if (v === REDACTED && SECRET_LEAVES.has(childSp) && typeof old === 'string') {
      next[k] = old;
    } else if (Array.isArray(v) && Array.isArray(old) && own(LISTS[top], childSp)) {
      const keys = own(LISTS[top], childSp)!.keys;
      // Indexed only if an entry holds "<redacted>": a change of one route
      // among 20,000 need not index the 20,000 running ones.
      let index: Map<string, number> | null = null;
      for (const e of v) {
        if (!isObject(e) || !holdsRedacted(e)) continue;
        index ??= byKeys(old, keys);
        const i = index.get(JSON.stringify(keys.map((kk) => String(e[kk]))));
        const match = i === undefined ? undefined : old[i];
        if (isObject(match)) restoreSecrets(e, match, top, childSp);
      }
    } else if (isObject(v) && isObject(old)) {
      restoreSecrets(v, old, top, childSp);
    }
  }
}
