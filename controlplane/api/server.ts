// The management API's listeners:
//
// - a Unix socket per gateway, /run/vitesse/NAME.sock by default, owner-only
//   (mode 0600; --socket-mode widens it, e.g. to a group). File permissions
//   are its access control. A socket left by a gateway that died is replaced;
//   one a live process still answers on is refused.
// - optionally TCP, only with TLS and a bearer token (`Authorization: Bearer
//   …`, compared in constant time): never plain text over a network.
//
// Both serve the same RESTCONF resources (routes.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { UsageError } from '../cli/args.js';
import type { Gateway } from '../gateway.js';
import { parseListen } from './listen.js';
import { ConfigChanger } from './change.js';
import { RestconfError } from './errors.js';
import { DEFAULT_LIMITS, closeListener, guard, safely, serverOptions, statsFor, type ListenerLimits, type ListenerStats } from './listeners.js';
import { RestconfApi, type ApiRequest } from './routes.js';
import { Operations, type OperationTargets } from './operations.js';
import { unixPeer } from './peer.js';
import { tokenFileExposure, tokenWeakness } from './token.js';
import { RUN_DIR } from './socket.js';

export { RUN_DIR, socketPathFor } from './socket.js';

/** Large enough for any configuration with thousands of routes. */
export const MAX_BODY = 16 << 20;

export interface ApiServerOptions {
  /** The Unix socket; null: none. */
  socket: string | null;
  /** Permissions of the socket (default 0600: the owner only). */
  socketMode?: number;
  tcp?: { listen: string; certFile: string; keyFile: string; tokenFile: string };
  /** Where successful changes are written back; null: not written. */
  configFile: string | null;
  log: Logger;
  /** Connection cap and timeout of each listener (default DEFAULT_LIMITS). */
  limits?: ListenerLimits;
  /** Accept a weak token or a token file others may read, with a warning (--insecure). */
  insecure?: boolean;
  /** What the API's operations act on (operations.ts). */
  operations?: OperationTargets;
}

export interface ApiServer {
  readonly socket: string | null;
  readonly tcpPort: number | null;
  readonly changer: ConfigChanger;
  close(): Promise<void>;
}

export async function startApi(gw: Gateway, opts: ApiServerOptions): Promise<ApiServer> {
  const log = opts.log;
  const changer = new ConfigChanger(gw, log, opts.configFile);
  const api = new RestconfApi(gw, changer, log, new Operations(opts.operations ?? {}, log));
  const servers: http.Server[] = [];
  let socketInode: number | null = null;
  let tcpPort: number | null = null;
  const close = async () => {
    await Promise.all(servers.map((s) => closeListener(s)));
    // Only our own socket: another gateway may have taken the name since.
    if (opts.socket && socketInode !== null) {
      try {
        if (fs.lstatSync(opts.socket).ino === socketInode) fs.unlinkSync(opts.socket);
      } catch { /* already gone */ }
    }
  };
  try {
    const limits = opts.limits ?? DEFAULT_LIMITS;
    if (opts.socket) {
      const stats = statsFor(gw, 'api-socket');
      const server = http.createServer(serverOptions(limits), safely(stats, log, (req, res) => serve(api, req, res, unixPeer(req.socket), null, stats)));
      servers.push(server);
      await listenUnix(server, opts.socket, opts.socketMode ?? 0o600);
      guard(server, stats, limits, log);
      socketInode = fs.lstatSync(opts.socket).ino;
      log.info({ socket: opts.socket, mode: (opts.socketMode ?? 0o600).toString(8) }, 'management API listening');
    }
    if (opts.tcp) {
      const token = readToken(opts.tcp.tokenFile, log, opts.insecure ?? false);
      const stats = statsFor(gw, 'api-tls');
      const server = https.createServer({
        ...serverOptions(limits),
        cert: readFile(opts.tcp.certFile, '--api-tls-cert'),
        key: readFile(opts.tcp.keyFile, '--api-tls-key'),
        minVersion: 'TLSv1.2',
      }, safely(stats, log, (req, res) => serve(api, req, res, `${req.socket.remoteAddress}:${req.socket.remotePort}`, token, stats)));
      servers.push(server);
      const { host, port } = parseListen(opts.tcp.listen, '--api-listen');
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) => reject(new Error(`--api-listen: cannot listen on ${opts.tcp!.listen}: ${e.message}`)));
        server.listen(port, host, () => resolve());
      });
      guard(server, stats, limits, log);
      tcpPort = (server.address() as net.AddressInfo).port;
      log.info({ listen: opts.tcp.listen, port: tcpPort }, 'management API listening (TLS, bearer token)');
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { socket: opts.socket, tcpPort, changer, close };
}

function readFile(file: string, option: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${option}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Throws (UsageError) if the token in `file` is weak or others may read the file, unless `insecure`. */
export function checkToken(file: string, insecure: boolean): void {
  readToken(file, { warn: () => {} }, insecure);
}

export function readToken(file: string, log: Pick<Logger, 'warn'>, insecure: boolean): Buffer {
  const token = readFile(file, '--api-token-file').toString('utf8').trim();
  const weak = tokenWeakness(token);
  if (weak && !insecure) throw new UsageError(`--api-token-file: ${file}: the token is too weak: ${weak} (make one with: openssl rand -hex 32; --insecure accepts it anyway)`);
  if (weak) log.warn({ file }, `--insecure: accepting a weak API token: ${weak}`);
  const exposure = tokenFileExposure(file);
  if (exposure.refuse && !insecure) throw new UsageError(`--api-token-file: ${exposure.refuse} (--insecure accepts it anyway)`);
  if (exposure.refuse) log.warn({ file }, `--insecure: ${exposure.refuse}`);
  if (exposure.warn) log.warn({ file }, exposure.warn);
  // Compared as digests: equal lengths for timingSafeEqual, and the token's length does not leak.
  return crypto.createHash('sha256').update(token).digest();
}

export function authorized(header: string | undefined, token: Buffer): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = crypto.createHash('sha256').update(m ? m[1] : '').digest();
  return crypto.timingSafeEqual(given, token);
}

/** Binds the socket, replacing a stale one and refusing to take over a live one. */
async function listenUnix(server: http.Server, socket: string, mode: number): Promise<void> {
  // The default directory (the unit's RuntimeDirectory) is made when a
  // gateway runs by hand; any other must exist (vitesse run checks --socket).
  if (path.dirname(socket) === RUN_DIR) fs.mkdirSync(RUN_DIR, { recursive: true, mode: 0o755 });
  if (await checkSocketFree(socket)) fs.unlinkSync(socket); // left by a process that died
  // Created owner-only, so no one else can connect before the chmod below
  // (worker threads may not set the umask: there the chmod alone has to do).
  let umask: number | null = null;
  try { umask = process.umask(0o177); } catch { /* a worker thread */ }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`API socket ${socket}: cannot listen: ${e.message}`)));
      server.listen(socket, () => resolve());
    });
  } finally {
    if (umask !== null) process.umask(umask);
  }
  fs.chmodSync(socket, mode);
}

/**
 * Throws if `socket` exists and is not a socket, or a running process serves
 * it; true if a stale one is left (vitesse run checks this before it starts
 * the data plane, and again when it binds).
 */
export async function checkSocketFree(socket: string): Promise<boolean> {
  let st: fs.Stats;
  try { st = fs.lstatSync(socket); } catch { return false; /* none: the usual case */ }
  if (!st.isSocket()) throw new Error(`API socket ${socket}: exists and is not a socket (remove it, or choose another with --socket)`);
  if (await answers(socket)) throw new Error(`API socket ${socket}: a running process is serving it (another gateway with this name? choose another --name or --socket)`);
  return true;
}

function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

function serve(api: RestconfApi, req: http.IncomingMessage, res: http.ServerResponse, peer: string, token: Buffer | null, stats: ListenerStats): Promise<void> | void {
  const reply = (status: number, headers: Record<string, string>, body?: string) => {
    res.writeHead(status, headers);
    res.end(body);
  };
  if (token && !authorized(req.headers.authorization, token)) {
    req.resume();
    const e = RestconfError.of('access-denied', 'a valid bearer token is required (Authorization: Bearer <token>)', { type: 'protocol', status: 401 });
    reply(401, { 'content-type': 'application/yang-data+json', 'www-authenticate': 'Bearer realm="vitesse"' }, JSON.stringify(e.body()) + '\n');
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY) tooBig = true;
    else chunks.push(c);
  });
  return new Promise<void>((resolve, reject) => {
    req.on('error', () => resolve()); // the client went away: nothing to answer
    req.on('end', () => {
      if (tooBig) {
        const e = RestconfError.of('too-big', `the body exceeds ${MAX_BODY} octets`, { type: 'transport' });
        reply(413, { 'content-type': 'application/yang-data+json' }, JSON.stringify(e.body()) + '\n');
        resolve();
        return;
      }
      const request: ApiRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks), peer };
      // A rejection here is an internal error: safely() answers 500, counts and logs it.
      api.handle(request).then((r) => {
        if (r.failed) stats.requestsFailed++;
        reply(r.status, r.headers, r.body);
      }).then(resolve, reject);
    });
  });
}
