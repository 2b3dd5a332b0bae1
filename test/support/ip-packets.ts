// IPv4/IPv6 packets for tests: builders with correct lengths and checksums,
// and a parser for the Ethernet frames found in captures.
import crypto from 'node:crypto';
import { parseIp } from '../../controlplane/slowpath/address.js';

export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (bytes.length % 2) sum += bytes[bytes.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Ipv4Options {
  src?: string;
  dst?: string;
  protocol?: number;
  ttl?: number;
  id?: number;
  payload: Uint8Array;
}

// Address text through the control plane's one parser (test/ip-text.test.ts).
const v4Bytes = (a: string) => parseIp(a);
const v6Bytes = (a: string) => parseIp(a);

export function buildIpv4(o: Ipv4Options): Buffer {
  const p = Buffer.alloc(20 + o.payload.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(o.id ?? 0, 4);
  p[8] = o.ttl ?? 64;
  p[9] = o.protocol ?? 17;
  Buffer.from(v4Bytes(o.src ?? '192.168.10.2')).copy(p, 12);
  Buffer.from(v4Bytes(o.dst ?? '192.168.10.3')).copy(p, 16);
  p.writeUInt16BE(internetChecksum(p.subarray(0, 20)), 10);
  Buffer.from(o.payload).copy(p, 20);
  return p;
}

export interface Ipv6Options {
  src?: string;
  dst?: string;
  nextHeader?: number;
  hopLimit?: number;
  payload: Uint8Array;
}

export function buildIpv6(o: Ipv6Options): Buffer {
  const p = Buffer.alloc(40 + o.payload.length);
  p[0] = 0x60;
  p.writeUInt16BE(o.payload.length, 4);
  p[6] = o.nextHeader ?? 17;
  p[7] = o.hopLimit ?? 64;
  v6Bytes(o.src ?? 'c0a8:a00::2').copy(p, 8);
  v6Bytes(o.dst ?? 'c0a8:a00::3').copy(p, 24);
  Buffer.from(o.payload).copy(p, 40);
  return p;
}

// A packet of exactly `len` octets (>= 20 for v4, >= 40 for v6), random payload.
export function randomIpPacket(version: 4 | 6, len: number): Buffer {
  const payload = crypto.randomBytes(len - (version === 4 ? 20 : 40));
  return version === 4 ? buildIpv4({ payload, id: payload.length & 0xffff }) : buildIpv6({ payload });
}

// The packet's length according to its own header.
export function ipOwnLength(p: Uint8Array): number {
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  return b[0] >> 4 === 4 ? b.readUInt16BE(2) : 40 + b.readUInt16BE(4);
}

// True if p is a whole IPv4 packet with a right header checksum, or a whole
// IPv6 packet whose payload length matches.
export function ipPacketValid(p: Uint8Array): boolean {
  if (p.length < 20) return false;
  const version = p[0] >> 4;
  if (version === 4) {
    const ihl = (p[0] & 0x0f) * 4;
    return ihl >= 20 && p.length >= ihl && ipOwnLength(p) === p.length && internetChecksum(p.subarray(0, ihl)) === 0;
  }
  return version === 6 && p.length >= 40 && ipOwnLength(p) === p.length;
}

export interface FrameIp {
  version: 4 | 6;
  protocol: number; // IPv4 protocol / IPv6 next header of the fixed header
  fragment: boolean; // IPv4 MF or offset set, or an IPv6 fragment header
  ip: Buffer; // the IP packet
  payload: Buffer; // what follows the (fixed, for IPv6) header
}

// The IP packet in an Ethernet II frame, or null if it carries something else.
export function ethernetIp(frame: Buffer): FrameIp | null {
  if (frame.length < 14) return null;
  const etherType = frame.readUInt16BE(12);
  const ip = frame.subarray(14);
  if (etherType === 0x0800 && ip.length >= 20) {
    const ihl = (ip[0] & 0x0f) * 4;
    const total = Math.min(ip.readUInt16BE(2), ip.length);
    const flags = ip.readUInt16BE(6);
    return {
      version: 4,
      protocol: ip[9],
      fragment: (flags & 0x2000) !== 0 || (flags & 0x1fff) !== 0,
      ip: ip.subarray(0, total),
      payload: ip.subarray(ihl, total),
    };
  }
  if (etherType === 0x86dd && ip.length >= 40) {
    const total = Math.min(40 + ip.readUInt16BE(4), ip.length);
    return { version: 6, protocol: ip[6], fragment: ip[6] === 44, ip: ip.subarray(0, total), payload: ip.subarray(40, total) };
  }
  return null;
}
