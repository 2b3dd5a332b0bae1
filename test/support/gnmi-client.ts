// A gNMI client for the tests and the benchmark's checks: @grpc/grpc-js with
// the vendored protos (the same definitions a third-party client compiles),
// over TLS with the API's bearer token in the call metadata.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { gnmiClient } from '../../controlplane/gnmi/proto.js';

export type Json = Record<string, any>;

/** A self-signed certificate for localhost and 127.0.0.1, and a strong token, in `dir`. */
export function makeCredentials(dir: string): { certFile: string; keyFile: string; tokenFile: string; cert: Buffer; token: string } {
  const certFile = path.join(dir, 'gnmi.crt');
  const keyFile = path.join(dir, 'gnmi.key');
  const tokenFile = path.join(dir, 'gnmi.token');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl cannot make the test certificate: ${r.error?.message ?? r.stderr}`);
  const token = spawnSync('openssl', ['rand', '-hex', '32'], { encoding: 'utf8' }).stdout.trim();
  fs.writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
  return { certFile, keyFile, tokenFile, cert: fs.readFileSync(certFile), token };
}

export interface GnmiTestClient {
  raw: grpc.Client & Record<string, any>;
  capabilities(): Promise<Json>;
  get(req: Json): Promise<Json>;
  subscribe(): grpc.ClientDuplexStream<Json, Json>;
  close(): void;
}

/**
 * A client of `target` ("127.0.0.1:PORT" or "unix:/path" for a gateway in
 * another network namespace, through a forwarder); `token` null: no
 * authorization metadata.
 */
export function connect(target: string, cert: Buffer, token: string | null): GnmiTestClient {
  const Client = gnmiClient();
  const tlsCreds = grpc.credentials.createSsl(cert);
  const creds = token === null ? tlsCreds : grpc.credentials.combineChannelCredentials(tlsCreds, grpc.credentials.createFromMetadataGenerator((_p, cb) => {
    const m = new grpc.Metadata();
    m.set('authorization', `Bearer ${token}`);
    cb(null, m);
  }));
  const raw = new Client(target, creds, {
    'grpc.ssl_target_name_override': 'localhost',
    'grpc.default_authority': 'localhost',
    'grpc.max_receive_message_length': -1,
  }) as grpc.Client & Record<string, any>;
  const unary = (rpc: string, req: Json) => new Promise<Json>((resolve, reject) => raw[rpc](req, (e: grpc.ServiceError | null, r: Json) => (e ? reject(e) : resolve(r))));
  return {
    raw,
    capabilities: () => unary('Capabilities', {}),
    get: (req) => unary('Get', req),
    subscribe: () => raw.Subscribe() as grpc.ClientDuplexStream<Json, Json>,
    close: () => raw.close(),
  };
}

/** gNMI path elems from "/gateway-state/route[id=site-b]/inbound-packets" (no ']' or '/' in keys). */
export function gpath(text: string): Json {
  const elem = text.split('/').filter(Boolean).map((part) => {
    const name = part.split('[')[0];
    const key: Record<string, string> = {};
    for (const m of part.matchAll(/\[([^=\]]+)=([^\]]*)\]/g)) key[m[1]] = m[2];
    return Object.keys(key).length ? { name, key } : { name };
  });
  return { elem };
}

/** "/a/b[k=v]" of a path as received. */
export function pathString(p: Json | null | undefined): string {
  return '/' + (p?.elem ?? []).map((e: Json) => e.name + Object.entries(e.key ?? {}).sort().map(([k, v]) => `[${k}=${v}]`).join('')).join('/');
}

/** The value of a received TypedValue: JSON decoded, scalars as they came. */
export function value(val: Json): unknown {
  if (val.json_ietf_val !== undefined) return JSON.parse(Buffer.from(val.json_ietf_val).toString('utf8'));
  if (val.json_val !== undefined) return JSON.parse(Buffer.from(val.json_val).toString('utf8'));
  const field = val.value as string;
  return val[field];
}

/** A subscription's responses as they arrive, and its end. */
export function collect(stream: grpc.ClientDuplexStream<Json, Json>): { responses: Json[]; ended: Promise<grpc.StatusObject | grpc.ServiceError> } {
  const responses: Json[] = [];
  stream.on('data', (d: Json) => responses.push(d));
  const ended = new Promise<grpc.StatusObject | grpc.ServiceError>((resolve) => {
    stream.on('error', (e: grpc.ServiceError) => resolve(e));
    stream.on('status', (s: grpc.StatusObject) => { if (s.code === grpc.status.OK) resolve(s); });
  });
  return { responses, ended };
}

/**
 * A forwarder in network namespace `ns` from a Unix socket (which every
 * namespace sees) to host:port there: how a test in the root namespace
 * reaches a gateway's TCP listener inside its namespace.
 */
export const FORWARDER = `
  const net = require('net'); const fs = require('fs');
  const [sock, host, port] = process.argv.slice(1);
  try { fs.unlinkSync(sock); } catch {}
  net.createServer((c) => { const t = net.connect(Number(port), host); c.pipe(t).pipe(c); c.on('error', () => t.destroy()); t.on('error', () => c.destroy()); })
    .listen(sock, () => process.stdout.write('ready\\n'));`;
