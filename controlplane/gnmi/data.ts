// What a gNMI read returns: the nodes a resolved path names in the
// configuration (keys redacted, as RESTCONF shows it) or the state (the
// same gatewayState() RESTCONF and the metrics read: the data plane's
// counter snapshots, nothing on the packet path), cut into updates.
//
// One update per list entry, not per leaf: an entry is one RFC 7951 JSON
// object (JSON_IETF), a container's own leaves one more; lists inside a
// container are split out entry by entry. At 10,000 routes that is 10,000
// updates a sample instead of ~80,000. PROTO asks for typed scalars: then
// every leaf is its own update (the encoding has no objects).
import { toJson } from '../config/index.js';
import { TOP } from '../config/defaults.js';
import { own, isObject, type Json } from '../api/path.js';
import type { Top } from '../api/schema.js';
import type { Gateway } from '../gateway.js';
import { gatewayState } from '../state.js';
import { invalid, notFound, unimplemented } from './errors.js';
import { elemText, type PathElem, type Resolved } from './path.js';
import { gnmiTops, type GnmiNode } from './schema.js';
import { RouteSampler, type RouteRows } from './route-sample.js';

export type DataType = 'ALL' | 'CONFIG' | 'STATE' | 'OPERATIONAL';
export type Encoding = 'JSON' | 'JSON_IETF' | 'PROTO';
export const ENCODINGS: readonly Encoding[] = ['JSON', 'JSON_IETF', 'PROTO'];

/** An encoding a request names, checked: BYTES and ASCII are UNIMPLEMENTED (gNMI §2.3). */
export function encodingOf(value: unknown, fallback: Encoding = 'JSON_IETF'): Encoding {
  if (value === undefined || value === null || value === '') return fallback;
  if (ENCODINGS.includes(value as Encoding)) return value as Encoding;
  throw unimplemented(`encoding ${String(value)} is not supported (this target speaks ${ENCODINGS.join(', ')})`);
}

/** One value at one path. */
export interface Unit {
  elems: PathElem[];
  /** The path as text (pathText(elems)): what subscriptions remember it by. */
  key: string;
  node: GnmiNode;
  value: unknown;
  /** A route's entry read as text (route-sample.ts) rather than as an object (then value is undefined). */
  route?: { rows: RouteRows; i: number };
}

/** A unit's value as RFC 7951 JSON text. */
export function unitJson(u: Unit): string {
  return u.route ? u.route.rows.json(u.route.i) : JSON.stringify(u.value);
}

/**
 * The documents a read looks at, read once per moment: several
 * subscriptions sampling together share one state snapshot. A read below a
 * top-level member of the state (/gateway-state/route/…) builds that member
 * alone: sampling the routes does not build the SA list.
 */
export class Snapshots {
  private config: { of: unknown; json: Json } | null = null;
  private readonly state = new Map<string, { at: number; json: Json }>();
  private readonly routeSampler: RouteSampler;
  private routes: { at: number; rows: RouteRows } | null = null;

  constructor(private readonly gw: Gateway, private readonly reuseMs = 50) {
    this.routeSampler = new RouteSampler(gw);
  }

  /** Every route's entry as JSON text (SAMPLE in JSON encodings), read once per moment like doc(). */
  routeRows(): RouteRows {
    const now = performance.now();
    if (this.routes && now - this.routes.at <= this.reuseMs) return this.routes.rows;
    this.routes = { at: now, rows: this.routeSampler.rows() };
    return this.routes.rows;
  }

  /** The top container's content; `member`: only that member is sure to be there. */
  doc(top: Top, member?: string): Json {
    if (top === 'gateway') {
      const current = this.gw.currentConfig;
      if (this.config?.of !== current) this.config = { of: current, json: toJson(current)[TOP] as Json };
      return this.config.json;
    }
    const now = performance.now();
    const whole = this.state.get('');
    if (whole && now - whole.at <= this.reuseMs) return whole.json;
    const key = member ?? '';
    const cached = this.state.get(key);
    if (cached && now - cached.at <= this.reuseMs) return cached.json;
    const json = gatewayState(this.gw, member);
    this.state.set(key, { at: now, json });
    return json;
  }
}

/** The top-level member a resolved path is under, if any (what Snapshots.doc needs to build). */
export function memberOf(r: Resolved): string | undefined {
  return r.steps.length ? r.steps[0].node.name : undefined;
}

function entryElem(node: GnmiNode, entry: Json): PathElem {
  const key: Record<string, string> = {};
  for (const k of node.keys) key[k] = String(own(entry, k) ?? '');
  return { name: node.name, key };
}

/** The units a resolved path names in `doc` (the top container's content). */
export function unitsAt(doc: Json, top: Top, r: Resolved): Unit[] {
  const out: Unit[] = [];
  const walk = (value: unknown, i: number, elems: PathElem[], text: string) => {
    if (i === r.steps.length) {
      split(out, elems, text, r.steps.length ? r.steps[i - 1].node : gnmiTops().get(top)!, value, r.steps.length > 0 && r.steps[i - 1].node.kind === 'list');
      return;
    }
    if (!isObject(value)) return;
    const { node, keys } = r.steps[i];
    const child = own(value, node.name);
    if (child === undefined) return;
    if (node.kind === 'list') {
      if (!Array.isArray(child)) return;
      const wanted = Object.entries(keys);
      for (const entry of child) {
        if (!isObject(entry)) continue;
        if (!wanted.every(([k, v]) => String(own(entry, k)) === v)) continue;
        const e = entryElem(node, entry);
        walk(entry, i + 1, [...elems, e], `${text}/${elemText(e)}`);
      }
      return;
    }
    walk(child, i + 1, [...elems, { name: node.name }], `${text}/${node.name}`);
  };
  walk(doc, 0, [{ name: top }], `/${top}`);
  return out;
}

/** A node's value as updates: list entries whole, a container's own leaves together. */
function split(out: Unit[], elems: PathElem[], text: string, node: GnmiNode, value: unknown, isEntry: boolean): void {
  if (isEntry || node.kind === 'leaf' || node.kind === 'leaf-list' || !node.holdsList || !isObject(value)) {
    out.push({ elems, key: text, node, value });
    return;
  }
  const rest: Json = {};
  const later: Array<() => void> = [];
  for (const [name, v] of Object.entries(value)) {
    const child = node.children.get(name);
    if (child?.kind === 'list' && Array.isArray(v)) {
      later.push(() => {
        for (const entry of v) {
          if (!isObject(entry)) continue;
          const e = entryElem(child, entry);
          out.push({ elems: [...elems, e], key: `${text}/${elemText(e)}`, node: child, value: entry });
        }
      });
    } else if (child?.kind === 'container' && child.holdsList) {
      later.push(() => split(out, [...elems, { name }], `${text}/${name}`, child, v, false));
    } else {
      rest[name] = v;
    }
  }
  if (Object.keys(rest).length) out.push({ elems, key: text, node, value: rest });
  for (const f of later) f();
}

/** The tops a read of `r` with `type` covers (the root covers both, as the type allows). */
export function topsFor(r: Resolved, type: DataType): Top[] {
  const wantConfig = type === 'ALL' || type === 'CONFIG';
  const wantState = type !== 'CONFIG';
  if (r.top === null) return [...(wantConfig ? ['gateway' as const] : []), ...(wantState ? ['gateway-state' as const] : [])];
  if (r.top === 'gateway' && !wantConfig) throw notFound(`${r.text}: there is no state below the configuration (the gateway's state is /gateway-state)`);
  if (r.top === 'gateway-state' && !wantState) throw notFound(`${r.text}: gateway-state holds no configuration`);
  return [r.top];
}

export function dataTypeOf(value: unknown): DataType {
  if (value === undefined || value === null || value === '') return 'ALL';
  if (value === 'ALL' || value === 'CONFIG' || value === 'STATE' || value === 'OPERATIONAL') return value;
  throw invalid(`data type ${String(value)} is not one of ALL, CONFIG, STATE, OPERATIONAL`);
}

// ---- encoding ----

export interface TypedValue { [field: string]: unknown }
export interface Update { path: { elem: PathElem[] }; val: TypedValue }

const INT64 = /(^|:)(u?int64|counter64|gauge64|zero-based-counter64)$/;

/** A leaf's value as a typed scalar (PROTO encoding). */
export function typedScalar(node: GnmiNode, v: unknown): TypedValue {
  if (typeof v === 'boolean') return { bool_val: v };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return { double_val: v };
    return v < 0 ? { int_val: String(v) } : { uint_val: String(v) };
  }
  if (typeof v === 'string') {
    if (INT64.test(node.type ?? '') && /^-?\d+$/.test(v)) return v.startsWith('-') || /(^|:)int64$/.test(node.type ?? '') ? { int_val: v } : { uint_val: v };
    if (/(^|:)decimal64$/.test(node.type ?? '') && v !== '' && Number.isFinite(Number(v))) return { double_val: Number(v) };
    return { string_val: v };
  }
  return { string_val: JSON.stringify(v) };
}

/** Every leaf below a unit, with its path (PROTO: one update per leaf). */
function leaves(elems: PathElem[], node: GnmiNode, value: unknown, out: Update[]): void {
  if (node.kind === 'leaf') {
    out.push({ path: { elem: elems }, val: typedScalar(node, value) });
    return;
  }
  if (node.kind === 'leaf-list') {
    const items = Array.isArray(value) ? value : [value];
    out.push({ path: { elem: elems }, val: { leaflist_val: { element: items.map((x) => typedScalar(node, x)) } } });
    return;
  }
  if (!isObject(value)) return;
  for (const [name, v] of Object.entries(value)) {
    const child = node.children.get(name);
    if (!child) continue;
    if (child.kind === 'list' && Array.isArray(v)) {
      for (const e of v) if (isObject(e)) leaves([...elems, entryElem(child, e)], { ...child, kind: 'container' }, e, out);
    } else {
      leaves([...elems, { name }], child, v, out);
    }
  }
}

/** The updates of units in an encoding. */
export function encode(units: readonly Unit[], encoding: Encoding): Update[] {
  if (encoding === 'PROTO') {
    const out: Update[] = [];
    for (const u of units) {
      // A list entry unit: its own path already names the entry.
      leaves(u.elems, u.node.kind === 'list' ? { ...u.node, kind: 'container' } : u.node, u.route ? JSON.parse(unitJson(u)) : u.value, out);
    }
    return out;
  }
  const field = encoding === 'JSON' ? 'json_val' : 'json_ietf_val';
  return units.map((u) => ({ path: { elem: u.elems }, val: { [field]: Buffer.from(unitJson(u)) } }));
}

/** Nanoseconds since the epoch, as protobufjs takes an int64. */
export function timestamp(): string {
  return String(BigInt(Date.now()) * 1_000_000n);
}
