// Two sites joined by Vitesse with gateway A behind a NAT, on real kernel
// interfaces in namespaces:
//
//   hostA ── gwA ══ nat ══ gwB ── hostB
//   10.1.0.2  │ 172.16.0.1 │ 198.51.100.254 (.253)  198.51.100.1 │ 10.2.0.2
//
// The `nat` namespace forwards and masquerades what leaves towards B with
// random source ports (nftables), as a home router or a carrier-grade NAT
// does: B sees A's traffic from 198.51.100.254 and a port of the NAT's
// choosing, never from 172.16.0.1:4500. The route uses nat-traversal
// "force" in data-plane mode (explicit SAs): the NNpsk0 key exchange binds
// both gateways' addresses, so an address-translating NAT cannot be between
// its ends; the endpoint B sends to is learned from A's authenticated ESP.
// With `publicKeys`, key-manager mode instead: public-key routes (IKpsk2),
// and B's peer for A has no endpoint (learned from A's key exchange and ESP),
// with nat-traversal force or auto; `masquerade: false` makes the same lab
// without the NAT (the middle namespace only routes), to compare.
//
// The shape is TwoSiteLab's (ns.net is the NAT), so demo.ts's helpers
// (waitForTunnel, tcpTransfer) work on it.
import crypto from 'node:crypto';
import { Lab } from './lab.js';
import type { PeerKeys } from './memory-two-sites.js';
import type { Driver, TwoSiteLab } from './two-sites.js';

export const NAT_ADDR = {
  hostA: '10.1.0.2', gwAPrivate: '10.1.0.1', gwAPublic: '172.16.0.1', natInside: '172.16.0.254',
  hostB: '10.2.0.2', gwBPrivate: '10.2.0.1', gwBPublic: '198.51.100.1', natOutside: '198.51.100.254',
  /** Where the NAT moves A's traffic when told to (rebinding). */
  natOutside2: '198.51.100.253',
} as const;

export interface NatSiteOptions {
  driver?: Driver;
  prefix?: string;
  /** Seconds (default 20; 0: none). */
  keepaliveInterval?: number;
  /**
   * Key-manager mode with public-key routes (Noise IKpsk2) instead of
   * explicit SAs: A names B's endpoint, B names none for A (a peer behind
   * NAT, learned from its authenticated messages).
   */
  publicKeys?: { a: PeerKeys; b: PeerKeys };
  /** Key-manager mode: the route's nat-traversal at both ends (default force). */
  natTraversal?: 'force' | 'auto';
  /** False: the `nat` namespace only routes (no masquerade), the same lab without a NAT (default true). */
  masquerade?: boolean;
}

export interface NatSiteLab extends TwoSiteLab {
  /** Masquerades A's traffic from `address` (random ports), forgetting every binding the NAT had. */
  rebind(address: string): void;
  /** The NAT's UDP conntrack timeouts, seconds. */
  udpTimeout(seconds: number): void;
  /** The NAT's UDP bindings (conntrack entries), as `conntrack -L` prints them. */
  bindings(): string[];
  /**
   * A NAT appears (in a lab built without masquerade): A's traffic is
   * masqueraded from `address`, and nothing new from outside reaches the
   * inside any more (as with a real NAT, whose inside is not routed from
   * outside); forgets every binding.
   */
  startNat(address: string): void;
}

const hex = (n: number) => crypto.randomBytes(n).toString('hex');

export function buildNatSites(o: NatSiteOptions = {}): NatSiteLab {
  const driver = o.driver ?? 'af-packet';
  const lab = new Lab(o.prefix ?? 'vnat');
  try {
    const ns = {
      hostA: lab.namespace('hostA', { ipv6: false }),
      gwA: lab.namespace('gwA', { ipv6: false }),
      net: lab.namespace('nat', { ipv6: false, forwarding: true }),
      gwB: lab.namespace('gwB', { ipv6: false }),
      hostB: lab.namespace('hostB', { ipv6: false }),
    };
    const A = NAT_ADDR;
    const aPriv = lab.veth(ns.hostA, 'eth0', ns.gwA, 'private');
    const aPub = lab.veth(ns.gwA, 'public', ns.net, 'inside');
    const bPub = lab.veth(ns.gwB, 'public', ns.net, 'outside');
    const bPriv = lab.veth(ns.hostB, 'eth0', ns.gwB, 'private');
    lab.address(ns.hostA, 'eth0', `${A.hostA}/24`);
    lab.route(ns.hostA, 'default', A.gwAPrivate);
    lab.address(ns.hostB, 'eth0', `${A.hostB}/24`);
    lab.route(ns.hostB, 'default', A.gwBPrivate);
    lab.address(ns.net, 'inside', `${A.natInside}/24`);
    lab.address(ns.net, 'outside', `${A.natOutside}/24`);
    lab.address(ns.net, 'outside', `${A.natOutside2}/24`);

    const masquerade = o.masquerade ?? true;
    const nat = (address: string) => {
      if (!masquerade) return;
      lab.exec(ns.net, ['nft', '-f', '-'], [
        'flush ruleset',
        'table ip nat {',
        '  chain post {',
        '    type nat hook postrouting priority 100;',
        `    oifname "outside" snat to ${address} random`,
        '  }',
        '}',
      ].join('\n'));
    };
    nat(A.natOutside);

    // Explicit SAs, one pair per direction; each end's outbound is the other's inbound.
    const aToB = { spi: 4097, key: hex(16), salt: hex(4) };
    const bToA = { spi: 8193, key: hex(16), salt: hex(4) };
    const sa = (route: string, s: typeof aToB) => ({ route, queue: 1, spi: s.spi, aead: 'aes-gcm-16-icv', key: s.key, salt: s.salt });
    const site = (me: 'A' | 'B', priv: { mac: string }, pub: { mac: string }) => {
      const a = me === 'A';
      const route = a ? 'site-b' : 'site-a';
      return {
        'vitesse-gateway:gateway': {
          ...(o.keepaliveInterval !== undefined ? { 'nat-keepalive-interval': o.keepaliveInterval } : {}),
          'private-interface': {
            device: 'private', driver, mac: priv.mac,
            address: [a ? A.gwAPrivate : A.gwBPrivate],
            'next-hop': { address: a ? A.hostA : A.hostB },
          },
          'public-interface': {
            device: 'public', driver, mac: pub.mac,
            queue: [{ id: 1, address: a ? A.gwAPublic : A.gwBPublic }],
            'next-hop': { address: a ? A.natInside : A.natOutside },
          },
          // B knows A only by the NAT's address (and the NAT-T port, until A's ESP says which).
          ...(o.publicKeys ? keyManagerSite(a, route, o.publicKeys, o.natTraversal ?? 'force') : {
            route: [{ id: route, net: a ? '10.2.0.0/16' : '10.1.0.0/16', gateway: [{ queue: 1, address: a ? A.gwBPublic : A.natOutside }], 'nat-traversal': 'force' }],
            'data-plane': {
              'inbound-sa': [sa(route, a ? bToA : aToB)],
              'outbound-sa': [sa(route, a ? aToB : bToA)],
            },
          }),
        },
      };
    };
    return {
      lab,
      ns,
      configA: site('A', { mac: aPriv.macB }, { mac: aPub.macA }),
      configB: site('B', { mac: bPriv.macB }, { mac: bPub.macA }),
      cleanup: () => lab.cleanup(),
      rebind(address: string) {
        nat(address);
        lab.exec(ns.net, ['conntrack', '-F']);
      },
      udpTimeout(seconds: number) {
        lab.exec(ns.net, ['sysctl', '-qw', `net.netfilter.nf_conntrack_udp_timeout=${seconds}`, `net.netfilter.nf_conntrack_udp_timeout_stream=${seconds}`]);
      },
      bindings() {
        return lab.exec(ns.net, ['conntrack', '-L', '-p', 'udp']).split('\n').filter((l) => l.trim());
      },
      startNat(address: string) {
        lab.exec(ns.net, ['nft', '-f', '-'], [
          'flush ruleset',
          'table ip nat {',
          '  chain post {',
          '    type nat hook postrouting priority 100;',
          `    oifname "outside" snat to ${address} random`,
          '  }',
          '  chain inbound {',
          '    type filter hook forward priority 0;',
          '    iifname "outside" ct state new drop',
          '  }',
          '}',
        ].join('\n'));
        lab.exec(ns.net, ['conntrack', '-F']);
      },
    };
  } catch (e) {
    lab.cleanup();
    throw e;
  }
}

// A public-key route: A knows B's endpoint, B knows nothing of where A is.
function keyManagerSite(a: boolean, route: string, keys: { a: PeerKeys; b: PeerKeys }, natTraversal: 'force' | 'auto') {
  const me = a ? keys.a : keys.b;
  const peer = a ? keys.b : keys.a;
  return {
    'private-key-file': me.privateKeyFile,
    route: [{
      id: route,
      net: a ? '10.2.0.0/16' : '10.1.0.0/16',
      spi: 1001,
      peer: [{ 'public-key': peer.publicKey, ...(a ? { endpoint: [{ queue: 1, address: NAT_ADDR.gwBPublic }] } : {}) }],
      'nat-traversal': natTraversal,
    }],
  };
}
