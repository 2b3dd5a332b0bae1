// One gNMI Subscribe call: ONCE, POLL or STREAM (gNMI §3.5).
//
// STREAM subscriptions:
// - SAMPLE every sample_interval (at least the target's minimum; 0 means
//   the minimum); suppress_redundant sends only what changed, and
//   heartbeat_interval sends everything anyway that often.
// - ON_CHANGE: the state is compared every CHANGE_CHECK_MS with what was last
//   sent, leaving out the leaves that move with traffic and time
//   (schema.ts isMoving): a node that appears or changes otherwise (an SA
//   installed, a peer's state, a next hop resolved) is sent, a node that
//   disappears (an SA removed) is deleted, in the order seen, each once.
// - TARGET_DEFINED: SAMPLE at the minimum interval.
// Every read is of the shared snapshots (data.ts), never of the packet path.
//
// A client that does not read its stream is not buffered for: while the
// last notification waits for the client, samples are skipped (counted in
// samples-skipped) and ON_CHANGE keeps its baseline, so a change is sent
// once the client reads again.
import type * as grpc from '@grpc/grpc-js';
import { isObject, type Json } from '../api/path.js';
import type { Top } from '../api/schema.js';
import { GnmiError, invalid, status } from './errors.js';
import { dataTypeOf, encode, encodingOf, memberOf, topsFor, unitJson, unitsAt, type Encoding, type Snapshots, type Unit, type Update } from './data.js';
import { pathText, resolve, type GnmiPath, type PathElem, type Resolved } from './path.js';
import { isMoving, type GnmiNode } from './schema.js';
import { encodedPath, jsonNotification, type JsonUpdate } from './wire.js';
import { PROTO_LEAVES_PER_ROUTE, routeNotification, routeProtoNotification } from './route-sample.js';
import type { GnmiStats } from './stats.js';

/** Subscriptions in one SubscriptionList. */
export const MAX_PATHS = 64;
/** Updates per notification: a sample of 10,000 routes goes out in ten messages of ~0.3 MB, not one of 3 MB. */
export const MAX_UPDATES_PER_NOTIFICATION = 1000;
/** How often ON_CHANGE subscriptions look for changes. */
export const CHANGE_CHECK_MS = 250;

export interface SubscribeLimits {
  minSampleMs: number;
}

type Mode = 'SAMPLE' | 'ON_CHANGE';

interface Watch {
  resolved: Resolved;
  tops: Top[];
  mode: Mode;
  intervalMs: number;
  suppress: boolean;
  heartbeatMs: number;
  /** What was last sent per path: the value's JSON (SAMPLE with suppress_redundant, ON_CHANGE: without the moving leaves) or "" (only that it was). */
  last: Map<string, { sig: string; elems: PathElem[] }>;
  lastHeartbeat: number;
  timer: NodeJS.Timeout | null;
  /** SAMPLE of /gateway-state/route (all, or one id): read from the counters (route-sample.ts). */
  routeRows: boolean;
  /** The route ids the last units were read from (routeRows), and those w.last holds: while the same array, no route came or went. */
  unitIds: readonly string[] | null;
  lastIds: readonly string[] | null;
}

/** A SAMPLE of gateway-state/route entries: what route-sample.ts reads from the counters. */
function isRouteSample(r: Resolved, mode: Mode, encoding: Encoding): boolean {
  return mode === 'SAMPLE' && r.top === 'gateway-state' && r.steps.length === 1 && r.steps[0].node.name === 'route';
}

const nsToMs = (v: unknown): number => {
  const n = Number(v ?? 0);
  if (!Number.isFinite(n) || n < 0) throw invalid(`an interval of ${String(v)} ns is not a duration`);
  return n / 1e6;
};

/** A value without the leaves that move on their own, as text (what ON_CHANGE compares). */
function steady(node: GnmiNode, value: unknown): string {
  const strip = (n: GnmiNode, v: unknown): unknown => {
    if (!isObject(v)) return v;
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) {
      const c = n.children.get(k);
      if (c && (c.kind === 'leaf' || c.kind === 'leaf-list') && isMoving(c)) continue;
      if (c?.kind === 'list' && Array.isArray(x)) out[k] = x.map((e) => strip(c, e));
      else out[k] = c ? strip(c, x) : x;
    }
    return out;
  };
  if ((node.kind === 'leaf' || node.kind === 'leaf-list') && isMoving(node)) return '';
  return JSON.stringify(strip(node, value));
}

export class SubscribeCall {
  private watches: Watch[] = [];
  private encoding: Encoding = 'JSON_IETF';
  private prefix: GnmiPath | null = null;
  private mode: 'STREAM' | 'ONCE' | 'POLL' | null = null;
  private blocked = false;
  private closed = false;
  private lastPoll = 0;
  private pendingPoll: NodeJS.Timeout | null = null;
  private readonly onChange = () => this.checkChanges();

  constructor(
    private readonly call: grpc.ServerDuplexStream<Json, Json | Buffer>,
    private readonly snapshots: Snapshots,
    private readonly limits: SubscribeLimits,
    private readonly stats: GnmiStats,
    private readonly changeTicker: { add(f: () => void): void; remove(f: () => void): void },
    private readonly release: () => void,
    /** An internal error ended the call (counted by the caller's listener, logged). */
    private readonly internal: (err: unknown) => void,
  ) {
    call.on('data', (req: Json) => this.guard(() => this.request(req)));
    call.on('end', () => this.close());
    call.on('cancelled', () => this.close());
    call.on('close', () => this.close());
    call.on('error', () => this.close());
    call.on('drain', () => { this.blocked = false; });
  }

  /** Ends the call with a gRPC status (or OK). */
  fail(e: unknown): void {
    if (this.closed) return;
    const err = e instanceof GnmiError ? e : new GnmiError(status.INTERNAL, 'internal error');
    if (!(e instanceof GnmiError)) {
      this.stats.requestsFailed++;
      this.internal(e);
    } else {
      this.stats.requestsRefused++;
    }
    this.close();
    this.call.emit('error', err.toStatus());
  }

  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.fail(e);
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watches) if (w.timer) clearInterval(w.timer);
    if (this.pendingPoll) clearTimeout(this.pendingPoll);
    this.changeTicker.remove(this.onChange);
    this.release();
  }

  private request(req: Json): void {
    if (this.closed) return;
    if (req.subscribe) {
      if (this.mode !== null) throw invalid('a Subscribe call takes one SubscriptionList: this one has its subscription already');
      this.start(req.subscribe as Json);
      return;
    }
    if (req.poll !== undefined && req.poll !== null) {
      if (this.mode !== 'POLL') throw invalid(this.mode === null ? 'the first message of a Subscribe call must be a SubscriptionList' : `a Poll on a ${this.mode} subscription (only mode POLL is polled)`);
      this.poll();
      return;
    }
    throw invalid('a SubscribeRequest must hold a subscribe or a poll');
  }

  private start(list: Json): void {
    const mode = (list.mode ?? 'STREAM') as string;
    if (mode !== 'STREAM' && mode !== 'ONCE' && mode !== 'POLL') throw invalid(`subscription list mode ${mode} is not STREAM, ONCE or POLL`);
    this.encoding = encodingOf(list.encoding);
    this.prefix = (list.prefix as GnmiPath | undefined) ?? null;
    const subs = (list.subscription as Json[] | undefined) ?? [];
    if (!subs.length) throw invalid('the subscription list names no path');
    if (subs.length > MAX_PATHS) throw invalid(`the subscription list names ${subs.length} paths, more than ${MAX_PATHS}`);
    const type = dataTypeOf('ALL');
    this.watches = subs.map((s, i) => {
      const resolved = resolve(this.prefix, s.path as GnmiPath, `subscription ${i + 1}`);
      const tops = topsFor(resolved, type);
      const subMode = (s.mode ?? 'TARGET_DEFINED') as string;
      if (subMode !== 'TARGET_DEFINED' && subMode !== 'ON_CHANGE' && subMode !== 'SAMPLE') throw invalid(`subscription ${i + 1} (${resolved.text}): mode ${subMode} is not TARGET_DEFINED, ON_CHANGE or SAMPLE`);
      let intervalMs = nsToMs(s.sample_interval);
      const heartbeatMs = nsToMs(s.heartbeat_interval);
      const min = this.limits.minSampleMs;
      if (mode === 'STREAM' && subMode !== 'ON_CHANGE') {
        if (intervalMs === 0) intervalMs = min;
        if (intervalMs < min) throw invalid(`subscription ${i + 1} (${resolved.text}): sample_interval ${intervalMs} ms is below this target's minimum of ${min} ms`);
      }
      if (heartbeatMs && heartbeatMs < min) throw invalid(`subscription ${i + 1} (${resolved.text}): heartbeat_interval ${heartbeatMs} ms is below this target's minimum of ${min} ms`);
      const watchMode: Mode = subMode === 'ON_CHANGE' ? 'ON_CHANGE' : 'SAMPLE';
      return {
        resolved, tops, mode: watchMode, intervalMs,
        suppress: Boolean(s.suppress_redundant), heartbeatMs, last: new Map(), lastHeartbeat: performance.now(), timer: null,
        routeRows: isRouteSample(resolved, watchMode, this.encoding), unitIds: null, lastIds: null,
      } satisfies Watch;
    });
    this.mode = mode;
    if (mode === 'ONCE') {
      this.sendAll(false);
      this.sync();
      this.close();
      this.call.end();
      return;
    }
    if (mode === 'POLL') {
      this.poll();
      return;
    }
    // STREAM: everything once (unless updates_only), then sync_response, then the changes.
    this.sendAll(Boolean(list.updates_only));
    this.sync();
    for (const w of this.watches) {
      if (w.mode === 'SAMPLE') w.timer = setInterval(() => this.guard(() => this.sample(w)), w.intervalMs);
      else if (w.heartbeatMs) w.timer = setInterval(() => this.guard(() => this.heartbeat(w)), w.heartbeatMs);
    }
    if (this.watches.some((w) => w.mode === 'ON_CHANGE')) this.changeTicker.add(this.onChange);
  }

  private units(w: Watch): Unit[] {
    if (w.routeRows) return this.routeUnits(w);
    const out: Unit[] = [];
    for (const top of w.tops) out.push(...unitsAt(this.snapshots.doc(top, memberOf(w.resolved)), top, w.resolved));
    return out;
  }

  /** The route entries w names, as text (the same as unitsAt would give as objects). */
  private routeUnits(w: Watch): Unit[] {
    const rows = this.snapshots.routeRows();
    const step = w.resolved.steps[0];
    const node = step.node;
    const id = step.keys.id;
    const out: Unit[] = [];
    w.unitIds = rows.ids;
    if (id !== undefined) {
      const i = (rows.ids as readonly string[]).indexOf(id);
      if (i >= 0) out.push({ elems: rows.elems[i], key: rows.keys[i], node, value: undefined, route: { rows, i } });
      return out;
    }
    for (let i = 0; i < rows.ids.length; i++) out.push({ elems: rows.elems[i], key: rows.keys[i], node, value: undefined, route: { rows, i } });
    return out;
  }

  /** Every watched value (the initial sync, ONCE, each poll); `quiet`: only note them (updates_only). */
  private sendAll(quiet: boolean): void {
    const all: Unit[] = [];
    for (const w of this.watches) {
      const units = this.units(w);
      this.remember(w, units);
      if (!quiet) all.push(...units);
    }
    this.notify(all, []);
  }

  private remember(w: Watch, units: Unit[]): void {
    w.lastIds = w.unitIds;
    w.last.clear();
    for (const u of units) w.last.set(u.key, { sig: this.signature(w, u), elems: u.elems });
  }

  private signature(w: Watch, u: Unit): string {
    if (w.mode === 'ON_CHANGE') return steady(u.node, u.value);
    return w.suppress ? unitJson(u) : '';
  }

  private sample(w: Watch): void {
    if (this.closed) return;
    if (this.blocked) {
      this.stats.samplesSkipped++;
      return;
    }
    const now = performance.now();
    const beat = w.heartbeatMs > 0 && now - w.lastHeartbeat >= w.heartbeatMs;
    if (beat) w.lastHeartbeat = now;
    this.diff(w, !w.suppress || beat);
  }

  private heartbeat(w: Watch): void {
    if (this.closed || this.blocked) return;
    const units = this.units(w);
    this.remember(w, units);
    this.notify(units, []);
  }

  private checkChanges(): void {
    if (this.closed || this.blocked) return; // the baseline stays: the change goes out once the client reads
    this.guard(() => {
      for (const w of this.watches) if (w.mode === 'ON_CHANGE') this.diff(w, false);
    });
  }

  /** Sends what changed since w.last (everything, if `all`) and deletes what is gone. */
  private diff(w: Watch, all: boolean): void {
    const units = this.units(w);
    // Every route again, from the same configuration as last time: nothing to compare, nothing deleted.
    if (all && !w.suppress && w.routeRows && w.lastIds !== null && w.unitIds === w.lastIds) {
      if (units.length) this.notify(units, []);
      return;
    }
    w.lastIds = w.unitIds;
    const changed: Unit[] = [];
    const seen = new Set<string>();
    for (const u of units) {
      const key = u.key;
      seen.add(key);
      const sig = this.signature(w, u);
      const last = w.last.get(key);
      if (all || last?.sig !== sig) {
        changed.push(u);
      }
      if (last) last.sig = sig;
      else w.last.set(key, { sig, elems: u.elems });
    }
    const deleted: Array<{ key: string; elems: PathElem[] }> = [];
    for (const [key, { elems }] of w.last) {
      if (seen.has(key)) continue;
      w.last.delete(key);
      deleted.push({ key, elems });
    }
    if (changed.length || deleted.length) this.notify(changed, deleted);
  }

  private poll(): void {
    const now = performance.now();
    const wait = this.lastPoll + this.limits.minSampleMs - now;
    if (wait > 0) {
      // Polls faster than the minimum interval are answered at that interval (one waits, the rest merge into it).
      this.pendingPoll ??= setTimeout(() => { this.pendingPoll = null; this.guard(() => this.poll()); }, wait);
      return;
    }
    this.lastPoll = now;
    this.sendAll(false);
    this.sync();
  }

  private sync(): void {
    this.write({ sync_response: true });
  }

  private notify(units: readonly Unit[], deletes: ReadonlyArray<{ key?: string; elems: PathElem[] }>): void {
    const target = this.prefix?.target || undefined;
    const field = this.encoding === 'PROTO' ? null : this.encoding === 'JSON' ? 10 : 11;
    const ns = BigInt(Date.now()) * 1_000_000n;
    if (field === null && !deletes.length && this.protoRoutes(units, target, ns)) return;
    const updates: Update[] | null = field === null ? encode(units, 'PROTO') : null;
    const count = updates ? updates.length : units.length;
    for (let i = 0; i < Math.max(count, 1); i += MAX_UPDATES_PER_NOTIFICATION) {
      const del = i === 0 ? deletes : [];
      const end = Math.min(count, i + MAX_UPDATES_PER_NOTIFICATION);
      if (end <= i && !del.length) return;
      this.stats.updatesSent += end - i + del.length;
      if (field === null) {
        this.write({ update: { timestamp: String(ns), prefix: target ? { target } : undefined, update: updates!.slice(i, end), delete: del.map((d) => ({ elem: d.elems })) } });
        continue;
      }
      // Route entries of one reading, nothing deleted: their bytes straight from the counters (route-sample.ts).
      const rows = units[i]?.route?.rows;
      if (rows && !del.length) {
        const at: number[] = [];
        for (let j = i; j < end && units[j].route?.rows === rows; j++) at.push(units[j].route!.i);
        if (at.length === end - i) {
          this.write(routeNotification(ns, target, rows, at, field));
          continue;
        }
      }
      const json: JsonUpdate[] = [];
      for (let j = i; j < end; j++) {
        const u = units[j];
        json.push({ path: u.route ? u.route.rows.paths[u.route.i] : encodedPath(u.key, u.elems), json: unitJson(u) });
      }
      this.write(jsonNotification(ns, target, json, del.map((d) => encodedPath(d.key ?? pathText(d.elems), d.elems)), field));
    }
  }

  /** PROTO route entries of one reading: their updates' bytes straight from the counters, in the same notifications as encode's (route-sample.ts). */
  private protoRoutes(units: readonly Unit[], target: string | undefined, ns: bigint): boolean {
    const rows = units[0]?.route?.rows;
    if (!rows) return false;
    const at: number[] = new Array(units.length);
    for (let j = 0; j < units.length; j++) {
      const r = units[j].route;
      if (r?.rows !== rows || !rows.protoSafe(r.i)) return false;
      at[j] = r.i;
    }
    const count = at.length * PROTO_LEAVES_PER_ROUTE;
    for (let i = 0; i < count; i += MAX_UPDATES_PER_NOTIFICATION) {
      const end = Math.min(count, i + MAX_UPDATES_PER_NOTIFICATION);
      this.stats.updatesSent += end - i;
      this.write(routeProtoNotification(ns, target, rows, at, i, end));
    }
    return true;
  }

  private write(msg: Json | Buffer): void {
    if (this.closed) return;
    if (!this.call.write(msg)) this.blocked = true;
  }
}
