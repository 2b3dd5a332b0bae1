// gNMI's route sampler (controlplane/gnmi/route-sample.ts) makes each
// route's gateway-state entry as JSON text from the data plane's counter
// columns: the text must be exactly JSON.stringify of the entry that
// RESTCONF and Get give (state.ts gatewayState), counters, SA counts, the
// removed SAs' counts, peer leaves and all. Checked on two real gateways on
// memory wires (key-manager mode: peer leaves, SA rollovers, traffic) and on
// a data-plane-mode gateway (explicit SAs, no peer state).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { wires } from '../controlplane/dataplane.js';
import { loadConfig } from '../controlplane/config/index.js';
import { Gateway } from '../controlplane/gateway.js';
import { gatewayState } from '../controlplane/state.js';
import { RouteSampler, routeNotification, routeProtoNotification } from '../controlplane/gnmi/route-sample.js';
import { encode, type Unit } from '../controlplane/gnmi/data.js';
import { gnmiTops } from '../controlplane/gnmi/schema.js';
import { gnmiService } from '../controlplane/gnmi/proto.js';
import { encodedPath, jsonNotification } from '../controlplane/gnmi/wire.js';
import { numbered, sleep, twoSites, until } from '../controlplane/demo/memory-two-sites.js';
import { generateConfig } from '../bench/config.js';

/** The sampler's text and gatewayState's entries, read back to back. */
function both(gw: Gateway, sampler = new RouteSampler(gw)) {
  const read = sampler.rows();
  const entries = (gatewayState(gw, 'route').route ?? []) as Array<Record<string, unknown>>;
  const rows = { ...read, json: read.ids.map((_, i) => read.json(i)) };
  // The notification written from the counters is jsonNotification's for the same text, byte for byte.
  const at = read.ids.map((_, i) => i).reverse();
  for (const [target, field] of [[undefined, 11], ['gw-a', 10]] as const) {
    const ts = 1_765_000_000_123_456_789n;
    const direct = routeNotification(ts, target, read, at, field);
    const viaText = jsonNotification(ts, target, at.map((i) => ({ path: encodedPath(read.keys[i], read.elems[i]), json: read.json(i) })), [], field);
    expect(direct.equals(viaText)).toBe(true);
  }
  // PROTO: encode's updates for the text-read units are those of gatewayState's objects; written from the counters, protobufjs's bytes.
  const node = gnmiTops().get('gateway-state')!.children.get('route')!;
  const asText: Unit[] = read.ids.map((_, i) => ({ elems: read.elems[i], key: read.keys[i], node, value: undefined, route: { rows: read, i } }));
  const asObjects: Unit[] = entries.map((e, i) => ({ elems: read.elems[i], key: read.keys[i], node, value: e }));
  const updates = encode(asObjects, 'PROTO');
  expect(encode(asText, 'PROTO')).toEqual(updates);
  const safe = at.filter((i) => read.protoSafe(i));
  if (safe.length === at.length) {
    const inOrder = [...at];
    const byRoute = new Map<number, typeof updates>();
    for (const u of updates) {
      const i = read.ids.indexOf(u.path.elem[1].key!.id as never);
      byRoute.set(i, [...(byRoute.get(i) ?? []), u]);
    }
    const all = inOrder.flatMap((i) => byRoute.get(i)!);
    for (const [from, to, target] of [[0, all.length, undefined], [3, Math.min(all.length, 13), 'gw-a']] as const) {
      const ts = 1_765_000_000_123_456_789n;
      const direct = routeProtoNotification(ts, target, read, inOrder, from, to);
      const viaProtobufjs = subscribe.responseSerialize({ update: { timestamp: String(ts), prefix: target ? { target } : undefined, update: all.slice(from, to), delete: [] } });
      expect(direct.equals(viaProtobufjs)).toBe(true);
    }
  }
  return { rows, expected: entries.map((e) => JSON.stringify(e)), protoSafe: safe.length };
}
const subscribe = gnmiService().Subscribe;

describe('gNMI route sampler', () => {
  it('gives the text of gatewayState\'s route entries: key-manager mode, traffic, SA rollovers', async () => {
    const s = twoSites({ saTtl: 4, negotiationTtl: 1 });
    try {
      s.a.start();
      s.b.start();
      await until(() => s.a.sas().some((x) => x.direction === 'outbound') && s.b.sas().some((x) => x.direction === 'outbound'), 10_000, 'outbound SAs');
      const first = new Set(s.a.sas().map((x) => x.spi));
      for (let n = 0; n < 20; n++) {
        s.sendA([numbered('a', n)]);
        s.sendB([numbered('b', n)]);
        await sleep(2);
      }
      // Rolled over: the first SAs are gone, their counts are the ledger's.
      await until(() => s.a.sas().length > 0 && s.a.sas().every((x) => !first.has(x.spi)), 15_000, 'SA rollover');
      for (let n = 20; n < 30; n++) {
        s.sendA([numbered('a', n)]);
        await sleep(2);
      }
      await sleep(100);
      const { rows, expected } = both(s.a);
      expect(expected.length).toBeGreaterThan(0);
      expect(rows.json).toEqual(expected);
      const entry = JSON.parse(rows.json[0]);
      expect(Number(entry['outbound-packets'])).toBeGreaterThanOrEqual(30);
      expect(entry).toHaveProperty('peer-up');
      expect(rows.keys).toEqual(expected.map((e) => `/gateway-state/route[id=${JSON.parse(e).id}]`));
      expect(rows.elems[0]).toEqual([{ name: 'gateway-state' }, { name: 'route', key: { id: entry.id } }]);
    } finally {
      s.close();
    }
  }, 40_000);

  it('gives the text of gatewayState\'s route entries: data-plane mode, and follows a new configuration', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-route-sample-'));
    const id = `${process.pid}-${crypto.randomBytes(2).toString('hex')}`;
    const privateWire = `rsample-priv-${id}`, publicWire = `rsample-pub-${id}`;
    wires.create(privateWire, { ends: [{ queues: 1 }, { queues: 1 }] });
    wires.create(publicWire, { ends: [{ queues: 1 }, { queues: 1 }] });
    let gw: Gateway | null = null;
    try {
      const file = path.join(dir, 'gateway.json');
      fs.writeFileSync(file, JSON.stringify(generateConfig(5, { dataPlane: true, privateWire, publicWire })), { mode: 0o600 });
      gw = new Gateway(await loadConfig(file), { logger: pino({ level: 'silent' }) });
      const sampler = new RouteSampler(gw);
      const { rows, expected, protoSafe } = both(gw, sampler);
      expect(expected).toHaveLength(5);
      expect(protoSafe).toBe(5);
      expect(rows.json).toEqual(expected);
      expect(JSON.parse(expected[0])).toMatchObject({ 'inbound-sas': 1, 'outbound-sas': 1 });
      fs.writeFileSync(file, JSON.stringify(generateConfig(3, { dataPlane: true, privateWire, publicWire })), { mode: 0o600 });
      gw.apply(await loadConfig(file));
      const after = both(gw, sampler);
      expect(after.expected).toHaveLength(3);
      expect(after.rows.json).toEqual(after.expected);
      expect(after.rows.ids).toEqual(['r0', 'r1', 'r2']);
    } finally {
      gw?.close();
      wires.destroy(privateWire);
      wires.destroy(publicWire);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
