// IPv4 fragmentation (RFC 791 §3.2, RFC 1812 §5.2.6): splits a packet into
// fragments of at most `mtu` octets. Every fragment keeps the identification,
// TTL, protocol and addresses; the first keeps all options, the others only
// those with the copied flag; data is cut at multiples of 8 octets. A packet
// that is itself a fragment is split further (offsets add up, and the last
// piece keeps the original's more-fragments flag).
import { internetChecksum } from './checksum.js';
import { IPV4_HEADER_LEN, type Ipv4View } from './packet.js';

const OPT_END = 0;
const OPT_NOP = 1;
const OPT_COPIED = 0x80;

/** The options of a header that go into non-first fragments, padded to 4 octets; null if malformed. */
function copiedOptions(header: Buffer): Buffer | null {
  const out: number[] = [];
  for (let i = IPV4_HEADER_LEN; i < header.length; ) {
    const type = header[i];
    if (type === OPT_END) break;
    if (type === OPT_NOP) { i++; continue; }
    if (i + 1 >= header.length) return null;
    const len = header[i + 1];
    if (len < 2 || i + len > header.length) return null;
    if (type & OPT_COPIED) out.push(...header.subarray(i, i + len));
    i += len;
  }
  while (out.length % 4) out.push(OPT_END);
  return Buffer.from(out);
}

/**
 * Fragments of `ip` (a complete IPv4 packet without DF) no longer than `mtu`,
 * or null if it cannot be fragmented (malformed options, impossible offsets,
 * or an MTU too small for its header plus 8 octets of data).
 */
export function fragmentIpv4(ip: Ipv4View, mtu: number): Buffer[] | null {
  const header = ip.bytes.subarray(0, ip.headerLength);
  const data = ip.bytes.subarray(ip.headerLength, ip.length);
  const options = copiedOptions(header);
  if (!options) return null;
  const laterHeaderLength = IPV4_HEADER_LEN + options.length;
  const firstChunk = Math.floor((mtu - ip.headerLength) / 8) * 8;
  const laterChunk = Math.floor((mtu - laterHeaderLength) / 8) * 8;
  if (firstChunk < 8 || laterChunk < 8) return null;

  const baseOffset = ip.fragment?.offset ?? 0;
  const lastMore = ip.fragment?.more ?? false;
  // A datagram reassembles to at most 65535 octets: offsets beyond are nonsense.
  if (data.length === 0 || baseOffset + data.length > 0xffff - IPV4_HEADER_LEN) return null;
  const fragments: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const first = at === 0;
    const hlen = first ? ip.headerLength : laterHeaderLength;
    const chunk = Math.min(first ? firstChunk : laterChunk, data.length - at);
    const last = at + chunk >= data.length;
    const f = Buffer.alloc(hlen + chunk);
    if (first) {
      header.copy(f, 0);
    } else {
      header.copy(f, 0, 0, IPV4_HEADER_LEN);
      options.copy(f, IPV4_HEADER_LEN);
      f[0] = 0x40 | (hlen / 4);
    }
    f.writeUInt16BE(f.length, 2);
    const more = last ? lastMore : true;
    f.writeUInt16BE((more ? 0x2000 : 0) | ((baseOffset + at) / 8), 6);
    f.writeUInt16BE(0, 10);
    f.writeUInt16BE(internetChecksum(f.subarray(0, hlen)), 10);
    data.copy(f, hlen, at, at + chunk);
    fragments.push(f);
    at += chunk;
  }
  return fragments;
}
