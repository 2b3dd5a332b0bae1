// The gateway's HTTP listeners (the API's Unix socket, the API over TLS, the
// metrics) under attack from their own clients: connections that never send
// a byte, TLS handshakes never finished, headers dribbled a byte at a time,
// more connections than anyone needs, a request whose handler throws. Each
// listener
//
// - accepts at most `maxConnections` at a time; more are closed at once and
//   counted (connections-refused),
// - closes a connection that has not finished its TLS handshake, its request
//   headers, or sent anything at all within `timeoutMs`, or its whole
//   request within REQUEST_TIMEOUT_FACTOR × that, and counts it
//   (connections-timed-out),
// - answers a handler's exception with 500 and a log line (requests-failed),
//   never letting it reach the process, and logs its own errors (EMFILE on
//   accept) instead of dying of them.
//
// The counters are per gateway and listener: gateway-state/management-listener
// and the vitesse_management_* metrics read them (listenerStats).
import type http from 'node:http';
import type https from 'node:https';

export type ListenerName = 'api-socket' | 'api-tls' | 'metrics' | 'gnmi';

export interface ListenerStats {
  readonly name: ListenerName;
  /** Open now. */
  connections: number;
  connectionsRefused: number;
  connectionsTimedOut: number;
  requestsFailed: number;
}

export interface ListenerLimits {
  maxConnections: number;
  timeoutMs: number;
}

export const DEFAULT_LIMITS: ListenerLimits = { maxConnections: 64, timeoutMs: 5000 };
/** A whole request (body included) may take this many timeouts: 16 MiB of configuration on a slow link. */
export const REQUEST_TIMEOUT_FACTOR = 12;

/** The part of a pino Logger used here. */
export interface Log {
  error(o: object, m: string): void;
  warn(o: object, m: string): void;
}

const registry = new WeakMap<object, Map<ListenerName, ListenerStats>>();

/** The listeners of a gateway with their counters, in a fixed order. */
export function listenerStats(owner: object): ListenerStats[] {
  return [...(registry.get(owner)?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name));
}

/** The counters of a gateway's listener (created at zero the first time). */
export function statsFor(owner: object, name: ListenerName): ListenerStats {
  let map = registry.get(owner);
  if (!map) registry.set(owner, (map = new Map()));
  // A listener started again (a test's second API on one gateway) keeps counting where it was.
  let stats = map.get(name);
  if (!stats) map.set(name, (stats = { name, connections: 0, connectionsRefused: 0, connectionsTimedOut: 0, requestsFailed: 0 }));
  return stats;
}

/** Options for http.createServer / https.createServer that bound how long a client may take. */
export function serverOptions(limits: ListenerLimits): http.ServerOptions & https.ServerOptions {
  const t = limits.timeoutMs;
  return {
    headersTimeout: t,
    requestTimeout: t * REQUEST_TIMEOUT_FACTOR,
    keepAliveTimeout: Math.min(t, 5000),
    // How often Node looks for connections past headersTimeout/requestTimeout.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(t / 4))),
    handshakeTimeout: t,
  };
}

const TIMEOUT_CODES = new Set(['ERR_HTTP_REQUEST_TIMEOUT', 'ERR_TLS_HANDSHAKE_TIMEOUT']);

/** Connections whose request is being handled: silence there is the gateway's, not the client's. */
const busy = new WeakSet<object>();

/** Every connection of a guarded server, TLS handshakes under way included (closeAllConnections knows only HTTP ones). */
const sockets = new WeakMap<http.Server, Set<{ destroy(): void }>>();

/** Stops a guarded server: no new connections, and every open one closed now. */
export function closeListener(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
    for (const s of sockets.get(server) ?? []) s.destroy();
  });
}

/** Caps, timeouts and error handling on a listening server created with serverOptions(limits). */
export function guard(server: http.Server, stats: ListenerStats, limits: ListenerLimits, log: Log): void {
  const name = stats.name;
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => { stats.connectionsRefused++; });
  const open = new Set<{ destroy(): void }>();
  sockets.set(server, open);
  server.on('connection', (socket) => {
    stats.connections++;
    open.add(socket);
    socket.once('close', () => {
      stats.connections--;
      open.delete(socket);
    });
  });
  // No byte for timeoutMs on a connection with no request under way (for TLS, once it is up).
  server.timeout = limits.timeoutMs;
  server.on('timeout', (socket) => {
    if (busy.has(socket)) return; // the answer is being worked out; writing it restarts the clock
    stats.connectionsTimedOut++;
    socket.destroy();
  });
  // Headers or the whole request too slow, a TLS handshake not finished in
  // time (https reports tlsClientError here too), or a malformed request.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const code = err.code ?? '';
    const timedOut = TIMEOUT_CODES.has(code);
    if (timedOut) stats.connectionsTimedOut++;
    const http = code === 'ERR_HTTP_REQUEST_TIMEOUT' || code.startsWith('HPE_');
    if (http && socket.writable && (socket as { bytesWritten?: number }).bytesWritten === 0) {
      socket.write(timedOut ? 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    }
    socket.destroy();
  });
  server.on('tlsClientError', (_err: Error, socket: { destroy(): void }) => socket.destroy());
  // After listen, the only errors are accept's (EMFILE, ENFILE, ENOMEM): the
  // connection is lost, the listener goes on. Logged at most once a second.
  let lastLogged = 0;
  server.on('error', (err: NodeJS.ErrnoException) => {
    stats.connectionsRefused++;
    const now = Date.now();
    if (now - lastLogged < 1000) return;
    lastLogged = now;
    log.error({ listener: name, err: { code: err.code, message: err.message } }, `${name}: cannot accept a connection: ${err.code ?? err.message}`);
  });
}

/**
 * A request handler that cannot take the process down: a synchronous throw
 * or a rejected promise is a 500 (or, once the response has begun, a closed
 * connection), counted and logged.
 */
export function safely(
  stats: ListenerStats,
  log: Log,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const socket = req.socket;
    busy.add(socket);
    res.once('close', () => busy.delete(socket));
    const fail = (err: unknown) => {
      stats.requestsFailed++;
      log.error({ listener: stats.name, request: `${req.method} ${req.url}`, err }, 'request failed: internal error (answered 500)');
      try {
        if (res.headersSent) res.destroy();
        else res.writeHead(500, { 'content-type': 'text/plain', connection: 'close' }).end('internal error\n');
      } catch {
        res.destroy();
      }
    };
    try {
      const r = handler(req, res);
      if (r) r.catch(fail);
    } catch (e) {
      fail(e);
    }
  };
}
