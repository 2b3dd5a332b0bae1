// The gateway's configuration as the rest of the control plane sees it: what
// yang/vitesse-gateway.yang describes, checked, with every default filled in,
// keys decoded to Buffers and addresses in canonical form. The key manager,
// the data-plane wrapper and the management API all read this one shape.
import type { Aead, KeyExchangeProtocol, QueueNumber, RouteId, RouteSpi, Spi } from '../exchange/types.js';
import type { NatTraversal } from './defaults.js';

export type { Aead, QueueNumber, RouteId, RouteSpi, Spi };

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** An IPv4 or IPv6 address in canonical text (dotted quad, RFC 5952). */
export type IpAddress = Brand<string, 'IpAddress'>;
/** `network/length` in canonical text, host bits clear. */
export type Prefix = Brand<string, 'Prefix'>;
/** Six colon-separated lowercase hex octets. */
export type MacAddress = Brand<string, 'MacAddress'>;

export type Driver = 'af-packet' | 'af-xdp' | 'memory' | 'pcap';

export interface NextHop {
  readonly address: IpAddress;
  /** A static MAC address; null: resolved with ARP or neighbour discovery. */
  readonly mac: MacAddress | null;
}

export interface InterfaceConfig {
  readonly device: string;
  readonly driver: Driver;
  /** Null only with af-packet and af-xdp (the device's own address is used). */
  readonly mac: MacAddress | null;
  /** The memory wire's end (memory driver only, else null). */
  readonly wireEnd: 0 | 1 | null;
  /** The capture files (pcap driver only, else null). */
  readonly pcap: { readonly input: string | null; readonly output: string | null } | null;
  readonly nextHop: NextHop;
}

export interface PrivateInterfaceConfig extends InterfaceConfig {
  readonly ipv4: IpAddress | null;
  readonly ipv6: IpAddress | null;
}

export interface PublicQueue {
  /** As configured: 1..queues. */
  readonly id: QueueNumber;
  readonly address: IpAddress;
}

export interface PublicInterfaceConfig extends InterfaceConfig {
  /** One per queue, in queue order (queues[i].id === i + 1). */
  readonly queues: readonly PublicQueue[];
}

export interface RouteGateway {
  readonly queue: QueueNumber;
  /** The remote gateway's public address for this queue. */
  readonly address: IpAddress;
}

/** Where a public-key route's peer is on one of our queues. */
export interface PeerEndpoint {
  readonly queue: QueueNumber;
  readonly address: IpAddress;
  /** The peer's key-exchange port; null: our protocol-port. */
  readonly port: number | null;
}

/** The remote gateway of a public-key route (Noise IKpsk2), named by its static public key. */
export interface PeerConfig {
  /** 32 octets (not secret). */
  readonly publicKey: Buffer;
  /** One per queue, in queue order. */
  readonly endpoints: readonly PeerEndpoint[];
  /** A file with a pre-shared key on top; null: none (all zero). */
  readonly presharedKeyFile: string | null;
}

export interface RouteConfig {
  readonly id: RouteId;
  readonly net: Prefix;
  /** One per queue, in queue order (a public-key route's: its peer's endpoint addresses). */
  readonly gateways: readonly RouteGateway[];
  /** A public-key route's peer (its first, if it has several); null for a pre-shared-key route. */
  readonly peer: PeerConfig | null;
  /**
   * A route with several peers (docs/scale-out.md): all of them, in the
   * configuration's order (`peer` is the first); absent for one peer or none.
   */
  readonly peers?: readonly PeerConfig[];
  /** Null only in data-plane mode. */
  readonly spi: RouteSpi | null;
  /** 32 octets; null only in data-plane mode. */
  readonly presharedKey: Buffer | null;
  readonly aead: Aead;
  /** Overrides of the gateway's liveness-interval (seconds) and liveness-failures; null: the gateway's. */
  readonly livenessInterval: number | null;
  readonly livenessFailures: number | null;
  /** ESP in UDP (RFC 3948) for the route's SAs, and the key exchange on the NAT-T port: off or force. */
  readonly natTraversal: NatTraversal;
  /** The route's key exchange (leaf `protocol`). */
  readonly protocol: KeyExchangeProtocol;
}

export interface SaConfig {
  readonly route: RouteId;
  readonly queue: QueueNumber;
  readonly spi: Spi;
  readonly aead: Aead;
  /** 16 octets (aes-gcm-16-icv) or 32 (aes-256-gcm-16-icv). */
  readonly key: Buffer;
  /** 4 octets. */
  readonly salt: Buffer;
  /** Extended (64-bit) sequence numbers (the peer must agree). */
  readonly esn: boolean;
  /**
   * Outbound: the first packet's sequence number (unless the sequence state
   * records a higher one as possibly sent); inbound: the first accepted.
   * Null: 1.
   */
  readonly initialSequence: bigint | null;
}

export interface DataPlaneConfig {
  readonly inboundSas: readonly SaConfig[];
  readonly outboundSas: readonly SaConfig[];
}

export interface GatewayConfig {
  readonly queues: number;
  /** Octets: the largest inner packet that is encapsulated. */
  readonly mtu: number;
  readonly tfc: boolean;
  /** Seconds. */
  readonly saTtl: number;
  /** Seconds. */
  readonly negotiationTtl: number;
  /** UDP port of the key exchange. */
  readonly protocolPort: number;
  /** The file with the gateway's static private key (public-key routes); null if none. */
  readonly privateKeyFile: string | null;
  /** Packets. */
  readonly replayWindow: number;
  /** Seconds of sending with nothing received before the peer is probed (dead-peer detection). */
  readonly livenessInterval: number;
  /** Failed probes in a row before a peer is down. */
  readonly livenessFailures: number;
  /** UDP port of ESP in UDP (RFC 3948) and of the key exchange behind the non-ESP marker. */
  readonly natTPort: number;
  /** Seconds between NAT keepalives on a route using ESP in UDP; 0: none. */
  readonly natKeepaliveInterval: number;
  readonly privateInterface: PrivateInterfaceConfig;
  readonly publicInterface: PublicInterfaceConfig;
  /** In configuration order. */
  readonly routes: readonly RouteConfig[];
  /** Present in data-plane mode (the key manager is off); null otherwise. */
  readonly dataPlane: DataPlaneConfig | null;
  /** Scale-out over BGP through a BIRD the gateway runs (docs/scale-out.md); null: off. */
  readonly bgp: BgpConfig | null;
}

export interface BgpConfig {
  readonly birdConfig: string;
  readonly routesFile: string;
  readonly controlSocket: string;
}
