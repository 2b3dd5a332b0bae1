// The control plane's view of the native data plane: the one typed wrapper
// around the addon's gateway part (dataplane/pipeline/gateway_napi.cc).
//
// Everything here is batch-oriented: configuration changes are staged and
// published to the workers as one snapshot per event-loop turn, punted frames
// arrive in batches, injected frames go in batches. No JavaScript runs per
// data packet.
//
// Queues: everything above this wrapper speaks the configured queue number
// (QueueNumber, 1..queues), the addon a worker's index (WorkerIndex,
// 0..queues-1). The two conversions below are private to this file, so that
// no other file can count queues the data plane's way.
import { native } from './native.js';
import type { Aead, QueueNumber, RouteId, Spi } from './exchange/types.js';
import type { Counters } from './counter-table.js';

export type { Aead, QueueNumber, RouteId, Spi };
export type Side = 'private' | 'public';

declare const brand: unique symbol;
/** A data-plane worker's index, 0..queues-1: what the addon calls a queue. Never leaves this file's N-API calls. */
export type WorkerIndex = number & { readonly [brand]: 'WorkerIndex' };

const workerIndex = (q: QueueNumber): WorkerIndex => (q - 1) as WorkerIndex;
const queueNumber = (w: WorkerIndex): QueueNumber => (w + 1) as QueueNumber;

export type LinkSpec =
  | { driver: 'memory'; wire: string; end: 0 | 1 }
  | {
      driver: 'af-packet' | 'af-xdp';
      ifname: string;
      /** The gateway's queue count, if given (another is an error). */
      queues?: number;
      netns?: string;
      txMethod?: string;
      qdiscBypass?: boolean;
      /** af-packet: coalesce TCP segments into super-frames where the interface takes TSO (default true). */
      txGso?: boolean;
      xdpMode?: string;
      xdpBind?: string;
    }
  | { driver: 'pcap'; pcapIn?: string; pcapOut?: string };

export interface GatewayOptions {
  queues?: number;
  mtu?: number;
  tfc?: boolean;
  busywait?: boolean;
  poolPackets?: number;
  cpus?: number[];
  /** UDP port on which ESP in UDP (RFC 3948) is received (default 4500; 0: none). */
  natTPort?: number;
  private: { mac: string; ipv4?: string; ipv6?: string; link: LinkSpec };
  public: { mac: string; addresses: string[]; link: LinkSpec };
}

export interface RouteSpec {
  id: RouteId;
  /** The remote site's prefix, or several: traffic to them is tunnelled, and what comes out of the route's SAs must come from them. */
  net: string | string[];
  /** Remote gateway per queue; a shorter list falls back to its first entry. */
  gateways: string[];
  /**
   * A route with several peers (docs/scale-out.md): the other pairs' remote
   * gateways (pair 1, 2, ...), each a list as `gateways` (pair 0's). The
   * data plane hashes each flow onto one of the pairs that have an outbound
   * SA and are usable (setPairUsable).
   */
  pairGateways?: string[][];
}

export interface SaSpec {
  queue: QueueNumber;
  route: RouteId;
  /** Which of the route's peers (RouteSpec.pairGateways; default 0): outbound SAs are per route, queue and pair. */
  pair?: number;
  spi: Spi;
  aead: Aead;
  /** key ‖ salt: 20 bytes for aes-gcm-16-icv, 36 for aes-256-gcm-16-icv. */
  keymat: Buffer;
  replayWindow?: number;
  /** Extended sequence numbers (default true). */
  esn?: boolean;
  /** Outbound: the last number used (the first packet carries seq + 1); inbound: every number up to it counts as received. */
  seq?: bigint;
  /** Outbound: the highest number it may send (default: no limit). */
  limit?: bigint;
  /** Outbound: ESP in UDP (RFC 3948) from this port of ours ... */
  udpSourcePort?: number;
  /** ... to this port of the peer's, until the route's endpoint is learned (both or neither). */
  udpDestinationPort?: number;
}

/**
 * A route's peer endpoint on a queue for ESP in UDP: the route's gateway and
 * the SA's destination port until an authenticated ESP-in-UDP packet (the
 * newest of its SA) came from elsewhere; then where that packet came from.
 */
export interface EndpointState {
  queue: QueueNumber;
  route: RouteId;
  learned: boolean;
  /** Once learned. */
  address?: string;
  port?: number;
  /** Times the data plane moved it. */
  changes: number;
}

export interface SaState {
  queue: QueueNumber;
  spi: Spi;
  route: RouteId;
  /** A route with several peers: the SA's pair, when not 0. */
  pair?: number;
  direction: 'inbound' | 'outbound';
  packets: number;
  bytes: number;
  decryptErrors: number;
  replayErrors: number;
  // Named as the public side's counters public_drop_truncated, _bad_trailer, _bad_next_header.
  truncatedErrors: number;
  trailerErrors: number;
  nextHeaderErrors: number;
  /** Inbound: decrypted, then refused by the inbound policy (source not in the route's net, multicast or broadcast). */
  policyErrors: number;
  encapErrors: number;
  /** Outbound: packets dropped because every sequence number was used (the SA must be rekeyed). */
  sequenceExhausted: number;
  /** Outbound: packets dropped beyond the reserved sequence numbers. */
  sequenceUnreserved: number;
  esn: boolean;
  /** Outbound: the last number used; inbound: the window's top. */
  seq: bigint;
  /** Outbound: the highest number it may send. */
  limit?: bigint;
  /** Outbound with ESP in UDP: our port and the peer's (until its endpoint is learned). */
  udpSourcePort?: number;
  udpDestinationPort?: number;
}

/** One SA's traffic (Dataplane.saTraffic). */
export type SaTraffic = Pick<SaState, 'route' | 'direction' | 'queue' | 'packets' | 'bytes' | 'policyErrors'>;

/** An outbound SA near its sequence-number limit (Dataplane.outboundDue). */
export interface OutboundDue { queue: QueueNumber; route: RouteId; spi: Spi; seq: bigint; limit: bigint }

export interface Punt {
  queue: QueueNumber;
  side: Side;
  /** tunnel: decrypted, for one of our own addresses (answered back through the tunnel). */
  reason: 'control' | 'ttl-exceeded' | 'too-big' | 'tunnel';
  /** Length of the frame as it arrived (frame may be truncated to 2048 bytes). */
  frameLength: number;
  frame: Buffer;
}

export type { Counters, CounterName } from './counter-table.js';

export class Dataplane {
  private readonly gw: any;
  private commitScheduled = false;
  private closed = false;

  constructor(readonly options: GatewayOptions) {
    this.gw = new native.gateway.Gateway(options);
  }

  get queues(): number {
    return this.options.queues ?? 1;
  }

  /** The queues' numbers, 1..queues. */
  get queueNumbers(): QueueNumber[] {
    return Array.from({ length: this.queues }, (_, w) => queueNumber(w as WorkerIndex));
  }

  setRoutes(routes: RouteSpec[]): void { this.gw.setRoutes(routes); this.scheduleCommit(); }
  addInboundSa(sa: SaSpec): void { this.gw.addInboundSa(this.worker(sa)); this.scheduleCommit(); }
  removeInboundSa(queue: QueueNumber, spi: Spi): boolean { const r = this.gw.removeInboundSa(this.workerOf(queue), spi); this.scheduleCommit(); return r; }
  setOutboundSa(sa: SaSpec): void { this.gw.setOutboundSa(this.worker(sa)); this.scheduleCommit(); }
  removeOutboundSa(queue: QueueNumber, route: RouteId, pair = 0): boolean { const r = this.gw.removeOutboundSa(this.workerOf(queue), route, pair); this.scheduleCommit(); return r; }
  /** Whether the route's flows may go through its pair `pair` on a queue (a route with several peers; default: usable). */
  setPairUsable(queue: QueueNumber, route: RouteId, pair: number, usable: boolean): void { this.gw.setPairUsable(this.workerOf(queue), route, pair, usable); this.scheduleCommit(); }
  /** Outbound SAs with a limit and fewer than `margin` numbers left before it. */
  outboundDue(margin: bigint): OutboundDue[] { return numbered<OutboundDue>(this.gw.outboundDue(margin)); }
  /** Raises the limit of the route's outbound SA `spi` on a queue at once (no commit); false if it is not installed. */
  raiseOutboundLimit(queue: QueueNumber, route: RouteId, spi: Spi, limit: bigint, pair = 0): boolean { return this.gw.raiseOutboundLimit({ queue: this.workerOf(queue), route, spi, limit, pair }); }
  setNextHop(side: Side, mac: string | null): void { this.gw.setNextHop(side, mac); this.scheduleCommit(); }
  setMtu(mtu: number, tfc: boolean): void { this.gw.setMtu(mtu, tfc); this.scheduleCommit(); }

  /** Publishes staged changes now (they are otherwise published at the end of this event-loop turn). */
  commit(): void {
    this.commitScheduled = false;
    if (!this.closed) this.gw.commit();
  }

  start(): void { this.gw.start(); }
  stop(): void { this.gw.stop(); }
  /** Runs every worker once on this thread (tests without worker threads). */
  pollOnce(): number { return this.gw.pollOnce(); }

  /** One queue's counters, or (without `queue`) the sum over all queues. */
  counters(queue?: QueueNumber): Counters { return this.gw.counters(queue === undefined ? undefined : this.workerOf(queue)); }
  sas(): SaState[] { return numbered<SaState>(this.gw.sas()); }
  /** Packets authenticated so far on one inbound SA (0 if it does not exist). */
  inboundPackets(queue: QueueNumber, spi: Spi): number { return this.gw.inboundPackets(this.workerOf(queue), spi); }
  /** Every route's peer endpoint on every queue (ESP in UDP). */
  /** Each route's endpoint per queue; `learnedOnly`: those the data plane learned (no object for the others). */
  endpoints(learnedOnly = false): EndpointState[] { return numbered<EndpointState>(this.gw.endpoints(learnedOnly)); }

  /** Each SA's traffic, what the routes' counters sum (sas() has it too, at several times the cost). */
  saTraffic(): SaTraffic[] {
    const { routes, columns } = this.saTrafficColumns();
    const out: SaTraffic[] = new Array(columns.length / 6);
    for (let i = 0, c = 0; i < out.length; i++, c += 6) {
      out[i] = {
        route: routes[columns[c]], direction: columns[c + 1] ? 'inbound' : 'outbound', queue: queueNumber(columns[c + 2] as WorkerIndex),
        packets: columns[c + 3], bytes: columns[c + 4], policyErrors: columns[c + 5],
      };
    }
    return out;
  }

  /**
   * saTraffic as the data plane gives it, without an object per SA (gNMI's
   * route sampler sums it straight into typed arrays): per SA six columns,
   * index into `routes`, inbound (1/0), worker, packets, bytes, policy errors.
   */
  saTrafficColumns(): { routes: RouteId[]; columns: Float64Array } {
    return this.gw.saTraffic() as { routes: RouteId[]; columns: Float64Array };
  }

  /** Queues frames for a worker: sent as they are, or processed as if received on `side`. */
  inject(queue: QueueNumber, side: Side, mode: 'transmit' | 'receive', frames: Buffer[]): number {
    return this.gw.inject(this.workerOf(queue), side, mode, frames);
  }

  /** Drains the punt rings of all queues. */
  punts(max?: number): Punt[] { return numbered<Punt>(this.gw.punts(max)); }

  /** Calls `handler` with punted frames whenever some arrive (from the event loop). */
  onPunt(handler: (punts: Punt[]) => void): void {
    this.gw.onPunt(() => {
      if (this.closed) return; // a wake-up that was already queued when the gateway closed
      const p = this.punts();
      if (p.length) handler(p);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.gw.close();
  }

  /** The worker of a configured queue; an error names the configured number, as every log and error does. */
  private workerOf(queue: QueueNumber): WorkerIndex {
    if (!Number.isInteger(queue) || queue < 1 || queue > this.queues) {
      throw new RangeError(`queue ${queue}: no such queue (the gateway has queues 1..${this.queues})`);
    }
    return workerIndex(queue);
  }

  private worker<T extends { queue: QueueNumber }>(x: T): Omit<T, 'queue'> & { queue: WorkerIndex } {
    return { ...x, queue: this.workerOf(x.queue) };
  }

  private scheduleCommit(): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    queueMicrotask(() => this.commit());
  }
}

/** Records from the addon, their worker indexes turned into configured queue numbers (in place: punts come in floods). */
function numbered<T extends { queue: QueueNumber }>(list: (Omit<T, 'queue'> & { queue: number })[]): T[] {
  for (const x of list) x.queue = queueNumber(x.queue as WorkerIndex);
  return list as T[];
}

/** In-process wires between gateways, tests and benchmarks (the `memory` driver). */
export interface WireEnd {
  queues?: number;
  steering?: 'same-queue' | 'flow-hash' | 'destination';
  addresses?: string[];
}

export const wires = {
  create(name: string, opts: { loopback?: boolean; ends: [WireEnd] | [WireEnd, WireEnd]; ringBytes?: number }): void {
    native.gateway.createWire(name, opts);
  },
  destroy(name: string): void { native.gateway.destroyWire(name); },
  send(name: string, end: 0 | 1, frames: Buffer[], queue = 0): number {
    return native.gateway.wireSend(name, end, frames, queue);
  },
  receive(name: string, end: 0 | 1, queue = 0, max = 4096): Buffer[] {
    return native.gateway.wireReceive(name, end, queue, max);
  },
};
