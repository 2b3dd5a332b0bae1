// The loader's address and prefix handling against independent references:
// the WHATWG URL parser's IPv6 serialiser (RFC 5952 compression), Node's
// net.isIP, and BigInt arithmetic for host bits.
import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAddress, hasHostBits, isUnicast, networkOf, parseAddress, parsePrefix } from '../controlplane/config/ip.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a));
// Runs of zero groups are what compression is about: make them common.
const groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((gs) => { const b = Buffer.alloc(16); gs.forEach((g, i) => b.writeUInt16BE(g, 2 * i)); return b; });

const embedsIpv4 = (b: Buffer) => b.subarray(0, 10).every((x) => x === 0)
  && ((b[10] === 0 && b[11] === 0) || (b[10] === 0xff && b[11] === 0xff));

describe('IPv6 text', () => {
  it('is compressed as the WHATWG URL parser does (RFC 5952), and parses back', () => {
    fc.assert(fc.property(groups, (octets) => {
      const text = formatAddress({ version: 6, octets });
      expect(net.isIPv6(text)).toBe(true);
      expect(parseAddress(text)!.octets.equals(octets)).toBe(true);
      // WHATWG never writes an IPv4 tail; RFC 5952 §5 (and inet_ntop) do for these.
      if (!embedsIpv4(octets)) expect(text).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
    }), { numRuns: 2000 });
  });

  it('keeps the IPv4 tail of mapped and compatible addresses, as inet_ntop does', () => {
    expect(formatAddress(parseAddress('::FFFF:c000:0201')!)).toBe('::ffff:192.0.2.1');
    expect(formatAddress(parseAddress('0:0:0:0:0:0:c000:201')!)).toBe('::192.0.2.1');
    expect(formatAddress(parseAddress('::1')!)).toBe('::1');
    expect(formatAddress(parseAddress('::')!)).toBe('::');
    expect(formatAddress(parseAddress('2001:db8:0:1:0:0:0:1')!)).toBe('2001:db8:0:1::1');
    expect(formatAddress(parseAddress('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
  });

  it('is refused as Node refuses it, and never with a zone', () => {
    for (const t of ['1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'fe80::1%eth0', '::ffff:300.0.0.1', ':::', '1.2.3', '01.2.3.4', '']) {
      expect(parseAddress(t), t).toBeNull();
    }
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'0123456789abcdef:.'.split('')), maxLength: 20 }), (t) => {
      expect(parseAddress(t) !== null).toBe(net.isIP(t) !== 0);
    }), { numRuns: 3000 });
  });
});

describe('prefixes', () => {
  const toBig = (b: Buffer) => BigInt(`0x${b.toString('hex') || '0'}`);

  it('have host bits exactly when the address is not a multiple of 2^(bits - length)', () => {
    fc.assert(fc.property(fc.oneof(bytes(4), bytes(16)), fc.nat(128), (octets, n) => {
      const bits = octets.length * 8;
      const length = n % (bits + 1);
      const p = { version: (octets.length === 4 ? 4 : 6) as 4 | 6, octets, length };
      const step = 1n << BigInt(bits - length);
      expect(hasHostBits(p)).toBe(toBig(octets) % step !== 0n);
      expect(toBig(networkOf(p).octets)).toBe(toBig(octets) - (toBig(octets) % step));
    }), { numRuns: 2000 });
  });

  it('are refused with a bad length', () => {
    expect(parsePrefix('10.0.0.0/32')).not.toBeNull();
    expect(parsePrefix('::/128')).not.toBeNull();
    for (const t of ['10.0.0.0/33', '::/129', '10.0.0.0/08', '10.0.0.0/', '10.0.0.0', '10.0.0.0/-1', '10.0.0.0/+8', 'x/8']) {
      expect(parsePrefix(t), t).toBeNull();
    }
  });
});

describe('unicast', () => {
  it('excludes exactly the unspecified, multicast and reserved addresses', () => {
    const u = (t: string) => isUnicast(parseAddress(t)!);
    for (const t of ['0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.255', '240.0.0.1', '255.255.255.255', '::', 'ff02::1']) expect(u(t), t).toBe(false);
    for (const t of ['1.0.0.0', '10.0.0.1', '127.0.0.1', '223.255.255.255', '::1', 'fe80::1', '2001:db8::1', '::ffff:224.0.0.1']) expect(u(t), t).toBe(true);
  });
});
