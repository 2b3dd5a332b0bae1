// Scale-out configuration (docs/scale-out.md): the bgp container of the
// model, the file of routes the gateway writes for BIRD, and the example BIRD
// configurations in deploy/bird/ — which BIRD itself must accept.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_GATEWAY, EXAMPLE_ROUTER, gatewayBirdConfig, routerBirdConfig } from '../controlplane/bgp/bird-config.js';
import { routesFileText } from '../controlplane/bgp/announcer.js';
import { ConfigError, parseConfig } from '../controlplane/config/index.js';
import { toJson } from '../controlplane/config/json.js';
import { yanglintDocument } from './config-yanglint.js';
import { itNeeding } from './support/requires.js';

const root = path.resolve(__dirname, '..');
const siteA = JSON.parse(fs.readFileSync(path.join(root, 'deploy/examples/two-sites/site-a.json'), 'utf8')) as Record<string, Record<string, unknown>>;
const BGP = { 'bird-config': '/etc/vitesse/site-a.bird.conf', 'routes-file': '/run/vitesse/site-a.bgp-routes.conf', 'control-socket': '/run/vitesse/site-a.bird.ctl' };
const withBgp = (bgp: unknown, extra: Record<string, unknown> = {}) => ({ 'vitesse-gateway:gateway': { ...siteA['vitesse-gateway:gateway'], bgp, ...extra } });
const problems = (json: unknown) => {
  try {
    parseConfig(json);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.reason}`);
    throw e;
  }
  return [];
};

describe('bgp configuration', () => {
  it('is off unless the bgp container is there', () => {
    expect(parseConfig(siteA).bgp).toBeNull();
  });

  it('reads the three leaves, writes them back, and the model agrees', () => {
    const c = parseConfig(withBgp(BGP));
    expect(c.bgp).toEqual({ birdConfig: BGP['bird-config'], routesFile: BGP['routes-file'], controlSocket: BGP['control-socket'] });
    expect((toJson(c)['vitesse-gateway:gateway'] as Record<string, unknown>).bgp).toEqual(BGP);
    expect(yanglintDocument(withBgp(BGP))).toMatchObject({ ok: true });
  });

  it('names each missing leaf and refuses data-plane mode', () => {
    expect(problems(withBgp({}))).toEqual([
      '/vitesse-gateway:gateway/bgp/bird-config: missing (mandatory)',
      '/vitesse-gateway:gateway/bgp/routes-file: missing (mandatory)',
      '/vitesse-gateway:gateway/bgp/control-socket: missing (mandatory)',
    ]);
    expect(problems(withBgp({ ...BGP, 'next-hop': '10.1.0.1' }))).toEqual(['/vitesse-gateway:gateway/bgp/next-hop: unknown member (the model has no "next-hop" here)']);
    const dataPlane = { 'data-plane': { 'inbound-sa': [], 'outbound-sa': [] } };
    expect(problems(withBgp(BGP, dataPlane)).filter((p) => p.includes('/bgp'))).toEqual([
      '/vitesse-gateway:gateway/bgp: needs key-manager mode (announces prefixes the key manager has live tunnels for); remove data-plane or bgp',
    ]);
  });
});

describe('BIRD configurations', () => {
  it('deploy/bird/ holds the generated examples', () => {
    expect(fs.readFileSync(path.join(root, 'deploy/bird/gateway.conf'), 'utf8')).toBe(gatewayBirdConfig(EXAMPLE_GATEWAY));
    expect(fs.readFileSync(path.join(root, 'deploy/bird/router.conf'), 'utf8')).toBe(routerBirdConfig(EXAMPLE_ROUTER));
  });

  it('the routes file has one blackhole route per prefix, a static protocol per IP version', () => {
    expect(routesFileText(['10.2.0.0/16', 'fd00:2::/48', '10.3.0.0/16'])).toBe(
      '# Written by vitesse (controlplane/bgp/announcer.ts): the prefixes this gateway has a live tunnel for.\n'
      + 'protocol static vitesse4 {\n  ipv4;\n  route 10.2.0.0/16 blackhole;\n  route 10.3.0.0/16 blackhole;\n}\n'
      + 'protocol static vitesse6 {\n  ipv6;\n  route fd00:2::/48 blackhole;\n}\n');
  });

  itNeeding(['bird'], 'BIRD accepts the gateway configuration with a routes file as written (empty and not), and the router configuration', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-bird-'));
    try {
      const routes = path.join(dir, 'routes.conf');
      const conf = path.join(dir, 'bird.conf');
      fs.writeFileSync(conf, gatewayBirdConfig({ ...EXAMPLE_GATEWAY, routesFile: routes }));
      for (const prefixes of [[], ['10.2.0.0/16', 'fd00:2::/48']]) {
        fs.writeFileSync(routes, routesFileText(prefixes));
        expect(execFileSync('bird', ['-p', '-c', conf], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe('');
      }
      // A broken file is refused (the check can fail).
      fs.writeFileSync(routes, 'route 10.2.0.0/16 blackhole;\n');
      expect(() => execFileSync('bird', ['-p', '-c', conf], { stdio: 'ignore' })).toThrow();
      expect(execFileSync('bird', ['-p', '-c', path.join(root, 'deploy/bird/router.conf')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe('');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
