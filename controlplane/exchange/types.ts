// The key manager's boundary: what it needs from the rest of the gateway (a
// place to install SAs, a way to send UDP) and what it is configured with.
// The key manager depends on nothing else, so it can be driven by the real
// data plane, by tests (in-memory transport, recording sink) or by a benchmark.

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** An ESP Security Parameter Index (uint32; 0..255 are reserved by RFC 4303). */
export type Spi = Brand<number, 'Spi'>;
/** A route's key-exchange identifier (uint32 in the transport header). */
export type RouteSpi = Brand<number, 'RouteSpi'>;
/** The configured name of a route, e.g. "site2". */
export type RouteId = Brand<string, 'RouteId'>;
/**
 * A queue as configured and as operators see it (config, state, metrics,
 * logs, errors): 1..queues. Every SA belongs to exactly one. The data plane
 * counts its workers from 0 (WorkerIndex); only dataplane.ts converts.
 */
export type QueueNumber = Brand<number, 'QueueNumber'>;

export const Spi = (n: number): Spi => n as Spi;
export const RouteSpi = (n: number): RouteSpi => n as RouteSpi;
export const RouteId = (s: string): RouteId => s as RouteId;
export const QueueNumber = (n: number): QueueNumber => n as QueueNumber;
/** An exchange's key: `route/queue` for a route's first (or only) pair, `route/queue/pair` for its other peers. */
export function exchangeKey(route: RouteId, queue: QueueNumber, pair = 0): string {
  return pair === 0 ? `${route}/${queue}` : `${route}/${queue}/${pair}`;
}

/** Every gateway has queue 1 (what is not any one queue's goes through it). */
export const FIRST_QUEUE = QueueNumber(1);

/** A route's key-exchange protocol, as in the YANG model (leaf `protocol`). */
export type KeyExchangeProtocol = 'vitesse-ske' | 'vita-ske-v5';
export const KEY_EXCHANGE_PROTOCOLS: readonly KeyExchangeProtocol[] = ['vitesse-ske', 'vita-ske-v5'];

/** AEAD names as in the YANG model. */
export type Aead = 'aes-gcm-16-icv' | 'aes-256-gcm-16-icv';

/** A UDP endpoint; `address` is an IPv4 or IPv6 literal. */
export interface Endpoint {
  address: string;
  port: number;
}

interface SaSpec {
  route: RouteId;
  queue: QueueNumber;
  /** The route's pair (ExchangeParams.pair): 0 for a route with one peer. */
  pair?: number;
  spi: Spi;
  aead: Aead;
  /**
   * key ‖ salt (16+4 or 32+4 octets). Valid only during the call: the sink
   * must copy it, because the key manager zeroes the buffer right after.
   */
  keymat: Buffer;
}

export type InboundSaSpec = SaSpec;

export interface OutboundSaSpec extends SaSpec {
  /** Outer source address (this queue's public address). */
  localAddress: string;
  /** Outer destination address (the remote gateway for this queue). */
  gatewayAddress: string;
  /** ESP in UDP (RFC 3948): from our NAT-T port to the peer's (absent: plain ESP). */
  udpSourcePort?: number;
  udpDestinationPort?: number;
}

/** Where negotiated SAs go (the data plane, or a test double). */
export interface SaSink {
  /** Adds an inbound SA; several may be valid at once for a route and queue. */
  installInbound(sa: InboundSaSpec): void;
  /** Makes `sa` the route, queue and pair's outbound SA, replacing any previous one. */
  installOutbound(sa: OutboundSaSpec): void;
  removeInbound(queue: QueueNumber, spi: Spi): void;
  /** Removes the route, queue and pair's outbound SA if it is still `spi`. */
  removeOutbound(route: RouteId, queue: QueueNumber, spi: Spi, pair?: number): void;
  /**
   * Whether an authentic packet has arrived on an inbound SA (optional: the
   * key manager then activates the outbound SA negotiated with it at once,
   * instead of after the activation delay).
   */
  inboundUsed?(queue: QueueNumber, spi: Spi): boolean;
}

/** Sends one key-exchange UDP payload from one of our public addresses. */
export interface Transport {
  send(to: Endpoint, payload: Buffer, from: Endpoint): void;
}

/** One queue's path to the remote gateway of a route. */
export interface QueuePathConfig {
  queue: QueueNumber;
  /** Our public address on this queue. */
  localAddress: string;
  /**
   * The remote gateway's public address for this queue; absent for a
   * public-key peer behind NAT (the route then only responds, and learns
   * the peer's endpoint from its authenticated messages: docs/key-exchange.md).
   */
  gatewayAddress?: string;
  /** The remote gateway's key-exchange UDP port (default: ours, KeyManagerConfig.port). */
  gatewayPort?: number;
}

/** One peer of a route with several (RouteConfig.peers). */
export interface PeerPathConfig {
  peerPublicKey: Buffer;
  preSharedKey?: Buffer;
  queues: QueuePathConfig[];
}

export interface RouteConfig {
  id: RouteId;
  spi: RouteSpi;
  /**
   * 32 octets; the key manager keeps its own copy. Required for a
   * pre-shared-key route; optional on top of a public-key route (all zero
   * if absent, as Noise's IKpsk2 without a psk).
   */
  preSharedKey?: Buffer;
  /**
   * The peer's static X25519 public key (32 octets): the route authenticates
   * by public keys (Noise IKpsk2) instead of the pre-shared key alone (NNpsk0).
   */
  peerPublicKey?: Buffer;
  aead: Aead;
  queues: QueuePathConfig[];
  /**
   * A route with several peers (docs/scale-out.md): one pair each, with its
   * own exchange per queue, SAs and liveness; given, it replaces
   * peerPublicKey, preSharedKey and queues (the first peer's, by custom).
   */
  peers?: PeerPathConfig[];
  /** Overrides of the key manager's livenessInterval and livenessFailures. */
  livenessInterval?: number;
  livenessFailures?: number;
  /**
   * 'force': the exchange runs on the NAT-T port (behind the non-ESP marker)
   * and the SAs use ESP in UDP; 'auto' (public-key routes): the exchange
   * runs there too, and each SA pair uses ESP in UDP only if its
   * negotiation saw a NAT (exchange/nat-detection.ts). Default 'off'.
   */
  natTraversal?: 'off' | 'force' | 'auto';
  /** Default 'vitesse-ske'. */
  protocol?: KeyExchangeProtocol;
}

export interface KeyManagerConfig {
  routes: RouteConfig[];
  /** The gateway's static X25519 private key (32 octets), needed by public-key routes; copied. */
  privateKey?: Buffer;
  /** Lifetime of an SA pair, seconds (default 600). */
  saTtl?: number;
  /** Time allowed for one negotiation, seconds (default 5). */
  negotiationTtl?: number;
  /** UDP port of the key exchange (default 303). */
  port?: number;
  /** Seconds of sending with nothing received before the peer is probed (default 10; exchange/liveness.ts). */
  livenessInterval?: number;
  /** Probes failed in a row before the peer is down (default 3). */
  livenessFailures?: number;
  /** UDP port of ESP in UDP and of exchanges of routes with natTraversal 'force' (default 4500). */
  natTPort?: number;
}

/** Milliseconds on a monotonic clock. */
export interface Clock {
  now(): number;
}
