// Gateway addresses as the key exchange sees them: 16 octets, IPv4 written as
// an IPv4-mapped IPv6 address (::ffff:a.b.c.d), so that the prologue has one
// fixed layout and "192.0.2.1", "::ffff:192.0.2.1" and "::FFFF:c000:201" are
// the same gateway.
import { parseAddress as parseIpText } from '../config/ip.js';

export const ADDRESS_LENGTH = 16;

/** The 16-octet form of an IPv4 or IPv6 literal (config/ip.ts parseAddress), or null if it is not one. */
export function parseAddress(text: string): Buffer | null {
  const a = parseIpText(text);
  if (!a) return null;
  if (a.version === 6) return a.octets;
  const out = Buffer.alloc(ADDRESS_LENGTH);
  out[10] = 0xff;
  out[11] = 0xff;
  a.octets.copy(out, 12);
  return out;
}

/** A canonical string for maps and comparisons (the 16 octets in hex). */
export function addressKey(text: string): string | null {
  return parseAddress(text)?.toString('hex') ?? null;
}
