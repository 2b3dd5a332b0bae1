// The API's audit log names who changed what: over the Unix socket the
// client's uid and pid as the kernel recorded them (SO_PEERCRED, the product
// addon's peer part), over TCP the client's address and port. Changes are
// made by `vitesse config` (a child process, whose pid the log must name) and
// through the TLS listener.
import { execFile, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiServer } from '../controlplane/api/server.js';
import { ApiClient } from '../controlplane/api/client.js';
import { peerCredentials } from '../controlplane/api/peer.js';
import { twoSites, type TwoSites } from '../controlplane/demo/memory-two-sites.js';
import { toJson } from '../controlplane/config/index.js';
import { itNeeding } from './support/requires.js';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'vitesse.js');
const MTU = '/restconf/data/vitesse-gateway:gateway/mtu';

let dir: string;
let s: TwoSites;
const servers: ApiServer[] = [];
const lines: Record<string, any>[] = [];
const log = pino({ level: 'info' }, { write: (l: string) => { lines.push(JSON.parse(l)); } });

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-audit-'));
  s = twoSites();
});
afterAll(async () => {
  for (const srv of servers) await srv.close();
  s?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const requested = () => lines.filter((l) => l.msg === 'configuration change requested');

describe('SO_PEERCRED', () => {
  it('gives the connecting process\'s pid and uid, and null for what is not a connected Unix socket', async () => {
    const sock = path.join(dir, 'cred.sock');
    const accepted = new Promise<net.Socket>((resolve) => { const srv = net.createServer(resolve); srv.listen(sock); servers.push({ close: async () => { srv.close(); } } as ApiServer); });
    const client = net.connect(sock);
    const conn = await accepted;
    const fd = (conn as unknown as { _handle: { fd: number } })._handle.fd;
    expect(peerCredentials(fd)).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    const file = fs.openSync(path.join(dir, 'plain'), 'w');
    expect(peerCredentials(file)).toBeNull();
    fs.closeSync(file);
    expect(() => peerCredentials(-1)).toThrow(/peer: fd/);
    client.destroy();
    conn.destroy();
  });
});

describe('the audit log', () => {
  it('names the uid and pid of the `vitesse config` that changed the configuration over the socket', async () => {
    const file = path.join(dir, 'a.json');
    fs.writeFileSync(file, JSON.stringify(toJson(s.a.currentConfig, { secrets: true })), { mode: 0o600 });
    const sock = path.join(dir, 'a.sock');
    servers.push(await startApi(s.a, { socket: sock, configFile: file, log }));
    const { pid, done } = (() => {
      let pid = 0;
      const done = new Promise<{ code: number; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, [bin, 'config', 'set', '--socket', sock, '/mtu', '-'], { encoding: 'utf8' }, (err, _out, stderr) => resolve({ code: err ? 1 : 0, stderr }));
        pid = child.pid!;
        child.stdin!.end('1420');
      });
      return { pid, done };
    })();
    const r = await done;
    expect(r).toEqual({ code: 0, stderr: '' });
    const line = requested().at(-1)!;
    expect(line).toMatchObject({ request: expect.stringMatching(/^(PUT|PATCH) \/restconf\/data\/vitesse-gateway:gateway\/mtu/), peer: `unix uid=${process.getuid!()} pid=${pid}` });
  });

  itNeeding(['openssl'], 'names the client\'s address and port over TLS', async () => {
    const cert = path.join(dir, 'api.crt'), key = path.join(dir, 'api.key'), tokenFile = path.join(dir, 'token');
    const o = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    expect(o.status, o.stderr).toBe(0);
    const token = crypto.randomBytes(24).toString('hex');
    fs.writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
    const server = await startApi(s.a, { socket: null, configFile: null, log, tcp: { listen: '127.0.0.1:0', certFile: cert, keyFile: key, tokenFile } });
    servers.push(server);
    const client = new ApiClient({ url: `https://127.0.0.1:${server.tcpPort}`, token, ca: fs.readFileSync(cert) });
    await client.call('PUT', MTU, { 'vitesse-gateway:mtu': 1400 });
    expect(requested().at(-1)!.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(requested().at(-1)!.peer).not.toBe(`127.0.0.1:${server.tcpPort}`);
  });
});
