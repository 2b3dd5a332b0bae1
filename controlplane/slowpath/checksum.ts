// The Internet checksum (RFC 1071): IPv4 headers, ICMP, and ICMPv6/UDP with
// the IPv6 or IPv4 pseudo-header (RFC 8200 §8.1, RFC 768).

/** One's-complement sum of 16-bit words, not yet folded (odd length: zero-padded). */
export function sum16(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  const end = bytes.length & ~1;
  for (let i = 0; i < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (bytes.length & 1) sum += bytes[end] << 8;
  return sum;
}

/** Folds a sum to 16 bits and complements it: the value to store. */
export function finish(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

export function internetChecksum(bytes: Uint8Array): number {
  return finish(sum16(bytes));
}

/** Sum of the pseudo-header: source, destination, upper-layer length, protocol. */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, length: number, protocol: number): number {
  return sum16(dst, sum16(src)) + Math.floor(length / 0x10000) + (length & 0xffff) + protocol;
}

/** Checksum of an upper-layer message (ICMPv6, UDP) carried between src and dst. */
export function upperLayerChecksum(src: Uint8Array, dst: Uint8Array, protocol: number, message: Uint8Array): number {
  return finish(sum16(message, pseudoHeaderSum(src, dst, message.length, protocol)));
}
