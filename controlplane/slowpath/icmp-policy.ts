// When an ICMP error must not be sent (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e)),
// so that errors never cause errors, never multiply through multicast and
// never go to addresses that cannot answer. One function, so every error the
// slow path sends passes the same checks.
import { isMulticastIp, isMulticastMac, isUnicastIp, type IpBytes, type MacBytes } from './address.js';
import type { DropReason } from './counters.js';
import { PROTO_ICMP, PROTO_ICMPV6, type IpView } from './packet.js';

// ICMP types that are queries or replies, not errors (RFC 792, 950, 1256).
// Anything else, known or not, is treated as an error: we stay silent.
const ICMP_INFORMATIONAL = new Set([0, 8, 9, 10, 13, 14, 15, 16, 17, 18]);
const ICMPV6_REDIRECT = 137;

/**
 * Null if an ICMP error about `offending` may be sent; otherwise the reason
 * not to. `linkDst` is the destination MAC of the frame that carried it (null
 * when it did not come straight off a link, e.g. out of the tunnel).
 */
export function errorSuppressedBecause(offending: IpView, linkDst: MacBytes | null, ours: (ip: IpBytes) => boolean): DropReason | null {
  if (offending.fragment && offending.fragment.offset !== 0) return 'error-about-fragment';
  // IPv4 224/3 covers multicast, reserved and the limited broadcast.
  if ((linkDst && isMulticastMac(linkDst)) || isMulticastIp(offending.dst)) return 'error-about-multicast';
  if (!isUnicastIp(offending.src) || ours(offending.src)) return 'error-bad-source';
  const upper = offending.upper;
  if (!upper) return 'error-about-error'; // cannot tell what it carries
  if (upper.protocol === PROTO_ICMP && offending.version === 4) {
    const type = offending.bytes[upper.offset];
    if (type === undefined || !ICMP_INFORMATIONAL.has(type)) return 'error-about-error';
  }
  if (upper.protocol === PROTO_ICMPV6 && offending.version === 6) {
    const type = offending.bytes[upper.offset];
    if (type === undefined || type < 128 || type === ICMPV6_REDIRECT) return 'error-about-error';
  }
  return null;
}

