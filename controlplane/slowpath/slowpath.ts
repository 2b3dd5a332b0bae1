// The slow path: what the data plane's workers punt to the control plane,
// and the frames the control plane injects back. In the order `handle`
// dispatches a punt:
//   control       ARP (answer for our addresses, learn the next hop) →
//                 IPv6 multicast (Neighbour Discovery only) → IP for one of
//                 our addresses: ICMP (echo replies; ND) / UDP on the public
//                 side (to the key exchange's callback) / anything else on
//                 the private side (ICMP port or protocol unreachable)
//   ttl-exceeded  ICMP time exceeded from our private address: straight back
//                 to the sender on the private side; into the tunnel (inject
//                 as received on the private side) for a packet that came
//                 out of it
//   too-big       IPv4 with DF and IPv6: fragmentation needed / packet too
//                 big with the tunnel MTU; IPv4 without DF: fragmented here
// Every answer is built in a fresh buffer, collected per (queue, side, mode)
// and injected as one batch per `handle` call. Every frame that gets no
// answer is counted under the reason why (counters.ts). Next-hop resolution
// runs on timers (neighbours.ts) from `start` to `stop`.
import type { Logger } from 'pino';
import {
  ALL_NODES_V6,
  formatIp,
  formatMac,
  ipv6MulticastMac,
  isMulticastIp,
  isMulticastMac,
  isUnicastIp,
  isUnspecifiedIp,
  parseIp,
  parseMac,
  solicitedNodeAddress,
  type IpBytes,
  type MacBytes,
} from './address.js';
import { ARP_REPLY, ARP_REQUEST, arpAnnouncementFrame, arpReplyFrame, arpRequestFrame, parseArp } from './arp.js';
import { upperLayerChecksum } from './checksum.js';
import { bump, newCounters, type DropReason, type IcmpCounters, type SlowPathCounters } from './counters.js';
import { fragmentIpv4 } from './fragment.js';
import {
  echoReply,
  errorPacket,
  errorTypeCode,
  icmpKey,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  parseIcmp,
  type IcmpError,
  type IcmpMessage,
} from './icmp.js';
import { errorSuppressedBecause } from './icmp-policy.js';
import {
  isNdType,
  ND_NEIGHBOUR_ADVERTISEMENT,
  ND_NEIGHBOUR_SOLICITATION,
  ND_REDIRECT,
  ND_ROUTER_ADVERTISEMENT,
  ND_ROUTER_SOLICITATION,
  neighbourAdvertisementFrame,
  neighbourSolicitationFrame,
  parseNd,
} from './nd.js';
import { DEFAULT_RESOLVER_TIMING, NextHopResolver, type NeighbourEntry, type ResolverTiming } from './neighbours.js';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ethernetFrame,
  etherTypeOf,
  parseEthernet,
  parseIp as parseIpPacket,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_UDP,
  type EthernetView,
  type IpView,
  type Ipv6View,
} from './packet.js';
import { TokenBucket, type RateLimit } from './ratelimit.js';
import type { InjectFn, InjectMode, Punt, Side } from './types.js';

export type UdpHandler = (queue: number, src: string, dst: string, srcPort: number, dstPort: number, payload: Buffer) => void;

export interface SlowPathOptions {
  private: {
    mac: string;
    ipv4?: string;
    ipv6?: string;
    /** The private side's next hop (router), resolved by ARP or ND unless nextHopMac is given. */
    nextHop?: string;
    nextHopMac?: string;
  };
  public: {
    mac: string;
    /** One address per queue (queue i owns addresses[i]). */
    addresses: string[];
    nextHop?: string;
    nextHopMac?: string;
  };
  /** Largest inner IP packet the tunnel carries (the data plane's `mtu`). */
  mtu: number;
  inject: InjectFn;
  setNextHop: (side: Side, mac: string | null) => void;
  /** UDP for one of our public addresses (the key exchange). */
  onUdp?: UdpHandler;
  logger: Logger;
  limits?: {
    /** ICMP errors we originate (time exceeded, too big, unreachable). */
    icmpErrors?: RateLimit;
    /** Echo replies. */
    echoReplies?: RateLimit;
    /** IPv4 packets fragmented here (each costs a copy and several injected frames). */
    fragmentation?: RateLimit;
  };
  neighbour?: Partial<ResolverTiming>;
  /** Milliseconds on a monotonic clock (tests pass a fake one). */
  now?: () => number;
}

export const DEFAULT_LIMITS = {
  icmpErrors: { perSecond: 100, burst: 50 },
  echoReplies: { perSecond: 1000, burst: 200 },
  fragmentation: { perSecond: 10_000, burst: 1000 },
} as const satisfies Record<string, RateLimit>;

// Repeated warnings (address conflicts) are logged at most this often.
const WARN_INTERVAL_MS = 10_000;

interface SideConfig {
  mac: MacBytes;
  /** Our addresses on this side: the private ones, or every queue's public one. */
  addresses: IpBytes[];
}

/** Frames to inject, grouped so that each (queue, side, mode) is one inject call. */
class Outbox {
  private readonly groups = new Map<string, { queue: number; side: Side; mode: InjectMode; frames: Buffer[] }>();

  add(queue: number, side: Side, mode: InjectMode, frame: Buffer): void {
    const key = `${queue}/${side}/${mode}`;
    let g = this.groups.get(key);
    if (!g) {
      g = { queue, side, mode, frames: [] };
      this.groups.set(key, g);
    }
    g.frames.push(frame);
  }

  flush(inject: InjectFn): void {
    for (const g of this.groups.values()) inject(g.queue, g.side, g.mode, g.frames);
    this.groups.clear();
  }
}

export class SlowPath {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly inject: InjectFn;
  private readonly onUdp: UdpHandler | undefined;
  private readonly private: SideConfig & { v4: IpBytes | null; v6: IpBytes | null };
  private readonly public: SideConfig & { perQueue: IpBytes[] };
  private readonly resolvers: Partial<Record<Side, NextHopResolver>> = {};
  private readonly errorBucket: TokenBucket;
  private readonly echoBucket: TokenBucket;
  private readonly fragmentBucket: TokenBucket;
  private readonly c: SlowPathCounters = newCounters();
  private readonly lastWarning = new Map<string, number>();
  private mtu: number;
  private ipId: number;
  private started = false;

  constructor(opts: SlowPathOptions) {
    this.log = opts.logger.child({ module: 'slowpath' });
    this.now = opts.now ?? (() => performance.now());
    this.inject = opts.inject;
    this.onUdp = opts.onUdp;
    this.mtu = checkMtu(opts.mtu);
    this.ipId = Math.floor(Math.random() * 0x10000);

    const v4 = opts.private.ipv4 !== undefined ? parseFamily(opts.private.ipv4, 4, 'private.ipv4') : null;
    const v6 = opts.private.ipv6 !== undefined ? parseFamily(opts.private.ipv6, 6, 'private.ipv6') : null;
    this.private = {
      mac: parseMac(opts.private.mac, 'private.mac'),
      v4,
      v6,
      addresses: [v4, v6].filter((a): a is IpBytes => a !== null),
    };
    const perQueue = opts.public.addresses.map((a, i) => parseIp(a, `public.addresses[${i}]`));
    this.public = { mac: parseMac(opts.public.mac, 'public.mac'), perQueue, addresses: perQueue };

    const limits = opts.limits ?? {};
    this.errorBucket = new TokenBucket(limits.icmpErrors ?? DEFAULT_LIMITS.icmpErrors);
    this.echoBucket = new TokenBucket(limits.echoReplies ?? DEFAULT_LIMITS.echoReplies);
    this.fragmentBucket = new TokenBucket(limits.fragmentation ?? DEFAULT_LIMITS.fragmentation);

    const timing = { ...DEFAULT_RESOLVER_TIMING, ...opts.neighbour };
    for (const side of ['private', 'public'] as const) {
      const o = opts[side];
      if (o.nextHop === undefined) {
        if (o.nextHopMac !== undefined) throw new Error(`${side}.nextHopMac: given without ${side}.nextHop`);
        continue;
      }
      const target = parseIp(o.nextHop, `${side}.nextHop`);
      const staticMac = o.nextHopMac !== undefined ? parseMac(o.nextHopMac, `${side}.nextHopMac`) : null;
      const source = this.sourceFor(side, target.length);
      if (!source && !staticMac) {
        throw new Error(
          `${side}.nextHop: ${o.nextHop} is IPv${target.length === 4 ? 4 : 6} but the ${side} side has no address of that version to resolve it from`,
        );
      }
      const mac = this[side].mac;
      this.resolvers[side] = new NextHopResolver(side, target, staticMac, timing, {
        probe: (known) => {
          if (!source) return;
          this.inject(source.queue, side, 'transmit', [this.probeFrame(mac, source.ip, target, known)]);
        },
        setMac: (m) => opts.setNextHop(side, m ? formatMac(m) : null),
        now: this.now,
        log: this.log,
      });
    }
  }

  /** Announces our addresses (gratuitous ARP, unsolicited NA) and starts next-hop resolution. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.announce('private', 0, this.private.addresses);
    this.public.perQueue.forEach((ip, q) => this.announce('public', q, [ip]));
    this.resolvers.private?.start();
    this.resolvers.public?.start();
  }

  stop(): void {
    this.started = false;
    this.resolvers.private?.stop();
    this.resolvers.public?.stop();
  }

  /** The tunnel MTU changed (the data plane's setMtu). */
  setMtu(mtu: number): void {
    this.mtu = checkMtu(mtu);
  }

  /** Processes a batch of punted frames; the answers are injected before it returns. */
  handle(punts: readonly Punt[]): void {
    const out = new Outbox();
    for (const p of punts) {
      try {
        this.handleOne(p, out);
      } catch (err) {
        // A frame we failed to foresee must cost one frame, not the batch.
        this.drop('malformed');
        this.log.error({ err, queue: p.queue, side: p.side, reason: p.reason }, 'slow path: unexpected failure handling a punted frame');
      }
    }
    out.flush(this.inject);
  }

  neighbours(): NeighbourEntry[] {
    return (['private', 'public'] as const).flatMap((s) => (this.resolvers[s] ? [this.resolvers[s]!.entry()] : []));
  }

  counters(): SlowPathCounters {
    return structuredClone(this.c);
  }

  // --- dispatch ------------------------------------------------------------

  private handleOne(p: Punt, out: Outbox): void {
    const eth = parseEthernet(p.frame.subarray(0, Math.min(p.frame.length, p.frameLength)));
    if (!eth) return this.drop('malformed');
    // The public side's ttl-exceeded frames carry an Ethernet header the data
    // plane wrote (the packet came out of the tunnel); all others came off a link.
    const offLink = !(p.side === 'public' && p.reason === 'ttl-exceeded');
    if (offLink && (isMulticastMac(eth.src) || eth.src.equals(this[p.side].mac))) return this.drop('bad-source');

    if (p.reason === 'control' && eth.type === ETHERTYPE_ARP) return this.handleArp(p, eth, out);
    if (eth.type !== ETHERTYPE_IPV4 && eth.type !== ETHERTYPE_IPV6) return this.drop('unhandled');
    const ip = parseIpPacket(eth.type, eth.payload);
    if (!ip) return this.drop('malformed');
    if (ip.version === 4 && !ip.headerChecksumOk) return this.drop('bad-checksum');

    switch (p.reason) {
      case 'control':
        return this.handleControl(p, eth, ip, out);
      case 'ttl-exceeded':
        if (ip.ttl > 1) return this.drop('unhandled');
        if (p.side === 'private') return this.sendError('time-exceeded', p.queue, ip, eth, out);
        return this.sendError('time-exceeded', p.queue, ip, null, out);
      case 'too-big':
        if (p.side !== 'private') return this.drop('unhandled');
        return this.handleTooBig(p, eth, ip, out);
    }
  }

  // --- ARP -----------------------------------------------------------------

  private handleArp(p: Punt, eth: EthernetView, out: Outbox): void {
    const arp = parseArp(eth.payload);
    if (!arp) return this.drop('malformed');
    if (isMulticastMac(arp.senderMac)) return this.drop('bad-source');
    const side = this[p.side];
    if (arp.op === ARP_REQUEST) this.c.arp.requestsReceived++;
    else this.c.arp.repliesReceived++;

    if (this.isOurs(arp.senderIp) && !arp.senderMac.equals(side.mac)) {
      this.warnConflict(p.side, arp.senderIp, arp.senderMac);
      return this.drop('bad-source');
    }
    const resolver = this.resolvers[p.side];
    const fromNextHop = resolver !== undefined && arp.senderIp.equals(resolver.address);
    if (fromNextHop) {
      if (arp.op === ARP_REPLY) resolver!.confirmed(arp.senderMac);
      else resolver!.heard(arp.senderMac);
    }

    const ourIp = arp.op === ARP_REQUEST ? side.addresses.find((a) => a.equals(arp.targetIp)) : undefined;
    // A request for our address from that address is an announcement, not a question.
    if (ourIp && !arp.senderIp.equals(arp.targetIp)) {
      out.add(p.queue, p.side, 'transmit', arpReplyFrame(arp, side.mac, ourIp));
      this.c.arp.repliesSent++;
      return;
    }
    if (!fromNextHop) this.drop('not-for-us');
  }

  // --- IP for us (and IPv6 multicast) --------------------------------------

  private handleControl(p: Punt, eth: EthernetView, ip: IpView, out: Outbox): void {
    if (ip.version === 6 && isMulticastIp(ip.dst)) {
      if (ip.upper?.protocol !== PROTO_ICMPV6 || ip.fragment) return this.drop('unhandled');
      return this.handleIcmp(p, eth, ip, out);
    }
    if (!this[p.side].addresses.some((a) => a.equals(ip.dst))) return this.drop('not-for-us');
    if (ip.fragment) return this.drop('fragment');
    if (!ip.upper) return this.drop('malformed');
    const protocol = ip.upper.protocol;
    if (protocol === (ip.version === 4 ? PROTO_ICMP : PROTO_ICMPV6)) return this.handleIcmp(p, eth, ip, out);
    if (p.side === 'public') {
      if (protocol === PROTO_UDP) return this.deliverUdp(p, ip);
      return this.drop('unhandled');
    }
    return this.sendError(protocol === PROTO_UDP ? 'port-unreachable' : 'protocol-unreachable', p.queue, ip, eth, out);
  }

  private handleIcmp(p: Punt, eth: EthernetView, ip: IpView, out: Outbox): void {
    const msg = parseIcmp(ip);
    if (typeof msg === 'string') return this.drop(msg);
    const counters = this.icmpCounters(ip.version);
    bump(counters.received, icmpKey(msg.type, msg.code));
    if (ip.version === 6 && isNdType(msg.type)) return this.handleNd(p, eth, ip, msg, out);
    if (isMulticastIp(ip.dst)) return this.drop('unhandled');
    if (msg.type !== (ip.version === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST)) return; // replies and errors for us: counted
    if (!isUnicastIp(ip.src) || this.isOurs(ip.src)) return this.drop('bad-source');
    if (!this.echoBucket.take(this.now())) {
      counters.ratelimited++;
      return;
    }
    const reply = echoReply(ip, msg, this.nextId());
    out.add(p.queue, p.side, 'transmit', ethernetFrame(eth.src, this[p.side].mac, eth.type, reply));
    bump(counters.sent, icmpKey(ip.version === 4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY, 0));
  }

  private deliverUdp(p: Punt, ip: IpView): void {
    if (!ip.complete) return this.drop('truncated');
    const udp = ip.bytes.subarray(ip.upper!.offset);
    if (udp.length < 8) return this.drop('malformed');
    const length = udp.readUInt16BE(4);
    if (length < 8 || length > udp.length) return this.drop('malformed');
    const datagram = udp.subarray(0, length);
    const checksum = datagram.readUInt16BE(6);
    // Zero means "no checksum" over IPv4 only (RFC 768; RFC 8200 §8.1).
    if (checksum !== 0 || ip.version === 6) {
      if (checksum === 0 || upperLayerChecksum(ip.src, ip.dst, PROTO_UDP, datagram) !== 0) return this.drop('bad-checksum');
    }
    if (!this.onUdp) return this.drop('no-udp-handler');
    this.c.udp.delivered++;
    this.onUdp(p.queue, formatIp(ip.src), formatIp(ip.dst), datagram.readUInt16BE(0), datagram.readUInt16BE(2), Buffer.from(datagram.subarray(8)));
  }

  // --- Neighbour Discovery -------------------------------------------------

  private handleNd(p: Punt, eth: EthernetView, ip: Ipv6View, msg: IcmpMessage, out: Outbox): void {
    if (msg.type === ND_REDIRECT) return this.drop('unhandled'); // a router does not take redirects
    const nd = parseNd(ip, msg);
    if (!nd) return this.drop('malformed');
    const side = this[p.side];
    const resolver = this.resolvers[p.side];
    const isNextHop = (a: IpBytes) => resolver !== undefined && a.equals(resolver.address);

    switch (nd.type) {
      case ND_NEIGHBOUR_SOLICITATION: {
        this.c.nd.solicitationsReceived++;
        const target = nd.target!;
        const dad = isUnspecifiedIp(ip.src);
        if (!dad && !isUnicastIp(ip.src)) return this.drop('bad-source');
        if (!dad && nd.sourceLinkAddress && isNextHop(ip.src)) resolver!.heard(nd.sourceLinkAddress);
        const ourIp = side.addresses.find((a) => a.equals(target));
        if (!ourIp || !(ip.dst.equals(target) || ip.dst.equals(solicitedNodeAddress(target)))) return this.drop('not-for-us');
        if (dad) {
          // Someone wants our address: defend it (RFC 4862 §5.4.3).
          this.warnConflict(p.side, target, eth.src);
          out.add(p.queue, p.side, 'transmit',
            neighbourAdvertisementFrame(side.mac, ourIp, ALL_NODES_V6, ipv6MulticastMac(ALL_NODES_V6), { router: true, solicited: false, override: true }));
        } else {
          const dstMac = nd.sourceLinkAddress ?? eth.src;
          if (isMulticastMac(dstMac)) return this.drop('bad-source');
          out.add(p.queue, p.side, 'transmit',
            neighbourAdvertisementFrame(side.mac, ourIp, ip.src, dstMac, { router: true, solicited: true, override: true }));
        }
        this.c.nd.advertisementsSent++;
        bump(this.c.icmpv6.sent, icmpKey(ND_NEIGHBOUR_ADVERTISEMENT, 0));
        return;
      }
      case ND_NEIGHBOUR_ADVERTISEMENT: {
        this.c.nd.advertisementsReceived++;
        const target = nd.target!;
        if (isNextHop(target)) {
          if (nd.solicited) resolver!.confirmed(nd.targetLinkAddress, nd.override);
          else if (nd.targetLinkAddress) resolver!.heard(nd.targetLinkAddress, nd.override);
          return;
        }
        if (this.isOurs(target) && !(nd.targetLinkAddress ?? eth.src).equals(side.mac)) {
          this.warnConflict(p.side, target, nd.targetLinkAddress ?? eth.src);
        }
        return this.drop('not-for-us');
      }
      case ND_ROUTER_SOLICITATION:
        this.c.nd.routerSolicitationsReceived++;
        return this.drop('unhandled'); // we route, but advertise no prefixes
      case ND_ROUTER_ADVERTISEMENT:
        this.c.nd.routerAdvertisementsReceived++;
        if (nd.sourceLinkAddress && isNextHop(ip.src)) return resolver!.heard(nd.sourceLinkAddress);
        return this.drop('unhandled');
    }
  }

  // --- ICMP errors and fragmentation ---------------------------------------

  private handleTooBig(p: Punt, eth: EthernetView, ip: IpView, out: Outbox): void {
    if (ip.length <= this.mtu) return this.drop('unhandled'); // our MTU and the data plane's disagree for a moment
    if (ip.version === 6 || ip.dontFragment) return this.sendError('too-big', p.queue, ip, eth, out);
    // IPv4 without DF: the sender allowed fragmentation, and an ICMP error
    // would be ignored (RFC 1191 only reacts to DF packets), so we fragment
    // (RFC 791) and put the fragments back into the pipeline as if received:
    // the alternative, dropping, would black-hole every such flow. Frames
    // above the punt limit (2048 octets) are not whole here and are dropped
    // and counted as truncated.
    if (!ip.complete || p.frameLength > p.frame.length) return this.drop('truncated');
    if (!this.fragmentBucket.take(this.now())) return this.drop('fragmentation-ratelimited');
    const fragments = fragmentIpv4(ip, this.mtu);
    if (!fragments) return this.drop('malformed');
    for (const f of fragments) out.add(p.queue, 'private', 'receive', ethernetFrame(eth.dst, eth.src, ETHERTYPE_IPV4, f));
    this.c.fragmentation.packets++;
    this.c.fragmentation.fragments += fragments.length;
  }

  /**
   * An ICMP error about `ip` from our private address. With `eth` (the frame
   * it arrived in on the private side) it goes straight back to that frame's
   * sender; without (it came out of the tunnel) it is injected as received on
   * the private side, so the data plane routes it back into the tunnel.
   */
  private sendError(kind: IcmpError, queue: number, ip: IpView, eth: EthernetView | null, out: Outbox): void {
    const suppressed = errorSuppressedBecause(ip, eth ? eth.dst : null, (a) => this.isOurs(a));
    if (suppressed) return this.drop(suppressed);
    const src = ip.version === 4 ? this.private.v4 : this.private.v6;
    if (!src) return this.drop('no-source-address');
    const counters = this.icmpCounters(ip.version);
    if (!this.errorBucket.take(this.now())) {
      counters.ratelimited++;
      return;
    }
    const packet = errorPacket(kind, ip, src, this.nextId(), this.mtu);
    const type = etherTypeOf(src);
    const mac = this.private.mac;
    if (eth) out.add(queue, 'private', 'transmit', ethernetFrame(eth.src, mac, type, packet));
    else out.add(queue, 'private', 'receive', ethernetFrame(mac, mac, type, packet));
    bump(counters.sent, icmpKey(...errorTypeCode(kind, ip.version)));
  }

  // --- helpers -------------------------------------------------------------

  private announce(side: Side, queue: number, addresses: IpBytes[]): void {
    const mac = this[side].mac;
    const frames = addresses.map((ip) =>
      ip.length === 4
        ? arpAnnouncementFrame(mac, ip)
        : neighbourAdvertisementFrame(mac, ip, ALL_NODES_V6, ipv6MulticastMac(ALL_NODES_V6), { router: true, solicited: false, override: true }),
    );
    for (const ip of addresses) {
      if (ip.length === 4) this.c.arp.announcementsSent++;
      else {
        this.c.nd.advertisementsSent++;
        bump(this.c.icmpv6.sent, icmpKey(ND_NEIGHBOUR_ADVERTISEMENT, 0));
      }
    }
    if (frames.length) this.inject(queue, side, 'transmit', frames);
  }

  private probeFrame(mac: MacBytes, src: IpBytes, target: IpBytes, known: MacBytes | null): Buffer {
    if (target.length === 4) {
      this.c.arp.requestsSent++;
      return arpRequestFrame(mac, src, target, known);
    }
    this.c.nd.solicitationsSent++;
    bump(this.c.icmpv6.sent, icmpKey(ND_NEIGHBOUR_SOLICITATION, 0));
    return neighbourSolicitationFrame(mac, src, target, known);
  }

  /** Where to resolve a next hop of this IP version from: our address on that side and the queue that owns it. */
  private sourceFor(side: Side, length: number): { queue: number; ip: IpBytes } | null {
    if (side === 'private') {
      const ip = length === 4 ? this.private.v4 : this.private.v6;
      return ip ? { queue: 0, ip } : null;
    }
    const queue = this.public.perQueue.findIndex((a) => a.length === length);
    return queue >= 0 ? { queue, ip: this.public.perQueue[queue] } : null;
  }

  private isOurs(ip: IpBytes): boolean {
    return this.private.addresses.some((a) => a.equals(ip)) || this.public.addresses.some((a) => a.equals(ip));
  }

  private icmpCounters(version: 4 | 6): IcmpCounters {
    return version === 4 ? this.c.icmp : this.c.icmpv6;
  }

  private nextId(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }

  private drop(reason: DropReason): void {
    this.c.drops[reason]++;
  }

  private warnConflict(side: Side, ip: IpBytes, mac: MacBytes): void {
    const key = `${side}/${formatIp(ip)}/${formatMac(mac)}`;
    const now = this.now();
    const last = this.lastWarning.get(key);
    if (last !== undefined && now - last < WARN_INTERVAL_MS) return;
    if (this.lastWarning.size > 1000) this.lastWarning.clear();
    this.lastWarning.set(key, now);
    this.log.warn({ side, address: formatIp(ip), mac: formatMac(mac) }, 'another host claims one of our addresses');
  }
}

function checkMtu(mtu: number): number {
  // 68: the smallest IPv4 MTU (RFC 791); the largest an IP packet can be.
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new Error(`mtu: must be an integer from 68 to 65535 (got ${mtu})`);
  return mtu;
}

function parseFamily(text: string, version: 4 | 6, what: string): IpBytes {
  const ip = parseIp(text, what);
  if (ip.length !== (version === 4 ? 4 : 16)) throw new Error(`${what}: not an IPv${version} address: "${text}"`);
  return ip;
}
