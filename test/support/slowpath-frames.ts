// Frames for the slow-path tests, built and checked here independently of
// controlplane/slowpath (its own builders and checksum code are what is under
// test): Ethernet/ARP/ND/ICMP/UDP builders, checksum validators, and a
// recorder standing in for the gateway's inject/setNextHop callbacks.
import pino, { type Logger } from 'pino';
import { buildIpv4, buildIpv6, internetChecksum } from './ip-packets.js';
import type { Punt } from '../../controlplane/slowpath/types.js';
import { QueueNumber } from '../../controlplane/exchange/types.js';
import { SlowPath, type SlowPathOptions } from '../../controlplane/slowpath/slowpath.js';
import { parseIp } from '../../controlplane/slowpath/address.js';

export function mac(text: string): Buffer {
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}

// Address text through the control plane's one parser (test/ip-text.test.ts).
export const v4 = (text: string): Buffer => parseIp(text);
export const v6 = (text: string): Buffer => parseIp(text);

export function eth(dst: string | Buffer, src: string | Buffer, type: number, payload: Uint8Array): Buffer {
  const d = typeof dst === 'string' ? mac(dst) : dst;
  const s = typeof src === 'string' ? mac(src) : src;
  return Buffer.concat([d, s, Buffer.from([type >> 8, type & 0xff]), Buffer.from(payload)]);
}

/** Sets IPv4 flags/fragment offset (and TTL) and fixes the header checksum. */
export function withIpv4Fields(ip: Buffer, f: { flags?: number; ttl?: number }): Buffer {
  const p = Buffer.from(ip);
  if (f.flags !== undefined) p.writeUInt16BE(f.flags, 6);
  if (f.ttl !== undefined) p[8] = f.ttl;
  p.writeUInt16BE(0, 10);
  p.writeUInt16BE(internetChecksum(p.subarray(0, (p[0] & 15) * 4)), 10);
  return p;
}

export function pseudoHeader6(src: Buffer, dst: Buffer, length: number, nextHeader: number): Buffer {
  const ph = Buffer.alloc(40);
  src.copy(ph, 0);
  dst.copy(ph, 16);
  ph.writeUInt32BE(length, 32);
  ph[39] = nextHeader;
  return ph;
}

function icmp(type: number, code: number, rest: number, data: Uint8Array): Buffer {
  const m = Buffer.alloc(8 + data.length);
  m[0] = type;
  m[1] = code;
  m.writeUInt32BE(rest >>> 0, 4);
  m.set(data, 8);
  return m;
}

export function icmp4Packet(src: string, dst: string, type: number, code: number, rest: number, data: Uint8Array, ttl = 64): Buffer {
  const m = icmp(type, code, rest, data);
  m.writeUInt16BE(internetChecksum(m), 2);
  return buildIpv4({ src, dst, protocol: 1, ttl, payload: m });
}

export function icmp6Packet(src: string, dst: string, type: number, code: number, rest: number, data: Uint8Array, hopLimit = 64): Buffer {
  const m = icmp(type, code, rest, data);
  m.writeUInt16BE(internetChecksum(Buffer.concat([pseudoHeader6(v6(src), v6(dst), m.length, 58), m])), 2);
  return buildIpv6({ src, dst, nextHeader: 58, hopLimit, payload: m });
}

export function udp4Packet(src: string, dst: string, sport: number, dport: number, data: Uint8Array): Buffer {
  const u = Buffer.alloc(8 + data.length);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(u.length, 4);
  u.set(data, 8);
  const ph = Buffer.concat([v4(src), v4(dst), Buffer.from([0, 17, u.length >> 8, u.length & 0xff])]);
  u.writeUInt16BE(internetChecksum(Buffer.concat([ph, u])) || 0xffff, 6);
  return buildIpv4({ src, dst, protocol: 17, payload: u });
}

export function udp6Packet(src: string, dst: string, sport: number, dport: number, data: Uint8Array): Buffer {
  const u = Buffer.alloc(8 + data.length);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(u.length, 4);
  u.set(data, 8);
  u.writeUInt16BE(internetChecksum(Buffer.concat([pseudoHeader6(v6(src), v6(dst), u.length, 17), u])) || 0xffff, 6);
  return buildIpv6({ src, dst, nextHeader: 17, payload: u });
}

export function arpPacket(op: number, senderMac: string, senderIp: string, targetMac: string, targetIp: string): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0);
  a.writeUInt16BE(0x0800, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(op, 6);
  mac(senderMac).copy(a, 8);
  v4(senderIp).copy(a, 14);
  mac(targetMac).copy(a, 18);
  v4(targetIp).copy(a, 24);
  return a;
}

function lla(type: number, m: string): Buffer {
  return Buffer.concat([Buffer.from([type, 1]), mac(m)]);
}

/** A neighbour solicitation for `target` (to its solicited-node group unless `dst` is given). */
export function nsPacket(src: string, target: string, o: { dst?: string; sll?: string; hopLimit?: number } = {}): Buffer {
  const t = v6(target);
  const dst = o.dst ?? `ff02::1:ff${t[13].toString(16).padStart(2, '0')}:${t.readUInt16BE(14).toString(16)}`;
  const body = Buffer.concat([t, o.sll ? lla(1, o.sll) : Buffer.alloc(0)]);
  return icmp6Packet(src, dst, 135, 0, 0, body, o.hopLimit ?? 255);
}

export function naPacket(src: string, dst: string, target: string, flags: { r?: boolean; s?: boolean; o?: boolean }, tll?: string): Buffer {
  const rest = ((flags.r ? 0x80 : 0) | (flags.s ? 0x40 : 0) | (flags.o ? 0x20 : 0)) << 24;
  const body = Buffer.concat([v6(target), tll ? lla(2, tll) : Buffer.alloc(0)]);
  return icmp6Packet(src, dst, 136, 0, rest, body, 255);
}

export function multicastMac6(ip: string): string {
  const b = v6(ip);
  return ['33', '33', ...Array.from(b.subarray(12), (x) => x.toString(16).padStart(2, '0'))].join(':');
}

// --- checking what the slow path sent --------------------------------------

export interface Seen {
  ethDst: string;
  ethSrc: string;
  type: number;
  ip: Buffer; // the IP packet (or ARP packet)
}

export function macText(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

export function look(frame: Buffer): Seen {
  return { ethDst: macText(frame.subarray(0, 6)), ethSrc: macText(frame.subarray(6, 12)), type: frame.readUInt16BE(12), ip: frame.subarray(14) };
}

/** True if a whole IPv4 packet has a right header checksum and, for ICMP/UDP, a right upper-layer checksum. */
export function ipv4ChecksumsOk(ip: Buffer): boolean {
  const ihl = (ip[0] & 15) * 4;
  if (ip[0] >> 4 !== 4 || ip.readUInt16BE(2) !== ip.length || internetChecksum(ip.subarray(0, ihl)) !== 0) return false;
  const fragmented = (ip.readUInt16BE(6) & 0x3fff) !== 0;
  if (fragmented) return true;
  if (ip[9] === 1) return internetChecksum(ip.subarray(ihl)) === 0;
  return true;
}

/** True if a whole IPv6 packet carrying ICMPv6 directly has a right checksum (pseudo-header included). */
export function icmpv6ChecksumOk(ip: Buffer): boolean {
  if (ip[0] >> 4 !== 6 || ip.readUInt16BE(4) + 40 !== ip.length || ip[6] !== 58) return false;
  const m = ip.subarray(40);
  return internetChecksum(Buffer.concat([pseudoHeader6(ip.subarray(8, 24), ip.subarray(24, 40), m.length, 58), m])) === 0;
}

export interface Injected {
  queue: number;
  side: 'private' | 'public';
  mode: 'transmit' | 'receive';
  frame: Buffer;
}

/** Stands in for the gateway: records injected frames and next-hop updates, and a logger. */
export class Recorder {
  injected: Injected[] = [];
  injectCalls = 0;
  nextHops: Array<{ side: string; mac: string | null }> = [];
  udp: Array<{ queue: number; src: string; dst: string; srcPort: number; dstPort: number; payload: Buffer }> = [];
  logs: Array<{ level: number; msg: string }> = [];
  readonly logger: Logger;

  constructor() {
    this.logger = pino({ level: 'debug' }, { write: (s: string) => { this.logs.push(JSON.parse(s)); } });
  }

  inject = (queue: number, side: 'private' | 'public', mode: 'transmit' | 'receive', frames: Buffer[]) => {
    this.injectCalls++;
    for (const frame of frames) this.injected.push({ queue, side, mode, frame });
  };

  setNextHop = (side: 'private' | 'public', mac: string | null) => {
    this.nextHops.push({ side, mac });
  };

  onUdp = (queue: number, src: string, dst: string, srcPort: number, dstPort: number, payload: Buffer) => {
    this.udp.push({ queue, src, dst, srcPort, dstPort, payload });
  };

  take(): Injected[] {
    const out = this.injected;
    this.injected = [];
    return out;
  }

  errors(): Array<{ level: number; msg: string }> {
    return this.logs.filter((l) => l.level >= 50);
  }
}

export function punt(frame: Buffer, o: Partial<Omit<Punt, 'frame' | 'queue'>> & { queue?: number } = {}): Punt {
  const frameLength = o.frameLength ?? frame.length;
  return {
    queue: QueueNumber(o.queue ?? 1),
    side: o.side ?? 'private',
    reason: o.reason ?? 'control',
    frameLength,
    frame: frame.subarray(0, Math.min(frame.length, 2048)),
  };
}

// --- a gateway configuration shared by the slow-path tests ----------------

export const GW = {
  privMac: '02:00:00:00:00:01',
  privV4: '10.1.0.1',
  privV6: 'fd00:1::1',
  pubMac: '02:00:00:00:01:01',
  // Queues 1 and 2 on IPv4, queue 3 on IPv6.
  pub: ['192.0.2.1', '192.0.2.2', '2001:db8::1'],
  privNextHop: '10.1.0.254',
  privNextHopMac: '02:00:00:00:00:fe',
  pubNextHop: '2001:db8::fe',
  pubNextHopMac: '02:00:00:00:01:fe',
  host: '10.1.0.7',
  hostMac: '02:00:00:00:00:07',
  host6: 'fd00:1::7',
  remote: '10.2.0.9', // a host on the far site
  remote6: 'fd00:2::9',
  mtu: 1400,
};

/** A slow path for GW wired to a recorder; `now` is a settable clock. */
export function makeSlowPath(over: Partial<SlowPathOptions> = {}) {
  const rec = new Recorder();
  const clock = { t: 1_000_000 };
  const sp = new SlowPath({
    private: { mac: GW.privMac, ipv4: GW.privV4, ipv6: GW.privV6, nextHop: GW.privNextHop },
    public: { mac: GW.pubMac, queues: GW.pub.map((address, i) => ({ id: QueueNumber(i + 1), address })), nextHop: GW.pubNextHop },
    mtu: GW.mtu,
    inject: rec.inject,
    setNextHop: rec.setNextHop,
    onUdp: rec.onUdp,
    logger: rec.logger,
    now: () => clock.t,
    ...over,
  });
  return { sp, rec, clock };
}
