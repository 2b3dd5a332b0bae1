// Vita refuses a key-exchange datagram whose UDP checksum is 0 (legal over
// IPv4: "none") and compares the checksum it computes with the one received
// without mapping 0xFFFF to 0, so a message whose checksum computes to 0 —
// sent, as RFC 768 says, as 0xFFFF — can never reach it. Knocks are the same
// every time for a route, and challenges until an exchange completes: such
// a message would be refused forever. Vita does not check the reserved
// octets of the header, so we change one of them in that one case in 65536.
import { parseAddress } from '../config/ip.js';
import { upperLayerChecksum } from '../slowpath/checksum.js';

const PROTO_UDP = 17;
const UDP_HEADER_LENGTH = 8;
/** The header's last reserved octet (vita-ske-v5: sent as zero, not checked). */
const RESERVED_OCTET = 7;

/** The UDP checksum of `payload` from `from` to `to` (ports as given), before RFC 768's 0 → 0xFFFF. */
export function udpChecksum(payload: Buffer, from: string, to: string, srcPort: number, dstPort: number): number | null {
  const src = parseAddress(from), dst = parseAddress(to);
  if (!src || !dst || src.version !== dst.version) return null;
  const udp = Buffer.alloc(UDP_HEADER_LENGTH + payload.length);
  udp.writeUInt16BE(srcPort, 0);
  udp.writeUInt16BE(dstPort, 2);
  udp.writeUInt16BE(udp.length, 4);
  payload.copy(udp, UDP_HEADER_LENGTH);
  return upperLayerChecksum(src.octets, dst.octets, PROTO_UDP, udp);
}

/** `payload`, or a copy with a reserved octet changed if its UDP checksum would be 0. */
export function vitaDeliverable(payload: Buffer, from: string, to: string, srcPort: number, dstPort: number): Buffer {
  if (payload.length <= RESERVED_OCTET || udpChecksum(payload, from, to, srcPort, dstPort) !== 0) return payload;
  const m = Buffer.from(payload);
  m[RESERVED_OCTET] ^= 1;
  return m;
}
