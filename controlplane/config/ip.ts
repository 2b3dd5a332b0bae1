// IP addresses and prefixes as the configuration writes them (RFC 6991
// ip-address-no-zone and ip-prefix): parsed to octets, so that checks compare
// values rather than spellings ("2001:DB8:0::1" and "2001:db8::1" are the same
// gateway), and printed back in one canonical form (RFC 5952 for IPv6).
import net from 'node:net';

export type IpVersion = 4 | 6;

export interface ParsedAddress {
  version: IpVersion;
  /** 4 or 16 octets. */
  octets: Buffer;
}

export interface ParsedPrefix extends ParsedAddress {
  length: number;
}

/**
 * The one parser of address text in the control plane (the slow path and the
 * key exchange use it too): dotted-quad IPv4, or IPv6 as RFC 4291 §2.2 writes
 * it (one to four hex digits a group, "::" for one or more zero groups, an
 * IPv4 tail), no zone index. null for anything else.
 */
export function parseAddress(text: string): ParsedAddress | null {
  if (net.isIPv4(text)) return { version: 4, octets: Buffer.from(text.split('.').map(Number)) };
  // Zones (fe80::1%eth0) are not addresses a gateway can be configured with.
  if (!net.isIPv6(text) || text.includes('%')) return null;
  let body = text;
  if (body.includes('.')) {
    // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
    const cut = body.lastIndexOf(':') + 1;
    const tail = parseAddress(body.slice(cut));
    if (!tail || tail.version !== 4) return null;
    body = `${body.slice(0, cut)}${tail.octets.readUInt16BE(0).toString(16)}:${tail.octets.readUInt16BE(2).toString(16)}`;
  }
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const gap = body.indexOf('::');
  let all: number[];
  if (gap >= 0) {
    const head = groups(body.slice(0, gap));
    const rest = groups(body.slice(gap + 2));
    const zeros = 8 - head.length - rest.length;
    if (zeros < 1) return null;
    all = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  } else {
    all = groups(body);
  }
  if (all.length !== 8 || all.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  const octets = Buffer.alloc(16);
  all.forEach((g, i) => octets.writeUInt16BE(g, 2 * i));
  return { version: 6, octets };
}

/** `address/length`, any IP version; null if either part is malformed. */
export function parsePrefix(text: string): ParsedPrefix | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = parseAddress(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  // Decimal without sign or leading zeros, as the RFC 6991 patterns demand.
  if (!address || !/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) return null;
  const length = Number(lengthText);
  if (length > address.octets.length * 8) return null;
  return { ...address, length };
}

/** The prefix with every bit after `length` cleared. */
export function networkOf(p: ParsedPrefix): ParsedPrefix {
  const octets = Buffer.from(p.octets);
  for (let bit = p.length; bit < octets.length * 8; bit++) octets[bit >> 3] &= ~(0x80 >> (bit & 7));
  return { ...p, octets };
}

export function hasHostBits(p: ParsedPrefix): boolean {
  return !networkOf(p).octets.equals(p.octets);
}

/** The one formatter: dotted quad, or RFC 5952 text (lower case, the longest run of zero groups as "::"). */
export function formatAddress(a: ParsedAddress): string {
  if (a.version === 4) return [...a.octets].join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(a.octets.readUInt16BE(i));
  // RFC 5952 §4.2: shorten the longest run of two or more zero groups (the
  // first of equal runs) to "::".
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) { best = i; bestLength = j - i; }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  // §5: IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d)
  // addresses keep the dotted tail, as inet_ntop (and so libyang) prints them.
  if (best === 0 && (bestLength === 6 || (bestLength === 5 && groups[5] === 0xffff))) {
    return `::${bestLength === 5 ? 'ffff:' : ''}${[...a.octets.subarray(12)].join('.')}`;
  }
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLength))}`;
}

export function formatPrefix(p: ParsedPrefix): string {
  return `${formatAddress(p)}/${p.length}`;
}

/**
 * Addresses that can never be a host's: IPv4 0.0.0.0/8, multicast and the
 * reserved 240.0.0.0/4 (which holds the limited broadcast); IPv6 :: and
 * multicast.
 */
export function isUnicast(a: ParsedAddress): boolean {
  if (a.version === 4) return a.octets[0] !== 0 && a.octets[0] < 224;
  return !a.octets.every((o) => o === 0) && a.octets[0] !== 0xff;
}

/** A canonical key for maps and equality: version and octets. */
export function addressKey(a: ParsedAddress): string {
  return `${a.version}:${a.octets.toString('hex')}`;
}
