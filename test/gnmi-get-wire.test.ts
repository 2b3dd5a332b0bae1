// A gNMI Get in a JSON encoding is answered with protobuf bytes written by
// wire.ts (server.ts get), not through protobufjs: protobufjs, from the
// vendored gnmi.proto, must decode them to the GetResponse that protobufjs
// would have been given (the model's complete state example, every path
// form: the root, a container, a list, one entry, a prefix with a target).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encode, encodingOf, unitsAt, type Unit } from '../controlplane/gnmi/data.js';
import { resolve, type GnmiPath } from '../controlplane/gnmi/path.js';
import { gnmiService } from '../controlplane/gnmi/proto.js';
import { get } from '../controlplane/gnmi/server.js';
import type { Json } from '../controlplane/api/path.js';

const state = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'configs', 'state', 'gateway-state.json'), 'utf8'))['vitesse-gateway:gateway-state'];
const snapshots = { doc: () => state as Json };
const getMethod = gnmiService().Get;
const p = (...elem: Array<string | [string, Record<string, string>]>): GnmiPath => ({ elem: elem.map((e) => (typeof e === 'string' ? { name: e } : { name: e[0], key: e[1] })) });

/** What protobufjs gives back for a map key (sorted as wire.ts writes it; {} for none). */
const sortedKeys = (u: { path: { elem: Array<{ name: string; key?: Record<string, string> }> }; val: Record<string, unknown> }) =>
  ({ ...u, path: { elem: u.path.elem.map((e) => ({ name: e.name, key: Object.fromEntries(Object.entries(e.key ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) })) } });

describe('gNMI Get answered as bytes', () => {
  it('decodes to the GetResponse protobufjs would have written', () => {
    const requests: Json[] = [
      { path: [p('gateway-state')], encoding: 'JSON_IETF' },
      { path: [p('gateway-state', 'sa'), p('gateway-state', ['route', { id: '*' }])], encoding: 'JSON' },
      { prefix: { target: 'gw-a', elem: [{ name: 'gateway-state' }] }, path: [p('queue'), p('mode')], encoding: 'JSON_IETF' },
      { path: [p('gateway-state', ['route', { id: state.route[0].id }], 'inbound-packets')] },
    ];
    for (const req of requests) {
      const bytes = get(snapshots, req);
      expect(Buffer.isBuffer(bytes)).toBe(true);
      const decoded = getMethod.responseDeserialize(bytes as Buffer) as Json & { notification: Array<Record<string, any>> };
      const encoding = encodingOf(req.encoding);
      const field = encoding === 'JSON' ? 'json_val' : 'json_ietf_val';
      const paths = req.path as GnmiPath[];
      expect(decoded.notification).toHaveLength(paths.length);
      paths.forEach((gp, i) => {
        const r = resolve(req.prefix as GnmiPath | undefined, gp, 'x');
        const units: Unit[] = unitsAt(state, 'gateway-state', r);
        expect(units.length).toBeGreaterThan(0);
        const n = decoded.notification[i];
        const target = (req.prefix as GnmiPath | undefined)?.target;
        if (target) expect(n.prefix).toEqual({ target });
        else expect(n.prefix ?? null).toBeNull();
        expect(BigInt(n.timestamp)).toBeGreaterThan(0n);
        expect(n.update.map((u: Record<string, any>) => sortedKeys({ path: u.path, val: { [field]: u.val[field] } }))).toEqual(encode(units, encoding).map((u) => sortedKeys({ path: u.path, val: { [field]: u.val[field] } })));
      });
    }
  });

  it('PROTO is still answered through protobufjs', () => {
    const r = get(snapshots, { path: [p('gateway-state', 'mode')], encoding: 'PROTO' });
    expect(Buffer.isBuffer(r)).toBe(false);
    expect((r as { notification: Array<{ update: unknown[] }> }).notification[0].update).toEqual([{ path: { elem: [{ name: 'gateway-state' }, { name: 'mode' }] }, val: { string_val: state.mode } }]);
  });
});
