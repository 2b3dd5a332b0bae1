// The slow path: what the data plane's workers punt to the control plane,
// and the frames the control plane injects back. `handle` dispatches each
// punt by reason:
//   control       ARP (answer-arp.ts) → IPv6 multicast: Neighbour Discovery
//                 only → IP for one of our addresses: ICMP (answer-icmp.ts:
//                 echo replies, ND) / UDP on the public side (to the key
//                 exchange's callback) / anything else on the private side
//                 (ICMP port or protocol unreachable)
//   ttl-exceeded  ICMP time exceeded from our private address (answer-errors.ts)
//   too-big       fragmentation needed / packet too big, or IPv4 fragmentation
//   tunnel        decrypted, for one of our addresses: echo replies and ICMP
//                 errors go back into the tunnel (injected as received on the
//                 private side, so the data plane encrypts them)
// Answers are built in fresh buffers, collected per (queue, side, mode) and
// injected as one batch per `handle` call. Every frame that gets no answer is
// counted under the reason why (counters.ts). Next-hop resolution runs on
// timers (neighbours.ts) between `start` and `stop`.
import { ALL_NODES_V6, formatIp, formatMac, ipv6MulticastMac, isMulticastIp, isMulticastMac, parseIp, parseMac, type IpBytes, type MacBytes } from './address.js';
import { answerArp } from './answer-arp.js';
import { answerTooBig, sendIcmpError } from './answer-errors.js';
import { answerIcmp } from './answer-icmp.js';
import { arpAnnouncementFrame, arpRequestFrame } from './arp.js';
import { upperLayerChecksum } from './checksum.js';
import { checkMtu, DEFAULT_LIMITS, parseAddresses, type ParsedAddresses, type SlowPathOptions, type UdpHandler } from './config.js';
import { Outbox, type SlowPathContext } from './context.js';
import { bump, newCounters, type DropReason, type SlowPathCounters } from './counters.js';
import { icmpKey } from './icmp.js';
import { ND_NEIGHBOUR_ADVERTISEMENT, ND_NEIGHBOUR_SOLICITATION, neighbourAdvertisementFrame, neighbourSolicitationFrame } from './nd.js';
import { DEFAULT_RESOLVER_TIMING, NextHopResolver, type NeighbourEntry } from './neighbours.js';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  parseEthernet,
  parseIp as parseIpPacket,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_UDP,
  type EthernetView,
  type IpView,
} from './packet.js';
import { FairBudget } from './fair-budget.js';
import { TokenBucket } from '../token-bucket.js';
import type { InjectFn, Punt, Side } from './types.js';
import { FIRST_QUEUE, type QueueNumber } from '../exchange/types.js';

export type { SlowPathOptions, UdpHandler } from './config.js';
export type { SlowPathCounters } from './counters.js';
export type { NeighbourEntry } from './neighbours.js';

// Repeated warnings (address conflicts) are logged at most this often per host.
const WARN_INTERVAL_MS = 10_000;

export class SlowPath {
  private readonly ctx: SlowPathContext;
  private readonly inject: InjectFn;
  private readonly onUdp: UdpHandler | undefined;
  private started = false;

  constructor(opts: SlowPathOptions) {
    this.inject = opts.inject;
    this.onUdp = opts.onUdp;
    const addresses = parseAddresses(opts);
    const log = opts.logger.child({ module: 'slowpath' });
    const now = opts.now ?? (() => performance.now());
    const counters = newCounters();
    const limits = opts.limits ?? {};
    let ipId = Math.floor(Math.random() * 0x10000);
    const lastWarning = new Map<string, number>();
    const all = [...addresses.private.addresses, ...addresses.public.addresses];
    this.ctx = {
      ...addresses,
      resolvers: {},
      counters,
      buckets: {
        errors: perSide(() => new FairBudget(limits.icmpErrors ?? DEFAULT_LIMITS.icmpErrors, limits.icmpErrorsPerSource ?? DEFAULT_LIMITS.icmpErrorsPerSource)),
        echo: perSide(() => new FairBudget(limits.echoReplies ?? DEFAULT_LIMITS.echoReplies, limits.echoRepliesPerSource ?? DEFAULT_LIMITS.echoRepliesPerSource)),
        fragmentation: new TokenBucket(limits.fragmentation ?? DEFAULT_LIMITS.fragmentation),
      },
      log,
      mtu: checkMtu(opts.mtu),
      now,
      drop: (reason: DropReason) => { counters.drops[reason]++; },
      isOurs: (ip: IpBytes) => all.some((a) => a.equals(ip)),
      nextId: () => (ipId = (ipId + 1) & 0xffff),
      warnConflict: (side: Side, ip: IpBytes, mac: Buffer) => {
        const key = `${side}/${formatIp(ip)}/${formatMac(mac)}`;
        const last = lastWarning.get(key);
        if (last !== undefined && now() - last < WARN_INTERVAL_MS) return;
        if (lastWarning.size > 1000) lastWarning.clear();
        lastWarning.set(key, now());
        log.warn({ side, address: formatIp(ip), mac: formatMac(mac) }, 'another host claims one of our addresses');
      },
    };
    for (const side of ['private', 'public'] as const) this.addResolver(side, opts, addresses);
  }

  /** Announces our addresses (gratuitous ARP, unsolicited NA) and starts next-hop resolution. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.announce('private', FIRST_QUEUE, this.ctx.private.addresses);
    this.ctx.public.addresses.forEach((ip, i) => this.announce('public', this.ctx.public.queues[i], [ip]));
    this.ctx.resolvers.private?.start();
    this.ctx.resolvers.public?.start();
  }

  stop(): void {
    this.started = false;
    this.ctx.resolvers.private?.stop();
    this.ctx.resolvers.public?.stop();
  }

  /** The tunnel MTU changed (as the data plane's setMtu). */
  setMtu(mtu: number): void {
    this.ctx.mtu = checkMtu(mtu);
  }

  /** Processes a batch of punted frames; the answers are injected before it returns. */
  handle(punts: readonly Punt[]): void {
    const out = new Outbox();
    for (const p of punts) {
      try {
        this.handleOne(p, out);
      } catch (err) {
        // A frame we failed to foresee must cost one frame, not the batch.
        this.ctx.drop('malformed');
        this.ctx.log.error({ err, queue: p.queue, side: p.side, reason: p.reason }, 'unexpected failure handling a punted frame');
      }
    }
    out.flush(this.inject);
  }

  /** The next hops: address, MAC, state and age (for the state API). */
  neighbours(): NeighbourEntry[] {
    return (['private', 'public'] as const).flatMap((s) => this.ctx.resolvers[s]?.entry() ?? []);
  }

  counters(): SlowPathCounters {
    return structuredClone(this.ctx.counters);
  }

  private handleOne(p: Punt, out: Outbox): void {
    const ctx = this.ctx;
    const eth = parseEthernet(p.frame.subarray(0, Math.min(p.frame.length, p.frameLength)));
    if (!eth) return ctx.drop('malformed');
    // The public side's ttl-exceeded and tunnel frames carry an Ethernet header
    // the data plane wrote (the packet came out of the tunnel); all others
    // came off a link.
    const offLink = !(p.side === 'public' && (p.reason === 'ttl-exceeded' || p.reason === 'tunnel'));
    if (offLink && (isMulticastMac(eth.src) || eth.src.equals(ctx[p.side].mac))) return ctx.drop('bad-source');

    if (p.reason === 'control' && eth.type === ETHERTYPE_ARP) return answerArp(ctx, p, eth, out);
    if (eth.type !== ETHERTYPE_IPV4 && eth.type !== ETHERTYPE_IPV6) return ctx.drop('unhandled');
    const ip = parseIpPacket(eth.type, eth.payload);
    if (!ip) return ctx.drop('malformed');
    if (ip.version === 4 && !ip.headerChecksumOk) return ctx.drop('bad-checksum');

    switch (p.reason) {
      case 'control':
        return this.handleControl(p, eth, ip, out);
      case 'ttl-exceeded':
        if (ip.ttl > 1) return ctx.drop('unhandled');
        return sendIcmpError(ctx, 'time-exceeded', p, ip, offLink ? eth : null, out);
      case 'too-big':
        if (p.side !== 'private') return ctx.drop('unhandled');
        return answerTooBig(ctx, p, eth, ip, out);
      case 'tunnel':
        return this.handleTunnel(p, eth, ip, out);
    }
  }

  /**
   * A decrypted packet for one of our addresses (the data plane checked it
   * against the SA's route first): answered as the private side answers,
   * but back into the tunnel.
   */
  private handleTunnel(p: Punt, eth: EthernetView, ip: IpView, out: Outbox): void {
    const ctx = this.ctx;
    if (!ctx.isOurs(ip.dst)) return ctx.drop('not-for-us');
    if (ip.fragment) return ctx.drop('fragment'); // no reassembly
    if (!ip.upper) return ctx.drop('malformed');
    const protocol = ip.upper.protocol;
    if (protocol === (ip.version === 4 ? PROTO_ICMP : PROTO_ICMPV6)) return answerIcmp(ctx, p, eth, ip, out);
    return sendIcmpError(ctx, protocol === PROTO_UDP ? 'port-unreachable' : 'protocol-unreachable', p, ip, null, out);
  }

  private handleControl(p: Punt, eth: EthernetView, ip: IpView, out: Outbox): void {
    const ctx = this.ctx;
    if (ip.version === 6 && isMulticastIp(ip.dst)) {
      if (ip.upper?.protocol !== PROTO_ICMPV6 || ip.fragment) return ctx.drop('unhandled');
      return answerIcmp(ctx, p, eth, ip, out);
    }
    if (!ctx[p.side].addresses.some((a) => a.equals(ip.dst))) return ctx.drop('not-for-us');
    if (ip.fragment) return ctx.drop('fragment'); // no reassembly
    if (!ip.upper) return ctx.drop('malformed');
    const protocol = ip.upper.protocol;
    if (protocol === (ip.version === 4 ? PROTO_ICMP : PROTO_ICMPV6)) return answerIcmp(ctx, p, eth, ip, out);
    if (p.side === 'public') return protocol === PROTO_UDP ? this.deliverUdp(p, ip) : ctx.drop('unhandled');
    return sendIcmpError(ctx, protocol === PROTO_UDP ? 'port-unreachable' : 'protocol-unreachable', p, ip, eth, out);
  }

  /** UDP for a public address, checked, to the key exchange. */
  private deliverUdp(p: Punt, ip: IpView): void {
    const ctx = this.ctx;
    if (!ip.complete) return ctx.drop('truncated');
    const udp = ip.bytes.subarray(ip.upper!.offset);
    if (udp.length < 8) return ctx.drop('malformed');
    const length = udp.readUInt16BE(4);
    if (length < 8 || length > udp.length) return ctx.drop('malformed');
    const datagram = udp.subarray(0, length);
    const checksum = datagram.readUInt16BE(6);
    // Zero means "no checksum", over IPv4 only (RFC 768; RFC 8200 §8.1).
    if (checksum !== 0 || ip.version === 6) {
      if (checksum === 0 || upperLayerChecksum(ip.src, ip.dst, PROTO_UDP, datagram) !== 0) return ctx.drop('bad-checksum');
    }
    if (!this.onUdp) return ctx.drop('no-udp-handler');
    ctx.counters.udp.delivered++;
    const payload = Buffer.from(datagram.subarray(8));
    this.onUdp(p.queue, formatIp(ip.src), formatIp(ip.dst), datagram.readUInt16BE(0), datagram.readUInt16BE(2), payload);
  }

  private addResolver(side: Side, opts: SlowPathOptions, addresses: ParsedAddresses): void {
    const o = opts[side];
    if (o.nextHop === undefined) {
      if (o.nextHopMac !== undefined) throw new Error(`${side}.nextHopMac: given without ${side}.nextHop`);
      return;
    }
    const target = parseIp(o.nextHop, `${side}.nextHop`);
    const staticMac = o.nextHopMac !== undefined ? parseMac(o.nextHopMac, `${side}.nextHopMac`) : null;
    const source = sourceFor(addresses, side, target.length);
    if (!source && !staticMac) {
      const version = target.length === 4 ? 4 : 6;
      throw new Error(`${side}.nextHop: ${o.nextHop} is IPv${version} but the ${side} side has no address of that version to resolve it from`);
    }
    const mac = addresses[side].mac;
    const timing = { ...DEFAULT_RESOLVER_TIMING, ...opts.neighbour };
    this.ctx.resolvers[side] = new NextHopResolver(side, target, staticMac, timing, {
      probe: (known) => {
        if (source) this.inject(source.queue, side, 'transmit', [this.probeFrame(mac, source.ip, target, known)]);
      },
      setMac: (m) => opts.setNextHop(side, m ? formatMac(m) : null),
      now: this.ctx.now,
      log: this.ctx.log,
    });
  }

  private probeFrame(mac: MacBytes, src: IpBytes, target: IpBytes, known: MacBytes | null): Buffer {
    const c = this.ctx.counters;
    if (target.length === 4) {
      c.arp.requestsSent++;
      return arpRequestFrame(mac, src, target, known);
    }
    c.nd.solicitationsSent++;
    bump(c.icmpv6.sent, icmpKey(ND_NEIGHBOUR_SOLICITATION, 0));
    return neighbourSolicitationFrame(mac, src, target, known);
  }

  private announce(side: Side, queue: QueueNumber, addresses: IpBytes[]): void {
    const mac = this.ctx[side].mac;
    const c = this.ctx.counters;
    const frames = addresses.map((ip) => {
      if (ip.length === 4) {
        c.arp.announcementsSent++;
        return arpAnnouncementFrame(mac, ip);
      }
      c.nd.advertisementsSent++;
      bump(c.icmpv6.sent, icmpKey(ND_NEIGHBOUR_ADVERTISEMENT, 0));
      const flags = { router: true, solicited: false, override: true };
      return neighbourAdvertisementFrame(mac, ip, ALL_NODES_V6, ipv6MulticastMac(ALL_NODES_V6), flags);
    });
    if (frames.length) this.inject(queue, side, 'transmit', frames);
  }
}

const perSide = <T>(make: () => T): Record<Side, T> => ({ private: make(), public: make() });

/** Where to resolve a next hop from: our address of its IP version on that side, and the queue that owns it. */
function sourceFor(a: ParsedAddresses, side: Side, length: number): { queue: QueueNumber; ip: IpBytes } | null {
  if (side === 'private') {
    const ip = length === 4 ? a.private.v4 : a.private.v6;
    return ip ? { queue: FIRST_QUEUE, ip } : null;
  }
  const i = a.public.addresses.findIndex((ip) => ip.length === length);
  return i >= 0 ? { queue: a.public.queues[i], ip: a.public.addresses[i] } : null;
}
