// parseConfig / loadConfig / toJson: the typed result, every problem reported
// with its path, keys kept out of messages and out of toJson unless asked.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig, REDACTED, toJson } from '../controlplane/config/index.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'configs');
const goodFiles = fs.readdirSync(path.join(dir, 'good')).filter((f) => f.endsWith('.json')).sort();
const readGood = (f: string) => fs.readFileSync(path.join(dir, 'good', f), 'utf8');
const ROOT = '/vitesse-gateway:gateway';

type Doc = { 'vitesse-gateway:gateway': Record<string, any> };
const doc = (f: string): Doc => JSON.parse(readGood(`${f}.json`));

function problems(input: unknown): Array<{ path: string; reason: string }> {
  try {
    parseConfig(input);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

describe('the typed result', () => {
  it('decodes keys to Buffers of the right length and value', () => {
    const d = doc('data-plane-keeps-route-keys');
    const c = parseConfig(d);
    const g = d['vitesse-gateway:gateway'];
    expect(Buffer.isBuffer(c.routes[0].presharedKey)).toBe(true);
    expect(c.routes[0].presharedKey!.toString('hex')).toBe(g.route[0]['preshared-key'].toLowerCase());
    expect(c.routes[0].presharedKey!.length).toBe(32);
    const [inbound] = c.dataPlane!.inboundSas;
    expect(inbound.key.toString('hex')).toBe(g['data-plane']['inbound-sa'][0].key);
    expect(inbound.key.length).toBe(16);
    expect(inbound.salt.toString('hex')).toBe(g['data-plane']['inbound-sa'][0].salt);
    expect(c.dataPlane!.outboundSas[0].key.length).toBe(32);
  });

  it('writes addresses, prefixes and MACs in canonical form', () => {
    const c = parseConfig(doc('non-canonical-addresses'));
    expect(c.privateInterface.ipv6).toBe('fd00:1::1');
    expect(c.privateInterface.ipv4).toBe('10.1.0.1');
    expect(c.privateInterface.mac).toBe('02:ab:cd:ef:00:01');
    expect(c.publicInterface.queues[0].address).toBe('2001:db8:1::1');
    expect(c.publicInterface.nextHop.address).toBe('2001:db8:1::fe');
    expect(c.routes[0].net).toBe('fd00:2::/48');
    expect(c.routes[0].gateways[0].address).toBe('2001:db8:2::1');
  });

  it('orders queues and gateways by queue id', () => {
    const c = parseConfig(doc('four-queues'));
    expect(c.publicInterface.queues.map((q) => q.id)).toEqual([1, 2, 3, 4]);
    expect(c.publicInterface.queues.map((q) => q.address)).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']);
    expect(c.routes[0].gateways.map((g) => g.queue)).toEqual([1, 2, 3, 4]);
  });

  it('keeps driver-specific settings only for their driver', () => {
    const mem = parseConfig(doc('memory-driver'));
    expect(mem.privateInterface).toMatchObject({ driver: 'memory', wireEnd: 1, pcap: null });
    expect(mem.publicInterface).toMatchObject({ driver: 'memory', wireEnd: 0, pcap: null });
    const pcap = parseConfig(doc('pcap-driver'));
    expect(pcap.privateInterface.pcap).toEqual({ input: '/tmp/private-in.pcap', output: '/tmp/private-out.pcap' });
    expect(pcap.publicInterface.pcap).toEqual({ input: null, output: '/tmp/public-out.pcap' });
    const xdp = parseConfig(doc('af-xdp-without-macs'));
    expect(xdp.privateInterface).toMatchObject({ driver: 'af-xdp', mac: null, wireEnd: null, pcap: null });
  });

  it('tells the modes apart', () => {
    expect(parseConfig(doc('minimal')).dataPlane).toBeNull();
    expect(parseConfig(doc('data-plane-without-sas')).dataPlane).toEqual({ inboundSas: [], outboundSas: [] });
    const dp = parseConfig(doc('data-plane'));
    expect(dp.routes[0]).toMatchObject({ spi: null, presharedKey: null });
  });

  it('gives the same result for text and for the parsed value', () => {
    for (const f of goodFiles) expect(parseConfig(readGood(f))).toEqual(parseConfig(JSON.parse(readGood(f))));
  });
});

describe('problems', () => {
  it('are all reported, each with its own path, however many there are', () => {
    // Independent faults, each at a known path; any subset of them must come back exactly.
    const faults: Array<[string, (g: Record<string, any>) => void]> = [
      [`${ROOT}/mtu`, (g) => { g.mtu = 50; }],
      [`${ROOT}/tfc`, (g) => { g.tfc = 'no'; }],
      [`${ROOT}/protocol-port`, (g) => { g['protocol-port'] = 0; }],
      [`${ROOT}/private-interface/device`, (g) => { delete g['private-interface'].device; }],
      [`${ROOT}/private-interface/mac`, (g) => { g['private-interface'].mac = '02-00-00-00-00-01'; }],
      [`${ROOT}/public-interface/driver`, (g) => { g['public-interface'].driver = 'dpdk'; }],
      [`${ROOT}/public-interface/next-hop/mac`, (g) => { g['public-interface']['next-hop'].mac = 'fe'; }],
      [`${ROOT}/route[id='site2']/net`, (g) => { g.route[0].net = '10.2.0.0/99'; }],
      [`${ROOT}/route[id='site2']/aead`, (g) => { g.route[0].aead = 'aes-128-gcm'; }],
      [`${ROOT}/route[id='site2']/preshared-key`, (g) => { g.route[0]['preshared-key'] = 'secret'; }],
      [`${ROOT}/route[id='site2']/colour`, (g) => { g.route[0].colour = 'blue'; }],
    ];
    fc.assert(fc.property(fc.subarray(faults, { minLength: 1 }), (chosen) => {
      const d = doc('minimal');
      for (const [, apply] of chosen) apply(d['vitesse-gateway:gateway']);
      expect(problems(d).map((p) => p.path).sort()).toEqual(chosen.map(([p]) => p).sort());
    }), { numRuns: 60 });
  });

  it('name the file and every problem in the message', () => {
    const d = doc('minimal');
    d['vitesse-gateway:gateway'].mtu = 50;
    expect(() => parseConfig(d, { source: 'gw.json' })).toThrow(`gw.json: ${ROOT}/mtu: 50 is out of range 576..9216`);
    d['vitesse-gateway:gateway'].tfc = 1;
    expect(() => parseConfig(d, { source: 'gw.json' })).toThrow(
      `gw.json: 2 problems in the configuration:\n  ${ROOT}/mtu: 50 is out of range 576..9216\n  ${ROOT}/tfc: 1 is not a boolean (true or false)`,
    );
  });

  it('point at duplicate JSON members, inside list entries too', () => {
    const text = JSON.stringify(doc('two-queues'), null, 1)
      .replace('"id": 2,', '"id": 2,\n "address": "192.0.2.9",')
      .replace('"spi": 1001,', '"spi": 1001,\n "spi": 1002,');
    expect(problems(text)).toEqual([
      { path: `${ROOT}/public-interface/queue[id='2']/address`, reason: 'given twice (the last one would silently win)' },
      { path: `${ROOT}/route[id='site2']/spi`, reason: 'given twice (the last one would silently win)' },
    ]);
  });

  it('point at duplicate members under names Object.prototype has (own members only)', () => {
    for (const name of ['constructor', 'toString', '__proto__']) {
      const text = `{"vitesse-gateway:gateway": {"${name}": [{"a": 1, "a": 2}], "${name}x": {"${name}": 1, "${name}": 2}}}`;
      expect(problems(text), name).toEqual(expect.arrayContaining([
        { path: `${ROOT}/${name}[1]/a`, reason: 'given twice (the last one would silently win)' },
        { path: `${ROOT}/${name}x/${name}`, reason: 'given twice (the last one would silently win)' },
        { path: `${ROOT}/${name}`, reason: `unknown member (the model has no "${name}" here)` },
      ]));
    }
  });

  it('say where JSON syntax breaks', () => {
    expect(problems('{\n  "vitesse-gateway:gateway": {\n    "mtu": 1440 1\n  }\n}')).toEqual([
      { path: '/', reason: expect.stringMatching(/^not valid JSON: .*\(line 3, column 17\)$/) },
    ]);
  });

  it('are refused for values that are not JSON documents', () => {
    for (const v of [null, 42, 'x', [], [doc('minimal')]]) {
      const p = problems(typeof v === 'string' ? JSON.stringify(v) : v);
      expect(p.length).toBe(1);
      expect(p[0].path).toBe('/');
    }
  });

  it('are reported once for a container or list of the wrong JSON type', () => {
    const d = doc('minimal');
    const g = d['vitesse-gateway:gateway'];
    g['private-interface']['next-hop'] = '10.1.0.254';
    g['public-interface'].queue = { id: 1, address: '192.0.2.1' };
    g.route[0].gateway = [['198.51.100.1']];
    expect(problems(d)).toEqual([
      { path: `${ROOT}/private-interface/next-hop`, reason: '"10.1.0.254" is not an object' },
      { path: `${ROOT}/public-interface/queue`, reason: '{…} is not a list (a JSON array of objects)' },
      { path: `${ROOT}/route[id='site2']/gateway[1]`, reason: '[…] is not an object' },
    ]);
  });

  it('never quote a malformed key', () => {
    const secret = 'c0ffee'.repeat(10);
    const d = doc('data-plane-keeps-route-keys');
    const g = d['vitesse-gateway:gateway'];
    g.route[0]['preshared-key'] = secret;
    g['data-plane']['inbound-sa'][0].key = `${secret}zz`;
    g['data-plane']['inbound-sa'][0].salt = secret.slice(0, 7);
    const found = problems(d);
    expect(found.map((p) => p.path)).toEqual([
      `${ROOT}/route[id='site2']/preshared-key`,
      `${ROOT}/data-plane/inbound-sa[spi='4097']/key`,
      `${ROOT}/data-plane/inbound-sa[spi='4097']/salt`,
    ]);
    for (const p of found) expect(p.reason).not.toMatch(/c0ffee|c0ffe/);
  });
});

describe('loadConfig', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-config-'));

  it('reads a file', async () => {
    const file = path.join(tmp, 'ok.json');
    fs.writeFileSync(file, readGood('two-queues.json'));
    expect(await loadConfig(file)).toEqual(parseConfig(readGood('two-queues.json')));
  });

  it('names the file it cannot read or accept', async () => {
    const missing = path.join(tmp, 'missing.json');
    await expect(loadConfig(missing)).rejects.toThrow(new RegExp(`^${missing}: /: cannot read the file: ENOENT`));
    const file = path.join(tmp, 'bad.json');
    fs.writeFileSync(file, readGood('minimal.json').replace('"10.2.0.0/16"', '"10.2.0.0/33"'));
    const err = await loadConfig(file).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.source).toBe(file);
    expect(err.message).toBe(`${file}: ${ROOT}/route[id='site2']/net: "10.2.0.0/33" is not an IPv4 prefix`);
  });
});

describe('toJson', () => {
  it.each(goodFiles)('%s: gives back the same configuration (with secrets)', (f) => {
    const c = parseConfig(readGood(f));
    expect(parseConfig(toJson(c, { secrets: true }))).toEqual(c);
  });

  it.each(goodFiles)('%s: redacts every key unless asked', (f) => {
    const c = parseConfig(readGood(f));
    const text = JSON.stringify(toJson(c));
    const secrets = [
      ...c.routes.flatMap((r) => (r.presharedKey ? [r.presharedKey] : [])),
      ...[...(c.dataPlane?.inboundSas ?? []), ...(c.dataPlane?.outboundSas ?? [])].flatMap((s) => [s.key, s.salt]),
    ];
    for (const s of secrets) expect(text).not.toContain(s.toString('hex'));
    const redactions = text.split(JSON.stringify(REDACTED)).length - 1;
    expect(redactions).toBe(secrets.length);
  });

  it('writes every default', () => {
    const g = toJson(parseConfig(doc('minimal')))['vitesse-gateway:gateway'] as Record<string, unknown>;
    expect(g).toMatchObject({ queues: 1, mtu: 1440, tfc: false, 'sa-ttl': 600, 'negotiation-ttl': 5, 'protocol-port': 303, 'replay-window': 1024 });
  });
});
