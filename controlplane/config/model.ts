// A second opinion from the model itself: the configuration is evaluated
// against yang/vitesse-gateway.yang with yang-js after our own checks passed,
// so that a constraint added to the model but not to the loader is still
// enforced (the loader and the model cannot silently drift apart).
//
// What yang-js 0.24 does NOT check, so the loader must (test/configs marks,
// per bad configuration, whether yang-js notices):
//   - `must` and `when` (it ignores XPath constraints; it even fills in
//     defaults under a false `when`),
//   - `unique` (it refuses a list with more than one; they are removed below),
//   - unknown members (it drops them silently),
//   - JSON types (it takes "1440" for a uint16),
//   - mandatory nodes inside an absent container,
//   - leafrefs (it cannot key a list by a leafref, so they are rewritten
//     below to the type they refer to),
//   - and it stops at the first problem.
// What it does check: patterns, ranges, enumerations, unions of types,
// mandatory leaves of present nodes, list keys, min/max-elements.
// Loading yang-js raises EventEmitter.defaultMaxListeners to 100 for the whole
// process (its own doing, harmless but worth knowing).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acceptedEntries, withoutAccepted } from './accepted.js';
import type { Problem } from './errors.js';

interface YangExpression {
  eval(data: unknown): unknown;
  emitter: import('node:events').EventEmitter;
}
interface YangJs {
  parse(text: string): YangExpression;
  import(file: string): unknown;
}

const require = createRequire(import.meta.url);

/** yang/vitesse-gateway.yang, from the source tree or from dist/. */
export function modelFile(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const f = path.join(dir, 'yang', 'vitesse-gateway.yang');
    if (fs.existsSync(f)) return f;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('vitesse: cannot find yang/vitesse-gateway.yang');
    dir = up;
  }
}

/**
 * Rewrites that let yang-js read the model. Each loses nothing, or only a
 * constraint the loader enforces itself.
 */
export function adaptForYangJs(model: string): string {
  return model
    // "cannot define more than once": yang-js allows one `unique` per list.
    .replace(/^[ \t]*unique "[^"]*";[ \t]*\r?\n/gm, '')
    // A list keyed by a leafref (route/gateway, data-plane/outbound-sa) gets
    // "key conflict" for any second entry; the referred-to types keep the
    // value checks.
    .replace(/type leafref \{\s*path "\/vg:gateway\/vg:public-interface\/vg:queue\/vg:id";\s*\}/g, 'type queue-id;')
    .replace(/type leafref \{\s*path "\/vg:gateway\/vg:route\/vg:id";\s*\}/g, 'type route-id;')
    // yang-js reads a range part without ".." (e.g. "32 | 64") as "32..NaN"
    // and refuses every value; "32..32" means the same and it reads it right.
    .replace(/range "([^"]*)"/g, (_, parts: string) => `range "${parts
      .split('|')
      .map((p) => p.trim())
      .map((p) => (p.includes('..') ? p : `${p}..${p}`))
      .join(' | ')}"`);
}

let compiled: YangExpression | null = null;

function model(): YangExpression {
  if (compiled) return compiled;
  const yang = require('yang-js') as YangJs;
  const schemas = path.join(path.dirname(require.resolve('yang-js/package.json')), 'schema');
  yang.import(path.join(schemas, 'ietf-inet-types.yang'));
  yang.import(path.join(schemas, 'ietf-yang-types.yang'));
  compiled = yang.parse(adaptForYangJs(fs.readFileSync(modelFile(), 'utf8')));
  return compiled;
}

const SECRET = /\/(preshared-key|key|salt)$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A member by its simple or module-qualified name (RFC 7951 allows both inside the top container). */
const member = (o: Obj, name: string): unknown => (Object.hasOwn(o, name) ? o[name] : Object.hasOwn(o, `vitesse-gateway:${name}`) ? o[`vitesse-gateway:${name}`] : undefined);

/**
 * yang-js finds duplicate list keys with a plain object (`exists[key]`), so
 * a route called "constructor" or "toString" (valid route ids) is "a key
 * conflict" to it. Such ids, and the SAs' references to them, are renamed
 * in the copy yang-js sees to an unused id that is just as valid; the
 * loader has checked the real ids already.
 */
function aliasInheritedKeys(document: unknown): void {
  const gw = isObj(document) ? member(document, 'gateway') : undefined;
  if (!isObj(gw)) return;
  const routes = member(gw, 'route');
  if (!Array.isArray(routes)) return;
  const ids = new Set(routes.map((r) => (isObj(r) ? r.id : undefined)).filter((id): id is string => typeof id === 'string'));
  const alias = new Map<string, string>();
  for (const id of ids) {
    if (!(id in Object.prototype)) continue;
    let n = 0;
    while (ids.has(`${id}-${n}`) || `${id}-${n}` in Object.prototype) n++;
    alias.set(id, `${id}-${n}`);
    ids.add(`${id}-${n}`);
  }
  if (!alias.size) return;
  const rename = (o: unknown, leaf: string) => {
    if (isObj(o) && typeof o[leaf] === 'string' && alias.has(o[leaf] as string)) o[leaf] = alias.get(o[leaf] as string);
  };
  for (const r of routes) rename(r, 'id');
  const dp = member(gw, 'data-plane');
  if (!isObj(dp)) return;
  for (const list of ['inbound-sa', 'outbound-sa']) {
    const sas = member(dp, list);
    if (Array.isArray(sas)) for (const sa of sas) rename(sa, 'route');
  }
}

/**
 * The first problem yang-js finds in an RFC 7951 document, or null. List
 * entries equal to those of `accepted`, a document yang-js accepted before,
 * are not evaluated again (accepted.ts; `matched`: those entries, if the
 * caller found them already). `owned`: the document may be modified (the
 * caller parsed it and has no further use for it).
 */
export function checkWithYangJs(
  document: unknown,
  accepted?: unknown,
  options: { owned?: boolean; matched?: ReturnType<typeof acceptedEntries> } = {},
): Problem | null {
  const schema = model();
  const reduced = accepted === undefined ? document : withoutAccepted(document, accepted, options.matched);
  // Every evaluation leaves a Model listening for changes of the schema (for
  // yang-js's adaptive schemas, unused here): remove it, or each configuration
  // ever loaded stays in memory.
  const listening = new Set(schema.emitter.listeners('change'));
  try {
    // yang-js writes into what it evaluates: a copy, unless the caller owns
    // the document whole and is done with it (a copy of 20,000 routes is
    // not free).
    const evaluated = options.owned && reduced === document ? document : structuredClone(reduced);
    aliasInheritedKeys(evaluated);
    schema.eval(evaluated);
    return null;
  } catch (e) {
    const err = e as Error & { uri?: string };
    const where = String(err.uri ?? '/').replace(/\['undefined'\]|\[''\]/g, '');
    let reason = err.message.replace(/^\[[^\]]*\]\s*/, '');
    if (SECRET.test(where)) reason = reason.replace(/'[^']*'/g, "'…'");
    return { path: where, reason: `refused by the model (yang-js): ${reason}` };
  } finally {
    for (const l of schema.emitter.listeners('change')) {
      if (!listening.has(l)) schema.emitter.off('change', l as (...args: unknown[]) => void);
    }
  }
}

/** A data node of the model: what paths below it can name (`vitesse config` PATH completion). */
export interface SchemaNode {
  name: string;
  kind: 'container' | 'list' | 'leaf' | 'leaf-list';
  children: SchemaNode[];
  /** A leaf's or leaf-list's type as the model writes it (`yang:counter64`, `uint32`, `route-id`). */
  type?: string;
  /** A list's key leaves, in key order. */
  keys?: string[];
}

/** The model's top-level containers and every data node below them, groupings expanded (as yang-js reads them). */
export function schemaTree(): SchemaNode[] {
  interface YangNode { kind: string; tag: string; nodes?: YangNode[]; type?: { tag?: string }; key?: { tag?: string | string[] } }
  const walk = (nodes: YangNode[]): SchemaNode[] => nodes.flatMap((n) => {
    // A choice or case names no path segment: its data nodes stand in its place.
    if (n.kind === 'choice' || n.kind === 'case') return walk(n.nodes ?? []);
    if (n.kind !== 'container' && n.kind !== 'list' && n.kind !== 'leaf' && n.kind !== 'leaf-list') return [];
    const node: SchemaNode = { name: n.tag, kind: n.kind, children: walk(n.nodes ?? []) };
    if (n.type?.tag) node.type = n.type.tag;
    const key = n.key?.tag;
    if (key) node.keys = Array.isArray(key) ? key : String(key).split(/\s+/);
    return [node];
  });
  return walk((model() as unknown as YangNode).nodes ?? []);
}
