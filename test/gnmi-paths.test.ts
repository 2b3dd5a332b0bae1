// gNMI paths from the network against the model (controlplane/gnmi/path.ts)
// and the data (data.ts): vectors for what each form means, and random
// paths (model names, junk, prototype names, keys of every shape) that
// either resolve or are refused with NOT_FOUND or INVALID_ARGUMENT — never
// another error — and, resolved, read a state document without throwing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { GnmiError } from '../controlplane/gnmi/errors.js';
import { resolve, pathText } from '../controlplane/gnmi/path.js';
import { encode, unitsAt } from '../controlplane/gnmi/data.js';
import fs from 'node:fs';
import path from 'node:path';

// The model's complete state example (also checked by yanglint in config-model.test.ts).
const state = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'configs', 'state', 'gateway-state.json'), 'utf8'))['vitesse-gateway:gateway-state'];

const p = (...elem: Array<string | [string, Record<string, string>]>) => ({ elem: elem.map((e) => (typeof e === 'string' ? { name: e } : { name: e[0], key: e[1] })) });

describe('gNMI paths', () => {
  it('vectors: what each form names', () => {
    expect(resolve(null, p('gateway-state', ['route', { id: 'site-b' }], 'inbound-packets'), 'x')).toMatchObject({ top: 'gateway-state', text: '/gateway-state/route[id=site-b]/inbound-packets' });
    expect(resolve(null, p('vitesse-gateway:gateway', 'route'), 'x').steps[0].keys).toEqual({});
    expect(resolve(null, p('gateway-state', ['sa', { direction: 'inbound', spi: '*' }]), 'x').steps[0].keys).toEqual({ direction: 'inbound' });
    expect(resolve(p('gateway-state'), p(['route', { id: 'a' }]), 'x').text).toBe('/gateway-state/route[id=a]');
    expect(resolve(null, { elem: [] }, 'x').top).toBeNull();
    // Against the example state: one update per list entry, keyed by the entry.
    const sas = unitsAt(state, 'gateway-state', resolve(null, p('gateway-state', 'sa'), 'x'));
    expect(sas.length).toBeGreaterThan(0);
    expect(sas.map((u) => pathText(u.elems))).toEqual(state.sa.map((r: Record<string, unknown>) => `/gateway-state/sa[direction=${r.direction}][queue=${r.queue}][route=${r.route}][spi=${r.spi}]`));
    expect(sas.map((u) => u.value)).toEqual(state.sa);
    const top = unitsAt(state, 'gateway-state', resolve(null, p('gateway-state'), 'x'));
    expect(top[0].elems).toEqual([{ name: 'gateway-state' }]);
    expect(Object.keys(top[0].value as object)).not.toContain('sa');
    const entries = (name: string) => (state[name] ?? []).length;
    expect(top.length).toBe(1 + ['icmp', 'queue', 'route', 'sa', 'management-listener', 'neighbour'].reduce((n, l) => n + entries(l), 0));
    expect(pathText([{ name: 'route', key: { id: 'a]b\\c' } }])).toBe('/route[id=a\\]b\\\\c]');
    const refused = (path: object, code: status) => {
      try {
        resolve(null, path, 'x');
      } catch (e) {
        expect(e).toBeInstanceOf(GnmiError);
        expect((e as GnmiError).code).toBe(code);
        return;
      }
      throw new Error(`accepted ${JSON.stringify(path)}`);
    };
    refused(p('gateway-state', 'route', 'nothing'), status.NOT_FOUND);
    refused(p('gateway-state', 'mode', 'x'), status.NOT_FOUND);
    refused(p('ietf-interfaces:interfaces'), status.NOT_FOUND);
    refused(p(['gateway', { a: 'b' }]), status.INVALID_ARGUMENT);
    refused(p('gateway-state', ['route', { name: 'x' }]), status.INVALID_ARGUMENT);
    refused(p('gateway-state', '__proto__'), status.INVALID_ARGUMENT);
  });

  it('random paths resolve or are refused with NOT_FOUND / INVALID_ARGUMENT, and read the state without throwing', () => {
    const names = fc.oneof(
      fc.constantFrom('gateway', 'gateway-state', 'vitesse-gateway:gateway-state', 'route', 'sa', 'queue', 'id', 'inbound-packets', 'public-next-hop', 'next-hop',
        'resolved', 'icmp', 'neighbour', 'management-listener', 'gnmi', 'mode', '__proto__', 'constructor', 'hasOwnProperty', '*', '...', 'x:route', ''),
      fc.string({ maxLength: 200 }),
    );
    const keys = fc.option(fc.dictionary(fc.oneof(fc.constantFrom('id', 'direction', 'spi', 'queue', 'name', '__proto__'), fc.string({ maxLength: 10 })), fc.oneof(fc.constant('*'), fc.string({ maxLength: 50 })), { maxKeys: 5 }), { nil: undefined });
    const path = fc.record({ elem: fc.array(fc.record({ name: names, key: keys }), { maxLength: 20 }), origin: fc.option(fc.constantFrom('', 'vitesse-gateway', 'openconfig'), { nil: undefined }) });
    fc.assert(fc.property(fc.option(path, { nil: null }), path, (prefix, pth) => {
      let r;
      try {
        r = resolve(prefix, pth, 'x');
      } catch (e) {
        expect(e).toBeInstanceOf(GnmiError);
        expect([status.NOT_FOUND, status.INVALID_ARGUMENT]).toContain((e as GnmiError).code);
        return;
      }
      if (r.top === 'gateway-state') {
        const units = unitsAt(state, 'gateway-state', r);
        encode(units, 'JSON_IETF');
        encode(units, 'PROTO');
      }
    }), { numRuns: 3000 });
  });
});
