// ICMP (RFC 792) and ICMPv6 (RFC 4443) messages: reading a received one
// (checksum checked) and building echo replies and error messages that quote
// the offending packet. Which errors may be sent at all is icmp-policy.ts.
import { upperLayerChecksum, internetChecksum } from './checksum.js';
import type { IpBytes } from './address.js';
import { buildIpv4, buildIpv6, IPV4_HEADER_LEN, IPV6_HEADER_LEN, PROTO_ICMP, PROTO_ICMPV6, type IpView } from './packet.js';

export const ICMP_HEADER_LEN = 8;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_NEEDFRAG = 4;

export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_UNREACH_PORT = 4;
export const ICMPV6_PARAM_UNKNOWN_NEXT_HEADER = 1;

// Largest error datagrams: RFC 1812 §4.3.2.3 (576 octets) and RFC 4443
// §2.4(c) (the IPv6 minimum MTU).
export const ICMP_ERROR_MAX_LEN = 576;
export const ICMPV6_ERROR_MAX_LEN = 1280;

// Precedence "internetwork control" for the errors we originate (RFC 1812 §4.3.2.5).
const TOS_INTERNETWORK_CONTROL = 0xc0;

export interface IcmpMessage {
  version: 4 | 6;
  type: number;
  code: number;
  /** The whole message from its type octet. */
  message: Buffer;
}

export type IcmpParse = IcmpMessage | 'truncated' | 'malformed' | 'bad-checksum';

/** The ICMP or ICMPv6 message in a complete packet whose upper layer is ICMP, checksum checked. */
export function parseIcmp(ip: IpView): IcmpParse {
  if (!ip.upper) return 'malformed';
  if (!ip.complete) return 'truncated';
  const message = ip.bytes.subarray(ip.upper.offset);
  if (message.length < ICMP_HEADER_LEN) return 'malformed';
  const ok =
    ip.version === 4
      ? internetChecksum(message) === 0
      : upperLayerChecksum(ip.src, ip.dst, PROTO_ICMPV6, message) === 0;
  if (!ok) return 'bad-checksum';
  return { version: ip.version, type: message[0], code: message[1], message };
}

/** Counter key for a message type and code, e.g. "3.4". */
export function icmpKey(type: number, code: number): string {
  return `${type}.${code}`;
}

function icmpMessage(type: number, code: number, rest: number, data: Uint8Array): Buffer {
  const m = Buffer.alloc(ICMP_HEADER_LEN + data.length);
  m[0] = type;
  m[1] = code;
  m.writeUInt32BE(rest >>> 0, 4);
  m.set(data, ICMP_HEADER_LEN);
  return m;
}

export function icmpv4Packet(src: IpBytes, dst: IpBytes, id: number, type: number, code: number, rest: number, data: Uint8Array, tos = 0): Buffer {
  const m = icmpMessage(type, code, rest, data);
  m.writeUInt16BE(internetChecksum(m), 2);
  return buildIpv4({ src, dst, protocol: PROTO_ICMP, id, tos }, m);
}

export function icmpv6Packet(src: IpBytes, dst: IpBytes, type: number, code: number, rest: number, data: Uint8Array, hopLimit?: number): Buffer {
  const m = icmpMessage(type, code, rest, data);
  m.writeUInt16BE(upperLayerChecksum(src, dst, PROTO_ICMPV6, m), 2);
  return buildIpv6({ src, dst, nextHeader: PROTO_ICMPV6, hopLimit }, m);
}

/**
 * The echo reply to `request`, from the address it was sent to: identifier,
 * sequence number and data unchanged (RFC 792, RFC 4443 §4.2).
 */
export function echoReply(ip: IpView, request: IcmpMessage, id: number): Buffer {
  const rest = request.message.readUInt32BE(4);
  const data = request.message.subarray(ICMP_HEADER_LEN);
  return ip.version === 4
    ? icmpv4Packet(ip.dst, ip.src, id, ICMP_ECHO_REPLY, 0, rest, data)
    : icmpv6Packet(ip.dst, ip.src, ICMPV6_ECHO_REPLY, 0, rest, data);
}

export type IcmpError = 'time-exceeded' | 'too-big' | 'port-unreachable' | 'protocol-unreachable';

/** Type and code of an error for an IP version. */
export function errorTypeCode(kind: IcmpError, version: 4 | 6): [number, number] {
  switch (kind) {
    case 'time-exceeded': return version === 4 ? [ICMP_TIME_EXCEEDED, 0] : [ICMPV6_TIME_EXCEEDED, 0];
    case 'too-big': return version === 4 ? [ICMP_DEST_UNREACHABLE, ICMP_UNREACH_NEEDFRAG] : [ICMPV6_PACKET_TOO_BIG, 0];
    case 'port-unreachable': return version === 4 ? [ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PORT] : [ICMPV6_DEST_UNREACHABLE, ICMPV6_UNREACH_PORT];
    case 'protocol-unreachable':
      return version === 4 ? [ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PROTOCOL] : [ICMPV6_PARAMETER_PROBLEM, ICMPV6_PARAM_UNKNOWN_NEXT_HEADER];
  }
}

/**
 * An error about `offending`, from `src` back to its sender, quoting as much
 * of it as fits in 576 (IPv4) or 1280 (IPv6) octets. `mtu` is the next-hop
 * MTU of a too-big error.
 */
export function errorPacket(kind: IcmpError, offending: IpView, src: IpBytes, id: number, mtu = 0): Buffer {
  const [type, code] = errorTypeCode(kind, offending.version);
  let rest = 0;
  if (kind === 'too-big') rest = offending.version === 4 ? mtu & 0xffff : mtu;
  if (kind === 'protocol-unreachable' && offending.version === 6) rest = offending.nextHeaderField;
  if (offending.version === 4) {
    const quote = offending.bytes.subarray(0, ICMP_ERROR_MAX_LEN - IPV4_HEADER_LEN - ICMP_HEADER_LEN);
    return icmpv4Packet(src, offending.src, id, type, code, rest, quote, TOS_INTERNETWORK_CONTROL);
  }
  const quote = offending.bytes.subarray(0, ICMPV6_ERROR_MAX_LEN - IPV6_HEADER_LEN - ICMP_HEADER_LEN);
  return icmpv6Packet(src, offending.src, type, code, rest, quote);
}
