// The model itself: yanglint accepts it without a word, its defaults and
// canonical forms are the loader's (yanglint fills in and prints every good
// configuration exactly as toJson does), operational state uses RFC 7951
// strings for 64-bit counters, and yang-js reads it after the documented
// adaptations.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, modelFile, parseConfig, toJson } from '../controlplane/config/index.js';
import { adaptForYangJs, checkWithYangJs } from '../controlplane/config/model.js';
import { runYanglint, YANGLINT_MISSING, yanglintAvailable, yanglintDocument, yanglintFile, yanglintFiles } from './config-yanglint.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'configs');
const good = fs.readdirSync(path.join(dir, 'good')).filter((f) => f.endsWith('.json')).sort();
const stateFile = path.join(dir, 'state', 'gateway-state.json');
const model = fs.readFileSync(modelFile(), 'utf8');

/** What may differ between two correct printers: MAC and hex letter case, order of addresses and queues, empty lists. */
function normalise(json: unknown, key = ''): unknown {
  if (Array.isArray(json)) {
    const items = json.map((e) => normalise(e));
    if (key === 'address') return [...items].sort();
    // The loader orders queues and gateways by queue; yanglint keeps the file's order.
    const id = (e: unknown) => Number((e as Record<string, unknown>).id ?? (e as Record<string, unknown>).queue);
    return key === 'queue' || key === 'gateway' ? [...items].sort((a, b) => id(a) - id(b)) : items;
  }
  if (json && typeof json === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(json)) {
      if (Array.isArray(v) && v.length === 0) continue;
      out[k] = normalise(v, k);
    }
    return out;
  }
  if (typeof json === 'string' && /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$|^[0-9a-fA-F]{8,}$/.test(json)) return json.toLowerCase();
  return json;
}

describe.skipIf(!yanglintAvailable)('the model with yanglint', () => {
  it('compiles without errors or warnings', () => {
    const r = runYanglint([modelFile()]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('prints its tree (every configuration node is there)', () => {
    const r = runYanglint(['-f', 'tree', modelFile()]);
    expect(r.status).toBe(0);
    for (const node of ['queues', 'mtu', 'tfc', 'sa-ttl', 'negotiation-ttl', 'protocol-port', 'replay-window',
      'private-interface', 'public-interface', 'next-hop', 'route* [id]', 'gateway* [queue]', 'preshared-key',
      'data-plane!', 'inbound-sa* [spi]', 'outbound-sa* [route queue]', 'gateway-state', 'neighbour* [interface address]']) {
      expect(r.stdout).toContain(node);
    }
  });

  const files = good.map((f) => path.join(dir, 'good', f));
  const printed = yanglintAvailable ? yanglintFiles(files, { withDefaults: true }) : [];

  it.each(good)('%s: yanglint fills in the same defaults and canonical forms as the loader', (f) => {
    const file = path.join(dir, 'good', f);
    const theirs = printed[files.indexOf(file)];
    expect(theirs.ok).toBe(true);
    const ours = toJson(parseConfig(fs.readFileSync(file, 'utf8')), { secrets: true });
    expect(normalise(ours)).toEqual(normalise(theirs.output));
  });

  it("validates operational state, whose 64-bit counters are JSON strings", () => {
    expect(yanglintFile(stateFile, 'get')).toEqual({ ok: true, messages: '' });
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    state['vitesse-gateway:gateway-state']['private-interface']['rx-packets'] = 1200;
    expect(yanglintDocument(state, 'get').ok).toBe(false);
  });

  it('refuses keys in the SA state', () => {
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    state['vitesse-gateway:gateway-state'].sa[0].key = '00112233445566778899aabbccddeeff';
    expect(yanglintDocument(state, 'get').ok).toBe(false);
  });

  it('accepts configuration and state together as one datastore', () => {
    const r = runYanglint(['-t', 'data', '-m', modelFile(), path.join(dir, 'good', 'minimal.json'), stateFile]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

if (!yanglintAvailable) it.skip(YANGLINT_MISSING, () => {});

describe('defaults', () => {
  it('are the ones the model declares', () => {
    // The first default after `leaf <name> {`, before the next leaf begins.
    const declared = (leaf: string) => new RegExp(`leaf ${leaf} \\{(?:(?!\\n\\s*leaf )[\\s\\S])*?default "([^"]+)";`).exec(model)?.[1];
    expect(Number(declared('queues'))).toBe(DEFAULTS.queues);
    expect(Number(declared('mtu'))).toBe(DEFAULTS.mtu);
    expect(declared('tfc')).toBe(String(DEFAULTS.tfc));
    expect(Number(declared('sa-ttl'))).toBe(DEFAULTS.saTtl);
    expect(Number(declared('negotiation-ttl'))).toBe(DEFAULTS.negotiationTtl);
    expect(Number(declared('protocol-port'))).toBe(DEFAULTS.protocolPort);
    expect(Number(declared('replay-window'))).toBe(DEFAULTS.replayWindow);
    expect(Number(declared('nat-t-port'))).toBe(DEFAULTS.natTPort);
    expect(Number(declared('nat-keepalive-interval'))).toBe(DEFAULTS.natKeepaliveInterval);
    expect(declared('driver')).toBe(DEFAULTS.driver);
    expect(declared('aead')).toBe(DEFAULTS.aead);
  });

  it('fill in everything a minimal configuration leaves out', () => {
    const c = parseConfig(fs.readFileSync(path.join(dir, 'good', 'minimal.json'), 'utf8'));
    expect(c).toMatchObject({
      queues: 1, mtu: 1440, tfc: false, saTtl: 600, negotiationTtl: 5, protocolPort: 303, replayWindow: 1024, dataPlane: null,
    });
    expect(c.privateInterface.driver).toBe('af-packet');
    expect(c.publicInterface.driver).toBe('af-packet');
    expect(c.routes[0].aead).toBe('aes-gcm-16-icv');
  });
});

describe('yang-js', () => {
  const require = createRequire(import.meta.url);
  const yang = require('yang-js') as { parse(text: string): unknown };

  it('cannot read the model as it is (hence the adaptations in model.ts)', () => {
    expect(() => yang.parse(model)).toThrow(/unique/);
  });

  it('reads the adapted model, and the adaptation keeps the replay-window values', () => {
    expect(adaptForYangJs(model)).toContain('range "32..32 | 64..64 | 128..128 | 256..256 | 512..512 | 1024..1024 | 2048..2048 | 4096..4096"');
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'good', 'minimal.json'), 'utf8'));
    for (const [window, ok] of [[32, true], [4096, true], [48, false], [8192, false]] as const) {
      doc['vitesse-gateway:gateway']['replay-window'] = window;
      expect(checkWithYangJs(doc) === null, `replay-window ${window}`).toBe(ok);
    }
  });

  it('does not keep every evaluated configuration alive', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const doc = JSON.parse(fs.readFileSync(path.join(dir, 'good', 'minimal.json'), 'utf8'));
      // yang-js warns past 100 listeners on one emitter; each evaluation used to leave one.
      for (let i = 0; i < 110; i++) expect(checkWithYangJs(doc)).toBeNull();
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('names the node it refuses', () => {
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'good', 'minimal.json'), 'utf8'));
    doc['vitesse-gateway:gateway'].mtu = 100;
    expect(checkWithYangJs(doc)).toEqual({ path: '/vitesse-gateway:gateway/mtu', reason: expect.stringMatching(/^refused by the model \(yang-js\): .*100/) });
  });
});
