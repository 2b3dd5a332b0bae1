// Large configurations: loading one and changing one route of it through the
// API take work in proportion to the routes (issue 10: 20,000 routes took 41 s
// to load and every change to 5,000 routes blocked the event loop 7–11 s,
// because each pre-shared key was searched for among all those seen before
// and each edited entry among all the running ones). The work is counted
// (test/support/work-counter.ts), not timed: at four times the routes a linear
// step does four times the work, a quadratic one sixteen times.
// `vitesse bench config` gives the times (docs/operations.md, "Scale").
import crypto from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { generateConfig } from '../bench/config.js';
import { ConfigChanger } from '../controlplane/api/change.js';
import { merge, restoreSecrets } from '../controlplane/api/edit.js';
import { parseDataPath, type Json } from '../controlplane/api/path.js';
import { withoutAccepted } from '../controlplane/config/accepted.js';
import { checkWithYangJs } from '../controlplane/config/model.js';
import { ConfigError, parseConfig, REDACTED, toJson } from '../controlplane/config/index.js';
import { wires } from '../controlplane/dataplane.js';
import { Gateway, keyManagerConfig } from '../controlplane/gateway.js';
import { RouteId } from '../controlplane/exchange/types.js';
import { KeyManager } from '../controlplane/keymanager.js';
import { FakeClock, RecordingSink } from './keymanager-harness.js';
import { countWork } from './support/work-counter.js';

const TOP = 'vitesse-gateway:gateway';
const ROOT = `/${TOP}`;
const log = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });
const N = 500;
// Linear work grows 4× from N to 4N; a step that compares every entry with
// every other grows 16×. The margin allows for what does not grow at all.
const LINEAR = 4 * 1.25;

type Doc = { [TOP]: Record<string, any> };
const generated = (routes: number, dataPlane = false) => generateConfig(routes, { dataPlane, privateWire: 'scale-priv', publicWire: 'scale-pub' }) as Doc;

function problems(input: unknown): Array<{ path: string; reason: string }> {
  try {
    parseConfig(input);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('the configuration was accepted');
}

describe('loading grows linearly with the routes', () => {
  for (const dataPlane of [false, true]) {
    it(`parseConfig, ${dataPlane ? 'explicit SAs' : 'key exchange'}: 4× the routes, at most ${LINEAR}× the work`, async () => {
      const small = await countWork(() => parseConfig(generated(N, dataPlane)));
      const large = await countWork(() => parseConfig(generated(4 * N, dataPlane)));
      expect(small.result.routes).toHaveLength(N);
      expect(large.result.routes).toHaveLength(4 * N);
      expect(small.work).toBeGreaterThan(0);
      expect(large.work / small.work).toBeLessThan(LINEAR);
    });
  }
});

describe('the API edits grow linearly with the routes', () => {
  it('restoreSecrets (a whole configuration sent back with "<redacted>" keys) keeps every key', async () => {
    const run = async (routes: number) => {
      const current = toJson(parseConfig(generated(routes)), { secrets: true })[TOP] as Json;
      const shown = toJson(parseConfig({ [TOP]: current }))[TOP] as Json; // keys "<redacted>", as GET shows them
      const r = await countWork(() => restoreSecrets(shown, current));
      expect(shown).toEqual(current);
      return r.work;
    };
    const small = await run(N);
    expect((await run(4 * N)) / small).toBeLessThan(LINEAR);
  });

  it('a PATCH of the whole route list merges entry by entry', async () => {
    const run = async (routes: number) => {
      const current = generated(routes)[TOP] as Json;
      const body = { 'vitesse-gateway:route': (current.route as Json[]).map((r) => ({ id: r.id, aead: 'aes-256-gcm-16-icv' })) };
      const r = await countWork(() => merge(structuredClone(current), parseDataPath(`${ROOT}/route`)!, body));
      const merged = r.result.route as Json[];
      expect(merged).toHaveLength(routes);
      expect(merged.every((e, i) => e.aead === 'aes-256-gcm-16-icv' && e['preshared-key'] === (current.route as Json[])[i]['preshared-key'])).toBe(true);
      return r.work;
    };
    const small = await run(N);
    expect((await run(4 * N)) / small).toBeLessThan(LINEAR);
  });
});

describe('a one-route change through the API grows linearly with the routes', () => {
  const made: string[] = [];
  afterEach(() => {
    for (const w of made.splice(0)) wires.destroy(w);
  });

  /** Work of changing one route's key through ConfigChanger on a gateway (memory driver) with `routes` routes. */
  async function changeWork(routes: number): Promise<number> {
    const id = `${process.pid}-${crypto.randomBytes(2).toString('hex')}`;
    const [priv, pub] = [`scale-priv-${id}`, `scale-pub-${id}`];
    for (const w of [priv, pub]) {
      wires.create(w, { ends: [{ queues: 1 }, { queues: 1 }] });
      made.push(w);
    }
    const config = parseConfig(generateConfig(routes, { dataPlane: false, privateWire: priv, publicWire: pub }));
    const gw = new Gateway(config, { logger: log });
    try {
      const changer = new ConfigChanger(gw, log, null);
      const route = `r${Math.floor(routes / 2)}`;
      const key = crypto.randomBytes(32).toString('hex');
      const path = parseDataPath(`${ROOT}/route=${route}`)!;
      const r = await countWork(() => changer.change({ request: 'PATCH', peer: 'test' }, (doc) => ({ doc: merge(doc, path, { 'vitesse-gateway:route': [{ id: route, 'preshared-key': key }] }), result: null })));
      expect(r.result.diff.routes.changed).toEqual([route]);
      expect(gw.currentConfig.routes.find((x) => x.id === route)!.presharedKey!.toString('hex')).toBe(key);
      return r.work;
    } finally {
      gw.close();
    }
  }

  it(`4× the routes, at most ${LINEAR}× the work`, async () => {
    const small = await changeWork(N);
    expect((await changeWork(4 * N)) / small).toBeLessThan(LINEAR);
  });

  it('changes after the first, which reuse what the last one read, refuse what a full check refuses', async () => {
    const id = `${process.pid}-${crypto.randomBytes(2).toString('hex')}`;
    const [priv, pub] = [`scale-priv-${id}`, `scale-pub-${id}`];
    for (const w of [priv, pub]) {
      wires.create(w, { ends: [{ queues: 1 }, { queues: 1 }] });
      made.push(w);
    }
    const gw = new Gateway(parseConfig(generateConfig(50, { dataPlane: false, privateWire: priv, publicWire: pub })), { logger: log });
    try {
      const changer = new ConfigChanger(gw, log, null);
      const patch = (route: string, leaves: Json) => changer.change({ request: 'PATCH', peer: 'test' }, (doc) => ({
        doc: merge(doc, parseDataPath(`${ROOT}/route=${route}`)!, { 'vitesse-gateway:route': [{ id: route, ...leaves }] }),
        result: null,
      }));
      await patch('r1', { 'preshared-key': crypto.randomBytes(32).toString('hex') });
      await patch('r2', { net: '10.200.0.0/24' });
      const key = (r: string) => gw.currentConfig.routes.find((x) => x.id === r)!.presharedKey!.toString('hex');
      // r7 takes r3's key, r8 r2's new net: both unchanged since the last change.
      const refused = await patch('r7', { 'preshared-key': key('r3').toUpperCase() }).then(() => null, (e: unknown) => e as { errors: Array<Record<string, string>> });
      expect(refused?.errors).toEqual([expect.objectContaining({ 'error-path': `${ROOT}/route[id='r7']/preshared-key`, 'error-message': 'is the same as route "r3"\'s (every route needs its own key)' })]);
      const refusedNet = await patch('r8', { net: '10.200.0.0/24' }).then(() => null, (e: unknown) => e as { errors: Array<Record<string, string>> });
      expect(refusedNet?.errors).toEqual([expect.objectContaining({ 'error-path': `${ROOT}/route[id='r8']/net`, 'error-message': '"10.200.0.0/24" is also route "r2"\'s net' })]);
      // Rules a route passed are read again when what they depend on changes: our public address.
      const own = gw.currentConfig.routes[4].gateways[0].address;
      const refusedOwn = await changer.change({ request: 'PATCH', peer: 'test' }, (doc) => ({
        doc: merge(doc, parseDataPath(`${ROOT}/public-interface/queue=1`)!, { 'vitesse-gateway:queue': [{ id: 1, address: own }] }),
        result: null,
      })).then(() => null, (e: unknown) => e as { errors: Array<Record<string, string>> });
      expect(refusedOwn?.errors).toEqual([expect.objectContaining({ 'error-path': `${ROOT}/route[id='r4']/gateway[queue='1']/address`, 'error-message': `"${own}" is our own public address (queue 1), not a remote gateway's` })]);
      // The data plane's route table is rebuilt only when a net, a gateway or the routes' order changes.
      const dataplane = (gw as unknown as { dataplane: { setRoutes: (r: unknown[]) => void } }).dataplane;
      const tables: unknown[][] = [];
      const setRoutes = dataplane.setRoutes.bind(dataplane);
      dataplane.setRoutes = (r) => {
        tables.push(r);
        setRoutes(r);
      };
      await patch('r9', { 'preshared-key': crypto.randomBytes(32).toString('hex') });
      expect(tables).toHaveLength(0);
      await patch('r9', { net: '10.201.0.0/24' });
      expect(tables).toHaveLength(1);
      expect(tables[0]).toHaveLength(50);
      expect(tables[0][9]).toEqual({ id: 'r9', net: '10.201.0.0/24', gateways: [gw.currentConfig.routes[9].gateways[0].address] });
      // What runs is what a full check of the same document gives.
      expect(gw.currentConfig).toEqual(parseConfig(toJson(gw.currentConfig, { secrets: true })));
      expect(gw.currentConfig.routes.find((x) => x.id === 'r2')!.net).toBe('10.200.0.0/24');
    } finally {
      gw.close();
    }
  });
});

describe('the key manager compiles again only the routes a change names', () => {
  const withKey = (doc: Doc, i: number, key: string) => {
    const d = structuredClone(doc);
    d[TOP].route[i]['preshared-key'] = key;
    return parseConfig(d);
  };
  const keyManager = (routes: number) => {
    const doc = generated(routes);
    const clock = new FakeClock();
    const km = new KeyManager(keyManagerConfig(parseConfig(doc)), { sink: new RecordingSink(clock), transport: { send: () => undefined }, clock, logger: log });
    return { doc, km };
  };
  // Exchanges compared with their running state (sameExchange compares addresses with Buffer.equals).
  async function configureWork(routes: number, named: boolean): Promise<number> {
    const { doc, km } = keyManager(routes);
    try {
      const i = Math.floor(routes / 2);
      const next = keyManagerConfig(withKey(doc, i, crypto.randomBytes(32).toString('hex')));
      const before = km.state();
      const r = await countWork(() => km.configure(next, named ? [RouteId(`r${i}`)] : undefined));
      expect(km.state()).toHaveLength(routes);
      expect(km.state().map((s) => s.route)).toEqual(before.map((s) => s.route));
      return r.work;
    } finally {
      km.close();
    }
  }

  it('a one-route change costs the same work at 4× the routes (no route it does not name is compared)', async () => {
    const small = await configureWork(N, true);
    const large = await configureWork(4 * N, true);
    expect(small).toBeGreaterThan(0); // the named route is compared
    expect(large).toBe(small);
    // Without the names every route is compared: the count sees it.
    expect(await configureWork(N, false)).toBeGreaterThanOrEqual(N);
  });

  it('unnamed routes keep their exchanges; named ones are changed, removed and added in the configuration\'s order', () => {
    const { doc, km } = keyManager(20);
    try {
      type Running = { exchanges: Map<string, { params: { route: string; routeSpi: number; psk: Buffer } }> };
      const of = (route: string) => [...(km as unknown as Running).exchanges.values()].find((e) => e.params.route === route);
      const kept = of('r1')!;
      const d = structuredClone(doc);
      const routes = d[TOP].route;
      routes[3]['preshared-key'] = crypto.randomBytes(32).toString('hex');
      routes[5].spi = 99_999;
      const added = (id: string, i: number) => ({ ...routes[0], id, net: `10.99.${i}.0/24`, spi: 50_000 + i, 'preshared-key': crypto.randomBytes(32).toString('hex') });
      routes.splice(10, 1, added('middle', 1)); // r10 removed, another added in its place
      routes.push(added('last', 2));
      km.configure(keyManagerConfig(parseConfig(d)), ['r3', 'r5', 'r10', 'middle', 'last'].map(RouteId));
      expect(of('r1')).toBe(kept);
      expect(of('r3')!.params.psk.toString('hex')).toBe(routes[3]['preshared-key']);
      expect(of('r5')!.params.routeSpi).toBe(99_999);
      expect(of('r10')).toBeUndefined();
      expect(km.state().map((s) => s.route)).toEqual(routes.map((r: Json) => r.id));
      // An invalid configuration changes nothing, and leaves the running keys intact.
      const bad = keyManagerConfig(parseConfig(d));
      bad.routes[7] = { ...bad.routes[7], spi: bad.routes[8].spi };
      expect(() => km.configure(bad, [RouteId('r7')])).toThrow(`/routes/route[id=r7]/spi: ${bad.routes[8].spi} is already the SPI of route "r8"`);
      expect(of('r1')).toBe(kept);
      expect(of('r7')!.params.routeSpi).toBe(routes[7].spi);
      expect(kept.params.psk.equals(Buffer.from(doc[TOP].route[1]['preshared-key'], 'hex'))).toBe(true);
    } finally {
      km.close();
    }
  });
});

describe('repeated values are still found in large configurations, with the same messages', () => {
  const ROUTES = 2000;
  const route = (id: string) => `${ROOT}/route[id='${id}']`;

  it('a repeated pre-shared key (in another case), SPI, net and route id', () => {
    const d = generated(ROUTES);
    const routes = d[TOP].route;
    routes[1500]['preshared-key'] = routes[10]['preshared-key'].toUpperCase();
    routes[1600].spi = routes[20].spi;
    routes[1700].net = routes[30].net;
    routes[1800] = { ...routes[40], net: '10.250.0.0/24', spi: 99999, 'preshared-key': crypto.randomBytes(32).toString('hex') };
    expect(problems(d)).toEqual([
      { path: `${ROOT}/route[id='r40']`, reason: 'listed twice (route ids are unique)' },
      { path: `${route('r1500')}/preshared-key`, reason: 'is the same as route "r10"\'s (every route needs its own key)' },
      { path: `${route('r1600')}/spi`, reason: `${routes[20].spi} is also route "r20"'s spi` },
      { path: `${route('r1700')}/net`, reason: `"${routes[30].net}" is also route "r30"'s net` },
    ]);
  });

  it('an SA key used twice, inbound and outbound', () => {
    const d = generated(ROUTES, true);
    const sas = d[TOP]['data-plane'];
    sas['outbound-sa'][1900].key = sas['inbound-sa'][5].key;
    expect(problems(d)).toEqual([
      {
        path: `${ROOT}/data-plane/outbound-sa[route='r1900'][queue='1']/key`,
        reason: `is the same key as inbound-sa[spi='${sas['inbound-sa'][5].spi}']'s: AES-GCM would repeat nonces (every SA's sequence numbers start at 1); every SA needs its own key`,
      },
    ]);
  });
});

describe('the model judges again only what a change changes', () => {
  it('leaves out list entries equal to the accepted ones, under the same keys', () => {
    const accepted = generated(4, true);
    const doc = structuredClone(accepted);
    const g = doc[TOP];
    g.route[1].net = '10.99.0.0/24'; // changed
    g.route.push({ ...g.route[3], id: 'new' }); // added
    g['data-plane']['outbound-sa'][2].key = REDACTED; // changed
    const reduced = withoutAccepted(doc, accepted) as Doc;
    expect(reduced[TOP].route.map((r: Json) => r.id)).toEqual(['r1', 'new']);
    expect(reduced[TOP]['data-plane']).toEqual({ 'outbound-sa': [g['data-plane']['outbound-sa'][2]] });
    // Everything else is judged as it is, and neither document is modified.
    expect({ ...reduced[TOP], route: undefined, 'data-plane': undefined }).toEqual({ ...g, route: undefined, 'data-plane': undefined });
    expect(g.route).toHaveLength(5);
    expect(withoutAccepted(accepted, accepted)).not.toBe(accepted);
    expect(withoutAccepted(doc, {})).toBe(doc);
    // Entries that moved (one inserted before them, one removed) are found by their keys.
    const moved = structuredClone(accepted);
    moved[TOP].route.unshift({ ...moved[TOP].route[0], id: 'first' });
    moved[TOP].route.splice(2, 1);
    expect((withoutAccepted(moved, accepted) as Doc)[TOP].route.map((r: Json) => r.id)).toEqual(['first']);
  });

  it('a changed entry the model refuses is still refused, with its path', () => {
    const accepted = generated(3);
    const doc = structuredClone(accepted);
    doc[TOP].route[2].aead = 'rot13';
    const problem = checkWithYangJs(doc, accepted);
    expect(problem?.reason).toMatch(/^refused by the model \(yang-js\).*rot13/);
    expect(problem).toEqual(checkWithYangJs(doc)); // as if every entry were judged
    expect(checkWithYangJs(accepted, accepted)).toBeNull();
  });
});

describe('repeated members are found in the text as before', () => {
  it('names written with escapes, after string values that end in escaped quotes and backslashes', () => {
    const text = JSON.stringify(generated(2))
      .replace(`"${TOP}":{`, `"${TOP}":{"m\\u0074u":1400,"x":"a\\"b\\\\","mtu":1500,`)
      .replace('"id":"r1"', '"id":"r1","i\\u0064":"r1"');
    expect(problems(text)).toEqual([
      { path: `${ROOT}/mtu`, reason: 'given twice (the last one would silently win)' },
      { path: `${ROOT}/route[id='r1']/id`, reason: 'given twice (the last one would silently win)' },
      { path: `${ROOT}/x`, reason: 'unknown member (the model has no "x" here)' },
    ]);
  });
});
