// The slow path's configuration: what the gateway passes in (addresses,
// next hops, MTU, callbacks, limits) and its checked, parsed form. Errors name
// the option and what is wrong with it.
import type { Logger } from 'pino';
import { parseIp, parseMac, type IpBytes, type MacBytes } from './address.js';
import type { ResolverTiming } from './neighbours.js';
import type { RateLimit } from '../token-bucket.js';
import type { InjectFn, Side } from './types.js';
import type { QueueNumber } from '../exchange/types.js';

export type UdpHandler = (queue: QueueNumber, src: string, dst: string, srcPort: number, dstPort: number, payload: Buffer) => void;

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
    /** Each queue's public address, as configured (public-interface/queue). */
    queues: readonly { id: QueueNumber; address: string }[];
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
  /** Echo replies and ICMP errors have a budget per side, fair per source (fair-budget.ts). */
  limits?: {
    /** ICMP errors we originate (time exceeded, too big, unreachable), per side the offending packet came from. */
    icmpErrors?: RateLimit;
    /** ICMP errors about one source's packets. */
    icmpErrorsPerSource?: RateLimit;
    /** Echo replies, per side. */
    echoReplies?: RateLimit;
    /** Echo replies to one source. */
    echoRepliesPerSource?: RateLimit;
    /** IPv4 packets fragmented here (each costs a copy and several injected frames). */
    fragmentation?: RateLimit;
  };
  neighbour?: Partial<ResolverTiming>;
  /** Milliseconds on a monotonic clock (tests pass a fake one). */
  now?: () => number;
}

export const DEFAULT_LIMITS = {
  icmpErrors: { perSecond: 100, burst: 50 },
  // Traceroute and path-MTU discovery need a few at a time per host.
  icmpErrorsPerSource: { perSecond: 20, burst: 20 },
  echoReplies: { perSecond: 1000, burst: 200 },
  // Ten times what a monitoring system's pings need; a flood gets this much.
  echoRepliesPerSource: { perSecond: 100, burst: 50 },
  fragmentation: { perSecond: 10_000, burst: 1000 },
} as const satisfies Record<string, RateLimit>;

export interface SideAddresses {
  mac: MacBytes;
  /** Our addresses on this side: the private ones, or every queue's public one. */
  addresses: IpBytes[];
}

export interface ParsedAddresses {
  private: SideAddresses & { v4: IpBytes | null; v6: IpBytes | null };
  /** queues[i] owns addresses[i]. */
  public: SideAddresses & { queues: QueueNumber[] };
}

export function parseAddresses(opts: SlowPathOptions): ParsedAddresses {
  const v4 = opts.private.ipv4 !== undefined ? parseVersion(opts.private.ipv4, 4, 'private.ipv4') : null;
  const v6 = opts.private.ipv6 !== undefined ? parseVersion(opts.private.ipv6, 6, 'private.ipv6') : null;
  return {
    private: {
      mac: parseMac(opts.private.mac, 'private.mac'),
      v4,
      v6,
      addresses: [v4, v6].filter((a): a is IpBytes => a !== null),
    },
    public: {
      mac: parseMac(opts.public.mac, 'public.mac'),
      addresses: opts.public.queues.map((q) => parseIp(q.address, `public.queues[id=${q.id}].address`)),
      queues: opts.public.queues.map((q) => q.id),
    },
  };
}

export function checkMtu(mtu: number): number {
  // 68: the smallest IPv4 MTU (RFC 791); 65535: the largest IP packet.
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new Error(`mtu: must be an integer from 68 to 65535 (got ${mtu})`);
  return mtu;
}

function parseVersion(text: string, version: 4 | 6, what: string): IpBytes {
  const ip = parseIp(text, what);
  if (ip.length !== (version === 4 ? 4 : 16)) throw new Error(`${what}: not an IPv${version} address: "${text}"`);
  return ip;
}
