// Addresses as the slow path handles them: IPv4 (4 octets), IPv6 (16 octets)
// and Ethernet MACs (6 octets) as Buffers, parsed once from configuration and
// compared byte-wise; text forms only for logs, the neighbour table and the
// UDP callback.
import { formatAddress, parseAddress } from '../config/ip.js';

export type IpBytes = Buffer;
export type MacBytes = Buffer;

export const BROADCAST_MAC: MacBytes = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const ZERO_MAC: MacBytes = Buffer.alloc(6);

/** The 4 or 16 octets of an IPv4 or IPv6 literal; throws naming `what` otherwise. */
export function parseIp(text: string, what = 'address'): IpBytes {
  const a = parseAddress(text);
  if (!a) throw new Error(`${what}: not an IPv4 or IPv6 address: "${text}"`);
  return a.octets;
}

/** Dotted quad, or RFC 5952 text (config/ip.ts formatAddress). */
export function formatIp(ip: Uint8Array): string {
  return formatAddress({ version: ip.length === 4 ? 4 : 6, octets: Buffer.from(ip.buffer, ip.byteOffset, ip.byteLength) });
}

export function parseMac(text: string, what = 'MAC address'): MacBytes {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text);
  if (!m) throw new Error(`${what}: not a MAC address (aa:bb:cc:dd:ee:ff): "${text}"`);
  return Buffer.from(m.slice(1).map((h) => parseInt(h, 16)));
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Group bit: broadcast and multicast MACs, never the source of a frame we answer. */
export function isMulticastMac(mac: Uint8Array): boolean {
  return (mac[0] & 1) === 1;
}

/**
 * Addresses an ICMP message may be sent to (RFC 1812 §4.3.2.7, RFC 4443
 * §2.4(e)): not unspecified, loopback, multicast, broadcast or reserved.
 */
export function isUnicastIp(ip: Uint8Array): boolean {
  if (ip.length === 4) {
    const a = ip[0];
    return a !== 0 && a !== 127 && a < 224;
  }
  if (ip[0] === 0xff) return false;
  let zeroPrefix = true;
  for (let i = 0; i < 15; i++) if (ip[i] !== 0) { zeroPrefix = false; break; }
  return !(zeroPrefix && (ip[15] === 0 || ip[15] === 1));
}

/** IPv6 ff00::/8; IPv4 224/3, which also takes in the reserved class E and the limited broadcast. */
export function isMulticastIp(ip: Uint8Array): boolean {
  return ip.length === 4 ? ip[0] >= 224 : ip[0] === 0xff;
}

export function isUnspecifiedIp(ip: Uint8Array): boolean {
  return ip.every((x) => x === 0);
}

/** ff02::1:ffXX:XXXX, where an IPv6 address's neighbour solicitations go (RFC 4291 §2.7.1). */
export function solicitedNodeAddress(ip: Uint8Array): IpBytes {
  const out = Buffer.alloc(16);
  out[0] = 0xff;
  out[1] = 0x02;
  out[11] = 0x01;
  out[12] = 0xff;
  out[13] = ip[13];
  out[14] = ip[14];
  out[15] = ip[15];
  return out;
}

/** 33:33 and the low 32 bits of an IPv6 multicast address (RFC 2464 §7). */
export function ipv6MulticastMac(ip: Uint8Array): MacBytes {
  return Buffer.from([0x33, 0x33, ip[12], ip[13], ip[14], ip[15]]);
}

export const ALL_NODES_V6: IpBytes = parseIp('ff02::1');
