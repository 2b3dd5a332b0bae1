// ARP for IPv4 over Ethernet (RFC 826): the 28-octet packet, read and built.
import { BROADCAST_MAC, ZERO_MAC, type IpBytes, type MacBytes } from './address.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ethernetFrame } from './packet.js';

export const ARP_LEN = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
const HTYPE_ETHERNET = 1;

export interface ArpPacket {
  op: number;
  senderMac: MacBytes;
  senderIp: IpBytes;
  targetMac: MacBytes;
  targetIp: IpBytes;
}

/** The ARP packet in `b` if it is Ethernet/IPv4 request or reply, else null. */
export function parseArp(b: Buffer): ArpPacket | null {
  if (b.length < ARP_LEN) return null;
  if (b.readUInt16BE(0) !== HTYPE_ETHERNET || b.readUInt16BE(2) !== ETHERTYPE_IPV4 || b[4] !== 6 || b[5] !== 4) return null;
  const op = b.readUInt16BE(6);
  if (op !== ARP_REQUEST && op !== ARP_REPLY) return null;
  return {
    op,
    senderMac: b.subarray(8, 14),
    senderIp: b.subarray(14, 18),
    targetMac: b.subarray(18, 24),
    targetIp: b.subarray(24, 28),
  };
}

export function buildArp(p: ArpPacket): Buffer {
  const b = Buffer.alloc(ARP_LEN);
  b.writeUInt16BE(HTYPE_ETHERNET, 0);
  b.writeUInt16BE(ETHERTYPE_IPV4, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(p.op, 6);
  p.senderMac.copy(b, 8);
  p.senderIp.copy(b, 14);
  p.targetMac.copy(b, 18);
  p.targetIp.copy(b, 24);
  return b;
}

/** Our answer to `request`, which asked for `ourIp`: sent to the requester's hardware address. */
export function arpReplyFrame(request: ArpPacket, ourMac: MacBytes, ourIp: IpBytes): Buffer {
  const reply = buildArp({ op: ARP_REPLY, senderMac: ourMac, senderIp: ourIp, targetMac: request.senderMac, targetIp: request.senderIp });
  return ethernetFrame(request.senderMac, ourMac, ETHERTYPE_ARP, reply);
}

/** Who has `target`? Broadcast, or unicast to `knownMac` when refreshing an entry. */
export function arpRequestFrame(ourMac: MacBytes, ourIp: IpBytes, target: IpBytes, knownMac: MacBytes | null): Buffer {
  const request = buildArp({ op: ARP_REQUEST, senderMac: ourMac, senderIp: ourIp, targetMac: ZERO_MAC, targetIp: target });
  return ethernetFrame(knownMac ?? BROADCAST_MAC, ourMac, ETHERTYPE_ARP, request);
}

/** Gratuitous ARP (RFC 5227 §3 announcement): a broadcast request for our own address. */
export function arpAnnouncementFrame(ourMac: MacBytes, ourIp: IpBytes): Buffer {
  return arpRequestFrame(ourMac, ourIp, ourIp, null);
}
