// Issue 17, the N-API contract (docs/dataplane.md, "The N-API seam"): the
// product addon exports only what the product calls, the test and benchmark
// hooks live in the testkit addon, every caller goes through a typed wrapper,
// and every argument is checked by name (dataplane/util/napi_args.h).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Dataplane, wires, type GatewayOptions } from '../controlplane/dataplane.js';
import { addonPath, native, packageRoot } from '../controlplane/native.js';

const require = createRequire(import.meta.url);
// The product addon as the product loaded it (under test:asan the sanitized
// build, which the environment no longer names once the worker has started).
const product = native as Record<string, Record<string, unknown>>;
const testkit = require(addonPath('vitesse_testkit')) as Record<string, Record<string, unknown>>;

describe('the two addons', () => {
  it('the product addon has the gateway, the instance lock and the API peer\'s credentials, nothing for tests or benchmarks', () => {
    expect(Object.keys(product).sort()).toEqual(['gateway', 'instance', 'peer']);
    expect(Object.keys(product.gateway).sort()).toEqual(['Gateway', 'counterTable', 'createWire', 'destroyWire', 'wireReceive', 'wireSend']);
    expect(Object.keys(product.instance).sort()).toEqual(['ifindex', 'lock', 'netns', 'unlock']);
    expect(Object.keys(product.peer)).toEqual(['credentials']);
  });

  it('the testkit addon has the hooks (esp.setCounter), the OpenSSL comparison and softbench, and no gateway', () => {
    expect(Object.keys(testkit).sort()).toEqual(['ceiling', 'crypto', 'esp', 'io', 'route', 'softbench']);
    expect(typeof testkit.esp.setCounter).toBe('function');
    expect(typeof testkit.crypto.bench).toBe('function');
    expect(typeof testkit.softbench.run).toBe('function');
  });

  it('no test, benchmark or fuzz script reads an addon but through the typed wrappers', () => {
    const offenders: string[] = [];
    for (const dir of ['test', 'bench', 'fuzz']) {
      for (const f of fs.readdirSync(path.join(packageRoot, dir), { recursive: true }) as string[]) {
        if (!/\.(ts|mjs|js)$/.test(f) || f === 'addon-surface.test.ts') continue;
        const text = fs.readFileSync(path.join(packageRoot, dir, f), 'utf8');
        if (/import\s*\{[^}]*\bnative\b[^}]*\}\s*from/.test(text) || /\bnative\.(gateway|instance|esp|crypto|route|io)\b/.test(text)) offenders.push(`${dir}/${f}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('argument checks name the argument', () => {
  const wire = `surface-${process.pid}`;
  const options = (link: Record<string, unknown>): GatewayOptions => ({
    private: { mac: '02:00:00:00:00:01', link: { driver: 'memory', wire, end: 0 } },
    public: { mac: '02:00:00:00:00:02', addresses: ['192.0.2.1'], link: link as GatewayOptions['public']['link'] },
  });

  it('an unknown key in a link spec is a TypeError naming it, not ignored', () => {
    wires.create(wire, { ends: [{ queues: 1 }, { queues: 1 }] });
    try {
      expect(() => new Dataplane(options({ driver: 'memory', wire, end: 1, mtu: 1500 }))).toThrow(/public\.link: unknown key "mtu"/);
      expect(() => new Dataplane(options({ driver: 'af-packet', ifname: 'eth0', xdpmode: 'native' }))).toThrow(/public\.link: unknown key "xdpmode"/);
      expect(() => new Dataplane(options({ driver: 'af-packet', ifname: 'eth0', queues: 2 }))).toThrow(/public\.link\.queues: 2, but the gateway has 1 queue/);
      expect(() => new Dataplane(options({ driver: 'memory', wire, end: 2 }))).toThrow(/public\.link\.end: expected an integer in 0\.\.1/);
    } finally {
      wires.destroy(wire);
    }
  });

  it('numbers the gateway used to read unchecked are checked (the N-API itself, under the Dataplane wrapper)', () => {
    wires.create(wire, { ends: [{ queues: 1 }, { queues: 1 }] });
    const Gateway = product.gateway.Gateway as new (o: GatewayOptions) => Record<string, (...a: unknown[]) => unknown>;
    const gw = new Gateway(options({ driver: 'memory', wire, end: 1 }));
    try {
      expect(() => gw.removeInboundSa('1', 5)).toThrow(/queue: expected a number/);
      expect(() => gw.removeInboundSa(0, -1)).toThrow(/spi: expected an integer in 0\.\.4294967295/);
      expect(() => gw.inboundPackets(0.5, 1)).toThrow(/queue: expected an integer/);
      expect(() => gw.setMtu('big', false)).toThrow(/mtu: expected a number/);
      expect(() => gw.inject(0, 'private', 'transmit', ['x'])).toThrow(/frames\[0\]: expected a Buffer/);
      expect(() => gw.outboundDue(5)).toThrow(/margin: expected a bigint/);
      expect(() => gw.counters(-1)).toThrow(/queue: expected an integer/);
      expect(() => gw.setNextHop('inside', null)).toThrow(/side must be "private" or "public"/);
      expect(() => wires.send(wire, 2 as never, [])).toThrow(/end: expected an integer in 0\.\.1/);
    } finally {
      gw.close();
      wires.destroy(wire);
    }
  });
});
