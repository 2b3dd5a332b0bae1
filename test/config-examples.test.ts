// deploy/examples: every file is valid for the loader and for yanglint, and
// the gateways of each scenario fit together (a route on one end has its
// mirror on the other; an outbound SA is the peer's inbound SA).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig, type GatewayConfig } from '../controlplane/config/index.js';
import { parsePrefix, parseAddress, networkOf } from '../controlplane/config/ip.js';
import { YANGLINT_MISSING, yanglintAvailable, yanglintFile } from './config-yanglint.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'deploy', 'examples');
const scenarios: Record<string, string[]> = {
  'two-sites': ['site-a', 'site-b'],
  'hub-and-spoke': ['hub', 'spoke-1', 'spoke-2'],
  ipv6: ['site-a', 'site-b'],
  'two-queues': ['site-a', 'site-b'],
  'data-plane': ['site-a', 'site-b'],
  'public-keys': ['site-a', 'site-b'],
};
const files = Object.entries(scenarios).flatMap(([s, names]) => names.map((n) => path.join(s, `${n}.json`)));
const load = (f: string) => parseConfig(fs.readFileSync(path.join(root, f), 'utf8'), { source: f });

function contains(net: string, address: string): boolean {
  const p = parsePrefix(net)!;
  const a = parseAddress(address)!;
  return a.version === p.version && networkOf({ ...a, length: p.length }).octets.equals(p.octets);
}

/** The routes of `from` that lead to `to`: every gateway address is `to`'s public address on the same queue. */
function routesTo(from: GatewayConfig, to: GatewayConfig) {
  return from.routes.filter((r) => r.gateways.every((g) => to.publicInterface.queues.find((q) => q.id === g.queue)?.address === g.address));
}

describe('deploy/examples', () => {
  it('has exactly the documented scenarios', () => {
    const found = fs.readdirSync(root, { recursive: true }).map(String).filter((f) => f.endsWith('.json')).sort();
    expect(found).toEqual([...files].sort());
  });

  it.each(files)('%s leaves the interfaces\' own mac out, as operations.md §2 says to', (f) => {
    const g = JSON.parse(fs.readFileSync(path.join(root, f), 'utf8'))['vitesse-gateway:gateway'];
    expect([Object.hasOwn(g['private-interface'], 'mac'), Object.hasOwn(g['public-interface'], 'mac')]).toEqual([false, false]);
    const ops = fs.readFileSync(path.join(root, '..', '..', 'docs', 'operations.md'), 'utf8');
    expect(ops).toContain('Leave `mac` out of the interfaces\' configuration');
  });

  it.each(files)('%s is accepted by the loader', (f) => {
    expect(() => load(f)).not.toThrow();
  });

  it.skipIf(!yanglintAvailable).each(files)('%s is valid for yanglint', (f) => {
    expect(yanglintFile(path.join(root, f))).toEqual({ ok: true, messages: '' });
  });

  it.each(Object.keys(scenarios))('%s: every route has its mirror at the other end', (scenario) => {
    const gws = scenarios[scenario].map((n) => ({ name: n, c: load(path.join(scenario, `${n}.json`)) }));
    let pairs = 0;
    for (const a of gws) {
      for (const r of a.c.routes) {
        const peers = gws.filter((b) => b !== a && routesTo(a.c, b.c).includes(r));
        expect(peers.length, `${scenario}/${a.name} route ${r.id} leads to one gateway`).toBe(1);
        const b = peers[0].c;
        // The route covers the peer's private address of its IP version.
        const inside = [b.privateInterface.ipv4, b.privateInterface.ipv6].filter((x) => x !== null);
        expect(inside.some((x) => contains(r.net, x!)), `${r.id} covers the peer's site`).toBe(true);
        const mirrors = routesTo(b, a.c).filter((m) => m.spi === r.spi && m.aead === r.aead && m.protocol === r.protocol
          && (m.peer === null) === (r.peer === null)
          && (m.presharedKey && r.presharedKey ? m.presharedKey.equals(r.presharedKey) : m.presharedKey === r.presharedKey)
          && [a.c.privateInterface.ipv4, a.c.privateInterface.ipv6].some((x) => x !== null && contains(m.net, x)));
        expect(mirrors.length, `${scenario}/${a.name} route ${r.id} has one mirror`).toBe(1);
        pairs++;
      }
    }
    expect(pairs).toBeGreaterThanOrEqual(2);
  });

  it("data-plane: each end's outbound SA is the other's inbound SA", () => {
    const [a, b] = ['site-a', 'site-b'].map((n) => load(path.join('data-plane', `${n}.json`)));
    for (const [from, to] of [[a, b], [b, a]]) {
      expect(from.dataPlane!.outboundSas.length).toBeGreaterThan(0);
      for (const out of from.dataPlane!.outboundSas) {
        const inbound = to.dataPlane!.inboundSas.find((i) => i.spi === out.spi);
        expect(inbound).toBeDefined();
        expect(inbound).toMatchObject({ queue: out.queue, aead: out.aead });
        expect(inbound!.key.equals(out.key) && inbound!.salt.equals(out.salt)).toBe(true);
      }
    }
  });

  it('ipv6: IPv6 outside, IPv6 (and IPv4) inside', () => {
    const a = load(path.join('ipv6', 'site-a.json'));
    expect(a.publicInterface.queues.every((q) => q.address.includes(':'))).toBe(true);
    expect(a.routes.some((r) => r.net.includes(':'))).toBe(true);
  });

  it('two-queues: two queues, each with its own public address and gateway', () => {
    const a = load(path.join('two-queues', 'site-a.json'));
    expect(a.queues).toBe(2);
    expect(new Set(a.publicInterface.queues.map((q) => q.address)).size).toBe(2);
    expect(new Set(a.routes[0].gateways.map((g) => g.address)).size).toBe(2);
  });
});

if (!yanglintAvailable) it.skip(YANGLINT_MISSING, () => {});
