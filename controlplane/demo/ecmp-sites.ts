// Two sites, each with two Vitesse gateways behind a router running BIRD 2
// with kernel ECMP (docs/scale-out.md), on real interfaces in namespaces:
//
//            ┌ lan1 ─ a1 ══╗      ╔══ b1 ─ lan1 ┐
//   hostA ─ rA              ╠ net ╣              rB ─ hostB
//            └ lan2 ─ a2 ══╝      ╚══ b2 ─ lan2 ┘
//   (rA ─ rt1 ─ a1 and rA ─ rt2 ─ a2: routing links, BGP + BFD; same on B)
//
// By default gateways are paired: a1's route to site B names b1 and a2's
// names b2. Each router spreads flows over its gateways by L4 hash; a flow
// leaving through a1 arrives through b1. When a gateway dies, its router
// stops choosing it (its BIRD died with it), and its partner withdraws too
// once liveness says the peer is down, so the far router moves the flows of
// the other direction as well.
//
// With `multiPeer` (docs/scale-out.md, "Several peers per route"), site B
// has one gateway, b1, whose route to site A lists both A gateways as peers
// (public-key routes): two tunnels, one per pair, and b1 hashes its flows
// over the pairs whose peer is alive. a1 and a2 each list b1.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gatewayBirdConfig, routerBirdConfig, type Bfd } from '../bgp/bird-config.js';
import { Lab } from './lab.js';
import type { Driver } from './two-sites.js';

// BFD in the lab: 10 × 200 ms. Six BIRDs and four gateways share a loaded
// 2-core VM with the test runner; a BIRD that stalls longer than the
// deployed 0.3 s (deploy/bird) would take every session down and the routes
// with it, which is the machine, not what the tests look at. A killed
// gateway's sessions close at once either way (its BIRD dies with it).
const LAB_BFD: Bfd = { intervalMs: 200, multiplier: 10 };

export type GatewayName = 'a1' | 'a2' | 'b1' | 'b2';
export const GATEWAYS: GatewayName[] = ['a1', 'a2', 'b1', 'b2'];
/** The gateways of the multi-peer variant (site B has b1 only). */
export const MULTI_PEER_GATEWAYS: GatewayName[] = ['a1', 'a2', 'b1'];

export interface EcmpLab {
  lab: Lab;
  ns: Record<GatewayName | 'hostA' | 'hostB' | 'rA' | 'rB' | 'net', string>;
  /** `vitesse run` configuration files, by gateway. */
  configFile: Record<GatewayName, string>;
  /** Each router's interface towards a gateway (lan1 or lan2). */
  lan: Record<GatewayName, string>;
  hostA: string;
  hostB: string;
  /** Starts BIRD on both routers. */
  startRouters(): void;
  /** Each router's BIRD control socket (for `birdc -s`). */
  routerSocket: Record<'A' | 'B', string>;
  cleanup(): void;
}

export interface EcmpOptions {
  driver?: Driver;
  dir: string;
  prefix?: string;
  livenessInterval?: number;
  livenessFailures?: number;
  saTtl?: number;
  negotiationTtl?: number;
  /** Site B has one gateway (b1) whose route lists a1 and a2 as its peers. */
  multiPeer?: boolean;
}

/** An X25519 key pair as key files hold it: base64 of the 32 octets (vitesse keygen --private, vitesse pubkey). */
function keyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('x25519');
  const raw = (k: crypto.KeyObject, part: 'd' | 'x') => Buffer.from(k.export({ format: 'jwk' })[part]!, 'base64url').toString('base64');
  return { privateKey: raw(privateKey, 'd'), publicKey: raw(publicKey, 'x') };
}

export function buildEcmpSites(o: EcmpOptions): EcmpLab {
  const driver = o.driver ?? 'af-packet';
  const lab = new Lab(o.prefix ?? 'vecmp');
  try {
    const ns = {
      hostA: lab.namespace('hostA', { ipv6: false }),
      rA: lab.namespace('rA', { ipv6: false, forwarding: true }),
      a1: lab.namespace('a1', { ipv6: false }),
      a2: lab.namespace('a2', { ipv6: false }),
      net: lab.namespace('net', { ipv6: false, forwarding: true }),
      b1: lab.namespace('b1', { ipv6: false }),
      b2: lab.namespace('b2', { ipv6: false }),
      rB: lab.namespace('rB', { ipv6: false, forwarding: true }),
      hostB: lab.namespace('hostB', { ipv6: false }),
    };
    for (const r of [ns.rA, ns.rB]) lab.exec(r, ['sysctl', '-qw', 'net.ipv4.fib_multipath_hash_policy=1']);
    const psk = () => crypto.randomBytes(32).toString('hex');
    const keys = { 1: psk(), 2: psk() };
    const configFile = {} as Record<GatewayName, string>;
    const statics = { a1: keyPair(), a2: keyPair(), b1: keyPair(), b2: keyPair() };
    const pubAddr = (site: number, k: number) => (site === 1 ? `192.0.${1 + k}.1` : `198.51.${99 + k}.1`);
    // The multi-peer variant's routes: b1 lists a1 and a2; each A gateway lists b1.
    const peerRoute = (name: GatewayName, n: number, dir: string) => {
      const peers = name === 'b1' ? [['a1', pubAddr(1, 1)], ['a2', pubAddr(1, 2)]] as const : [['b1', pubAddr(2, 1)]] as const;
      const keyFile = path.join(dir, 'private.key');
      fs.writeFileSync(keyFile, statics[name].privateKey + '\n', { mode: 0o600 });
      return {
        'private-key-file': keyFile,
        route: [{
          id: n === 1 ? 'site-b' : 'site-a', net: `10.${3 - n}.0.0/16`, spi: 1001,
          peer: peers.map(([peer, address]) => ({ 'public-key': statics[peer].publicKey, endpoint: [{ queue: 1, address }] })),
        }],
      };
    };
    const site = (s: 'A' | 'B') => {
      const n = s === 'A' ? 1 : 2; // 10.n.x.x inside
      const host = s === 'A' ? ns.hostA : ns.hostB;
      const router = s === 'A' ? ns.rA : ns.rB;
      lab.veth(host, 'eth0', router, 'eth0');
      lab.address(host, 'eth0', `10.${n}.0.2/24`);
      lab.route(host, 'default', `10.${n}.0.1`);
      lab.address(router, 'eth0', `10.${n}.0.1/24`);
      const gateways = [] as Array<{ name: string; address: string; as: number; routerAddress: string }>;
      for (const i of (s === 'B' && o.multiPeer ? [1] : [1, 2]) as Array<1 | 2>) {
        const name = `${s.toLowerCase()}${i}` as GatewayName;
        const partner = `${s === 'A' ? 'b' : 'a'}${i}`;
        const gw = ns[name];
        const priv = lab.veth(router, `lan${i}`, gw, 'private');
        lab.address(router, `lan${i}`, `10.${n}.${i}.254/24`);
        lab.veth(router, `rt${i}`, gw, 'routing');
        const rtRouter = `172.16.${n}${i}.1`, rtGw = `172.16.${n}${i}.2`;
        lab.address(router, `rt${i}`, `${rtRouter}/30`);
        lab.address(gw, 'routing', `${rtGw}/30`);
        const pub = lab.veth(gw, 'public', ns.net, name);
        lab.address(ns.net, name, `${pubAddr(n, i).replace(/\.1$/, '.254')}/24`);
        const as = 65000 + n * 10 + i;
        gateways.push({ name: `gw_${name}`, address: rtGw, as, routerAddress: rtRouter });
        const dir = path.join(o.dir, name);
        fs.mkdirSync(dir, { recursive: true });
        const routesFile = path.join(dir, 'routes.conf');
        fs.writeFileSync(path.join(dir, 'bird.conf'), gatewayBirdConfig({
          routingAddress: rtGw, routerAddress: rtRouter, localAs: as, routerAs: 65000 + n * 10, routesFile, nextHop4: `10.${n}.${i}.1`, bfd: LAB_BFD,
        }));
        const config = {
          'vitesse-gateway:gateway': {
            ...(o.saTtl ? { 'sa-ttl': o.saTtl } : {}),
            ...(o.negotiationTtl ? { 'negotiation-ttl': o.negotiationTtl } : {}),
            ...(o.livenessInterval ? { 'liveness-interval': o.livenessInterval } : {}),
            ...(o.livenessFailures ? { 'liveness-failures': o.livenessFailures } : {}),
            'private-interface': { device: 'private', driver, mac: priv.macB, address: [`10.${n}.${i}.1`], 'next-hop': { address: `10.${n}.${i}.254` } },
            'public-interface': { device: 'public', driver, mac: pub.macA, queue: [{ id: 1, address: pubAddr(n, i) }], 'next-hop': { address: pubAddr(n, i).replace(/\.1$/, '.254') } },
            ...(o.multiPeer
              ? peerRoute(name, n, dir)
              : { route: [{ id: `site-${partner[0]}`, net: `10.${3 - n}.0.0/16`, gateway: [{ queue: 1, address: pubAddr(3 - n, i) }], spi: 1000 + i, 'preshared-key': keys[i] }] }),
            bgp: { 'bird-config': path.join(dir, 'bird.conf'), 'routes-file': routesFile, 'control-socket': path.join(dir, 'bird.ctl') },
          },
        };
        configFile[name] = path.join(dir, 'gateway.json');
        fs.writeFileSync(configFile[name], JSON.stringify(config, null, 2));
      }
      const rdir = path.join(o.dir, `r${s}`);
      fs.mkdirSync(rdir, { recursive: true });
      fs.writeFileSync(path.join(rdir, 'bird.conf'), routerBirdConfig({
        routerId: `10.${n}.0.1`, routerAs: 65000 + n * 10, accept4: [`10.${3 - n}.0.0/16`], nextHops4: [`10.${n}.0.0/16`], gateways, receiveLimit: 1000, bfd: LAB_BFD,
      }));
      return rdir;
    };
    const dirs = { A: site('A'), B: site('B') };
    return {
      lab,
      ns,
      configFile,
      lan: { a1: 'lan1', a2: 'lan2', b1: 'lan1', b2: 'lan2' },
      hostA: '10.1.0.2',
      hostB: '10.2.0.2',
      routerSocket: { A: path.join(dirs.A, 'bird.ctl'), B: path.join(dirs.B, 'bird.ctl') },
      startRouters() {
        for (const [s, r] of [['A', ns.rA], ['B', ns.rB]] as const) {
          lab.spawn(r, ['bird', '-f', '-c', path.join(dirs[s], 'bird.conf'), '-s', path.join(dirs[s], 'bird.ctl')]);
        }
      },
      cleanup: () => lab.cleanup(),
    };
  } catch (e) {
    lab.cleanup();
    throw e;
  }
}
