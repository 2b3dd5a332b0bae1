// diffConfig: which routes a change adds, removes or changes (the key manager
// keeps the SAs of the others), which global settings change, and the
// explicit SAs of data-plane mode.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { diffConfig, parseConfig, type GatewayConfig } from '../controlplane/config/index.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'configs', 'good');
const goodFiles = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const KEY2 = '3744654f9a6ea605168e6637d210179ee5fd7a24c46e2ae78610c172a4be68d0';
const KEY3 = '7e53f39046234b0fc1777c2978816fbb239001bf6191a75c6fa4ed4e099dc19e';

type G = Record<string, any>;
const load = (f: string): G => JSON.parse(fs.readFileSync(path.join(dir, `${f}.json`), 'utf8'))['vitesse-gateway:gateway'];
const config = (g: G): GatewayConfig => parseConfig({ 'vitesse-gateway:gateway': g });

/** The base (two-queues, plus a second route), and the same after `change`. */
function pair(change: (g: G) => void, base = 'two-queues'): [GatewayConfig, GatewayConfig] {
  const g = load(base);
  if (base === 'two-queues') {
    g.route.push({ id: 'site3', net: '10.3.0.0/16', gateway: [{ queue: 1, address: '203.0.113.1' }, { queue: 2, address: '203.0.113.2' }], spi: 1003, 'preshared-key': KEY2 });
  }
  const before = config(g);
  const h = structuredClone(g);
  change(h);
  return [before, config(h)];
}

describe('routes', () => {
  // A route with several peers (two-peers.json: site2 lists two, site3 one, site4 a psk route).
  it.each<[string, (g: G) => void]>([
    ['its second peer\'s address', (g) => { g.route[0].peer[1].endpoint[0].address = '198.51.100.3'; }],
    ['its second peer\'s key', (g) => { g.route[0].peer[1]['public-key'] = g.route[1].peer[0]['public-key']; }],
    ['a third peer', (g) => { g.route[0].peer.push({ 'public-key': g.route[1].peer[0]['public-key'], endpoint: [{ queue: 1, address: '198.51.100.4' }] }); }],
    ['one peer less', (g) => { g.route[0].peer.pop(); }],
  ])('a route with several peers whose %s changed is changed, the others are not', (_, change) => {
    const d = diffConfig(...pair(change, 'two-peers'));
    expect(d.routes).toEqual({ added: [], removed: [], changed: ['site2'], unchanged: ['site3', 'site4'] });
  });

  it('nothing changed: every route unchanged, the diff empty', () => {
    const d = diffConfig(...pair(() => {}));
    expect(d.empty).toBe(true);
    expect(d.routes).toEqual({ added: [], removed: [], changed: [], unchanged: ['site2', 'site3'] });
    expect(d.settings).toEqual([]);
    expect(d.mode).toBeNull();
  });

  it('an added and a removed route', () => {
    const d = diffConfig(...pair((g) => {
      g.route = g.route.filter((r: G) => r.id !== 'site3');
      g.route.push({ id: 'site4', net: '10.4.0.0/16', gateway: [{ queue: 1, address: '203.0.113.4' }, { queue: 2, address: '203.0.113.5' }], spi: 1004, 'preshared-key': KEY3 });
    }));
    expect(d.routes).toEqual({ added: ['site4'], removed: ['site3'], changed: [], unchanged: ['site2'] });
    expect(d.empty).toBe(false);
  });

  it.each<[string, (r: G) => void]>([
    ['net', (r) => { r.net = '10.3.0.0/24'; }],
    ['a gateway address', (r) => { r.gateway[1].address = '203.0.113.9'; }],
    ['spi', (r) => { r.spi = 1005; }],
    ['preshared-key', (r) => { r['preshared-key'] = KEY3; }],
    ['aead', (r) => { r.aead = 'aes-256-gcm-16-icv'; }],
  ])('a route whose %s changed is changed, the others are not', (_, change) => {
    const d = diffConfig(...pair((g) => change(g.route.find((r: G) => r.id === 'site3'))));
    expect(d.routes).toEqual({ added: [], removed: [], changed: ['site3'], unchanged: ['site2'] });
    expect(d.settings).toEqual([]);
  });

  it('order and spelling do not matter: reordered routes, the same addresses written otherwise', () => {
    const d = diffConfig(...pair((g) => {
      g.route.reverse();
      g.route[0].gateway.reverse();
      g.route[0]['preshared-key'] = g.route[0]['preshared-key'].toUpperCase();
      g.route[0].net = '10.3.0.0/16';
    }));
    expect(d.empty).toBe(true);
    const v6 = load('ipv6-outer');
    const w6 = structuredClone(v6);
    w6.route[0].gateway[0].address = '2001:DB8:2:0:0::1';
    expect(diffConfig(config(v6), config(w6)).empty).toBe(true);
  });

  it("a new public address for a queue changes the routes on that queue (their SAs are bound to it)", () => {
    const d = diffConfig(...pair((g) => { g['public-interface'].queue[1].address = '192.0.2.99'; }));
    expect(d.settings).toEqual(["public-interface/queue[id='2']/address"]);
    expect(d.routes.changed).toEqual(['site2', 'site3']);
  });

  it('a second queue changes every route (each gets a gateway for it)', () => {
    const [before, after] = pair((g) => {
      g.queues = 2;
      g['public-interface'].queue.push({ id: 2, address: '192.0.2.2' });
      g.route[0].gateway.push({ queue: 2, address: '198.51.100.2' });
    }, 'minimal');
    const d = diffConfig(before, after);
    expect(d.settings).toEqual(['queues', "public-interface/queue[id='2']/address"]);
    expect(d.routes).toEqual({ added: [], removed: [], changed: ['site2'], unchanged: [] });
  });
});

describe('global settings', () => {
  it.each<[string, (g: G) => void, string[]]>([
    ['mtu', (g) => { g.mtu = 1400; }, ['mtu']],
    ['tfc and replay-window', (g) => { g.tfc = true; g['replay-window'] = 2048; }, ['tfc', 'replay-window']],
    ['a default written out', (g) => { g['sa-ttl'] = 600; }, []],
    ['a default changed', (g) => { g['sa-ttl'] = 900; g['negotiation-ttl'] = 10; g['protocol-port'] = 4303; }, ['sa-ttl', 'negotiation-ttl', 'protocol-port']],
    ['a static next-hop MAC', (g) => { g['private-interface']['next-hop'].mac = '02:00:00:00:00:fe'; }, ['private-interface/next-hop/mac']],
    ['the private addresses', (g) => { g['private-interface'].address.push('fd00:1::1'); }, ['private-interface/address']],
    ['the public device and driver', (g) => { g['public-interface'].device = 'eth2'; g['public-interface'].driver = 'af-xdp'; }, ['public-interface/device', 'public-interface/driver']],
  ])('%s', (_, change, settings) => {
    const d = diffConfig(...pair(change));
    expect(d.settings).toEqual(settings);
    expect(d.routes.unchanged).toEqual(['site2', 'site3']);
    expect(d.empty).toBe(settings.length === 0);
  });
});

describe('data-plane mode', () => {
  it('a mode switch is reported', () => {
    const kmConfig = config(load('data-plane-keeps-route-keys'));
    const km = load('data-plane-keeps-route-keys');
    delete km['data-plane'];
    const d = diffConfig(config(km), kmConfig);
    expect(d.mode).toEqual({ from: 'key-manager', to: 'data-plane' });
    expect(d.inboundSas.added).toEqual([4097]);
    expect(d.outboundSas.added).toEqual([{ route: 'site2', queue: 1 }]);
    expect(d.routes.unchanged).toEqual(['site2']);
    expect(diffConfig(kmConfig, config(km)).mode).toEqual({ from: 'data-plane', to: 'key-manager' });
  });

  it('SAs added, removed and changed', () => {
    const [before, after] = pair((g) => {
      g['data-plane']['inbound-sa'][0].salt = '00000001';
      g['data-plane']['inbound-sa'].splice(1, 1);
      g['data-plane']['inbound-sa'].push({ route: 'site2', queue: 2, spi: 4099, aead: 'aes-gcm-16-icv', key: '0852a3692cfa7a41940fb9994f902ae2', salt: '10292e08' });
      g['data-plane']['outbound-sa'][1].key = '7ddfdbf3fdb17e8e5cdca93e627d69d7';
    }, 'data-plane-two-queues');
    const d = diffConfig(before, after);
    expect(d.inboundSas).toEqual({ added: [4099], removed: [4098], changed: [4097] });
    expect(d.outboundSas).toEqual({ added: [], removed: [], changed: [{ route: 'site2', queue: 2 }] });
    expect(d.mode).toBeNull();
    expect(d.routes.unchanged).toEqual(['site2']);
  });
});

describe('every good configuration', () => {
  const configs = goodFiles.map((f) => parseConfig(fs.readFileSync(path.join(dir, f), 'utf8')));

  it('is unchanged against itself', () => {
    for (const c of configs) expect(diffConfig(c, c).empty).toBe(true);
  });

  it('differs symmetrically from every other', () => {
    for (const a of configs) {
      for (const b of configs) {
        const ab = diffConfig(a, b);
        const ba = diffConfig(b, a);
        expect(ab.routes.added).toEqual(ba.routes.removed);
        expect([...ab.routes.changed].sort()).toEqual([...ba.routes.changed].sort());
        expect([...ab.settings].sort()).toEqual([...ba.settings].sort());
        expect(ab.empty).toBe(ba.empty);
      }
    }
  });
});
