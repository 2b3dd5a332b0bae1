// NAT detection on the real data plane, slow path and key manager (two
// gateways on in-memory wires, no NAT between them,
// controlplane/demo/memory-two-sites.ts): with nat-traversal auto the
// exchange runs on the NAT-T port, sees no NAT, and the SAs send plain ESP;
// with force they send ESP in UDP all the same. What was detected is in the
// state (route/peer-endpoint/nat-detected, checked against the model by
// yanglint), the metric vitesse_route_nat_detected and vitesse status. The
// NAT case on real interfaces is test/realif-nat.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { statusReport, summarise } from '../controlplane/commands/status.js';
import { toJson } from '../controlplane/config/index.js';
import { numbered, numberOf, twoSites, until, type PeerKeys, type TwoSites } from '../controlplane/demo/memory-two-sites.js';
import { generateKeyPair } from '../controlplane/exchange/primitives.js';
import { GatewayMetrics } from '../controlplane/metrics.js';
import { gatewayState } from '../controlplane/state.js';
import { yanglintDocument } from './config-yanglint.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-gw-natd-'));
let sites: TwoSites | null = null;
afterEach(() => {
  sites?.close();
  sites = null;
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function gatewayKeys(side: string): PeerKeys {
  const kp = generateKeyPair();
  const f = path.join(dir, `${side}.key`);
  fs.writeFileSync(f, `${Buffer.from(kp.privateKey.export({ format: 'jwk' }).d!, 'base64url').toString('base64')}\n`, { mode: 0o600 });
  return { privateKeyFile: f, publicKey: kp.publicKey.toString('base64') };
}
const keys = { a: gatewayKeys('a'), b: gatewayKeys('b') };

async function crossing(natTraversal: 'auto' | 'force'): Promise<TwoSites> {
  const s = (sites = twoSites({ publicKeys: keys, natTraversal, saTtl: 600, negotiationTtl: 2 }));
  s.a.start();
  s.b.start();
  s.receiveA();
  s.receiveB();
  const got = { a: false, b: false };
  await until(() => {
    s.sendA([numbered('a', 1)]);
    s.sendB([numbered('b', 1)]);
    got.b ||= s.receiveB().some((f) => numberOf(f) === 1);
    got.a ||= s.receiveA().some((f) => numberOf(f) === 1);
    return got.a && got.b;
  }, 10_000, 'a datagram both ways');
  // The responder's pair is confirmed by the initiator's first packet: both ends have an active outbound SA.
  await until(() => [s.a, s.b].every((gw) => gw.sas().some((x) => x.direction === 'outbound')), 10_000, 'outbound SAs');
  return s;
}

const routeState = (s: TwoSites) => (gatewayState(s.a)['route'] as Record<string, unknown>[]).find((r) => r.id === 'site-b')!;
const natMetric = async (s: TwoSites) => /^vitesse_route_nat_detected\{route="site-b"\} (\d+)$/m.exec(await new GatewayMetrics(s.a).scrape())?.[1];

describe('NAT detection through the real gateway (memory wires, no NAT)', () => {
  it('auto: no NAT detected, plain ESP, no keepalive targets; state, metric and status say so', async () => {
    const s = await crossing('auto');
    for (const gw of [s.a, s.b]) {
      const out = gw.sas().find((x) => x.direction === 'outbound')!;
      expect(out.udpSourcePort).toBeUndefined();
      expect(out.udpDestinationPort).toBeUndefined();
      expect(gw.keepaliveTargets()).toEqual([]);
    }
    const endpoints = routeState(s)['peer-endpoint'] as Record<string, unknown>[];
    expect(endpoints.map((e) => e['nat-detected'])).toEqual([false]);
    expect(yanglintDocument({ 'vitesse-gateway:gateway-state': gatewayState(s.a) }, 'get')).toEqual({ ok: true, messages: '' });
    expect(await natMetric(s)).toBe('0');
    const config = (toJson(s.a.currentConfig) as Record<string, Record<string, unknown>>)['vitesse-gateway:gateway'];
    const state = gatewayState(s.a);
    expect(summarise(statusReport('site-a', config, state, state, 0), Date.now())).toMatch(/ {2}endpoint: \S+ \(no NAT\)\n/);
  });

  it('force: ESP in UDP though no NAT is detected', async () => {
    const s = await crossing('force');
    for (const gw of [s.a, s.b]) expect(gw.sas().find((x) => x.direction === 'outbound')).toMatchObject({ udpSourcePort: 4500, udpDestinationPort: 4500 });
    expect((routeState(s)['peer-endpoint'] as Record<string, unknown>[]).map((e) => e['nat-detected'])).toEqual([false]);
    expect(await natMetric(s)).toBe('0');
    expect(s.a.keepaliveTargets().length).toBe(1);
  });
});
