// Public-key routes through the real data plane, slow path and key manager
// (two gateways on in-memory wires, controlplane/demo/memory-two-sites.ts):
// datagrams cross both ways; a change whose key file is unusable (open to
// others, missing) is refused with its path and reason and the gateway keeps
// its SAs and traffic; a changed psk file at both ends renegotiates the
// route; no key material reaches the logs at debug level.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, toJson } from '../controlplane/config/index.js';
import { numbered, numberOf, twoSites, until, type PeerKeys, type TwoSites } from '../controlplane/demo/memory-two-sites.js';
import { generateKeyPair } from '../controlplane/exchange/primitives.js';
import { ApiClient, ApiRefused } from '../controlplane/api/client.js';
import { startApi } from '../controlplane/api/server.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-gw-pk-'));
let sites: TwoSites | null = null;
afterAll(() => {
  sites?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Everything both gateways log, at debug level.
let logged = '';
const logger = pino({ level: 'debug' }, new Writable({ write(chunk, _e, done) { logged += chunk; done(); } }));

function keyFile(name: string, text: string, mode = 0o600): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text, { mode });
  fs.chmodSync(f, mode);
  return f;
}

function gatewayKeys(side: string, pskFile: string): PeerKeys & { secret: string } {
  const kp = generateKeyPair();
  const secret = Buffer.from(kp.privateKey.export({ format: 'jwk' }).d!, 'base64url').toString('base64');
  return { privateKeyFile: keyFile(`${side}.key`, `${secret}\n`), publicKey: kp.publicKey.toString('base64'), presharedKeyFile: pskFile, secret };
}

describe('public-key routes on the real data plane (memory wires)', () => {
  const psk = crypto.randomBytes(32).toString('hex');
  const a = gatewayKeys('a', keyFile('a.psk', psk));
  const b = gatewayKeys('b', keyFile('b.psk', psk));

  const crosses = async (s: TwoSites, n: number) => {
    s.receiveA();
    s.receiveB();
    const got = { a: new Set<number>(), b: new Set<number>() };
    await until(() => {
      s.sendA([numbered('a', n)]);
      s.sendB([numbered('b', n)]);
      for (const f of s.receiveB()) got.b.add(numberOf(f));
      for (const f of s.receiveA()) got.a.add(numberOf(f));
      return got.a.has(n) && got.b.has(n);
    }, 10_000, `datagram ${n} both ways`);
  };

  it('datagrams cross both ways, and the state names each peer', async () => {
    sites = twoSites({ publicKeys: { a, b }, logger, saTtl: 600, negotiationTtl: 2 });
    sites.a.start();
    sites.b.start();
    await crosses(sites, 1);
    expect(sites.a.keymanager!.counters.rxerrors + sites.b.keymanager!.counters.rxerrors).toBe(0);
    expect(sites.a.currentConfig.routes[0].peer!.publicKey.toString('base64')).toBe(b.publicKey);
  });

  it('a change with an unusable psk file is refused and changes nothing; a new psk at both ends renegotiates', async () => {
    const s = sites!;
    const route = (gw: 'a' | 'b') => (gw === 'a' ? s.a : s.b).keymanager!.state()[0];
    const outboundBefore = route('a').outbound;
    const edited = (gw: 'a' | 'b', file: string) => {
      const json = toJson((gw === 'a' ? s.a : s.b).currentConfig) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      json['vitesse-gateway:gateway'].route[0].peer[0]['preshared-key-file'] = file;
      return parseConfig(json);
    };
    const open = keyFile('open.psk', crypto.randomBytes(32).toString('hex'), 0o644);
    expect(() => s.a.apply(edited('a', open))).toThrow(/route\[id='site-b'\]\/peer\/preshared-key-file: .*open\.psk" is accessible to its group or others \(mode 0644\).*chmod 600/);
    expect(() => s.a.apply(edited('a', path.join(dir, 'missing.psk')))).toThrow(/preshared-key-file: cannot read .*ENOENT/);
    // Nothing changed: same configuration, same SA, traffic flows.
    expect(s.a.currentConfig.routes[0].peer!.presharedKeyFile).toBe(a.presharedKeyFile);
    expect(route('a').outbound).toBe(outboundBefore);
    await crosses(s, 2);

    // A new psk, at both ends: the route renegotiates and traffic flows on new SAs.
    const fresh = crypto.randomBytes(32).toString('hex');
    s.a.apply(edited('a', keyFile('a2.psk', fresh)));
    s.b.apply(edited('b', keyFile('b2.psk', fresh)));
    await crosses(s, 3);
    expect(route('a').outbound).not.toBe(outboundBefore);
  });

  it('through the API: a peer\'s psk file changed, refused when others may read it; no key material returned', async () => {
    const s = sites!;
    const configFile = path.join(dir, 'a.json');
    fs.writeFileSync(configFile, JSON.stringify(toJson(s.a.currentConfig)));
    const api = await startApi(s.a, { socket: path.join(dir, 'a.sock'), configFile, log: logger });
    try {
      const client = new ApiClient({ socket: api.socket! });
      const leaf = `/restconf/data/vitesse-gateway:gateway/route=site-b/peer=${encodeURIComponent(b.publicKey)}/preshared-key-file`;
      const open = keyFile('open2.psk', crypto.randomBytes(32).toString('hex'), 0o640);
      const refused = await client.call('PUT', leaf, { 'vitesse-gateway:preshared-key-file': open }).then(() => null, (e) => e);
      expect(refused).toBeInstanceOf(ApiRefused);
      expect(String(refused)).toMatch(/open2\.psk" is accessible to its group or others \(mode 0640\)/);
      expect((await client.get(leaf)) as object).toEqual({ 'vitesse-gateway:preshared-key-file': path.join(dir, 'a2.psk') });
      // Everything the API returns: public keys and file names, no key.
      const all = JSON.stringify(await client.get('/restconf/data'));
      expect(all).toContain(b.publicKey);
      for (const f of fs.readdirSync(dir).filter((n) => /\.(psk|key)$/.test(n))) {
        expect(all).not.toContain(fs.readFileSync(path.join(dir, f), 'utf8').trim());
      }
    } finally {
      await api.close();
    }
  });

  it('no key material in the logs (debug level)', () => {
    expect(logged).toContain('SA pair negotiated');
    for (const secret of [a.secret, b.secret, psk]) expect(logged).not.toContain(secret);
  });
});
