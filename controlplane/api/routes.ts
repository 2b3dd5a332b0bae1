// The RESTCONF resources of a gateway (RFC 8040), independent of how requests
// arrive (server.ts):
//
//   GET  /.well-known/host-meta                 where the RESTCONF root is
//   GET  /restconf                              the API root
//   GET  /restconf/data                         configuration and state (?content=)
//   GET  /restconf/data/vitesse-gateway:gateway[/…]        configuration
//        ?content=nonconfig|all also returns the gateway-state container
//   GET  /restconf/data/vitesse-gateway:gateway-state[/…]  operational state
//   PUT, PATCH, POST, DELETE on /restconf/data[/vitesse-gateway:gateway[/…]]
//
// Reads take the configuration with keys redacted and the state as it is now.
// Every change goes through ConfigChanger (validate, diff, apply, save).
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { toJson } from '../config/index.js';
import { TOP } from '../config/defaults.js';
import type { Gateway } from '../gateway.js';
import { gatewayState } from '../state.js';
import type { ConfigChanger } from './change.js';
import { parseBody } from './body.js';
import { create, merge, put, remove } from './edit.js';
import { RestconfError } from './errors.js';
import { dataUri, instancePath, isObject, locate, parseDataPath, targetName, valueAt, type DataPath, type Json } from './path.js';
import { YANG_JSON, qualified } from './schema.js';
import { Operations } from './operations.js';

export interface ApiRequest {
  method: string;
  /** Path and query, as in the request line. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** "unix uid=U pid=P" (api/peer.ts) or the TCP peer's address:port (for the log). */
  peer: string;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body?: string;
  /** A 500 for an exception in the handler (counted as requests-failed). */
  failed?: boolean;
}

type Content = 'config' | 'nonconfig' | 'all';

interface Query {
  /** null: not given (RFC 8040's default, all). */
  content: Content | null;
  depth: number;
}

const DATA_METHODS = 'GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS';
const READ_METHODS = 'GET, HEAD, OPTIONS';

function json(status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { 'content-type': YANG_JSON, ...headers }, body: JSON.stringify(body) + '\n' };
}

const noContent = (headers: Record<string, string> = {}): ApiResponse => ({ status: 204, headers });

function parseQuery(search: URLSearchParams, method: string): Query {
  const q: Query = { content: null, depth: Infinity };
  for (const [name, value] of search) {
    if (name === 'content') {
      if (method !== 'GET' && method !== 'HEAD') throw RestconfError.of('invalid-value', '"content" is a parameter of GET and HEAD only', { type: 'protocol' });
      if (value !== 'config' && value !== 'nonconfig' && value !== 'all') throw RestconfError.of('invalid-value', `content="${value}": use config, nonconfig or all`, { type: 'protocol' });
      q.content = value;
    } else if (name === 'depth') {
      if (method !== 'GET' && method !== 'HEAD') throw RestconfError.of('invalid-value', '"depth" is a parameter of GET and HEAD only', { type: 'protocol' });
      const n = Number(value);
      if (value === 'unbounded') q.depth = Infinity;
      else if (Number.isInteger(n) && n >= 1 && n <= 65535) q.depth = n;
      else throw RestconfError.of('invalid-value', `depth="${value}": use 1..65535 or unbounded`, { type: 'protocol' });
    } else {
      throw RestconfError.of('invalid-value', `unsupported query parameter "${name}" (this server knows content and depth)`, { type: 'protocol' });
    }
  }
  return q;
}

/** RFC 8040 §4.8.2: depth 1 is the target node alone, each level below one more. */
function prune(value: unknown, depth: number): unknown {
  if (Array.isArray(value)) return value.map((v) => prune(v, depth));
  if (!isObject(value)) return value;
  if (depth <= 1) return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, prune(v, depth - 1)]));
}

export class RestconfApi {
  constructor(
    private readonly gw: Gateway,
    private readonly changer: ConfigChanger,
    private readonly log: Logger,
    private readonly operations: Operations = new Operations({}, log),
  ) {}

  async handle(req: ApiRequest): Promise<ApiResponse> {
    try {
      const res = await this.route(req);
      if (req.method === 'HEAD') delete res.body;
      return res;
    } catch (e) {
      if (e instanceof RestconfError) {
        if (req.method !== 'GET' && req.method !== 'HEAD') this.log.info({ request: `${req.method} ${req.url}`, peer: req.peer, status: e.status, errors: e.errors }, 'API request refused');
        return json(e.status, e.body(), e.headers);
      }
      this.log.error({ err: e, request: `${req.method} ${req.url}`, peer: req.peer }, 'API request failed');
      return { ...json(500, RestconfError.of('operation-failed', `internal error: ${e instanceof Error ? e.message : e}`).body()), failed: true };
    }
  }

  private async route(req: ApiRequest): Promise<ApiResponse> {
    const url = new URL(req.url, 'http://gateway');
    const p = url.pathname;
    if (p === '/.well-known/host-meta') {
      this.onlyReads(req.method);
      return { status: 200, headers: { 'content-type': 'application/xrd+xml' }, body: "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n  <Link rel='restconf' href='/restconf'/>\n</XRD>\n" };
    }
    if (p === '/restconf' || p === '/restconf/') {
      this.onlyReads(req.method);
      return json(200, { 'ietf-restconf:restconf': { data: {}, operations: {} } });
    }
    if (p === '/restconf/operations' || p.startsWith('/restconf/operations/')) {
      if (p === '/restconf/operations') {
        this.onlyReads(req.method);
        return json(200, this.operations.list());
      }
      if (req.method !== 'POST') throw RestconfError.of('operation-not-supported', `${req.method}: an operation is invoked with POST`, { type: 'protocol', status: 405, headers: { allow: 'POST' } });
      const name = decodeURIComponent(p.slice('/restconf/operations/'.length));
      const body = req.body.length ? parseBody(req.headers['content-type'], req.body) : undefined;
      const out = this.operations.invoke(name, body, req.peer);
      return out ? json(200, out) : noContent();
    }
    if (p !== '/restconf/data' && !p.startsWith('/restconf/data/')) {
      throw RestconfError.of('invalid-value', `no such resource: ${p} (the API is under /restconf)`, { type: 'protocol', status: 404 });
    }
    // Still percent-encoded (URL does not decode the path): "%2F" in a key does not split a segment.
    const path = parseDataPath(p.slice('/restconf/data'.length));
    const query = parseQuery(url.searchParams, req.method);
    switch (req.method) {
      case 'GET':
      case 'HEAD':
        return this.read(path, query);
      case 'OPTIONS':
        return { status: 200, headers: { allow: path?.top === 'gateway-state' ? READ_METHODS : DATA_METHODS } };
      case 'PUT':
      case 'PATCH':
      case 'POST':
      case 'DELETE':
        return this.write(req, path);
      default:
        throw RestconfError.of('operation-not-supported', `method ${req.method} is not supported`, { type: 'protocol', status: 405, headers: { allow: DATA_METHODS } });
    }
  }

  private onlyReads(method: string): void {
    if (method !== 'GET' && method !== 'HEAD') {
      throw RestconfError.of('operation-not-supported', `this resource is read-only (${READ_METHODS})`, { type: 'protocol', status: 405, headers: { allow: READ_METHODS } });
    }
  }

  private config(): Json {
    return toJson(this.gw.currentConfig)[TOP] as Json;
  }

  private read(path: DataPath | null, q: Query): ApiResponse {
    const members: Json = {};
    const wantConfig = q.content !== 'nonconfig';
    const wantState = q.content !== 'config';
    // The model keeps the state in its own top-level container, beside the
    // configuration's. The datastore holds both; the gateway container adds
    // the state beside itself only when asked (content=nonconfig or all), so
    // a plain GET of it is the container alone, as RFC 8040 has it.
    const datastore = !path;
    if (datastore || (path.top === 'gateway' && !path.segments.length && q.content !== null)) {
      if (wantConfig) members[qualified('gateway')] = prune(this.config(), q.depth);
      if (wantState) members[qualified('gateway-state')] = prune(gatewayState(this.gw), q.depth);
      return json(200, members);
    }
    if (path.top === 'gateway' && !wantConfig) {
      throw RestconfError.of('invalid-value', `there is no state below the configuration: the gateway's state is /restconf/data/${qualified('gateway-state')}`, { path: instancePath(path), status: 404 });
    }
    if (path.top === 'gateway-state' && !wantState) {
      throw RestconfError.of('invalid-value', 'gateway-state holds no configuration', { path: instancePath(path), status: 404 });
    }
    // Below gateway-state, only the member read is built (as gNMI does): a
    // poll of gateway-state/drain every 200 ms must not cost a whole state.
    const doc = path.top === 'gateway' ? this.config() : gatewayState(this.gw, path.segments[0]?.name);
    const t = locate(doc, path, 'read');
    const value = valueAt(t, doc);
    if (value === undefined) throw RestconfError.of('invalid-value', 'no such data node', { path: instancePath(path), status: 404 });
    const name = qualified(targetName(path));
    if (t.kind === 'entry' || t.kind === 'item') return json(200, { [name]: [prune(value, q.depth)] });
    return json(200, { [name]: prune(value, q.depth) });
  }

  private async write(req: ApiRequest, path: DataPath | null): Promise<ApiResponse> {
    if (path?.top === 'gateway-state') {
      throw RestconfError.of('operation-not-supported', 'gateway-state is operational state: it cannot be changed', { path: instancePath(path), type: 'protocol', status: 405, headers: { allow: READ_METHODS } });
    }
    const origin = { request: `${req.method} ${req.url}`, peer: req.peer };
    // The datastore holds only the gateway container: PUT or PATCH of it is one of the container.
    const datastore: DataPath = { top: 'gateway', segments: [] };
    switch (req.method) {
      case 'DELETE': {
        if (!path) throw RestconfError.of('operation-not-supported', 'the datastore cannot be deleted', { type: 'protocol', status: 405, headers: { allow: DATA_METHODS } });
        await this.changer.change(origin, (doc) => ({ doc: remove(doc, path), result: null }));
        return noContent();
      }
      case 'PUT': {
        const target = path ?? datastore;
        const body = parseBody(req.headers['content-type'], req.body);
        const { result } = await this.changer.change(origin, (doc) => {
          const r = put(doc, target, body);
          return { doc: r.doc, result: r.created };
        });
        return result ? { status: 201, headers: { location: dataUri(target) } } : noContent();
      }
      case 'PATCH': {
        const target = path ?? datastore;
        const body = parseBody(req.headers['content-type'], req.body);
        await this.changer.change(origin, (doc) => ({ doc: merge(doc, target, body), result: null }));
        return noContent();
      }
      case 'POST': {
        if (!path) {
          throw RestconfError.of('resource-denied', `${qualified('gateway')} already exists (PUT replaces it, PATCH merges into it)`, { path: `/${TOP}` });
        }
        const body = parseBody(req.headers['content-type'], req.body);
        const { result } = await this.changer.change(origin, (doc) => {
          const r = create(doc, path, body);
          return { doc: r.doc, result: r.created };
        });
        return { status: 201, headers: { location: dataUri(result) } };
      }
    }
    throw new Error('unreachable');
  }
}
