// A route with several peers through the real gateway (data plane, slow
// path, key manager; two gateways on in-memory wires,
// controlplane/demo/memory-two-sites.ts): B's route gets a second peer by a
// reload, a gateway that never answers. The first pair keeps its SAs and
// carries every flow (the second has no outbound SA, so it is out of the
// flow hashing); B's state lists both peers under route/peer (valid against
// the model), its SAs name their peer, its metrics have the per-peer series.
// Back to one peer, the list goes and the traffic goes on. The two-pair
// data path is test/pair-choice.test.ts; two live peers, killed and
// restarted, test/realif-ecmp.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, toJson } from '../controlplane/config/index.js';
import { numbered, numberOf, twoSites, until, type PeerKeys, type TwoSites } from '../controlplane/demo/memory-two-sites.js';
import { generateKeyPair } from '../controlplane/exchange/primitives.js';
import { GatewayMetrics } from '../controlplane/metrics.js';
import { gatewayState } from '../controlplane/state.js';
import { yanglintDocument } from './config-yanglint.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-gw-multipeer-'));
let sites: TwoSites | null = null;
afterAll(() => {
  sites?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function gatewayKeys(side: string): PeerKeys {
  const kp = generateKeyPair();
  const secret = Buffer.from(kp.privateKey.export({ format: 'jwk' }).d!, 'base64url').toString('base64');
  const file = path.join(dir, `${side}.key`);
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { privateKeyFile: file, publicKey: kp.publicKey.toString('base64') };
}

type Json = Record<string, any>;

describe('a route with a second peer added by a reload (real gateway, memory wires)', () => {
  it('the first pair keeps its SAs and every flow; state, SAs and metrics show both peers; back to one', async () => {
    const a = gatewayKeys('a');
    const b = gatewayKeys('b');
    const absent = generateKeyPair().publicKey.toString('base64');
    const s = (sites = twoSites({ publicKeys: { a, b } }));
    s.a.start();
    s.b.start();
    const crosses = async (n: number) => {
      const got = { a: false, b: false };
      await until(() => {
        s.sendA([numbered('a', n)]);
        s.sendB([numbered('b', n)]);
        got.b ||= s.receiveB().some((f) => numberOf(f) === n);
        got.a ||= s.receiveA().some((f) => numberOf(f) === n);
        return got.a && got.b;
      }, 10_000, `datagram ${n} both ways`);
    };
    await crosses(1);
    const outbound = () => s.b.sas().filter((sa) => sa.direction === 'outbound').map((sa) => ({ spi: sa.spi, pair: sa.pair ?? 0 }));
    const before = outbound();
    expect(before).toHaveLength(1);

    // B's route to A gets a second peer, at an address where no gateway answers.
    const json = toJson(s.b.currentConfig, { secrets: true }) as Json;
    const route = json['vitesse-gateway:gateway'].route[0];
    route.peer.push({ 'public-key': absent, endpoint: [{ queue: 1, address: '192.0.2.77' }] });
    const diff = s.b.apply(parseConfig(json));
    expect(diff.routes.changed).toEqual([route.id]);
    // Traffic until B has heard A on the first pair since the reload (liveness reads each pair's own SAs' counters, every second).
    let n = 2;
    const heard = () => (gatewayState(s.b) as Json).route[0].peer?.[0]?.['peer-up'] === true;
    for (const t0 = Date.now(); !heard() && Date.now() - t0 < 20_000; n++) await crosses(n);
    expect(heard()).toBe(true);
    // The first pair kept its outbound SA; the second has none, so it carried nothing.
    expect(outbound()).toEqual(before);

    const state = gatewayState(s.b) as Json;
    expect(yanglintDocument({ 'vitesse-gateway:gateway-state': state }, 'get')).toEqual({ ok: true, messages: '' });
    const r = state.route[0];
    expect(r['peer-up']).toBe(true);
    expect(r.peer.map((p: Json) => [p['public-key'], p['peer-up'], p.usable])).toEqual([[a.publicKey, true, true], [absent, false, true]]);
    expect(state.sa.filter((sa: Json) => sa.direction === 'outbound').map((sa: Json) => sa.peer)).toEqual([a.publicKey]);
    const text = await new GatewayMetrics(s.b).scrape();
    expect(text).toContain(`vitesse_peer_up{route="${route.id}",peer="${a.publicKey}"} 1`);
    expect(text).toContain(`vitesse_peer_up{route="${route.id}",peer="${absent}"} 0`);
    expect(text).toContain(`vitesse_route_peer_up{route="${route.id}"} 1`);

    // Back to one peer: no list, no per-peer series, the traffic goes on.
    route.peer.pop();
    s.b.apply(parseConfig(json));
    await crosses(100);
    expect(outbound()).toEqual(before);
    const after = gatewayState(s.b) as Json;
    expect(after.route[0].peer).toBeUndefined();
    expect(await new GatewayMetrics(s.b).scrape()).not.toContain('vitesse_peer_up{');
  }, 60_000);
});
