// Test doubles for the key manager: a clock the test moves, an SA sink that
// records what is installed, and an in-memory network between key managers
// (with optional loss). Used by test/keymanager*.test.ts and
// test/exchange*.test.ts.
import crypto from 'node:crypto';
import pino from 'pino';
import { addressKey } from '../controlplane/exchange/address.js';
import type {
  Aead, Endpoint, InboundSaSpec, KeyManagerConfig, OutboundSaSpec, RouteConfig, SaSink, Transport,
} from '../controlplane/exchange/types.js';
import { QueueNumber, RouteId, RouteSpi } from '../controlplane/exchange/types.js';
import { KeyManager, type KeyManagerOptions } from '../controlplane/keymanager.js';

export const silent = pino({ level: 'silent' });

export class FakeClock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
}

export interface InstalledSa {
  route: string;
  queue: number;
  spi: number;
  aead: Aead;
  keymat: Buffer; // a copy, as the contract requires
  at: number;
}

export class RecordingSink implements SaSink {
  readonly inbound = new Map<number, InstalledSa>(); // by SPI
  readonly outbound = new Map<string, InstalledSa & { localAddress: string; gatewayAddress: string }>(); // by route/queue
  readonly events: { kind: string; spi: number; at: number }[] = [];
  /** The buffers we were handed, to check that the key manager wiped them. */
  readonly handed: Buffer[] = [];
  maxInboundPerQueue = 0;
  /** Set by a test to report authentic packets on inbound SAs (SaSink.inboundUsed). */
  inboundUsed?: (queue: number, spi: number) => boolean;

  constructor(private readonly clock: FakeClock) {}

  installInbound(sa: InboundSaSpec): void {
    if (this.inbound.has(sa.spi)) throw new Error(`inbound SPI ${sa.spi} installed twice`);
    this.handed.push(sa.keymat);
    this.inbound.set(sa.spi, { ...sa, keymat: Buffer.from(sa.keymat), at: this.clock.now() });
    this.events.push({ kind: 'in+', spi: sa.spi, at: this.clock.now() });
    const n = [...this.inbound.values()].filter((x) => x.route === sa.route && x.queue === sa.queue).length;
    this.maxInboundPerQueue = Math.max(this.maxInboundPerQueue, n);
  }

  installOutbound(sa: OutboundSaSpec): void {
    this.handed.push(sa.keymat);
    this.outbound.set(`${sa.route}/${sa.queue}`, { ...sa, keymat: Buffer.from(sa.keymat), at: this.clock.now() });
    this.events.push({ kind: 'out+', spi: sa.spi, at: this.clock.now() });
  }

  removeInbound(_queue: number, spi: number): void {
    if (!this.inbound.delete(spi)) throw new Error(`inbound SPI ${spi} removed but not installed`);
    this.events.push({ kind: 'in-', spi, at: this.clock.now() });
  }

  removeOutbound(route: string, queue: number, spi: number): void {
    const key = `${route}/${queue}`;
    if (this.outbound.get(key)?.spi === spi) this.outbound.delete(key);
    this.events.push({ kind: 'out-', spi, at: this.clock.now() });
  }
}

export interface Datagram {
  from: Endpoint;
  to: Endpoint;
  payload: Buffer;
  /** When it was sent (the clock's time). */
  at: number;
}

/** Delivers datagrams between key managers by destination address, in order. */
export class Network {
  readonly queue: Datagram[] = [];
  readonly log: Datagram[] = [];
  private readonly nodes = new Map<string, KeyManager>();
  /** Return true to lose a datagram. */
  lose: (d: Datagram) => boolean = () => false;

  constructor(private readonly clock: FakeClock = new FakeClock()) {}

  attach(address: string, km: KeyManager): void {
    this.nodes.set(addressKey(address)!, km);
  }

  transport(): Transport {
    return {
      send: (to, payload, from) => {
        const d = { to: { ...to }, from: { ...from }, payload: Buffer.from(payload), at: this.clock.now() };
        this.queue.push(d);
        this.log.push(d);
      },
    };
  }

  /** Delivers until nothing is in flight. */
  flush(limit = 1_000_000): void {
    for (let i = 0; this.queue.length > 0; i++) {
      if (i >= limit) throw new Error('network did not settle');
      const d = this.queue.shift()!;
      if (this.lose(d)) continue;
      this.nodes.get(addressKey(d.to.address)!)?.receive(d.from, d.payload, d.to);
    }
  }
}

export interface Side {
  km: KeyManager;
  sink: RecordingSink;
  address: string;
}

export interface World {
  clock: FakeClock;
  net: Network;
  a: Side;
  b: Side;
  /** Advance time by `ms` in steps of `stepMs`, ticking both and delivering after each step. */
  run(ms: number, stepMs?: number, each?: () => void): void;
}

export const PSK = crypto.createHash('sha256').update('vitesse test psk').digest();

export function routeTo(
  gateway: string,
  local: string,
  o: Partial<Pick<RouteConfig, 'id' | 'spi' | 'preSharedKey' | 'aead' | 'peerPublicKey' | 'protocol'>> & { queues?: number } = {},
): RouteConfig {
  return {
    id: o.id ?? RouteId('peer'),
    spi: o.spi ?? RouteSpi(1001),
    // A public-key route has no psk unless given one; a pre-shared-key route always has one.
    ...(o.peerPublicKey ? { peerPublicKey: o.peerPublicKey } : {}),
    ...(o.preSharedKey || !o.peerPublicKey ? { preSharedKey: o.preSharedKey ?? PSK } : {}),
    aead: o.aead ?? 'aes-gcm-16-icv',
    ...(o.protocol ? { protocol: o.protocol } : {}),
    // Each queue has its own public address on both ends (DESIGN.md §2).
    queues: Array.from({ length: o.queues ?? 1 }, (_, i) => ({
      queue: QueueNumber(i + 1), // the i-th queue, numbered as configured
      localAddress: queueAddress(local, i),
      gatewayAddress: queueAddress(gateway, i),
    })),
  };
}

/** The address of the q-th queue (from 0): the last IPv4 octet (or IPv6 group) plus q. */
export function queueAddress(base: string, q: number): string {
  if (q === 0) return base;
  const sep = base.includes(':') ? ':' : '.';
  const parts = base.split(sep);
  const last = parts.pop()!;
  const n = sep === '.' ? Number(last) + q : (parseInt(last || '0', 16) + q).toString(16);
  return [...parts, String(n)].join(sep);
}

export interface WorldOptions {
  addressA?: string;
  addressB?: string;
  routeA?: Partial<Parameters<typeof routeTo>[2]>;
  routeB?: Partial<Parameters<typeof routeTo>[2]>;
  config?: Omit<KeyManagerConfig, 'routes'>;
  /** Per side, on top of `config` (e.g. each gateway's privateKey). */
  configA?: Omit<KeyManagerConfig, 'routes'>;
  configB?: Omit<KeyManagerConfig, 'routes'>;
  options?: Partial<KeyManagerOptions>;
  optionsA?: Partial<KeyManagerOptions>;
  optionsB?: Partial<KeyManagerOptions>;
}

export function world(o: WorldOptions = {}): World {
  const clock = new FakeClock();
  const net = new Network(clock);
  const addressA = o.addressA ?? '192.0.2.1';
  const addressB = o.addressB ?? '198.51.100.2';
  const config = o.config ?? { saTtl: 2, negotiationTtl: 0.5 };
  const side = (address: string, peer: string, route: WorldOptions['routeA'], own?: Partial<KeyManagerOptions>, mine?: WorldOptions['configA']): Side => {
    const sink = new RecordingSink(clock);
    const km = new KeyManager(
      { ...config, ...mine, routes: [routeTo(peer, address, route)] },
      { sink, transport: net.transport(), clock, logger: silent, ...o.options, ...own },
    );
    net.attach(address, km);
    return { km, sink, address };
  };
  const a = side(addressA, addressB, o.routeA, o.optionsA, o.configA);
  const b = side(addressB, addressA, o.routeB, o.optionsB, o.configB);
  for (let q = 1; q < (o.routeA?.queues ?? 1); q++) net.attach(queueAddress(addressA, q), a.km);
  for (let q = 1; q < (o.routeB?.queues ?? 1); q++) net.attach(queueAddress(addressB, q), b.km);
  return {
    clock, net, a, b,
    run(ms, stepMs = 10, each) {
      for (let t = 0; t < ms; t += stepMs) {
        clock.t += stepMs;
        a.km.tick();
        b.km.tick();
        net.flush();
        each?.();
      }
    },
  };
}

/** True if `from`'s active outbound SA on route/queue is one `to` can decrypt (same SPI, same keys). */
export function outboundWorks(from: Side, to: Side, routeQueue = 'peer/1'): boolean {
  const out = from.sink.outbound.get(routeQueue);
  if (!out) return false;
  const inb = to.sink.inbound.get(out.spi);
  return !!inb && inb.keymat.equals(out.keymat) && inb.aead === out.aead;
}

/**
 * Both ends knock at once and the crossing is seen too late to yield: the
 * high end (by cookie) answers the low end's knock, the low end proposes,
 * and only then sees the high end's knock. In flight: the low end's
 * proposal, then its challenge to the high end (in reverse order when
 * `reverse`: the challenge overtakes the proposal, so the high end proposes
 * too and both negotiations complete). Returns the low end's side.
 */
export function crossedNegotiations(w: World, reverse: boolean): Side {
  w.a.km.tick();
  w.b.km.tick();
  const [knockA, knockB] = w.net.queue.splice(0);
  const cookie = (d: Datagram) => d.payload.subarray(12, 28);
  const [low, high] = Buffer.compare(cookie(knockA), cookie(knockB)) < 0 ? [knockA, knockB] : [knockB, knockA];
  const side = (d: Datagram) => (d.to.address === w.a.address ? w.a : w.b);
  side(low).km.receive(low.from, low.payload, low.to);
  const challenge = w.net.queue.shift()!;
  side(challenge).km.receive(challenge.from, challenge.payload, challenge.to);
  side(high).km.receive(high.from, high.payload, high.to);
  if (reverse) w.net.queue.reverse();
  return side(high);
}
