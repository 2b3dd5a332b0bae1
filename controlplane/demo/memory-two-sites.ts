// Two gateways, A and B, with the real data plane, slow path and key manager,
// joined by in-memory wires (two-sites.ts is the same on real interfaces):
//   hostA ─ privA ─ [gateway A] ─ net ─ [gateway B] ─ privB ─ hostB
// The caller (a test, `vitesse bench flood/soak`) plays hostA and hostB (it
// holds the far ends of privA and privB); the gateways reach each other over
// `net` with ARP and the key exchange, as they would over a real network.
import crypto from 'node:crypto';
import pino, { type Logger } from 'pino';
import { wires } from '../dataplane.js';
import { parseConfig, type GatewayConfig } from '../config/index.js';
import type { KeyExchangeProtocol } from '../exchange/types.js';
import { Gateway } from '../gateway.js';
import { parseIp, parseMac } from '../slowpath/address.js';
import { buildIpv4, ethernetFrame } from '../slowpath/packet.js';

export const HOST_A_MAC = '02:00:00:0a:00:02';
export const HOST_B_MAC = '02:00:00:0b:00:02';
export const GW_A_PRIV_MAC = '02:00:00:0a:00:01';
export const GW_B_PRIV_MAC = '02:00:00:0b:00:01';

let serial = 0;

export interface TwoSites {
  a: Gateway;
  b: Gateway;
  configA: GatewayConfig;
  configB: GatewayConfig;
  /** Frames from hostA into gateway A's private side. */
  sendA(frames: Buffer[]): number;
  sendB(frames: Buffer[]): number;
  /** Frames gateway A delivered to hostA (the numbered datagrams only). */
  receiveA(): Buffer[];
  receiveB(): Buffer[];
  /** Every frame gateway A delivered to hostA (ARP and ICMP included). */
  receiveAllA(): Buffer[];
  receiveAllB(): Buffer[];
  /** Kills gateway B (no goodbye to A) and starts a fresh one with the same configuration. */
  restartB(): void;
  close(): void;
}

export interface SiteOptions {
  saTtl?: number;
  negotiationTtl?: number;
  pskA?: string;
  pskB?: string;
  routeSpiA?: number;
  routeSpiB?: number;
  /** Queues of each gateway (default 1): queue q's public addresses are 192.0.2.q (A) and 198.51.100.q (B). */
  queues?: number;
  /** Each route's nat-traversal (default off). */
  natTraversal?: 'off' | 'force' | 'auto';
  /** Where both gateways log (default: silent, or VITESSE_TEST_LOG's level). */
  logger?: Logger;
  /**
   * Public-key routes (a `peer`, Noise IKpsk2) instead of pre-shared keys:
   * each gateway's private key file and its public key (base64), and a
   * psk file on top for each, if given.
   */
  publicKeys?: { a: PeerKeys; b: PeerKeys };
  /** The route's key exchange (default vitesse-ske). */
  protocol?: KeyExchangeProtocol;
}

export interface PeerKeys {
  privateKeyFile: string;
  publicKey: string;
  presharedKeyFile?: string;
}

// A route with a `peer` in place of `gateway` and `preshared-key`.
function withPeers(config: ReturnType<typeof siteConfig>, me: PeerKeys, peer: PeerKeys): object {
  const g = config['vitesse-gateway:gateway'];
  const route = g.route.map(({ gateway, 'preshared-key': _psk, ...rest }) => ({
    ...rest,
    peer: [{ 'public-key': peer.publicKey, endpoint: gateway, ...(me.presharedKeyFile ? { 'preshared-key-file': me.presharedKeyFile } : {}) }],
  }));
  return { 'vitesse-gateway:gateway': { ...g, 'private-key-file': me.privateKeyFile, route } };
}

function siteConfig(side: 'a' | 'b', wiresOf: { priv: string; net: string }, o: SiteOptions, psk: string, routeSpi: number) {
  const me = side === 'a' ? { n: 1, mac: '0a', peer: '198.51.100.1', host: HOST_A_MAC } : { n: 2, mac: '0b', peer: '192.0.2.1', host: HOST_B_MAC };
  const ids = queueIds(o.queues);
  const other = side === 'a' ? 2 : 1;
  return {
    'vitesse-gateway:gateway': {
      queues: ids.length,
      'sa-ttl': o.saTtl ?? 600,
      'negotiation-ttl': o.negotiationTtl ?? 5,
      'private-interface': {
        device: wiresOf.priv,
        driver: 'memory',
        'wire-end': 0,
        mac: `02:00:00:${me.mac}:00:01`,
        address: [`10.${me.n}.0.1`],
        'next-hop': { address: `10.${me.n}.0.2`, mac: me.host },
      },
      'public-interface': {
        device: wiresOf.net,
        driver: 'memory',
        'wire-end': side === 'a' ? 0 : 1,
        mac: `02:00:00:${me.mac}:01:01`,
        queue: ids.map((id) => ({ id, address: publicAddress(side, id) })),
        'next-hop': { address: me.peer },
      },
      route: [
        {
          id: `site-${side === 'a' ? 'b' : 'a'}`,
          net: `10.${other}.0.0/16`,
          gateway: ids.map((id) => ({ queue: id, address: publicAddress(side === 'a' ? 'b' : 'a', id) })),
          spi: routeSpi,
          'preshared-key': psk,
          ...(o.natTraversal ? { 'nat-traversal': o.natTraversal } : {}),
          ...(o.protocol ? { protocol: o.protocol } : {}),
        },
      ],
    },
  };
}

export function twoSites(o: SiteOptions = {}): TwoSites {
  const id = `${process.pid}-${serial++}-${crypto.randomBytes(2).toString('hex')}`;
  const privA = `privA-${id}`, privB = `privB-${id}`, net = `net-${id}`;
  const queues = o.queues ?? 1;
  const addresses = (side: 'a' | 'b') => queueIds(queues).map((id) => publicAddress(side, id));
  wires.create(privA, { ends: [{ queues, steering: 'flow-hash' }, { queues: 1 }] });
  wires.create(privB, { ends: [{ queues, steering: 'flow-hash' }, { queues: 1 }] });
  wires.create(net, { ends: [{ queues, steering: 'destination', addresses: addresses('a') }, { queues, steering: 'destination', addresses: addresses('b') }] });
  const psk = crypto.randomBytes(32).toString('hex');
  let jsonA: object = siteConfig('a', { priv: privA, net }, o, o.pskA ?? psk, o.routeSpiA ?? 1001);
  let jsonB: object = siteConfig('b', { priv: privB, net }, o, o.pskB ?? psk, o.routeSpiB ?? 1001);
  if (o.publicKeys) {
    jsonA = withPeers(jsonA as ReturnType<typeof siteConfig>, o.publicKeys.a, o.publicKeys.b);
    jsonB = withPeers(jsonB as ReturnType<typeof siteConfig>, o.publicKeys.b, o.publicKeys.a);
  }
  const configA = parseConfig(jsonA);
  const configB = parseConfig(jsonB);
  const logger = o.logger ?? pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });
  const a = new Gateway(configA, { logger: logger.child({ gw: 'A' }) });
  const b = new Gateway(configB, { logger: logger.child({ gw: 'B' }) });
  // Only the hosts' datagrams: the gateways also announce themselves (ARP).
  const drain = (wire: string, keep: (f: Buffer) => boolean = isNumbered) => {
    const out: Buffer[] = [];
    for (let got; (got = wires.receive(wire, 1)).length; ) out.push(...got.filter(keep));
    return out;
  };
  const sites: TwoSites = {
    a, b, configA, configB,
    sendA: (f) => wires.send(privA, 1, f),
    sendB: (f) => wires.send(privB, 1, f),
    receiveA: () => drain(privA),
    receiveB: () => drain(privB),
    receiveAllA: () => drain(privA, () => true),
    receiveAllB: () => drain(privB, () => true),
    restartB() {
      sites.b.close();
      sites.b = new Gateway(configB, { logger: logger.child({ gw: 'B' }) });
      sites.b.start();
    },
    close() {
      sites.a.close();
      sites.b.close();
      for (const w of [privA, privB, net]) wires.destroy(w);
    },
  };
  return sites;
}

/** The configured queue numbers 1..queues. */
const queueIds = (queues = 1) => Array.from({ length: queues }, (_, i) => i + 1);

/** Gateway A's or B's public address on queue `id`. */
export const publicAddress = (side: 'a' | 'b', id: number) => (side === 'a' ? `192.0.2.${id}` : `198.51.100.${id}`);

/** A UDP datagram from hostA (10.1.0.2) to hostB (10.2.0.2), or the reverse, carrying a sequence number. */
export function numbered(from: 'a' | 'b', n: number, size = 100): Buffer {
  const payload = Buffer.alloc(Math.max(12, size - 20));
  payload.writeUInt16BE(4000, 0);
  payload.writeUInt16BE(5000, 2);
  payload.writeUInt16BE(payload.length, 4);
  payload.writeUInt32BE(n, 8);
  const [src, dst, dmac, smac] = from === 'a' ? ['10.1.0.2', '10.2.0.2', GW_A_PRIV_MAC, HOST_A_MAC] : ['10.2.0.2', '10.1.0.2', GW_B_PRIV_MAC, HOST_B_MAC];
  return ethernetFrame(parseMac(dmac), parseMac(smac), 0x0800, buildIpv4({ src: parseIp(src), dst: parseIp(dst), protocol: 17, id: 0 }, payload));
}

export const numberOf = (f: Buffer) => f.readUInt32BE(14 + 20 + 8);
const isNumbered = (f: Buffer) => f.length >= 14 + 20 + 12 && f.readUInt16BE(12) === 0x0800 && f[14 + 9] === 17 && f.readUInt16BE(14 + 20 + 2) === 5000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when `cond` holds (checked every few ms), or rejects after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(2);
  }
  return performance.now() - t0;
}
