// Two sites joined by Vitesse, on real kernel interfaces in namespaces:
//
//   hostA ── gwA ══ net ══ gwB ── hostB
//   10.1.0.2  │ 192.0.2.1  198.51.100.1 │  10.2.0.2
//   fd00:1::2 │   (net routes between)   │  fd00:2::2
//
// With `outer: 6` the public side is IPv6 (2001:db8:a::1 and 2001:db8:b::1,
// next hops 2001:db8:a::fe and 2001:db8:b::fe); inside, both versions as above.
//
// Used by `vitesse demo` and by the tests on real interfaces. The gateways'
// configurations are ordinary RFC 7951 files, so they can also be run with
// `ip netns exec <gw> vitesse run --config …`.
import crypto from 'node:crypto';
import { Lab } from './lab.js';

export type Driver = 'af-packet' | 'af-xdp';

export interface TwoSiteLab {
  lab: Lab;
  ns: { hostA: string; gwA: string; net: string; gwB: string; hostB: string };
  /** RFC 7951 configurations for gateway A and B. */
  configA: object;
  configB: object;
  cleanup(): void;
}

export const ADDR = {
  hostA: '10.1.0.2', hostA6: 'fd00:1::2', gwAPrivate: '10.1.0.1', gwAPrivate6: 'fd00:1::1', gwAPublic: '192.0.2.1',
  hostB: '10.2.0.2', hostB6: 'fd00:2::2', gwBPrivate: '10.2.0.1', gwBPrivate6: 'fd00:2::1', gwBPublic: '198.51.100.1',
  netA: '192.0.2.254', netB: '198.51.100.254',
  // With `outer: 6`: the public side over IPv6.
  gwAPublic6: '2001:db8:a::1', gwBPublic6: '2001:db8:b::1', netA6: '2001:db8:a::fe', netB6: '2001:db8:b::fe',
} as const;

export interface TwoSiteOptions {
  driver?: Driver;
  /** Tunnel MTU (largest inner packet); default 1440. */
  mtu?: number;
  saTtl?: number;
  negotiationTtl?: number;
  prefix?: string;
  /** The public side's (ESP's) IP version; default 4. */
  outer?: 4 | 6;
  /**
   * Leave the hosts' veth pairs with the kernel's default offloads (TSO, GSO,
   * checksum offload on): the hosts hand the gateways 64 KB super-frames, as
   * a new operator's hosts would. Default: off, as on a real wire.
   */
  hostOffloads?: boolean;
  /** The routes' nat-traversal (default off): `force` sends ESP in UDP (RFC 3948) both ways. */
  natTraversal?: 'off' | 'force';
  /**
   * Leave the public veth pairs (gateway — net) with the kernel's default
   * transmit offloads (checksum, TSO, GSO, tx-udp-segmentation; GRO stays
   * off), so that af-packet's UDP super-frames of ESP in UDP cross gwA's
   * send, net's forwarding and gwB's receive as one skb. Default: off.
   */
  publicOffloads?: boolean;
}

export function buildTwoSites(o: TwoSiteOptions = {}): TwoSiteLab {
  const driver = o.driver ?? 'af-packet';
  const lab = new Lab(o.prefix ?? 'vitesse');
  try {
    const ns = {
      hostA: lab.namespace('hostA'),
      gwA: lab.namespace('gwA', { ipv6: false }),
      net: lab.namespace('net', { ipv6: o.outer === 6, forwarding: true }),
      gwB: lab.namespace('gwB', { ipv6: false }),
      hostB: lab.namespace('hostB'),
    };
    // The gateways' interfaces carry no kernel addresses: Vitesse answers ARP,
    // ND and ICMP for its addresses itself, and the kernel stays out of the way.
    const aPriv = lab.veth(ns.hostA, 'eth0', ns.gwA, 'private', { kernelOffloads: o.hostOffloads });
    const aPub = lab.veth(ns.gwA, 'public', ns.net, 'siteA', { kernelOffloads: o.publicOffloads });
    const bPub = lab.veth(ns.gwB, 'public', ns.net, 'siteB', { kernelOffloads: o.publicOffloads });
    if (o.publicOffloads) {
      for (const [n, dev] of [[ns.gwA, 'public'], [ns.net, 'siteA'], [ns.net, 'siteB'], [ns.gwB, 'public']]) lab.exec(n, ['ethtool', '-K', dev, 'gro', 'off']);
    }
    const bPriv = lab.veth(ns.hostB, 'eth0', ns.gwB, 'private', { kernelOffloads: o.hostOffloads });
    lab.address(ns.hostA, 'eth0', `${ADDR.hostA}/24`);
    lab.address(ns.hostA, 'eth0', `${ADDR.hostA6}/64`);
    lab.route(ns.hostA, 'default', ADDR.gwAPrivate);
    lab.route(ns.hostA, 'default', ADDR.gwAPrivate6);
    lab.address(ns.hostB, 'eth0', `${ADDR.hostB}/24`);
    lab.address(ns.hostB, 'eth0', `${ADDR.hostB6}/64`);
    lab.route(ns.hostB, 'default', ADDR.gwBPrivate);
    lab.route(ns.hostB, 'default', ADDR.gwBPrivate6);
    const v6 = o.outer === 6;
    lab.address(ns.net, 'siteA', v6 ? `${ADDR.netA6}/64` : `${ADDR.netA}/24`);
    lab.address(ns.net, 'siteB', v6 ? `${ADDR.netB6}/64` : `${ADDR.netB}/24`);
    const outer = v6
      ? { a: ADDR.gwAPublic6, b: ADDR.gwBPublic6, netA: ADDR.netA6, netB: ADDR.netB6 }
      : { a: ADDR.gwAPublic, b: ADDR.gwBPublic, netA: ADDR.netA, netB: ADDR.netB };
    const psk = () => crypto.randomBytes(32).toString('hex');
    const k4 = psk(), k6 = psk();
    const nat = o.natTraversal && o.natTraversal !== 'off' ? { 'nat-traversal': o.natTraversal } : {};
    const site = (me: 'A' | 'B', priv: { mac: string }, pub: { mac: string }) => {
      const a = me === 'A';
      const other = a ? 'b' : 'a';
      return {
        'vitesse-gateway:gateway': {
          mtu: o.mtu ?? 1440,
          ...(o.saTtl ? { 'sa-ttl': o.saTtl } : {}),
          ...(o.negotiationTtl ? { 'negotiation-ttl': o.negotiationTtl } : {}),
          'private-interface': {
            device: 'private', driver, mac: priv.mac,
            address: a ? [ADDR.gwAPrivate, ADDR.gwAPrivate6] : [ADDR.gwBPrivate, ADDR.gwBPrivate6],
            'next-hop': { address: a ? ADDR.hostA : ADDR.hostB },
          },
          'public-interface': {
            device: 'public', driver, mac: pub.mac,
            queue: [{ id: 1, address: a ? outer.a : outer.b }],
            'next-hop': { address: a ? outer.netA : outer.netB },
          },
          route: [
            { id: `site-${other}`, net: a ? '10.2.0.0/16' : '10.1.0.0/16', gateway: [{ queue: 1, address: a ? outer.b : outer.a }], spi: 1001, 'preshared-key': k4, ...nat },
            { id: `site-${other}-v6`, net: a ? 'fd00:2::/48' : 'fd00:1::/48', gateway: [{ queue: 1, address: a ? outer.b : outer.a }], spi: 1002, 'preshared-key': k6, ...nat },
          ],
        },
      };
    };
    return {
      lab,
      ns,
      configA: site('A', { mac: aPriv.macB }, { mac: aPub.macA }),
      configB: site('B', { mac: bPriv.macB }, { mac: bPub.macA }),
      cleanup: () => lab.cleanup(),
    };
  } catch (e) {
    lab.cleanup();
    throw e;
  }
}
