// A client of a gateway's management API: over its Unix socket, or over TCP
// with TLS and a bearer token. The CLI (`vitesse config`, `vitesse status`)
// is built on it; it tells "the gateway refused" (a RESTCONF error) from "the
// gateway cannot be reached", because scripts act differently on each.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseErrors, type RestconfErrorEntry } from './errors.js';
import { YANG_JSON } from './schema.js';

export type ApiTarget =
  | { socket: string }
  | { url: string; token: string; ca?: Buffer };

export interface ApiReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body, or undefined when there was none. */
  body: unknown;
}

/** The gateway answered with an error. */
export class ApiRefused extends Error {
  constructor(readonly status: number, readonly errors: RestconfErrorEntry[]) {
    super(errors.map((e) => (e['error-path'] ? `${e['error-path']}: ${e['error-message']}` : e['error-message'])).join('\n'));
    this.name = 'ApiRefused';
  }
}

/** The gateway could not be reached (no socket, nobody listening, no permission, TLS failure, …). */
export class ApiUnreachable extends Error {
  constructor(readonly where: string, readonly reason: string) {
    super(`cannot reach the gateway at ${where}: ${reason}`);
    this.name = 'ApiUnreachable';
  }
}

const REQUEST_TIMEOUT_MS = 30_000;

export class ApiClient {
  constructor(readonly target: ApiTarget) {}

  get where(): string {
    return 'socket' in this.target ? this.target.socket : this.target.url;
  }

  /** Sends one request; resolves with any reply the gateway gave (errors included). */
  request(method: string, path: string, body?: unknown): Promise<ApiReply> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: YANG_JSON };
    if (payload) {
      headers['content-type'] = YANG_JSON;
      headers['content-length'] = String(payload.length);
    }
    let options: http.RequestOptions;
    let send: typeof http.request;
    if ('socket' in this.target) {
      options = { socketPath: this.target.socket, path, method, headers };
      send = http.request;
    } else {
      const url = new URL(path, this.target.url);
      headers.authorization = `Bearer ${this.target.token}`;
      options = { hostname: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, ca: this.target.ca } as https.RequestOptions;
      send = https.request;
    }
    return new Promise((resolve, reject) => {
      const req = send(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          if (text.trim()) {
            try { parsed = JSON.parse(text); } catch { parsed = text; }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
        res.on('error', (e) => reject(new ApiUnreachable(this.where, e.message)));
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
      req.on('error', (e: NodeJS.ErrnoException) => reject(new ApiUnreachable(this.where, explain(e))));
      req.end(payload);
    });
  }

  /** Like request, but a RESTCONF error becomes ApiRefused. */
  async call(method: string, path: string, body?: unknown): Promise<ApiReply> {
    const r = await this.request(method, path, body);
    if (r.status >= 400) {
      const errors = parseErrors(r.body) ?? [{ 'error-type': 'transport', 'error-tag': 'operation-failed', 'error-message': `HTTP ${r.status}${typeof r.body === 'string' ? `: ${r.body.trim()}` : ''}` }];
      throw new ApiRefused(r.status, errors);
    }
    return r;
  }

  async get(path: string): Promise<unknown> {
    return (await this.call('GET', path)).body;
  }
}

function explain(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT': return 'no such socket (is the gateway running, under this name?)';
    case 'ECONNREFUSED': return 'nobody is listening (the gateway has stopped?)';
    case 'EACCES': return 'permission denied (the socket is the gateway owner\'s only: run as that user or root)';
    default: return e.message;
  }
}

/** A target for the TCP API: URL, the token from a file, optionally a CA certificate to trust. */
export function tcpTarget(url: string, tokenFile: string, caFile?: string): ApiTarget {
  const token = fs.readFileSync(tokenFile, 'utf8').trim();
  return { url, token, ca: caFile ? fs.readFileSync(caFile) : undefined };
}
