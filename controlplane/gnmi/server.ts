// The gNMI server (gnmi.proto's gNMI service over gRPC): Capabilities, Get
// and Subscribe on the vitesse-gateway model; Set is not offered (changes go
// through RESTCONF, which validates and saves them).
//
// The TCP listener is ours, not grpc-js's (which has no connection cap and
// no handshake timeout): a tls.Server with the RESTCONF API's certificate,
// key, TLS floor, connection cap and handshake timeout accepts each
// connection and hands the established TLS stream to grpc-js
// (Server.createConnectionInjector), which speaks HTTP/2 on it. A
// connection with no call open for the same timeout is closed (counted as
// timed out, like the API's idle ones); grpc-js bounds each connection's
// concurrent streams and request size. Every call
// must carry the API's bearer token (metadata `authorization: Bearer …`,
// compared in constant time).
import fs from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { MODULE } from '../api/schema.js';
import { parseListen } from '../api/listen.js';
import { statsFor, type ListenerLimits } from '../api/listeners.js';
import { authorized, readToken } from '../api/server.js';
import { modelFile } from '../config/index.js';
import type { Gateway } from '../gateway.js';
import { GnmiError, invalid, status, unimplemented } from './errors.js';
import { ENCODINGS, Snapshots, dataTypeOf, encode, encodingOf, memberOf, timestamp, topsFor, unitJson, unitsAt, type Update } from './data.js';
import { encodedPath, jsonNotification } from './wire.js';
import { resolve, type GnmiPath } from './path.js';
import { gnmiService, gnmiVersion } from './proto.js';
import { CHANGE_CHECK_MS, MAX_PATHS, SubscribeCall } from './subscribe.js';
import { gnmiStatsFor } from './stats.js';

export const DEFAULT_MAX_SUBSCRIPTIONS = 256;
export const DEFAULT_MIN_SAMPLE_MS = 1000;
/** HTTP/2 streams (calls) one connection may have open. */
export const MAX_STREAMS_PER_CONNECTION = 128;
/** A request is a few paths: 64 KiB is plenty and bounds what a client makes the server parse. */
export const MAX_REQUEST_OCTETS = 64 << 10;

export interface GnmiOptions {
  listen: string;
  certFile: string;
  keyFile: string;
  tokenFile: string;
  insecure?: boolean;
  log: Logger;
  limits: ListenerLimits;
  maxSubscriptions?: number;
  minSampleMs?: number;
}

export interface GnmiServer {
  readonly port: number;
  close(): Promise<void>;
}

/** The model's revision (its first revision statement). */
export function modelRevision(): string {
  return /^\s*revision\s+(\d{4}-\d{2}-\d{2})/m.exec(fs.readFileSync(modelFile(), 'utf8'))?.[1] ?? '';
}

/**
 * Runs the ON_CHANGE checks while any are registered: every CHANGE_CHECK_MS,
 * or less often when the checks take longer than 1/CHANGE_BUDGET of that
 * time, so that ON_CHANGE costs at most about 1/CHANGE_BUDGET of a core
 * however large the state (at 20,000 SAs a check of every SA is a large
 * read: changes then arrive within a few seconds instead of 250 ms).
 */
export const CHANGE_BUDGET = 20;

class Ticker {
  private readonly fs = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  /** The last pause between checks (for the benchmark). */
  lastDelayMs = CHANGE_CHECK_MS;
  add(f: () => void): void {
    this.fs.add(f);
    if (!this.timer) this.schedule(CHANGE_CHECK_MS);
  }
  remove(f: () => void): void {
    this.fs.delete(f);
    if (!this.fs.size && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
  private schedule(ms: number): void {
    this.lastDelayMs = ms;
    this.timer = setTimeout(() => {
      const t0 = performance.now();
      for (const g of this.fs) g();
      if (this.fs.size) this.schedule(Math.max(CHANGE_CHECK_MS, (performance.now() - t0) * CHANGE_BUDGET));
      else this.timer = null;
    }, ms);
  }
}

type Json = Record<string, unknown>;

export async function startGnmi(gw: Gateway, opts: GnmiOptions): Promise<GnmiServer> {
  const { log, limits } = opts;
  const token = readToken(opts.tokenFile, log, opts.insecure ?? false);
  const read = (file: string, option: string) => {
    try { return fs.readFileSync(file); } catch (e) { throw new Error(`${option}: cannot read ${file}: ${(e as Error).message}`); }
  };
  const cert = read(opts.certFile, '--api-tls-cert');
  const key = read(opts.keyFile, '--api-tls-key');
  const listener = statsFor(gw, 'gnmi');
  const stats = gnmiStatsFor(gw);
  const snapshots = new Snapshots(gw);
  const ticker = new Ticker();
  const maxSubscriptions = opts.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS;
  const minSampleMs = opts.minSampleMs ?? DEFAULT_MIN_SAMPLE_MS;
  const revision = modelRevision();

  // The token as `authorization: Bearer …`, or as the `password` of clients
  // that only send a username and password (Telegraf's gNMI input, pygnmi).
  const authenticate = (call: { metadata: grpc.Metadata }): void => {
    const header = call.metadata.get('authorization')[0];
    const password = call.metadata.get('password')[0];
    const given = typeof header === 'string' ? header : typeof password === 'string' ? `Bearer ${password}` : undefined;
    if (!authorized(given, token)) {
      stats.requestsUnauthenticated++;
      throw new GnmiError(status.UNAUTHENTICATED, 'a valid bearer token is required (metadata authorization: Bearer <token>)');
    }
  };
  const failure = (e: unknown, rpc: string): ReturnType<GnmiError['toStatus']> => {
    if (e instanceof GnmiError) {
      // Those two have counters of their own (requests-unauthenticated, subscriptions-refused).
      if (e.code !== status.UNAUTHENTICATED && e.code !== status.RESOURCE_EXHAUSTED) stats.requestsRefused++;
      return e.toStatus();
    }
    stats.requestsFailed++;
    listener.requestsFailed++;
    log.error({ listener: 'gnmi', rpc, err: e }, 'gNMI request failed: internal error');
    return new GnmiError(status.INTERNAL, 'internal error').toStatus();
  };
  // Connections by peer address (what call.getPeer() says), with their calls
  // open: a connection with none for the timeout is closed (grpc-js's own
  // idle timer does not cover a client that never sends the HTTP/2 preface).
  const connections = new Map<string, { active: number; lastActive: number }>();
  const callStarted = (peer: string): (() => void) => {
    const conn = connections.get(peer);
    if (!conn) return () => {};
    conn.active++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      conn.active--;
      conn.lastActive = performance.now();
    };
  };
  const unary = <T>(rpc: string, f: (req: Json) => T) =>
    (call: grpc.ServerUnaryCall<Json, T>, callback: grpc.sendUnaryData<T>) => {
      const ended = callStarted(call.getPeer());
      try {
        authenticate(call);
        callback(null, f(call.request));
      } catch (e) {
        callback(failure(e, rpc));
      } finally {
        ended();
      }
    };

  const server = new grpc.Server({
    'grpc.max_concurrent_streams': MAX_STREAMS_PER_CONNECTION,
    'grpc.max_receive_message_length': MAX_REQUEST_OCTETS,
    'grpc.max_send_message_length': -1,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
  });
  // Notifications in JSON encodings come already encoded (wire.ts); the rest through protobufjs.
  const definition = { ...gnmiService() };
  const subscribe = definition.Subscribe;
  definition.Subscribe = { ...subscribe, responseSerialize: (m: unknown) => (Buffer.isBuffer(m) ? m : subscribe.responseSerialize(m)) };
  const getMethod = definition.Get;
  definition.Get = { ...getMethod, responseSerialize: (m: unknown) => (Buffer.isBuffer(m) ? m : getMethod.responseSerialize(m)) };
  server.addService(definition, {
    Capabilities: unary('Capabilities', () => ({
      supported_models: [{ name: MODULE, organization: 'The Vitesse project', version: revision }],
      supported_encodings: [...ENCODINGS],
      gNMI_version: gnmiVersion(),
    })),
    Get: unary<Json | Buffer>('Get', (req) => get(snapshots, req)),
    Set: unary('Set', () => {
      throw unimplemented('Set is not offered: change the configuration through the RESTCONF API (vitesse config), which validates and saves it');
    }),
    Subscribe: (call: grpc.ServerDuplexStream<Json, Json | Buffer>) => {
      try {
        authenticate(call);
        if (stats.subscriptions >= maxSubscriptions) {
          stats.subscriptionsRefused++;
          throw new GnmiError(status.RESOURCE_EXHAUSTED, `${maxSubscriptions} subscriptions are open, the most this target takes (--gnmi-max-subscriptions)`);
        }
      } catch (e) {
        const s = failure(e, 'Subscribe');
        call.on('error', () => {});
        call.emit('error', s);
        return;
      }
      stats.subscriptions++;
      let released = false;
      const ended = callStarted(call.getPeer());
      const sub = new SubscribeCall(call, snapshots, { minSampleMs }, stats, ticker, () => {
        if (!released) stats.subscriptions--;
        released = true;
        ended();
      }, (err) => {
        listener.requestsFailed++;
        log.error({ listener: 'gnmi', rpc: 'Subscribe', err }, 'gNMI request failed: internal error');
      });
      void sub;
    },
  } as grpc.UntypedServiceImplementation);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());

  const sockets = new Set<net.Socket>();
  const tlsServer = tls.createServer({
    cert,
    key,
    minVersion: 'TLSv1.2',
    ALPNProtocols: ['h2'],
    handshakeTimeout: limits.timeoutMs,
  }, (socket) => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const conn = { active: 0, lastActive: performance.now() };
    connections.set(peer, conn);
    const check = setInterval(() => {
      if (conn.active || performance.now() - conn.lastActive < limits.timeoutMs) return;
      listener.connectionsTimedOut++;
      socket.destroy();
    }, Math.max(50, Math.floor(limits.timeoutMs / 4)));
    check.unref();
    socket.once('close', () => {
      clearInterval(check);
      if (connections.get(peer) === conn) connections.delete(peer);
    });
    injector.injectConnection(socket);
  });
  tlsServer.maxConnections = limits.maxConnections;
  tlsServer.on('drop', () => { listener.connectionsRefused++; });
  tlsServer.on('connection', (socket: net.Socket) => {
    listener.connections++;
    sockets.add(socket);
    socket.once('close', () => {
      listener.connections--;
      sockets.delete(socket);
    });
  });
  tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') listener.connectionsTimedOut++;
    socket.destroy();
  });
  const { host, port } = parseListen(opts.listen, '--gnmi-listen');
  await new Promise<void>((resolve, reject) => {
    tlsServer.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`--gnmi-listen: cannot listen on ${opts.listen}: ${e.code === 'EADDRINUSE' ? 'the address is in use' : e.message}`)));
    tlsServer.listen(port, host, () => resolve());
  });
  // After listen, the only errors are accept's (EMFILE and the like): logged at most once a second.
  let lastLogged = 0;
  tlsServer.on('error', (err: NodeJS.ErrnoException) => {
    listener.connectionsRefused++;
    const now = Date.now();
    if (now - lastLogged < 1000) return;
    lastLogged = now;
    log.error({ listener: 'gnmi', err: { code: err.code, message: err.message } }, `gnmi: cannot accept a connection: ${err.code ?? err.message}`);
  });
  const bound = (tlsServer.address() as net.AddressInfo).port;
  log.info({ listen: opts.listen, port: bound, maxSubscriptions, minSampleMs }, 'gNMI listening (TLS, bearer token)');
  return {
    port: bound,
    close: () => new Promise<void>((done) => {
      tlsServer.close(() => done());
      injector.destroy();
      server.forceShutdown();
      for (const s of sockets) s.destroy();
    }),
  };
}

/**
 * GetRequest → GetResponse: one notification per path. In JSON encodings
 * the response is written as protobuf bytes (wire.ts; a GetResponse's
 * notifications are field 1, as a SubscribeResponse's): a Get of the whole
 * state is 30,000 updates at 10,000 routes, and protobufjs took a third of
 * its time.
 */
export function get(snapshots: Pick<Snapshots, 'doc'>, req: Json): Json | Buffer {
  const encoding = encodingOf(req.encoding);
  const type = dataTypeOf(req.type);
  const paths = (req.path as GnmiPath[] | undefined) ?? [];
  if (paths.length > MAX_PATHS) throw invalid(`the request names ${paths.length} paths, more than ${MAX_PATHS}`);
  const prefix = (req.prefix as GnmiPath | undefined) ?? null;
  const notification = (paths.length ? paths : [{}]).map((p, i) => {
    const r = resolve(prefix, p, `path ${i + 1}`);
    const units = [];
    for (const top of topsFor(r, type)) units.push(...unitsAt(snapshots.doc(top, memberOf(r)), top, r));
    // A path that names one node (every list key given) must find it; one with wildcards may find none.
    const exact = r.steps.every((s) => s.node.kind !== 'list' || Object.keys(s.keys).length === s.node.keys.length);
    if (!units.length && exact) throw new GnmiError(status.NOT_FOUND, `path ${i + 1}: ${r.text}: no such data node`);
    if (encoding !== 'PROTO') {
      const json = units.map((u) => ({ path: encodedPath(u.key, u.elems), json: unitJson(u) }));
      return jsonNotification(BigInt(timestamp()), prefix?.target || undefined, json, [], encoding === 'JSON' ? 10 : 11);
    }
    const update: Update[] = encode(units, encoding);
    return { timestamp: timestamp(), prefix: prefix?.target ? { target: prefix.target } : undefined, update };
  });
  if (notification.every((n) => Buffer.isBuffer(n))) return Buffer.concat(notification as Buffer[]);
  return { notification };
}
