// RESTCONF paths and the JSON edits behind PUT, PATCH, POST and DELETE, on
// documents alone (no gateway), and the API's table of lists checked against
// the YANG model so the two cannot drift apart.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { modelFile } from '../controlplane/config/index.js';
import { create, merge, put, remove, restoreSecrets } from '../controlplane/api/edit.js';
import { RestconfError } from '../controlplane/api/errors.js';
import { dataUri, instancePath, parseDataPath, type Json } from '../controlplane/api/path.js';
import { LEAF_LISTS, LISTS, SECRET_LEAVES } from '../controlplane/api/schema.js';

/** Lists, leaf-lists and leaves of the model with their schema paths (groupings expanded). */
function modelNodes(): { lists: Map<string, string[]>; leafLists: Set<string>; leaves: Set<string> } {
  const text = fs.readFileSync(modelFile(), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/"(?:[^"\\]|\\.)*"|'[^']*'/g, '""');
  // Statements as a tree: keyword, argument, children.
  interface Stmt { keyword: string; arg: string; children: Stmt[] }
  const tokens = text.match(/[{};]|[^\s{};]+/g)!;
  let i = 0;
  const block = (): Stmt[] => {
    const out: Stmt[] = [];
    while (i < tokens.length && tokens[i] !== '}') {
      const words: string[] = [];
      while (tokens[i] !== ';' && tokens[i] !== '{') words.push(tokens[i++]);
      const s: Stmt = { keyword: words[0], arg: words.slice(1).join(' '), children: [] };
      if (tokens[i++] === '{') { s.children = block(); i++; }
      out.push(s);
    }
    return out;
  };
  const module = block()[0];
  const groupings = new Map<string, Stmt>();
  const collect = (stmts: Stmt[]) => { for (const s of stmts) { if (s.keyword === 'grouping') groupings.set(s.arg, s); collect(s.children); } };
  collect(module.children);
  // Keys were blanked with the strings: read them from the original text by list name.
  const raw = fs.readFileSync(modelFile(), 'utf8');
  const keyText = new Map<string, string[]>();
  for (const m of raw.matchAll(/list\s+([\w-]+)\s*\{\s*key\s+"([^"]+)"/g)) keyText.set(m[1], m[2].split(/\s+/));
  const lists = new Map<string, string[]>(), leafLists = new Set<string>(), leaves = new Set<string>();
  const walk = (stmts: Stmt[], path: string) => {
    for (const s of stmts) {
      const p = path ? `${path}/${s.arg}` : s.arg;
      if (s.keyword === 'uses') walk(groupings.get(s.arg)!.children, path);
      else if (s.keyword === 'container') walk(s.children, p);
      else if (s.keyword === 'list') { lists.set(p, keyText.get(s.arg)!); walk(s.children, p); }
      else if (s.keyword === 'leaf-list') leafLists.add(p);
      else if (s.keyword === 'leaf') leaves.add(p);
    }
  };
  walk(module.children.filter((s) => s.keyword === 'container'), '');
  return { lists, leafLists, leaves };
}

describe('the API\'s schema table', () => {
  it('names every list of the model with its keys, and every leaf-list', () => {
    const model = modelNodes();
    const ours = new Map<string, string[]>();
    for (const top of ['gateway', 'gateway-state'] as const) {
      for (const [p, l] of Object.entries(LISTS[top])) ours.set(`${top}/${p}`, [...l.keys]);
    }
    expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(model.lists));
    expect([...LEAF_LISTS.gateway].map((p) => `gateway/${p}`)).toEqual([...model.leafLists]);
    for (const p of SECRET_LEAVES) expect(model.leaves.has(`gateway/${p}`)).toBe(true);
  });
});

describe('RESTCONF paths', () => {
  it('parses module-qualified names, keys in order, percent-encoding', () => {
    const p = parseDataPath('/vitesse-gateway:gateway/data-plane/outbound-sa=site%2Cb,2/key')!;
    expect(p).toEqual({ top: 'gateway', segments: [{ name: 'data-plane', keys: null }, { name: 'outbound-sa', keys: ['site,b', '2'] }, { name: 'key', keys: null }] });
    expect(instancePath(p)).toBe("/vitesse-gateway:gateway/data-plane/outbound-sa[route='site,b'][queue='2']/key");
    expect(dataUri(p)).toBe('/restconf/data/vitesse-gateway:gateway/data-plane/outbound-sa=site%2Cb,2/key');
    expect(parseDataPath('/vitesse-gateway:gateway/vitesse-gateway:route=x')!.segments).toEqual([{ name: 'route', keys: ['x'] }]);
    expect(parseDataPath('/vitesse-gateway:gateway-state/neighbour=public,2001:db8::1')!.segments[0].keys).toEqual(['public', '2001:db8::1']);
    expect(parseDataPath('/')).toBeNull();
    expect(parseDataPath('')).toBeNull();
    expect(instancePath(parseDataPath('/vitesse-gateway:gateway/private-interface/address=10.1.0.1')!)).toBe("/vitesse-gateway:gateway/private-interface/address[.='10.1.0.1']");
  });

  it('refuses what is not a path of this module', () => {
    const refused = (p: string) => {
      try { parseDataPath(p); } catch (e) { return (e as RestconfError).errors[0]['error-tag']; }
      return 'accepted';
    };
    expect(refused('/gateway')).toBe('invalid-value'); // the first name needs its module
    expect(refused('/ietf-interfaces:interfaces')).toBe('unknown-namespace');
    expect(refused('/vitesse-gateway:nothing')).toBe('invalid-value');
    expect(refused('/vitesse-gateway:gateway=1')).toBe('invalid-value');
    expect(refused('/vitesse-gateway:gateway/ro ute')).toBe('invalid-value');
    expect(refused('/vitesse-gateway:gateway/route=%E0%A4%A')).toBe('invalid-value');
  });
});

const base = (): Json => ({
  mtu: 1440,
  'private-interface': { address: ['10.1.0.1'], 'next-hop': { address: '10.1.0.2' } },
  route: [
    { id: 'a', net: '10.2.0.0/16', gateway: [{ queue: 1, address: '198.51.100.1' }], spi: 1, 'preshared-key': 'aa' },
    { id: 'b', net: '10.3.0.0/16', gateway: [{ queue: 1, address: '198.51.100.2' }], spi: 2, 'preshared-key': 'bb' },
  ],
});
const P = (p: string) => parseDataPath(`/vitesse-gateway:gateway${p}`)!;
const tagOf = (f: () => unknown) => {
  try { f(); } catch (e) { return (e as RestconfError).errors[0]['error-tag']; }
  return 'none';
};

describe('edits', () => {
  it('PUT replaces or creates; list entries take their keys from the path', () => {
    let d = base();
    expect(put(d, P('/route=b/net'), { 'vitesse-gateway:net': '10.9.0.0/16' }).created).toBe(false);
    expect((d.route as Json[])[1].net).toBe('10.9.0.0/16');
    const r = put(d, P('/route=c'), { route: [{ net: '10.4.0.0/16' }] });
    expect(r.created).toBe(true);
    expect((d.route as Json[])[2]).toEqual({ id: 'c', net: '10.4.0.0/16' });
    put(d, P('/route=a/gateway=2'), { gateway: [{ address: '198.51.100.9' }] });
    expect((d.route as Json[])[0].gateway).toEqual([{ queue: 1, address: '198.51.100.1' }, { queue: 2, address: '198.51.100.9' }]); // integer key as a number
    d = base();
    expect(put(d, P(''), { 'vitesse-gateway:gateway': { mtu: 1500 } }).doc).toEqual({ mtu: 1500 });
    expect(tagOf(() => put(base(), P('/route=a'), { route: [{ id: 'b' }] }))).toBe('invalid-value');
    expect(tagOf(() => put(base(), P('/mtu'), { 'vitesse-gateway:tfc': true }))).toBe('invalid-value');
    expect(tagOf(() => put(base(), P('/mtu'), { mtu: 1, tfc: true }))).toBe('malformed-message');
    expect(tagOf(() => put(base(), P('/route=z/net'), { net: '10.0.0.0/8' }))).toBe('data-missing');
    expect(tagOf(() => put(base(), P('/route'), { route: { id: 'x' } }))).toBe('invalid-value');
  });

  it('PATCH merges containers, list entries by key and leaf-lists; it creates nothing at the target', () => {
    const d = merge(base(), P(''), {
      'vitesse-gateway:gateway': {
        mtu: 1400,
        'private-interface': { address: ['fd00::1'] },
        route: [{ id: 'b', net: '10.8.0.0/16' }, { id: 'c', net: '10.5.0.0/16' }],
      },
    });
    expect(d.mtu).toBe(1400);
    expect((d['private-interface'] as Json).address).toEqual(['10.1.0.1', 'fd00::1']);
    expect((d['private-interface'] as Json)['next-hop']).toEqual({ address: '10.1.0.2' });
    expect((d.route as Json[]).map((r) => [r.id, r.net, r.spi])).toEqual([['a', '10.2.0.0/16', 1], ['b', '10.8.0.0/16', 2], ['c', '10.5.0.0/16', undefined]]);
    expect(tagOf(() => merge(base(), P('/route=z'), { route: [{ net: '10.0.0.0/8' }] }))).toBe('data-missing');
    expect(tagOf(() => merge(base(), P('/tfc'), { tfc: true }))).toBe('data-missing');
  });

  it('POST creates a child that does not exist yet', () => {
    const d = base();
    const r = create(d, P(''), { 'vitesse-gateway:route': [{ id: 'c', net: '10.4.0.0/16' }] });
    expect(r.created).toEqual(P('/route=c'));
    expect((d.route as Json[]).map((x) => x.id)).toEqual(['a', 'b', 'c']);
    create(d, P('/private-interface'), { address: 'fd00::1' });
    expect((d['private-interface'] as Json).address).toEqual(['10.1.0.1', 'fd00::1']);
    create(d, P(''), { tfc: true });
    expect(d.tfc).toBe(true);
    expect(tagOf(() => create(base(), P(''), { route: [{ id: 'a' }] }))).toBe('resource-denied');
    expect(tagOf(() => create(base(), P(''), { route: [{ net: '10.0.0.0/8' }] }))).toBe('invalid-value');
    expect(tagOf(() => create(base(), P(''), { mtu: 1300 }))).toBe('resource-denied');
    expect(tagOf(() => create(base(), P('/mtu'), { x: 1 }))).toBe('invalid-value');
  });

  it('DELETE removes the target, which must exist', () => {
    const d = remove(base(), P('/route=a'));
    expect((d.route as Json[]).map((x) => x.id)).toEqual(['b']);
    expect(remove(d, P('/route=b')).route).toBeUndefined(); // no empty list left behind
    expect((remove(base(), P('/private-interface/address=10.1.0.1'))['private-interface'] as Json).address).toBeUndefined();
    expect(remove(base(), P('/mtu')).mtu).toBeUndefined();
    expect(tagOf(() => remove(base(), P('/route=z')))).toBe('data-missing');
    expect(tagOf(() => remove(base(), P('/tfc')))).toBe('data-missing');
  });

  it('"<redacted>" keeps the key of the same route or SA, and nothing else', () => {
    const current = base();
    current['data-plane'] = { 'inbound-sa': [{ spi: 300, key: 'k300', salt: 's300' }] };
    const next: Json = {
      route: [{ id: 'b', 'preshared-key': '<redacted>' }, { id: 'c', 'preshared-key': '<redacted>' }, { id: 'a', 'preshared-key': 'new', net: '<redacted>' }],
      'data-plane': { 'inbound-sa': [{ spi: 300, key: '<redacted>', salt: '<redacted>' }, { spi: 301, key: '<redacted>' }] },
    };
    restoreSecrets(next, current);
    expect(next.route).toEqual([{ id: 'b', 'preshared-key': 'bb' }, { id: 'c', 'preshared-key': '<redacted>' }, { id: 'a', 'preshared-key': 'new', net: '<redacted>' }]);
    expect((next['data-plane'] as Json)['inbound-sa']).toEqual([{ spi: 300, key: 'k300', salt: 's300' }, { spi: 301, key: '<redacted>' }]);
  });
});
