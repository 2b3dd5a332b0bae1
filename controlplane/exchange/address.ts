// Gateway addresses as the key exchange sees them: 16 octets, IPv4 written as
// an IPv4-mapped IPv6 address (::ffff:a.b.c.d), so that the prologue has one
// fixed layout and "192.0.2.1", "::ffff:192.0.2.1" and "::FFFF:c000:201" are
// the same gateway.
import net from 'node:net';

export const ADDRESS_LENGTH = 16;

/** The 16-octet form of an IPv4 or IPv6 literal, or null if it is not one. */
export function parseAddress(text: string): Buffer | null {
  if (net.isIPv4(text)) {
    const out = Buffer.alloc(ADDRESS_LENGTH);
    out[10] = 0xff;
    out[11] = 0xff;
    text.split('.').forEach((part, i) => { out[12 + i] = Number(part); });
    return out;
  }
  if (!net.isIPv6(text) || text.includes('%')) return null;
  let body = text;
  if (body.includes('.')) {
    // An embedded IPv4 tail (e.g. ::ffff:192.0.2.1) becomes two hex groups.
    const lastColon = body.lastIndexOf(':');
    const v4 = parseAddress(body.slice(lastColon + 1));
    if (!v4) return null;
    body = `${body.slice(0, lastColon + 1)}${v4.readUInt16BE(12).toString(16)}:${v4.readUInt16BE(14).toString(16)}`;
  }
  const hex = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let groups: number[];
  const gap = body.indexOf('::');
  if (gap >= 0) {
    const head = hex(body.slice(0, gap));
    const rest = hex(body.slice(gap + 2));
    const zeros = 8 - head.length - rest.length;
    if (zeros < 1) return null;
    groups = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  } else {
    groups = hex(body);
  }
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  const out = Buffer.alloc(ADDRESS_LENGTH);
  groups.forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}

/** A canonical string for maps and comparisons (the 16 octets in hex). */
export function addressKey(text: string): string | null {
  return parseAddress(text)?.toString('hex') ?? null;
}
