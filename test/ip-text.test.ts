// One parser and one formatter of address text (controlplane/config/ip.ts,
// tested against references in config-ip.test.ts): the slow path and the key
// exchange go through it, so all three accept, refuse and print alike.
import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress } from '../controlplane/config/ip.js';
import { parseAddress as exchangeAddress } from '../controlplane/exchange/address.js';
import { formatIp, parseIp } from '../controlplane/slowpath/address.js';

function slowpath(text: string): Buffer | null {
  try {
    return parseIp(text);
  } catch {
    return null;
  }
}

/** What each of the three makes of `text`, as 16 octets (IPv4 mapped) or null. */
function views(text: string): (string | null)[] {
  const mapped = (b: Buffer | null | undefined) => {
    if (!b) return null;
    return (b.length === 16 ? b : Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), b])).toString('hex');
  };
  return [mapped(parseAddress(text)?.octets), mapped(slowpath(text)), exchangeAddress(text)?.toString('hex') ?? null];
}

const ACCEPTED: [string, string][] = [
  ['::', '::'],
  ['::1', '::1'],
  ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
  ['::FFFF:0102:0304', '::ffff:1.2.3.4'],
  ['0001:0002::0003', '1:2::3'],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
  ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
  ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
  ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
  ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
  ['192.0.2.1', '192.0.2.1'],
];

const REFUSED = [
  '', ':', ':::', '1:::2', '1::2::3', 'fe80::1%eth0', 'fe80::1%1', '00001::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7',
  '1:2:3:4::5:6:7:8', '1:2:3:4:5:6:7:8::', 'g::', '::1.2.3', '::1.2.3.256', '::01.2.3.4', '1.2.3.4::', ' ::1', '::1 ', '[::1]', '01.2.3.4', '1.2.3.4/32',
];

describe('address text: one parser and formatter', () => {
  it.each(ACCEPTED)('all three read %s alike; it prints as %s', (text, canonical) => {
    const [a, b, c] = views(text);
    expect(a).not.toBeNull();
    expect([b, c]).toEqual([a, a]);
    expect(formatAddress(parseAddress(text)!)).toBe(canonical);
    expect(formatIp(parseIp(text))).toBe(canonical);
  });

  it.each(REFUSED)('all three refuse %j', (text) => {
    expect(views(text)).toEqual([null, null, null]);
  });

  it('accepts exactly what Node accepts, without a zone, in all three', () => {
    const alphabet = fc.constantFrom(...'0123456789abcdefABCDEF:.%'.split(''));
    fc.assert(fc.property(fc.string({ unit: alphabet, maxLength: 24 }), (t) => {
      const want = net.isIP(t) !== 0 && !t.includes('%');
      const got = views(t);
      expect(got.map((v) => v !== null)).toEqual([want, want, want]);
      if (want) expect(new Set(got).size).toBe(1);
    }), { numRuns: 3000 });
  });

  it('prints what it parses back to the same octets', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (o) => {
      const text = formatIp(o);
      expect(parseIp(text).equals(Buffer.from(o))).toBe(true);
    }), { numRuns: 1000 });
  });
});
