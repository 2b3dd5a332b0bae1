// Every route's entry of gateway-state/route as RFC 7951 JSON text, for
// SAMPLE subscriptions in JSON encodings: the text RESTCONF and Get give
// for the same entry (state.ts routeList), made without an object per SA or
// per route.
//
// A sample of 10,000 routes through gatewayState() built 20,000 SA objects,
// a map of per-queue sums keyed by strings, 10,000 route objects and then
// their JSON: most of a sample's CPU. Here the data plane's SA traffic
// columns (Dataplane.saTrafficColumns) are summed into typed arrays indexed
// by the route's place in the configuration, the removed SAs' counts come
// from the SA ledger as in routeList, and each entry's text is its route's
// fixed opening (`{"id":"site-b","inbound-packets":"`) and the numbers.
// What follows the counters (peer state, learned endpoints, peer key) is
// state.ts routeTails, the same function routeList uses.
//
// A sample that sends every route (SAMPLE without suppress_redundant) does
// not even make the text: routeNotification writes each update's protobuf
// bytes from the route's encoded path and JSON opening (made once per
// configuration) and the numbers' digits. test/gnmi-route-sample.test.ts
// compares the text with gatewayState's, and those bytes with
// jsonNotification's for the same text.
import type { RouteId } from '../dataplane.js';
import type { Gateway } from '../gateway.js';
import { routeTails } from '../state.js';
import { elemText, type PathElem } from './path.js';
import { LEN, NotificationHead, Writer, framed, pathBytes, tag, varintSize } from './wire.js';

/** Per route in the sums: inbound packets, bytes, SAs, outbound packets, bytes, SAs, policy errors. */
const COLUMNS = 7;

// The JSON between the numbers, in routeList's member order.
const MIDDLE = ['","inbound-bytes":"', '","outbound-packets":"', '","outbound-bytes":"', '","inbound-sas":', ',"outbound-sas":', ',"inbound-policy-errors":"'].map((t) => Buffer.from(t));
// Which sum each number is (after inbound-packets, sum 0).
const ORDER = [0, 1, 3, 4, 2, 5, 6];
const CLOSE = Buffer.from('"}');

export interface RouteRows {
  /** Route ids in configuration order (the same array while the configuration is). */
  ids: readonly RouteId[];
  /** Each route's path as text (pathText of elems). */
  keys: readonly string[];
  elems: readonly PathElem[][];
  /** Each route's path, protobuf-encoded (gnmi.Path). */
  paths: readonly Buffer[];
  /** Each route's entry, RFC 7951 JSON. */
  json(i: number): string;
  /** Route i's PROTO updates can be written from its numbers (no members after the counters, every number a safe integer). */
  protoSafe(i: number): boolean;
  /** PROTO leaf k of route i (k 0 is the id: idValue; then the numbers in member order). */
  protoLeaf(i: number, k: number): number;
  idValue(i: number): Buffer;
  /** The protobuf bytes of route i's JSON (routeNotification). */
  jsonSize(i: number): number;
  writeJson(w: Writer, i: number): void;
}

interface Layout {
  of: unknown;
  ids: RouteId[];
  index: Map<RouteId, number>;
  keys: string[];
  elems: PathElem[][];
  paths: Buffer[];
  /** `{"id":"site-b","inbound-packets":"`, as text and as bytes. */
  openings: string[];
  openingBytes: Buffer[];
  /** PROTO: each route's id as a TypedValue (string_val). */
  idValues: Buffer[];
}

// PROTO: the entry's leaves in its member order, id first (then the sums in ORDER), each as an encoded PathElem to append to the route's path.
const LEAF_ELEMS = ['id', 'inbound-packets', 'inbound-bytes', 'outbound-packets', 'outbound-bytes', 'inbound-sas', 'outbound-sas', 'inbound-policy-errors'].map((name) => pathBytes([{ name }]));
const LEAVES_PER_ROUTE = LEAF_ELEMS.length;

/** Digits of a non-negative safe integer, or the length of String(n) otherwise. */
function numberSize(n: number): number {
  if (!(Number.isSafeInteger(n) && n >= 0)) return Buffer.byteLength(String(n));
  let size = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) size++;
  return size;
}

function writeNumber(w: Writer, n: number, size: number): void {
  if (!(Number.isSafeInteger(n) && n >= 0)) {
    w.string(String(n), size);
    return;
  }
  const buf = w.buf;
  let p = w.pos + size;
  w.pos = p;
  let x = n;
  do {
    const q = Math.floor(x / 10);
    buf[--p] = 48 + (x - q * 10);
    x = q;
  } while (x > 0);
}

/** Data-plane route index → place in the layout, for the array saTrafficColumns hands out again and again (names only appended). */
interface RouteMap { routes: readonly RouteId[]; layout: Layout; at: Int32Array; length: number }

export class RouteSampler {
  private layout: Layout | null = null;
  private routeMap: RouteMap | null = null;

  constructor(private readonly gw: Gateway) {}

  /** What stays while the configuration does: ids, paths, each entry's opening. */
  private layoutNow(): Layout {
    const config = this.gw.currentConfig;
    if (this.layout?.of === config.routes) return this.layout;
    const ids = config.routes.map((r) => r.id);
    const elems = ids.map((id) => [{ name: 'gateway-state' }, { name: 'route', key: { id } }]);
    const openings = ids.map((id) => `{"id":${JSON.stringify(id)},"inbound-packets":"`);
    this.layout = {
      of: config.routes,
      ids,
      index: new Map(ids.map((id, i) => [id, i])),
      keys: elems.map((e) => `/${e[0].name}/${elemText(e[1])}`),
      elems,
      paths: elems.map((e) => pathBytes(e)),
      openings,
      openingBytes: openings.map((o) => Buffer.from(o)),
      idValues: ids.map((id) => {
        const w = new Writer(Buffer.allocUnsafe(framed(Buffer.byteLength(id))));
        w.varint(tag(1, LEN));
        w.varint(Buffer.byteLength(id));
        w.string(id, Buffer.byteLength(id));
        return w.buf;
      }),
    };
    return this.layout;
  }

  rows(): RouteRows {
    const l = this.layoutNow();
    const n = l.ids.length;
    const sums = new Float64Array(n * COLUMNS);
    const { routes, columns } = this.gw.dataplane.saTrafficColumns();
    let m = this.routeMap;
    if (!m || m.routes !== routes || m.layout !== l || m.length > routes.length) m = this.routeMap = { routes, layout: l, at: new Int32Array(routes.length), length: 0 };
    if (m.length < routes.length) {
      if (m.at.length < routes.length) {
        const grown = new Int32Array(routes.length * 2);
        grown.set(m.at.subarray(0, m.length));
        m.at = grown;
      }
      for (let i = m.length; i < routes.length; i++) m.at[i] = l.index.get(routes[i]) ?? -1;
      m.length = routes.length;
    }
    const at = m.at;
    for (let c = 0; c < columns.length; c += 6) {
      const r = at[columns[c]];
      if (r < 0) continue;
      const o = r * COLUMNS + (columns[c + 1] ? 0 : 3);
      sums[o] += columns[c + 3];
      sums[o + 1] += columns[c + 4];
      sums[o + 2]++;
      sums[r * COLUMNS + 6] += columns[c + 5];
    }
    // The removed SAs' final counts (routeTraffic with no live SAs: the ledger's alone).
    for (const t of this.gw.saLedger.routeTraffic(l.ids, [])) {
      const r = l.index.get(t.route);
      if (r === undefined) continue;
      const o = r * COLUMNS + (t.direction === 'inbound' ? 0 : 3);
      sums[o] += t.packets;
      sums[o + 1] += t.bytes;
      sums[r * COLUMNS + 6] += t.policyErrors;
    }
    // The members after the counters, as JSON text continuing the object (`,"peer-up":true,…}`).
    const tails: Array<Buffer | undefined> = new Array(n);
    for (const [id, tail] of routeTails(this.gw)) {
      const r = l.index.get(id);
      if (r !== undefined) tails[r] = Buffer.from('",' + JSON.stringify(tail).slice(1));
    }
    return {
      ids: l.ids,
      keys: l.keys,
      elems: l.elems,
      paths: l.paths,
      json: (i) => {
        const o = i * COLUMNS;
        const tail = tails[i];
        return `${l.openings[i]}${sums[o]}","inbound-bytes":"${sums[o + 1]}","outbound-packets":"${sums[o + 3]}","outbound-bytes":"${sums[o + 4]}","inbound-sas":${sums[o + 2]},"outbound-sas":${sums[o + 5]},"inbound-policy-errors":"${sums[o + 6]}${tail ? tail.toString() : '"}'}`;
      },
      protoSafe: (i) => {
        if (tails[i]) return false;
        for (let k = 0; k < COLUMNS; k++) {
          const v = sums[i * COLUMNS + k];
          if (!(Number.isSafeInteger(v) && v >= 0)) return false;
        }
        return true;
      },
      protoLeaf: (i, k) => (k === 0 ? -1 : sums[i * COLUMNS + ORDER[k - 1]]),
      idValue: (i) => l.idValues[i],
      jsonSize: (i) => {
        let size = l.openingBytes[i].length + (tails[i]?.length ?? CLOSE.length);
        for (let k = 0; k < COLUMNS; k++) size += numberSize(sums[i * COLUMNS + ORDER[k]]);
        for (const m of MIDDLE) size += m.length;
        return size;
      },
      writeJson: (w, i) => {
        w.bytes(l.openingBytes[i]);
        for (let k = 0; k < COLUMNS; k++) {
          const v = sums[i * COLUMNS + ORDER[k]];
          writeNumber(w, v, numberSize(v));
          if (k < MIDDLE.length) w.bytes(MIDDLE[k]);
        }
        w.bytes(tails[i] ?? CLOSE);
      },
    };
  }
}

/**
 * What jsonNotification(timestamp, target, updates, [], field) writes for
 * routes `at` of `rows` (their paths and json(i)), without making the text.
 */
export function routeNotification(timestamp: bigint, target: string | undefined, rows: RouteRows, at: readonly number[], field: 10 | 11): Buffer {
  const head = new NotificationHead(timestamp, target);
  let body = head.size;
  const jsonSizes = new Int32Array(at.length);
  for (let k = 0; k < at.length; k++) {
    const i = at[k];
    const json = (jsonSizes[k] = rows.jsonSize(i));
    body += framed(framed(rows.paths[i].length) + framed(framed(json)));
  }
  const w = head.start(body);
  for (let k = 0; k < at.length; k++) {
    const i = at[k], path = rows.paths[i], json = jsonSizes[k];
    const val = framed(json);
    w.varint(tag(4, LEN));
    w.varint(framed(path.length) + framed(val));
    w.varint(tag(1, LEN));
    w.varint(path.length);
    w.bytes(path);
    w.varint(tag(3, LEN));
    w.varint(val);
    w.varint(tag(field, LEN));
    w.varint(json);
    rows.writeJson(w, i);
  }
  if (w.pos !== w.buf.length) throw new Error(`gnmi: a route notification of ${w.buf.length} octets was written with ${w.pos}`);
  return w.buf;
}

/**
 * PROTO: what protobufjs writes for the SubscribeResponse of updates
 * [from, to) of routes `at` as data.ts encode gives them (a leaf per update:
 * the id as string_val, the counters and SA counts as uint_val), for routes
 * whose rows.protoSafe holds. Update u is route at[u / 8]'s leaf u % 8.
 */
export function routeProtoNotification(timestamp: bigint, target: string | undefined, rows: RouteRows, at: readonly number[], from: number, to: number): Buffer {
  const head = new NotificationHead(timestamp, target);
  let body = head.size;
  const valSize = (i: number, k: number) => (k === 0 ? rows.idValue(i).length : 1 + varintSize(rows.protoLeaf(i, k)));
  for (let u = from; u < to; u++) {
    const i = at[Math.floor(u / LEAVES_PER_ROUTE)], k = u % LEAVES_PER_ROUTE;
    body += framed(framed(rows.paths[i].length + LEAF_ELEMS[k].length) + framed(valSize(i, k)));
  }
  const w = head.start(body);
  for (let u = from; u < to; u++) {
    const i = at[Math.floor(u / LEAVES_PER_ROUTE)], k = u % LEAVES_PER_ROUTE;
    const path = rows.paths[i].length + LEAF_ELEMS[k].length, val = valSize(i, k);
    w.varint(tag(4, LEN));
    w.varint(framed(path) + framed(val));
    w.varint(tag(1, LEN));
    w.varint(path);
    w.bytes(rows.paths[i]);
    w.bytes(LEAF_ELEMS[k]);
    w.varint(tag(3, LEN));
    w.varint(val);
    if (k === 0) w.bytes(rows.idValue(i));
    else {
      w.varint(tag(3, 0)); // uint_val
      w.varint(rows.protoLeaf(i, k));
    }
  }
  if (w.pos !== w.buf.length) throw new Error(`gnmi: a route notification of ${w.buf.length} octets was written with ${w.pos}`);
  return w.buf;
}

export const PROTO_LEAVES_PER_ROUTE = LEAVES_PER_ROUTE;
