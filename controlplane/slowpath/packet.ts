// Ethernet, IPv4 and IPv6 headers for the slow path: read-only views of
// punted frames (which may be truncated: a view says whether the whole packet
// is there) and builders for the frames we send. Views are zero-copy
// subarrays of the punted frame; builders allocate (this is not the hot path).
import { internetChecksum } from './checksum.js';
import type { IpBytes, MacBytes } from './address.js';

export const ETH_HEADER_LEN = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

export const IPV4_HEADER_LEN = 20;
export const IPV6_HEADER_LEN = 40;

export const PROTO_HOPOPTS = 0;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ROUTING = 43;
export const PROTO_FRAGMENT = 44;
export const PROTO_AH = 51;
export const PROTO_ICMPV6 = 58;
export const PROTO_NONE = 59;
export const PROTO_DSTOPTS = 60;

/** TTL / hop limit of packets we originate (other than ND, which needs 255). */
export const DEFAULT_TTL = 64;

export interface EthernetView {
  dst: MacBytes;
  src: MacBytes;
  type: number;
  payload: Buffer;
}

export function parseEthernet(frame: Buffer): EthernetView | null {
  if (frame.length < ETH_HEADER_LEN) return null;
  return {
    dst: frame.subarray(0, 6),
    src: frame.subarray(6, 12),
    type: frame.readUInt16BE(12),
    payload: frame.subarray(ETH_HEADER_LEN),
  };
}

export function ethernetFrame(dst: MacBytes, src: MacBytes, type: number, payload: Uint8Array): Buffer {
  const frame = Buffer.alloc(ETH_HEADER_LEN + payload.length);
  dst.copy(frame, 0);
  src.copy(frame, 6);
  frame.writeUInt16BE(type, 12);
  frame.set(payload, ETH_HEADER_LEN);
  return frame;
}

export interface FragmentInfo {
  /** Offset of this fragment's data in the original packet, in octets. */
  offset: number;
  more: boolean;
}

interface IpViewBase {
  src: IpBytes;
  dst: IpBytes;
  /** TTL (IPv4) or hop limit (IPv6). */
  ttl: number;
  /** Length the header declares for the whole packet. */
  length: number;
  /** The packet from its first octet: `length` octets, or fewer if the frame was truncated. */
  bytes: Buffer;
  /** True if all `length` octets are in `bytes`. */
  complete: boolean;
  /** Set for a fragment (IPv4 MF or offset; an IPv6 fragment header). */
  fragment: FragmentInfo | null;
  /**
   * The upper-layer protocol and the offset of its header in `bytes`, after
   * any IPv6 extension headers; null when that header is not in this packet
   * (a non-first fragment) or not in the captured octets.
   */
  upper: { protocol: number; offset: number } | null;
}

export interface Ipv4View extends IpViewBase {
  version: 4;
  headerLength: number;
  dontFragment: boolean;
  headerChecksumOk: boolean;
}

export interface Ipv6View extends IpViewBase {
  version: 6;
  /** Offset of the Next Header field that names `upper` (a Parameter Problem pointer). */
  nextHeaderField: number;
}

export type IpView = Ipv4View | Ipv6View;

/** A view of the IPv4 packet at the start of `b`, or null if its header is malformed. */
export function parseIpv4(b: Buffer): Ipv4View | null {
  if (b.length < IPV4_HEADER_LEN || b[0] >> 4 !== 4) return null;
  const headerLength = (b[0] & 0x0f) * 4;
  const length = b.readUInt16BE(2);
  if (headerLength < IPV4_HEADER_LEN || b.length < headerLength || length < headerLength) return null;
  const flags = b.readUInt16BE(6);
  const offset = (flags & 0x1fff) * 8;
  const more = (flags & 0x2000) !== 0;
  const bytes = b.subarray(0, Math.min(length, b.length));
  return {
    version: 4,
    src: b.subarray(12, 16),
    dst: b.subarray(16, 20),
    ttl: b[8],
    length,
    bytes,
    complete: b.length >= length,
    fragment: more || offset !== 0 ? { offset, more } : null,
    upper: offset === 0 ? { protocol: b[9], offset: headerLength } : null,
    headerLength,
    dontFragment: (flags & 0x4000) !== 0,
    headerChecksumOk: internetChecksum(b.subarray(0, headerLength)) === 0,
  };
}

/** A view of the IPv6 packet at the start of `b`, or null if its header is malformed. */
export function parseIpv6(b: Buffer): Ipv6View | null {
  if (b.length < IPV6_HEADER_LEN || b[0] >> 4 !== 6) return null;
  const payloadLength = b.readUInt16BE(4);
  if (payloadLength === 0) return null; // jumbograms (RFC 2675) are not for a gateway like this one
  const length = IPV6_HEADER_LEN + payloadLength;
  const bytes = b.subarray(0, Math.min(length, b.length));
  const view: Ipv6View = {
    version: 6,
    src: b.subarray(8, 24),
    dst: b.subarray(24, 40),
    ttl: b[7],
    length,
    bytes,
    complete: b.length >= length,
    fragment: null,
    upper: null,
    nextHeaderField: 6,
  };
  // Walk the extension headers (RFC 8200 §4) as far as the captured octets go.
  let next = b[6];
  let at = IPV6_HEADER_LEN;
  for (;;) {
    if (next === PROTO_HOPOPTS || next === PROTO_ROUTING || next === PROTO_DSTOPTS || next === PROTO_AH) {
      if (at + 2 > bytes.length) return view;
      const len = next === PROTO_AH ? (bytes[at + 1] + 2) * 4 : (bytes[at + 1] + 1) * 8;
      view.nextHeaderField = at;
      next = bytes[at];
      at += len;
    } else if (next === PROTO_FRAGMENT) {
      if (at + 8 > bytes.length) return view;
      const field = bytes.readUInt16BE(at + 2);
      view.fragment = { offset: field & 0xfff8, more: (field & 1) !== 0 };
      view.nextHeaderField = at;
      next = bytes[at];
      at += 8;
      if (view.fragment.offset !== 0) return view; // what follows is data, not a header
    } else {
      break;
    }
  }
  if (at <= bytes.length) view.upper = { protocol: next, offset: at };
  return view;
}

export function parseIp(etherType: number, b: Buffer): IpView | null {
  if (etherType === ETHERTYPE_IPV4) return parseIpv4(b);
  if (etherType === ETHERTYPE_IPV6) return parseIpv6(b);
  return null;
}

export interface Ipv4Header {
  src: IpBytes;
  dst: IpBytes;
  protocol: number;
  id: number;
  ttl?: number;
  tos?: number;
}

/** A 20-octet IPv4 header (DF clear, no options) followed by `payload`. */
export function buildIpv4(h: Ipv4Header, payload: Uint8Array): Buffer {
  const p = Buffer.alloc(IPV4_HEADER_LEN + payload.length);
  p[0] = 0x45;
  p[1] = h.tos ?? 0;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(h.id & 0xffff, 4);
  p[8] = h.ttl ?? DEFAULT_TTL;
  p[9] = h.protocol;
  h.src.copy(p, 12);
  h.dst.copy(p, 16);
  p.writeUInt16BE(internetChecksum(p.subarray(0, IPV4_HEADER_LEN)), 10);
  p.set(payload, IPV4_HEADER_LEN);
  return p;
}

export interface Ipv6Header {
  src: IpBytes;
  dst: IpBytes;
  nextHeader: number;
  hopLimit?: number;
}

export function buildIpv6(h: Ipv6Header, payload: Uint8Array): Buffer {
  const p = Buffer.alloc(IPV6_HEADER_LEN + payload.length);
  p[0] = 0x60;
  p.writeUInt16BE(payload.length, 4);
  p[6] = h.nextHeader;
  p[7] = h.hopLimit ?? DEFAULT_TTL;
  h.src.copy(p, 8);
  h.dst.copy(p, 24);
  p.set(payload, IPV6_HEADER_LEN);
  return p;
}

export function etherTypeOf(ip: Uint8Array): number {
  return ip.length === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
}
