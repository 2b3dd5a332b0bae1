// Turns a draft that passed every check into the typed GatewayConfig. Nothing
// here can fail: a draft with any refused value never gets this far.
import type { Draft, DraftInterface, DraftRoute, DraftSa } from './decode.js';
import type {
  Aead, DataPlaneConfig, Driver, GatewayConfig, InterfaceConfig, MacAddress, QueueNumber, RouteConfig, RouteId, RouteSpi, SaConfig, Spi,
} from './types.js';

function must<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error('vitesse config: building from an unchecked draft');
  return value;
}

function iface(i: DraftInterface): InterfaceConfig {
  return {
    device: must(i.device),
    driver: must(i.driver) as Driver,
    mac: i.mac ?? null,
    wireEnd: i.wireEnd == null ? null : (i.wireEnd as 0 | 1),
    pcap: i.pcap ? { input: i.pcap.input ?? null, output: i.pcap.output ?? null } : null,
    nextHop: { address: must(i.nextHop.address).text, mac: (i.nextHop.mac ?? null) as MacAddress | null },
  };
}

function sa(s: DraftSa): SaConfig {
  return {
    route: must(s.route) as RouteId,
    queue: must(s.queue) as QueueNumber,
    spi: must(s.spi) as Spi,
    aead: must(s.aead) as Aead,
    key: must(s.key),
    salt: must(s.salt),
    esn: must(s.esn),
    initialSequence: s.initialSequence ?? null,
  };
}

const byNumber = <E>(key: (e: E) => number) => (a: E, b: E) => key(a) - key(b);

// A public-key route's gateway addresses are its peer's endpoints: the data
// plane and everything else that reads `gateways` need not know the modes.
function gatewaysAndPeer(r: DraftRoute): Pick<RouteConfig, 'gateways' | 'peer' | 'peers'> {
  const draft = must(r.peers)[0];
  if (!draft) {
    return {
      gateways: must(r.gateways).map((g) => ({ queue: must(g.queue) as QueueNumber, address: must(g.address).text })).sort(byNumber((g) => g.queue)),
      peer: null,
    };
  }
  const peers = must(r.peers).map((p) => ({
    publicKey: must(p.publicKey),
    endpoints: must(p.endpoints)
      .map((e) => ({ queue: must(e.queue) as QueueNumber, address: must(e.address).text, port: e.port ?? null }))
      .sort(byNumber((e) => e.queue)),
    presharedKeyFile: p.presharedKeyFile ?? null,
  }));
  return {
    gateways: peers[0].endpoints.map((e) => ({ queue: e.queue, address: e.address })),
    peer: peers[0],
    ...(peers.length > 1 ? { peers } : {}),
  };
}

export function build(d: Draft): GatewayConfig {
  const priv = must(d.privateInterface);
  const pub = must(d.publicInterface);
  const addresses = priv.addresses.map((a) => must(a.value));
  const dataPlane: DataPlaneConfig | null = d.dataPlane
    ? { inboundSas: d.dataPlane.inbound.map(sa), outboundSas: d.dataPlane.outbound.map(sa) }
    : null;
  return {
    queues: must(d.queues),
    mtu: must(d.mtu),
    tfc: must(d.tfc),
    saTtl: must(d.saTtl),
    negotiationTtl: must(d.negotiationTtl),
    protocolPort: must(d.protocolPort),
    privateKeyFile: d.privateKeyFile ?? null,
    replayWindow: must(d.replayWindow),
    livenessInterval: must(d.livenessInterval),
    livenessFailures: must(d.livenessFailures),
    natTPort: must(d.natTPort),
    natKeepaliveInterval: must(d.natKeepaliveInterval),
    privateInterface: {
      ...iface(priv),
      ipv4: addresses.find((a) => a.version === 4)?.text ?? null,
      ipv6: addresses.find((a) => a.version === 6)?.text ?? null,
    },
    publicInterface: {
      ...iface(pub),
      queues: must(pub.queues)
        .map((q) => ({ id: must(q.id) as QueueNumber, address: must(q.address).text }))
        .sort(byNumber((q) => q.id)),
    },
    routes: d.routes.map((r) => ({
      id: must(r.id) as RouteId,
      net: must(r.net).text,
      ...gatewaysAndPeer(r),
      spi: (r.spi ?? null) as RouteSpi | null,
      presharedKey: r.presharedKey ?? null,
      aead: must(r.aead) as Aead,
      livenessInterval: r.livenessInterval ?? null,
      livenessFailures: r.livenessFailures ?? null,
      natTraversal: must(r.natTraversal),
      protocol: must(r.protocol),
    })),
    dataPlane,
    bgp: d.bgp ? { birdConfig: must(d.bgp.birdConfig), routesFile: must(d.bgp.routesFile), controlSocket: must(d.bgp.controlSocket) } : null,
  };
}
