// The slow path's counters, declared in one place: what it received and sent
// per protocol, and every frame it dropped under the reason why. A plain
// object so the state API and metrics can read it as it is.

export const DROP_REASONS = [
  'malformed', // headers too short or inconsistent, invalid ARP/ND fields
  'bad-checksum', // IPv4 header, ICMP, ICMPv6 or UDP checksum wrong
  'truncated', // the punt was cut at 2048 octets and the whole packet was needed
  'not-for-us', // ARP/ND for someone else, a packet for an address that is not ours
  'fragment', // a fragment addressed to us: we do not reassemble
  'bad-source', // a multicast, broadcast or our own source address or MAC
  'unhandled', // valid but nothing for us to do (MLD, router solicitations, ...)
  'no-source-address', // no private address of that IP version to send an error from
  'error-about-error', // no ICMP error about an ICMP error (or one we cannot classify)
  'error-about-multicast', // no ICMP error about a multicast or broadcast packet
  'error-about-fragment', // no ICMP error about a non-first fragment
  'error-bad-source', // no ICMP error to an unspecified/loopback/multicast/our own source
  'fragmentation-ratelimited', // IPv4 fragmentation budget spent
  'no-udp-handler', // UDP for a public address but nobody listening
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export interface IcmpCounters {
  /** Per "type.code", e.g. "3.4" (fragmentation needed) or "129.0" (ICMPv6 echo reply). */
  sent: Record<string, number>;
  received: Record<string, number>;
  /** Messages we would have sent but the rate limit refused, per "type.code" of the message not sent. */
  rateLimited: Record<string, number>;
}

export interface SlowPathCounters {
  icmp: IcmpCounters;
  icmpv6: IcmpCounters;
  arp: {
    requestsReceived: number;
    repliesReceived: number;
    repliesSent: number;
    requestsSent: number;
    announcementsSent: number;
  };
  nd: {
    solicitationsReceived: number;
    advertisementsReceived: number;
    advertisementsSent: number;
    solicitationsSent: number;
    routerSolicitationsReceived: number;
    routerAdvertisementsReceived: number;
  };
  fragmentation: { packets: number; fragments: number };
  udp: { delivered: number };
  drops: Record<DropReason, number>;
}

export function newCounters(): SlowPathCounters {
  const icmp = (): IcmpCounters => ({ sent: {}, received: {}, rateLimited: {} });
  return {
    icmp: icmp(),
    icmpv6: icmp(),
    arp: { requestsReceived: 0, repliesReceived: 0, repliesSent: 0, requestsSent: 0, announcementsSent: 0 },
    nd: {
      solicitationsReceived: 0,
      advertisementsReceived: 0,
      advertisementsSent: 0,
      solicitationsSent: 0,
      routerSolicitationsReceived: 0,
      routerAdvertisementsReceived: 0,
    },
    fragmentation: { packets: 0, fragments: 0 },
    udp: { delivered: 0 },
    drops: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
  };
}

export function bump(table: Record<string, number>, key: string, n = 1): void {
  table[key] = (table[key] ?? 0) + n;
}
