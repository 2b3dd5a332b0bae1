// BIRD 2 configurations for scale-out (docs/scale-out.md): the one beside
// each gateway, and the site router's. deploy/bird/*.conf are these with the
// example addresses (test/bgp-config.test.ts keeps them equal); the ECMP lab
// (demo/ecmp-sites.ts) runs them with its own.

export interface GatewayBird {
  /** The gateway host's address on its routing link (BGP and BFD source, router id). */
  routingAddress: string;
  routerAddress: string;
  localAs: number;
  routerAs: number;
  /** The file the gateway writes (bgp/routes-file). */
  routesFile: string;
  /** The gateway's private address(es): the next hop the router sends to. */
  nextHop4: string;
  nextHop6?: string;
  bfd?: Bfd;
}

/** BFD timers: a session is down after `multiplier` intervals without a packet. */
export interface Bfd {
  intervalMs: number;
  multiplier: number;
}

// 3 × 100 ms, so a dead gateway host is noticed in 0.3 s, not after the BGP
// hold time. (A dead gateway process is noticed sooner: its BIRD dies with
// it and the session closes.) A host whose BIRD can stall for longer than
// that (an overloaded VM) needs more: a stall then takes every session down.
export const DEFAULT_BFD: Bfd = { intervalMs: 100, multiplier: 3 };
const bfdOptions = (b: Bfd = DEFAULT_BFD) =>
  `min rx interval ${b.intervalMs} ms; min tx interval ${b.intervalMs} ms; multiplier ${b.multiplier};`;

export function gatewayBirdConfig(o: GatewayBird): string {
  return `# BIRD 2 beside a Vitesse gateway (docs/scale-out.md). Vitesse starts this
# BIRD itself (bgp/bird-config) and it dies with Vitesse. It announces the
# remote prefixes Vitesse writes into the included file, and nothing else,
# with the gateway's private address as next hop.
router id ${o.routingAddress};
log stderr { warning, error, fatal };

include "${o.routesFile}";

protocol device {}

protocol bfd {
  interface "*" { ${bfdOptions(o.bfd)} };
}

protocol bgp site_router {
  local ${o.routingAddress} as ${o.localAs};
  neighbor ${o.routerAddress} as ${o.routerAs};
  # GTSM (RFC 5082): the router accepts only packets sent with TTL 255.
  ttl security on;
  bfd on;
  # A restarted gateway connects at once rather than after 5 s.
  connect delay time 1;
  ipv4 {
    import none;
    export where proto = "vitesse4";
    next hop address ${o.nextHop4};
  };
${o.nextHop6 ? `  ipv6 {
    import none;
    export where proto = "vitesse6";
    next hop address ${o.nextHop6};
  };
` : ''}}
`;
}

export interface RouterBird {
  routerId: string;
  routerAs: number;
  /** The prefixes gateways may announce (the remote sites'). */
  accept4: string[];
  /** The private networks gateways' next hops must be in. */
  nextHops4: string[];
  gateways: Array<{ name: string; address: string; as: number; routerAddress: string }>;
  /** Per gateway: more than this many prefixes and the session is torn down. */
  receiveLimit: number;
  bfd?: Bfd;
}

export function routerBirdConfig(o: RouterBird): string {
  const set = (nets: string[]) => `[ ${nets.map((n) => `${n}+`).join(', ')} ]`;
  return `# BIRD 2 on a site router in front of several Vitesse gateways
# (docs/scale-out.md). Each gateway announces the remote prefixes it has a
# live tunnel for; routes to one prefix from several gateways become one
# kernel ECMP route (merge paths), spread per flow by L4 hash
# (sysctl net.ipv4.fib_multipath_hash_policy=1).
router id ${o.routerId};
log stderr { warning, error, fatal };

protocol device {}

# Connected networks: a gateway's next hop (its private address) resolves
# through them (gateway recursive).
protocol direct {
  ipv4;
}

protocol kernel {
  ipv4 { export where source = RTS_BGP; };
  merge paths on;
}

protocol bfd {
  interface "*" { ${bfdOptions(o.bfd)} };
}

filter vitesse_in {
  # Only the remote sites' prefixes, only via a gateway's private address.
  if net !~ ${set(o.accept4)} then reject;
  if !(${o.nextHops4.map((n) => `bgp_next_hop ~ ${n}`).join(' || ')}) then reject;
  accept;
}

template bgp vitesse_gateway {
  local as ${o.routerAs};
  ttl security on;
  bfd on;
  # A gateway that died and restarts is taken back within seconds (defaults:
  # 60..300 s of error wait, 120 s between connection attempts).
  error wait time 2, 30;
  connect retry time 5;
  ipv4 {
    import filter vitesse_in;
    receive limit ${o.receiveLimit} action disable;
    export none;
    gateway recursive;
    igp table master4;
  };
}
${o.gateways.map((g) => `
protocol bgp ${g.name} from vitesse_gateway {
  local ${g.routerAddress};
  neighbor ${g.address} as ${g.as};
}
`).join('')}`;
}

// deploy/bird/*.conf: site A with gateways a1 and a2 (test/bgp-config.test.ts
// keeps the files equal to these).
export const EXAMPLE_GATEWAY: GatewayBird = {
  routingAddress: '172.16.11.2', routerAddress: '172.16.11.1', localAs: 65011, routerAs: 65010,
  routesFile: '/run/vitesse/site-a1.bgp-routes.conf', nextHop4: '10.1.1.1', nextHop6: 'fd00:1:1::1',
};

export const EXAMPLE_ROUTER: RouterBird = {
  routerId: '10.1.0.1', routerAs: 65010, accept4: ['10.2.0.0/16'], nextHops4: ['10.1.1.0/24', '10.1.2.0/24'], receiveLimit: 1000,
  gateways: [
    { name: 'gw_a1', address: '172.16.11.2', as: 65011, routerAddress: '172.16.11.1' },
    { name: 'gw_a2', address: '172.16.12.2', as: 65012, routerAddress: '172.16.12.1' },
  ],
};
