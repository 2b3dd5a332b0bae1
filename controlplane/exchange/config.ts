// The key manager's configuration, checked and compiled into one
// ExchangeParams per route and queue (one exchange each, DESIGN.md §4).
// Checking is complete before anything is applied: an invalid configuration
// is refused with the path and the reason, and nothing changes.
import { ADDRESS_LENGTH, parseAddress } from './address.js';
import { KEY_LENGTH, zeroPsk, type RoutePattern } from './identity.js';
import type { NatTraversal } from './nat-detection.js';
import { PSK_LENGTH } from './noise.js';
import { PublicKeyError, constantTimeEqual, dh, keyPairFromPrivate, wipe, type KeyPair } from './primitives.js';
import { AEAD_ID, DEFAULT_NAT_T_PORT, DEFAULT_NEGOTIATION_TTL_S, DEFAULT_PORT, DEFAULT_SA_TTL_S } from './protocol.js';
import { DEFAULT_LIVENESS_FAILURES, DEFAULT_LIVENESS_INTERVAL_S, type LivenessOverride, type LivenessSettings } from './liveness.js';
import { KEY_EXCHANGE_PROTOCOLS, type Aead, type KeyExchangeProtocol, exchangeKey, type KeyManagerConfig, type QueueNumber, type RouteConfig, type RouteId, type RouteSpi } from './types.js';

export { exchangeKey };

export class ConfigError extends Error {}

export interface Settings {
  saTtlMs: number;
  negotiationTtlMs: number;
  port: number;
  liveness: LivenessSettings;
  /** The gateway's static key pair (public-key routes); null if not configured. */
  staticKey: KeyPair | null;
}

/** Everything one exchange (a route with one of its peers on a queue) needs. */
export interface ExchangeParams {
  /** exchangeKey(route, queue, pair), unique. */
  readonly key: string;
  readonly route: RouteId;
  readonly queue: QueueNumber;
  /**
   * The pair: which of the route's peers (0 for a route with one peer, the
   * peer's place in the route's list otherwise). Each pair has its own
   * exchange, SAs and liveness; the data plane hashes flows over the pairs
   * that are usable (docs/scale-out.md, "Several peers per route").
   */
  readonly pair: number;
  /** The peer's public key in base64 (the YANG key of route/peer); null for a pre-shared-key route. */
  readonly peer: string | null;
  readonly routeSpi: RouteSpi;
  readonly aead: Aead;
  readonly protocol: KeyExchangeProtocol;
  /** Our own copy; wiped when the exchange is removed (all zero for a public-key route without one). */
  readonly psk: Buffer;
  readonly pattern: RoutePattern;
  /** IKpsk2: the peer's static public key (32 octets); null for NNpsk0. */
  readonly peerPublicKey: Buffer | null;
  /** IKpsk2: the gateway's static key pair (shared by all exchanges); null for NNpsk0. */
  readonly staticKey: KeyPair | null;
  /** IKpsk2: DH(our static, the peer's static), computed once (noise.ts, staticShared); wiped with psk. */
  readonly staticShared: Buffer | null;
  /** The peer's key-exchange port, if not ours. */
  readonly gatewayPort: number | null;
  readonly localAddress: string;
  /** '' for a peer behind NAT: its endpoint is learned (the key manager's Exchange.endpoint). */
  readonly gatewayAddress: string;
  /** 16-octet forms (address.ts). */
  readonly local: Buffer;
  readonly gateway: Buffer;
  /** The route's own liveness settings, if any (the key manager's otherwise). */
  readonly liveness: LivenessOverride;
  /** NAT traversal forced or auto: the exchange's port (behind the non-ESP marker) and both ends' ESP-in-UDP port; null: off. */
  readonly natTPort: number | null;
  /** force: every SA sends ESP in UDP; auto: those whose negotiation saw a NAT (nat-detection.ts). */
  readonly natTraversal: NatTraversal;
}

export interface CompiledConfig {
  settings: Settings;
  exchanges: ExchangeParams[];
}

function positiveSeconds(value: number | undefined, fallback: number, path: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ConfigError(`${path}: must be a positive number of seconds, got ${String(value)}`);
  return v * 1000;
}

function failures(value: number | undefined, fallback: number, path: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${path}: must be a positive integer, got ${String(value)}`);
  return v;
}

/** A route has at most this many peers (the data plane's pair slots, dataplane/pipeline/pair_choice.h). */
export const MAX_PEERS_PER_ROUTE = 8;

interface Pair { peerPublicKey?: Buffer; preSharedKey?: Buffer; queues: RouteConfig['queues'] }

/** A route's pairs: its `peers`, or the route itself as its one pair. */
export function routePairs(r: RouteConfig): Pair[] {
  return Array.isArray(r.peers) && r.peers.length ? r.peers : [r];
}

export function compileConfig(c: KeyManagerConfig): CompiledConfig {
  const port = c.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`/port: not a UDP port: ${String(c.port)}`);
  const settings: Settings = {
    saTtlMs: positiveSeconds(c.saTtl, DEFAULT_SA_TTL_S, '/sa-ttl'),
    negotiationTtlMs: positiveSeconds(c.negotiationTtl, DEFAULT_NEGOTIATION_TTL_S, '/negotiation-ttl'),
    port,
    liveness: {
      intervalMs: positiveSeconds(c.livenessInterval, DEFAULT_LIVENESS_INTERVAL_S, '/liveness-interval'),
      failures: failures(c.livenessFailures, DEFAULT_LIVENESS_FAILURES, '/liveness-failures'),
    },
    staticKey: null,
  };
  if (c.privateKey !== undefined) {
    if (!Buffer.isBuffer(c.privateKey) || c.privateKey.length !== KEY_LENGTH) {
      throw new ConfigError(`/private-key-file: the private key must be ${KEY_LENGTH} octets`);
    }
    // A placeholder (base64 "AAAA…=" or a file of zero octets), not a key: anyone could derive it.
    if (c.privateKey.every((b) => b === 0)) throw new ConfigError('/private-key-file: the private key is all zero, a placeholder anyone knows; make one with vitesse keygen --private');
    settings.staticKey = keyPairFromPrivate(c.privateKey);
  }
  const exchanges: ExchangeParams[] = [];
  // DH(static, peer static) per peer key: one peer may serve many routes.
  const shared = new Map<string, Buffer>();
  try {
    compileRoutes(c, settings.staticKey, shared, exchanges);
  } catch (err) {
    for (const e of exchanges) wipeParams(e);
    throw err;
  } finally {
    wipe(...shared.values());
  }
  return { settings, exchanges };
}

/** Zeroes the secrets an exchange's parameters hold. */
export function wipeParams(p: ExchangeParams): void {
  wipe(p.psk, p.staticShared);
}

function compileRoutes(c: KeyManagerConfig, staticKey: KeyPair | null, shared: Map<string, Buffer>, exchanges: ExchangeParams[]): void {
  if (!Array.isArray(c.routes)) throw new ConfigError('/routes: must be a list');
  const natTPort = c.natTPort ?? DEFAULT_NAT_T_PORT;
  if (!Number.isInteger(natTPort) || natTPort < 1 || natTPort > 65535) throw new ConfigError(`/nat-t-port: not a UDP port: ${String(c.natTPort)}`);
  const ids = new Set<string>();
  const spis = new Map<number, string>();
  const staticShared = (peer: Buffer, at: string): Buffer => {
    const hex = peer.toString('hex');
    let s = shared.get(hex);
    if (!s) {
      try {
        s = dh(staticKey!, peer);
      } catch (err) {
        if (err instanceof PublicKeyError) throw new ConfigError(`${at}/peer/public-key: not a usable X25519 public key (a low-order point)`);
        throw err;
      }
      shared.set(hex, s);
    }
    return Buffer.from(s);
  };
  // Every route names our own addresses again, and parsing showed in the
  // profile of a change to 20,000 routes: each text is parsed once.
  const parsed = new Map<string, Buffer | null>();
  const parse = (text: string) => {
    let a = parsed.get(text);
    if (a === undefined) parsed.set(text, (a = parseAddress(text)));
    return a;
  };
  for (const r of c.routes) {
    const at = `/routes/route[id=${r.id}]`;
    if (typeof r.id !== 'string' || r.id === '') throw new ConfigError(`/routes/route: id must be a non-empty string`);
    if (ids.has(r.id)) throw new ConfigError(`${at}: duplicate route id`);
    ids.add(r.id);
    if (!Number.isInteger(r.spi) || r.spi < 0 || r.spi > 0xffff_ffff) throw new ConfigError(`${at}/spi: not a uint32: ${String(r.spi)}`);
    const other = spis.get(r.spi);
    if (other !== undefined) throw new ConfigError(`${at}/spi: ${r.spi} is already the SPI of route "${other}"`);
    spis.set(r.spi, r.id);
    const pairs = routePairs(r);
    if (pairs.length > MAX_PEERS_PER_ROUTE) throw new ConfigError(`${at}/peer: ${pairs.length} peers; a route has at most ${MAX_PEERS_PER_ROUTE}`);
    const publicKeyRoute = pairs[0].peerPublicKey !== undefined;
    if (pairs.length > 1 && !pairs.every((p) => p.peerPublicKey !== undefined)) throw new ConfigError(`${at}/peer: a route with several peers names each by its public key`);
    if (pairs.length > 1 && (r.natTraversal ?? 'off') !== 'off') throw new ConfigError(`${at}/nat-traversal: a route with several peers has no NAT traversal yet (docs/scale-out.md, limits)`);
    const seenPeers = new Set<string>();
    for (const pr of pairs) {
      if (pr.peerPublicKey === undefined) continue;
      if (!Buffer.isBuffer(pr.peerPublicKey) || pr.peerPublicKey.length !== KEY_LENGTH) throw new ConfigError(`${at}/peer/public-key: must be ${KEY_LENGTH} octets`);
      const hex = pr.peerPublicKey.toString('hex');
      if (seenPeers.has(hex)) throw new ConfigError(`${at}/peer[public-key=${pr.peerPublicKey.toString('base64')}]: listed twice`);
      seenPeers.add(hex);
    }
    if (!(r.aead in AEAD_ID)) throw new ConfigError(`${at}/aead: unknown AEAD "${String(r.aead)}" (have: ${Object.keys(AEAD_ID).join(', ')})`);
    const protocol = r.protocol ?? 'vitesse-ske';
    if (!KEY_EXCHANGE_PROTOCOLS.includes(protocol)) throw new ConfigError(`${at}/protocol: unknown key-exchange protocol "${String(protocol)}" (have: ${KEY_EXCHANGE_PROTOCOLS.join(', ')})`);
    // Vita negotiates AES-128-GCM only (vita-ske v5 has one AEAD).
    if (protocol === 'vita-ske-v5' && r.aead !== 'aes-gcm-16-icv') throw new ConfigError(`${at}/aead: vita-ske-v5 negotiates aes-gcm-16-icv only, got "${r.aead}"`);
    // ... and authenticates by the pre-shared key alone (NNpsk0).
    if (protocol === 'vita-ske-v5' && publicKeyRoute) throw new ConfigError(`${at}/protocol: vita-ske-v5 authenticates by a pre-shared key only; a route with a peer public key cannot use it`);
    // ... and runs on protocol-port with plain ESP: Vita has no NAT traversal.
    if (protocol === 'vita-ske-v5' && (r.natTraversal === 'force' || r.natTraversal === 'auto')) throw new ConfigError(`${at}/nat-traversal: vita-ske-v5 runs on protocol-port with plain ESP, as Vita does; nat-traversal ${r.natTraversal} cannot be used with it`);
    const natTraversal = r.natTraversal ?? 'off';
    if (natTraversal !== 'off' && natTraversal !== 'force' && natTraversal !== 'auto') throw new ConfigError(`${at}/nat-traversal: unknown value "${String(natTraversal)}" (have: off, force, auto)`);
    // NAT detection travels in IKpsk2's payloads; NNpsk0's prologue binds the configured addresses instead.
    if (natTraversal === 'auto' && !publicKeyRoute) throw new ConfigError(`${at}/nat-traversal: auto needs NAT detection, which only a public-key route's key exchange carries (a route with a peer); use force or off`);
    const liveness: LivenessOverride = {
      ...(r.livenessInterval !== undefined ? { intervalMs: positiveSeconds(r.livenessInterval, 0, `${at}/liveness-interval`) } : {}),
      ...(r.livenessFailures !== undefined ? { failures: failures(r.livenessFailures, 0, `${at}/liveness-failures`) } : {}),
    };
    // Two pairs on one path could not be told apart by the responder (it finds the pair by the addresses).
    const paths = new Set<string>();
    for (const [pair, pr] of pairs.entries()) {
      const pat = pairs.length > 1 ? `${at}/peer[public-key=${pr.peerPublicKey!.toString('base64')}]` : at;
      const peerPath = pairs.length > 1 ? pat : `${at}/peer`;
      if (publicKeyRoute) {
        if (!staticKey) throw new ConfigError(`${peerPath}: a public-key route needs the gateway's private-key-file`);
        // IKpsk2's prologue names no address: with our own key as the peer's, our
        // proposal reflected back to us authenticates, and we agree with ourselves.
        if (pr.peerPublicKey!.equals(staticKey.publicKey)) throw new ConfigError(`${peerPath}/public-key: is this gateway's own public key (of its private-key-file); a route's peer is another gateway`);
      }
      if (!(publicKeyRoute && pr.preSharedKey === undefined) && (!Buffer.isBuffer(pr.preSharedKey) || pr.preSharedKey.length !== PSK_LENGTH)) {
        throw new ConfigError(`${pat}/preshared-key: must be ${PSK_LENGTH} octets, got ${Buffer.isBuffer(pr.preSharedKey) ? pr.preSharedKey.length : typeof pr.preSharedKey}`);
      }
      // A key file named twice (private-key-file as a peer's psk file): the psk
      // is copied to the peer, and the gateway's private key with it.
      if (publicKeyRoute && Buffer.isBuffer(pr.preSharedKey) && Buffer.isBuffer(c.privateKey) && constantTimeEqual(pr.preSharedKey, c.privateKey)) {
        throw new ConfigError(`${peerPath}/preshared-key-file: holds this gateway's private key (private-key-file); a psk is given to the peer, the private key never: make one with vitesse keygen`);
      }
      if (!Array.isArray(pr.queues) || pr.queues.length === 0) throw new ConfigError(`${pat}/queue: a route needs at least one queue`);
      const queues = new Set<number>();
      for (const q of pr.queues) {
        const qat = `${pat}/queue[id=${q.queue}]`;
        if (!Number.isInteger(q.queue) || q.queue < 1) throw new ConfigError(`${qat}: queue must be a positive integer (queues count from 1)`);
        if (queues.has(q.queue)) throw new ConfigError(`${qat}: duplicate queue`);
        queues.add(q.queue);
        const local = parse(q.localAddress);
        if (!local) throw new ConfigError(`${qat}/local-address: not an IP address: "${q.localAddress}"`);
        // A peer behind NAT (no address): all-zero until learned, which no real source is.
        const behindNat = q.gatewayAddress === undefined;
        if (behindNat && !publicKeyRoute) throw new ConfigError(`${qat}/gateway-address: missing (only a public-key peer may be behind NAT)`);
        if (behindNat && natTraversal === 'off') throw new ConfigError(`${qat}/gateway-address: missing; a peer behind NAT needs nat-traversal force or auto`);
        const gateway = behindNat ? Buffer.alloc(ADDRESS_LENGTH) : parse(q.gatewayAddress!);
        if (!gateway) throw new ConfigError(`${qat}/gateway-address: not an IP address: "${q.gatewayAddress}"`);
        const gatewayPort = q.gatewayPort ?? null;
        if (gatewayPort !== null && (!Number.isInteger(gatewayPort) || gatewayPort < 1 || gatewayPort > 65535)) throw new ConfigError(`${qat}/port: not a UDP port: ${String(gatewayPort)}`);
        // The responder finds the queue of a message by its addresses.
        const path = `${local.toString('hex')}-${gateway.toString('hex')}`;
        if (paths.has(path)) throw new ConfigError(`${qat}: another queue or peer of this route has the same local and gateway addresses`);
        paths.add(path);
        exchanges.push({
          key: exchangeKey(r.id, q.queue, pair),
          route: r.id,
          queue: q.queue,
          pair,
          peer: publicKeyRoute ? pr.peerPublicKey!.toString('base64') : null,
          routeSpi: r.spi,
          aead: r.aead,
          protocol,
          psk: pr.preSharedKey ? Buffer.from(pr.preSharedKey) : zeroPsk(),
          pattern: publicKeyRoute ? 'IKpsk2' : 'NNpsk0',
          peerPublicKey: publicKeyRoute ? Buffer.from(pr.peerPublicKey!) : null,
          staticKey: publicKeyRoute ? staticKey : null,
          staticShared: publicKeyRoute ? staticShared(pr.peerPublicKey!, pat) : null,
          gatewayPort,
          localAddress: q.localAddress,
          gatewayAddress: q.gatewayAddress ?? '',
          local,
          gateway,
          liveness,
          natTPort: natTraversal === 'off' ? null : natTPort,
          natTraversal,
        });
      }
    }
  }
}

/** True if SAs negotiated under `a` are still right under `b`. */
export function sameExchange(a: ExchangeParams, b: ExchangeParams): boolean {
  return a.key === b.key
    && a.pair === b.pair
    && a.routeSpi === b.routeSpi
    && a.aead === b.aead
    && a.protocol === b.protocol
    && a.local.equals(b.local)
    && a.gateway.equals(b.gateway)
    && a.gatewayPort === b.gatewayPort
    && a.pattern === b.pattern
    && (a.peerPublicKey === null ? b.peerPublicKey === null : b.peerPublicKey !== null && a.peerPublicKey.equals(b.peerPublicKey))
    && (a.staticKey === null ? b.staticKey === null : b.staticKey !== null && a.staticKey.publicKey.equals(b.staticKey.publicKey))
    && a.natTPort === b.natTPort
    && a.natTraversal === b.natTraversal
    && constantTimeEqual(a.psk, b.psk);
}

/** What a responder's nonce is bound to: route SPI ‖ initiator ‖ responder address. */
export function challengeContext(p: ExchangeParams): Buffer {
  const out = Buffer.alloc(4 + 2 * ADDRESS_LENGTH);
  out.writeUInt32BE(p.routeSpi, 0);
  p.gateway.copy(out, 4);
  p.local.copy(out, 4 + ADDRESS_LENGTH);
  return out;
}
