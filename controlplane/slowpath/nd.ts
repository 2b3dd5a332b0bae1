// IPv6 Neighbour Discovery (RFC 4861) messages: validating what we receive
// (§6.1, §7.1) and building solicitations and advertisements. The protocol
// logic (answering, resolving the next hop) is in slowpath.ts and
// neighbours.ts.
import {
  isMulticastIp,
  isUnspecifiedIp,
  ipv6MulticastMac,
  solicitedNodeAddress,
  type IpBytes,
  type MacBytes,
} from './address.js';
import { icmpv6Packet, type IcmpMessage } from './icmp.js';
import { ETHERTYPE_IPV6, ethernetFrame, type Ipv6View } from './packet.js';

export const ND_ROUTER_SOLICITATION = 133;
export const ND_ROUTER_ADVERTISEMENT = 134;
export const ND_NEIGHBOUR_SOLICITATION = 135;
export const ND_NEIGHBOUR_ADVERTISEMENT = 136;
export const ND_REDIRECT = 137;

// Every ND message is sent with, and must arrive with, hop limit 255: proof it
// did not cross a router (RFC 4861 §3.1).
export const ND_HOP_LIMIT = 255;

const OPT_SOURCE_LINK_ADDRESS = 1;
const OPT_TARGET_LINK_ADDRESS = 2;

const NA_ROUTER = 0x80;
const NA_SOLICITED = 0x40;
const NA_OVERRIDE = 0x20;

export interface NdMessage {
  type: number;
  /** NS/NA: the address solicited or advertised. */
  target: IpBytes | null;
  router: boolean;
  solicited: boolean;
  override: boolean;
  sourceLinkAddress: MacBytes | null;
  targetLinkAddress: MacBytes | null;
}

// Where the options start in each message, and its minimum length.
const OPTIONS_AT: Record<number, number> = {
  [ND_ROUTER_SOLICITATION]: 8,
  [ND_ROUTER_ADVERTISEMENT]: 16,
  [ND_NEIGHBOUR_SOLICITATION]: 24,
  [ND_NEIGHBOUR_ADVERTISEMENT]: 24,
};

export function isNdType(type: number): boolean {
  return type in OPTIONS_AT || type === ND_REDIRECT;
}

/** The ND message (checksum already checked), or null if it fails RFC 4861's validity checks. */
export function parseNd(ip: Ipv6View, icmp: IcmpMessage): NdMessage | null {
  const m = icmp.message;
  const at = OPTIONS_AT[icmp.type];
  if (at === undefined || ip.ttl !== ND_HOP_LIMIT || icmp.code !== 0 || m.length < at) return null;
  const nd: NdMessage = {
    type: icmp.type,
    target: null,
    router: false,
    solicited: false,
    override: false,
    sourceLinkAddress: null,
    targetLinkAddress: null,
  };
  for (let i = at; i < m.length; ) {
    if (i + 2 > m.length) return null;
    const len = m[i + 1] * 8;
    if (len === 0 || i + len > m.length) return null;
    if (len >= 8) {
      if (m[i] === OPT_SOURCE_LINK_ADDRESS) nd.sourceLinkAddress = m.subarray(i + 2, i + 8);
      if (m[i] === OPT_TARGET_LINK_ADDRESS) nd.targetLinkAddress = m.subarray(i + 2, i + 8);
    }
    i += len;
  }
  if (icmp.type === ND_NEIGHBOUR_SOLICITATION || icmp.type === ND_NEIGHBOUR_ADVERTISEMENT) {
    nd.target = m.subarray(8, 24);
    if (isMulticastIp(nd.target)) return null;
  }
  if (icmp.type === ND_NEIGHBOUR_SOLICITATION && isUnspecifiedIp(ip.src)) {
    // Duplicate address detection: to the solicited-node group, no source link address.
    if (!ip.dst.equals(solicitedNodeAddress(nd.target!)) || nd.sourceLinkAddress) return null;
  }
  if (icmp.type === ND_NEIGHBOUR_ADVERTISEMENT) {
    const flags = m[4];
    nd.router = (flags & NA_ROUTER) !== 0;
    nd.solicited = (flags & NA_SOLICITED) !== 0;
    nd.override = (flags & NA_OVERRIDE) !== 0;
    if (nd.solicited && isMulticastIp(ip.dst)) return null;
  }
  return nd;
}

function linkAddressOption(type: number, mac: MacBytes): Buffer {
  const o = Buffer.alloc(8);
  o[0] = type;
  o[1] = 1;
  mac.copy(o, 2);
  return o;
}

/**
 * A neighbour solicitation for `target` from `ourIp`: to its solicited-node
 * group, or unicast to `knownMac` when confirming an entry we have (§7.2.2).
 */
export function neighbourSolicitationFrame(ourMac: MacBytes, ourIp: IpBytes, target: IpBytes, knownMac: MacBytes | null): Buffer {
  const dst = knownMac ? target : solicitedNodeAddress(target);
  const body = Buffer.concat([target, linkAddressOption(OPT_SOURCE_LINK_ADDRESS, ourMac)]);
  const ip = icmpv6Packet(ourIp, dst, ND_NEIGHBOUR_SOLICITATION, 0, 0, body, ND_HOP_LIMIT);
  return ethernetFrame(knownMac ?? ipv6MulticastMac(dst), ourMac, ETHERTYPE_IPV6, ip);
}

export interface AdvertisementFlags {
  router: boolean;
  solicited: boolean;
  override: boolean;
}

/** A neighbour advertisement of `ourIp` (the target) with our link address (§7.2.4). */
export function neighbourAdvertisementFrame(
  ourMac: MacBytes,
  ourIp: IpBytes,
  dstIp: IpBytes,
  dstMac: MacBytes,
  flags: AdvertisementFlags,
): Buffer {
  const rest = ((flags.router ? NA_ROUTER : 0) | (flags.solicited ? NA_SOLICITED : 0) | (flags.override ? NA_OVERRIDE : 0)) << 24;
  const body = Buffer.concat([ourIp, linkAddressOption(OPT_TARGET_LINK_ADDRESS, ourMac)]);
  const ip = icmpv6Packet(ourIp, dstIp, ND_NEIGHBOUR_ADVERTISEMENT, 0, rest, body, ND_HOP_LIMIT);
  return ethernetFrame(dstMac, ourMac, ETHERTYPE_IPV6, ip);
}
