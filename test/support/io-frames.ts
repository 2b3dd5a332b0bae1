// Ethernet frames for the packet I/O driver tests: UDP over IPv4/IPv6, ICMP
// echo, ARP. Test frames carry a tag in their payload (test id + sequence
// number) so that a test can pick its own frames out of whatever else the
// kernel puts on a link.
import { buildIpv4, buildIpv6, internetChecksum } from './ip-packets.js';

const TAG = Buffer.from('vitesse-io:');

export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

export function ethernet(dst: string, src: string, etherType: number, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(14);
  macBytes(dst).copy(h, 0);
  macBytes(src).copy(h, 6);
  h.writeUInt16BE(etherType, 12);
  return Buffer.concat([h, Buffer.from(payload)]);
}

// A payload of `len` bytes (at least 20) that names its test and index.
export function tagged(test: number, index: number, len: number): Buffer {
  const p = Buffer.alloc(Math.max(len, TAG.length + 8));
  TAG.copy(p, 0);
  p.writeUInt32BE(test, TAG.length);
  p.writeUInt32BE(index, TAG.length + 4);
  for (let i = TAG.length + 8; i < p.length; i++) p[i] = (i * 7 + index) & 0xff;
  return p;
}

// The (test, index) tag found anywhere in a frame, or null.
export function tagOf(frame: Buffer): { test: number; index: number } | null {
  const at = frame.indexOf(TAG);
  if (at < 0 || at + TAG.length + 8 > frame.length) return null;
  return { test: frame.readUInt32BE(at + TAG.length), index: frame.readUInt32BE(at + TAG.length + 4) };
}

export interface UdpFrame {
  srcMac: string;
  dstMac: string;
  src: string; // IPv4 or IPv6 address
  dst: string;
  sport: number;
  dport: number;
  payload: Uint8Array;
}

function udp(sport: number, dport: number, payload: Uint8Array): Buffer {
  const u = Buffer.alloc(8 + payload.length);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(u.length, 4);
  Buffer.from(payload).copy(u, 8);
  return u;
}

export function udpFrame(o: UdpFrame): Buffer {
  const u = udp(o.sport, o.dport, o.payload);
  if (!o.dst.includes(':')) {
    return ethernet(o.dstMac, o.srcMac, 0x0800, buildIpv4({ src: o.src, dst: o.dst, protocol: 17, payload: u }));
  }
  const ip = buildIpv6({ src: o.src, dst: o.dst, nextHeader: 17, payload: u });
  // IPv6 makes the UDP checksum mandatory: pseudo-header + datagram.
  const pseudo = Buffer.alloc(40);
  ip.copy(pseudo, 0, 8, 40);
  pseudo.writeUInt32BE(u.length, 32);
  pseudo[39] = 17;
  const sum = internetChecksum(Buffer.concat([pseudo, u])) || 0xffff;
  ip.writeUInt16BE(sum, 40 + 6);
  return ethernet(o.dstMac, o.srcMac, 0x86dd, ip);
}

export function icmpEchoFrame(o: { srcMac: string; dstMac: string; src: string; dst: string; id: number; seq: number; payload: Uint8Array }): Buffer {
  const icmp = Buffer.alloc(8 + o.payload.length);
  icmp[0] = 8; // echo request
  icmp.writeUInt16BE(o.id, 4);
  icmp.writeUInt16BE(o.seq, 6);
  Buffer.from(o.payload).copy(icmp, 8);
  icmp.writeUInt16BE(internetChecksum(icmp), 2);
  return ethernet(o.dstMac, o.srcMac, 0x0800, buildIpv4({ src: o.src, dst: o.dst, protocol: 1, payload: icmp }));
}

export function arpRequest(srcMac: string, srcIp: string, targetIp: string): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0); // Ethernet
  a.writeUInt16BE(0x0800, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(1, 6); // request
  macBytes(srcMac).copy(a, 8);
  Buffer.from(srcIp.split('.').map(Number)).copy(a, 14);
  Buffer.from(targetIp.split('.').map(Number)).copy(a, 24);
  return ethernet(BROADCAST, srcMac, 0x0806, a);
}

export function isArp(frame: Buffer): boolean {
  return frame.length >= 14 && frame.readUInt16BE(12) === 0x0806;
}

// Receives until `want` frames matching `keep` arrived or `ms` passed.
export function collect(
  link: { receive(max?: number, timeoutMs?: number): Buffer[] },
  want: number,
  keep: (f: Buffer) => boolean,
  ms = 2000,
): Buffer[] {
  const out: Buffer[] = [];
  const end = Date.now() + ms;
  while (out.length < want && Date.now() < end) {
    for (const f of link.receive(64, 20)) if (keep(f)) out.push(f);
  }
  return out;
}

// Drains a link for `ms`, returning the frames matching `keep` (to show that
// nothing more arrives).
export function drain(link: { receive(max?: number, timeoutMs?: number): Buffer[] }, keep: (f: Buffer) => boolean, ms = 100): Buffer[] {
  const out: Buffer[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) for (const f of link.receive(64, 10)) if (keep(f)) out.push(f);
  return out;
}
