// controlplane/gnmi/wire.ts writes SubscribeResponse notifications in JSON
// encodings to protobuf bytes itself (protobufjs costs more than reading the
// counters at 10,000 routes). Differential: protobufjs, from the vendored
// gnmi.proto, decodes every message it writes to the message meant, and
// writes the same bytes for it; random paths (several keys, any Unicode,
// empty values), values, timestamps and targets, and the deletes.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import nodePath from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GNMI_PROTO, gnmiService, gnmiVersion, protoRoot } from '../controlplane/gnmi/proto.js';
import { encodedPath, jsonNotification } from '../controlplane/gnmi/wire.js';
import { pathText, type PathElem } from '../controlplane/gnmi/path.js';

const subscribe = gnmiService().Subscribe;
const decode = (b: Buffer) => subscribe.responseDeserialize(b) as Record<string, any>;

const elem = fc.record({
  name: fc.string({ minLength: 1, maxLength: 20 }),
  key: fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 300 }), { maxKeys: 4 }), { nil: undefined }),
});
const path = fc.array(elem, { minLength: 1, maxLength: 6 });
const json = fc.jsonValue().map((v) => JSON.stringify(v));

/** A path as protobufjs gives it back (keys sorted, as wire.ts writes them; no key map: {}). */
const expectedPath = (elems: PathElem[]) => ({ elem: elems.map((e) => ({ name: e.name, key: Object.fromEntries(Object.entries(e.key ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) })) });

describe('gNMI notifications written by wire.ts', () => {
  it('decode with protobufjs to what was meant, and equal protobufjs\'s own bytes', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ elems: path, json }), { maxLength: 8 }),
      fc.array(path, { maxLength: 3 }),
      fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
      fc.option(fc.string({ minLength: 1, maxLength: 30 }), { nil: undefined }),
      fc.constantFrom(10 as const, 11 as const),
      (updates, deletes, ts, target, field) => {
        const bytes = jsonNotification(ts, target, updates.map((u) => ({ path: encodedPath(pathText(u.elems) + JSON.stringify(u.elems), u.elems), json: u.json })),
          deletes.map((d) => encodedPath(pathText(d) + JSON.stringify(d), d)), field);
        const name = field === 10 ? 'json_val' : 'json_ietf_val';
        const message = {
          update: {
            timestamp: String(ts),
            ...(target ? { prefix: { target } } : {}),
            update: updates.map((u) => ({ path: expectedPath(u.elems), val: { [name]: Buffer.from(u.json) } })),
            delete: deletes.map(expectedPath),
          },
        };
        const got = decode(bytes);
        expect(got.update.timestamp).toBe(String(ts));
        expect(got.update.prefix?.target).toBe(target);
        expect((got.update.update ?? []).map((u: any) => ({ path: { elem: u.path.elem.map((e: any) => ({ name: e.name, key: e.key ?? {} })) }, val: { [name]: Buffer.from(u.val[name]) } })))
          .toEqual(message.update.update);
        expect((got.update.delete ?? []).map((d: any) => ({ elem: d.elem.map((e: any) => ({ name: e.name, key: e.key ?? {} })) }))).toEqual(message.update.delete);
        // Byte for byte too, where a JavaScript object can hold the keys in the order written (it puts "0" before " ").
        const ordered = [...updates.map((u) => u.elems), ...deletes].flat().every((e) => { const k = Object.keys(e.key ?? {}); return k.join('\0') === [...k].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join('\0'); });
        if (ordered) expect(Buffer.from(subscribe.responseSerialize(message) as Buffer).equals(bytes)).toBe(true);
      },
    ), { numRuns: 300 });
  });
});

describe('the vendored protocol files', () => {
  it('are found by the compiled code and shipped in the package, with their licence and source', async () => {
    const root = nodePath.resolve(import.meta.dirname, '..');
    expect(protoRoot()).toBe(nodePath.join(root, 'controlplane', 'gnmi', 'proto'));
    // dist/ finds them too (the .proto files are not compiled: it looks up from where it is).
    const compiled = await import(nodePath.join(root, 'dist', 'controlplane', 'gnmi', 'proto.js')) as { protoRoot(): string };
    expect(compiled.protoRoot()).toBe(protoRoot());
    expect(gnmiVersion()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(fs.readFileSync(nodePath.join(protoRoot(), 'LICENSE'), 'utf8')).toContain('Apache License');
    expect(fs.readFileSync(nodePath.join(protoRoot(), 'SOURCE.md'), 'utf8')).toMatch(/commit\s+[0-9a-f]{40}/);
    const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }))[0].files.map((f: { path: string }) => f.path);
    for (const f of [GNMI_PROTO, 'github.com/openconfig/gnmi/proto/gnmi_ext/gnmi_ext.proto', 'LICENSE', 'SOURCE.md']) expect(packed).toContain(`controlplane/gnmi/proto/${f}`);
  }, 60_000);
});
