// A GatewayConfig back to RFC 7951 JSON, every default written out (what the
// gateway actually runs with). Keys are redacted unless the caller asks for
// them: what this returns is what `config get` shows and what logs may hold.
// With secrets, parseConfig(toJson(c, { secrets: true })) gives back c.
import { REDACTED, TOP } from './defaults.js';
import type { GatewayConfig, InterfaceConfig, SaConfig } from './types.js';

export interface ToJsonOptions {
  /** Write pre-shared keys, SA keys and salts in hex instead of "<redacted>". */
  secrets?: boolean;
}

type Json = Record<string, unknown>;

function iface(i: InterfaceConfig): Json {
  const out: Json = { device: i.device, driver: i.driver };
  if (i.mac) out.mac = i.mac;
  if (i.wireEnd !== null) out['wire-end'] = i.wireEnd;
  if (i.pcap) {
    const pcap: Json = {};
    if (i.pcap.input !== null) pcap.input = i.pcap.input;
    if (i.pcap.output !== null) pcap.output = i.pcap.output;
    out.pcap = pcap;
  }
  return out;
}

function nextHop(i: InterfaceConfig): Json {
  return i.nextHop.mac ? { address: i.nextHop.address, mac: i.nextHop.mac } : { address: i.nextHop.address };
}

export function toJson(config: GatewayConfig, options: ToJsonOptions = {}): Record<string, unknown> {
  const secret = (b: Buffer) => (options.secrets ? b.toString('hex') : REDACTED);
  const sa = (s: SaConfig): Json => {
    const out: Json = { route: s.route, queue: s.queue, spi: s.spi, aead: s.aead, key: secret(s.key), salt: secret(s.salt), esn: s.esn };
    if (s.initialSequence !== null) out['initial-sequence'] = String(s.initialSequence);
    return out;
  };
  const priv = config.privateInterface;
  const pub = config.publicInterface;
  const gateway: Json = {
    queues: config.queues,
    mtu: config.mtu,
    tfc: config.tfc,
    'sa-ttl': config.saTtl,
    'negotiation-ttl': config.negotiationTtl,
    'protocol-port': config.protocolPort,
    'replay-window': config.replayWindow,
    'liveness-interval': config.livenessInterval,
    'liveness-failures': config.livenessFailures,
    ...(config.privateKeyFile !== null ? { 'private-key-file': config.privateKeyFile } : {}),
    'nat-t-port': config.natTPort,
    'nat-keepalive-interval': config.natKeepaliveInterval,
    'private-interface': {
      ...iface(priv),
      address: [priv.ipv4, priv.ipv6].filter((a) => a !== null),
      'next-hop': nextHop(priv),
    },
    'public-interface': {
      ...iface(pub),
      queue: pub.queues.map((q) => ({ id: q.id, address: q.address })),
      'next-hop': nextHop(pub),
    },
    route: config.routes.map((r) => {
      const out: Json = { id: r.id, net: r.net };
      if (r.peer) {
        // A public key is not secret: shown as configured. The files' contents never are.
        out.peer = (r.peers ?? [r.peer]).map((p) => {
          const peer: Json = {
            'public-key': p.publicKey.toString('base64'),
            endpoint: p.endpoints.map((e) => (e.port === null ? { queue: e.queue, address: e.address } : { queue: e.queue, address: e.address, port: e.port })),
          };
          if (p.presharedKeyFile !== null) peer['preshared-key-file'] = p.presharedKeyFile;
          return peer;
        });
      } else {
        out.gateway = r.gateways.map((g) => ({ queue: g.queue, address: g.address }));
      }
      if (r.spi !== null) out.spi = r.spi;
      if (r.presharedKey !== null) out['preshared-key'] = secret(r.presharedKey);
      out.aead = r.aead;
      if (r.livenessInterval !== null) out['liveness-interval'] = r.livenessInterval;
      if (r.livenessFailures !== null) out['liveness-failures'] = r.livenessFailures;
      out['nat-traversal'] = r.natTraversal;
      out.protocol = r.protocol;
      return out;
    }),
  };
  if (config.dataPlane) {
    gateway['data-plane'] = {
      'inbound-sa': config.dataPlane.inboundSas.map(sa),
      'outbound-sa': config.dataPlane.outboundSas.map(sa),
    };
  }
  if (config.bgp) gateway.bgp = { 'bird-config': config.bgp.birdConfig, 'routes-file': config.bgp.routesFile, 'control-socket': config.bgp.controlSocket };
  return { [TOP]: gateway };
}
