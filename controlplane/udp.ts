// UDP datagrams the control plane itself sends (the key exchange) as
// Ethernet frames ready to inject on the public side.
import { parseIp, type MacBytes } from './slowpath/address.js';
import { upperLayerChecksum } from './slowpath/checksum.js';
import { buildIpv4, buildIpv6, ethernetFrame, etherTypeOf, PROTO_UDP } from './slowpath/packet.js';

const UDP_HEADER_LEN = 8;

export interface UdpFrame {
  srcMac: MacBytes;
  dstMac: MacBytes;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
  ipId?: number;
}

export function udpFrame(f: UdpFrame): Buffer {
  const src = parseIp(f.src, 'source address');
  const dst = parseIp(f.dst, 'destination address');
  if (src.length !== dst.length) throw new Error(`udp: ${f.src} and ${f.dst} are not of the same IP version`);
  const udp = Buffer.alloc(UDP_HEADER_LEN + f.payload.length);
  udp.writeUInt16BE(f.srcPort, 0);
  udp.writeUInt16BE(f.dstPort, 2);
  udp.writeUInt16BE(udp.length, 4);
  f.payload.copy(udp, UDP_HEADER_LEN);
  // Mandatory over IPv6; over IPv4 it costs little and catches corruption.
  const sum = upperLayerChecksum(src, dst, PROTO_UDP, udp);
  udp.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  const ip = src.length === 4
    ? buildIpv4({ src, dst, protocol: PROTO_UDP, id: f.ipId ?? 0 }, udp)
    : buildIpv6({ src, dst, nextHeader: PROTO_UDP }, udp);
  return ethernetFrame(f.dstMac, f.srcMac, etherTypeOf(src), ip);
}
