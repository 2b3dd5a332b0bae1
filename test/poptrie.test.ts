// Poptrie (testkit.route) against a naive longest-prefix match written plainly
// below: 100,000 random prefixes per family (default route, host routes,
// prefixes nested both ways, duplicates, host bits set) and 100,000+ lookups
// of addresses drawn uniformly and at prefix boundaries (first and last
// address of a prefix and their neighbours). Both popcount paths, single and
// batch lookups, the packed input form and the binary-trie baseline are
// checked against the same reference. Then the rules at the edges: what a
// duplicate means, host bits, and the errors for bad input.
//
// POPTRIE_TEST_SEED=<text> replays a run; failures print the seed.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as testkit from '../controlplane/testkit.js';

const ROUTES = 100_000;
const LOOKUPS = 120_000;

type RouteTable = testkit.RouteTable;
const route = testkit.route;

const seed = process.env.POPTRIE_TEST_SEED ?? crypto.randomBytes(8).toString('hex');

// Deterministic randomness from a text seed (AES-CTR keystream).
class Rng {
  private readonly cipher: crypto.Cipher;
  private buf = Buffer.alloc(0);
  private pos = 0;
  constructor(text: string) {
    const key = crypto.createHash('sha256').update(text).digest().subarray(0, 16);
    this.cipher = crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  }
  private take(n: number): Buffer {
    if (this.pos + n > this.buf.length) {
      this.buf = this.cipher.update(Buffer.alloc(65536));
      this.pos = 0;
    }
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  int(n: number): number {
    return this.take(4).readUInt32LE(0) % n;
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  bits(width: number): bigint {
    let v = 0n;
    for (const byte of this.take(width / 8)) v = (v << 8n) | BigInt(byte);
    return v;
  }
}

type Family = { name: 'IPv4' | 'IPv6'; width: 32 | 128; build: typeof route.build4; binaryTrie: typeof route.build4 };
const FAMILIES: Family[] = [
  { name: 'IPv4', width: 32, build: route.build4, binaryTrie: route.binaryTrie4 },
  { name: 'IPv6', width: 128, build: route.build6, binaryTrie: route.binaryTrie6 },
];

function maskOf(width: number, len: number): bigint {
  const all = (1n << BigInt(width)) - 1n;
  return len === 0 ? 0n : (all >> BigInt(width - len)) << BigInt(width - len);
}

function formatAddress(width: number, a: bigint): string {
  if (width === 32) return [24n, 16n, 8n, 0n].map((s) => String((a >> s) & 255n)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((a >> s) & 0xffffn).toString(16));
  return groups.join(':');
}

function packAddresses(width: number, addresses: bigint[]): Buffer {
  const size = width / 8;
  const out = Buffer.alloc(addresses.length * size);
  addresses.forEach((a, i) => {
    if (width === 32) out.writeUInt32BE(Number(a), i * size);
    else {
      out.writeBigUInt64BE(a >> 64n, i * size);
      out.writeBigUInt64BE(a & 0xffffffffffffffffn, i * size + 8);
    }
  });
  return out;
}

// The reference: one map per prefix length, from network address to route;
// a lookup tries every length present, longest first. The maps are keyed by
// numbers (IPv4) or by strings of the address's 16-bit groups (IPv6): V8
// hashes BigInt keys badly.
class NaiveLpm {
  private readonly byLength = new Map<number, Map<number | string, number>>();
  private lengths: number[] = [];
  constructor(private readonly width: number) {}

  // The address as map-key material: a number for IPv4; for IPv6 its 16-bit
  // groups and the strings of its first 0..8 whole groups.
  private split(address: bigint): { groups: number[]; whole: string[] } {
    const groups: number[] = [];
    for (let shift = this.width - 16; shift >= 0; shift -= 16) groups.push(Number((address >> BigInt(shift)) & 0xffffn));
    const whole = [''];
    if (this.width === 128) for (const g of groups) whole.push(whole[whole.length - 1] + String.fromCharCode(g));
    return { groups, whole };
  }
  // The first len bits of the address, as a map key.
  private key(a: { groups: number[]; whole: string[] }, len: number): number | string {
    if (this.width === 32) {
      const v = a.groups[0] * 65536 + a.groups[1];
      return len === 0 ? 0 : (v & (0xffffffff << (32 - len))) >>> 0;
    }
    const q = len >> 4;
    const r = len & 15;
    return r === 0 ? a.whole[q] : a.whole[q] + String.fromCharCode(a.groups[q] & (0xffff << (16 - r)) & 0xffff);
  }

  insert(address: bigint, len: number, value: number): void {
    let m = this.byLength.get(len);
    if (!m) {
      m = new Map();
      this.byLength.set(len, m);
      this.lengths = [...this.byLength.keys()].sort((a, b) => b - a);
    }
    m.set(this.key(this.split(address), len), value); // a later duplicate replaces the earlier one
  }
  lookup(address: bigint): number {
    const a = this.split(address);
    for (const len of this.lengths) {
      const v = this.byLength.get(len)!.get(this.key(a, len));
      if (v !== undefined) return v;
    }
    return 0;
  }
}

// Long synchronous loops starve vitest's worker channel: give it a turn.
const breather = () => new Promise<void>((resolve) => setImmediate(resolve));

type RandomRoute = { address: bigint; len: number; value: number; text: string };

// Lengths for a new prefix: spread over the whole range, heavier where real
// tables are (/16–/24 and /32 for IPv4, /32–/64 and /128 for IPv6).
function freshLength(rng: Rng, width: number): number {
  const r = rng.int(100);
  if (width === 32) {
    if (r < 10) return rng.range(0, 32);
    if (r < 20) return rng.range(8, 15);
    if (r < 70) return rng.range(16, 24);
    if (r < 90) return rng.range(25, 31);
    return 32;
  }
  if (r < 10) return rng.range(0, 128);
  if (r < 15) return rng.range(16, 31);
  if (r < 55) return rng.range(32, 48);
  if (r < 75) return rng.range(49, 64);
  if (r < 90) return rng.range(65, 127);
  return 128;
}

function randomRoutes(rng: Rng, width: number, n: number): RandomRoute[] {
  // IPv6 prefixes mostly start under a few roots, so that they nest and share
  // nodes as real ones do instead of scattering over 2^128.
  const roots = Array.from({ length: 8 }, () => rng.bits(128) & maskOf(128, 16));
  const routes: RandomRoute[] = [];
  const add = (address: bigint, len: number, hostBits: boolean) => {
    const network = address & maskOf(width, len);
    const shown = hostBits ? address : network; // masked by the builder
    routes.push({ address: network, len, value: rng.range(1, 65535), text: `${formatAddress(width, shown)}/${len}` });
  };
  add(0n, 0, false); // a default route, overridden by a later /0 below
  for (let i = 1; i < n; i++) {
    const r = rng.int(100);
    const hostBits = rng.int(5) === 0;
    const old = routes[rng.int(routes.length)];
    if (r < 5) {
      add(old.address | (rng.bits(width) & ~maskOf(width, old.len)), old.len, true); // duplicate
    } else if (r < 35 && old.len < width) {
      const len = rng.range(old.len + 1, width); // nested inside an earlier prefix
      add(old.address | (rng.bits(width) & ~maskOf(width, old.len)), len, hostBits);
    } else if (r < 40) {
      add(old.address, rng.range(0, old.len), hostBits); // covering an earlier prefix
    } else {
      let address = rng.bits(width);
      if (width === 128 && rng.int(5) !== 0) address = roots[rng.int(roots.length)] | (address & ~maskOf(128, 16));
      add(address, freshLength(rng, width), hostBits);
    }
  }
  add(rng.bits(width), 0, true); // the default route again: the last one wins
  return routes;
}

// Uniform addresses, and first/last addresses of prefixes, their neighbours
// just outside, and addresses inside.
function randomAddresses(rng: Rng, width: number, routes: RandomRoute[], n: number): bigint[] {
  const all = (1n << BigInt(width)) - 1n;
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const p = routes[rng.int(routes.length)];
    const last = p.address | (all & ~maskOf(width, p.len));
    switch (rng.int(6)) {
      case 0: out.push(rng.bits(width)); break;
      case 1: out.push(p.address); break;
      case 2: out.push(last); break;
      case 3: out.push((p.address - 1n) & all); break;
      case 4: out.push((last + 1n) & all); break;
      default: out.push(p.address | (rng.bits(width) & ~maskOf(width, p.len))); break;
    }
  }
  return out;
}

function mismatches(width: number, addresses: bigint[], got: ArrayLike<number>, want: number[]): string[] {
  const bad: string[] = [];
  for (let i = 0; i < addresses.length && bad.length < 10; i++) {
    if (got[i] !== want[i]) bad.push(`${formatAddress(width, addresses[i])}: got ${got[i]}, want ${want[i]}`);
  }
  return bad;
}

describe.each(FAMILIES)('$name Poptrie against a naive LPM', (f) => {
  it(`${ROUTES} random routes, ${LOOKUPS} lookups (seed ${seed})`, async () => {
    const rng = new Rng(`${seed}:${f.name}`);
    const routes = randomRoutes(rng, f.width, ROUTES);
    const reference = new NaiveLpm(f.width);
    for (const r of routes) reference.insert(r.address, r.len, r.value);
    await breather();
    const addresses = randomAddresses(rng, f.width, routes, LOOKUPS);
    const want: number[] = [];
    for (const a of addresses) {
      want.push(reference.lookup(a));
      if (want.length % 10_000 === 0) await breather();
    }
    // The test must be able to tell a table that ignores the routes.
    expect(new Set(want).size).toBeGreaterThan(1000);
    expect(routes.some((r) => r.len === f.width)).toBe(true);

    const table = f.build(routes.map((r) => r.text), routes.map((r) => r.value));
    const packed = packAddresses(f.width, addresses);
    expect(mismatches(f.width, addresses, table.lookupMany(packed), want)).toEqual([]);
    expect(mismatches(f.width, addresses, table.lookupMany(packed, 'portable'), want)).toEqual([]);
    if (route.popcount === 'popcnt') {
      expect(mismatches(f.width, addresses, table.lookupMany(packed, 'popcnt'), want)).toEqual([]);
    }
    const single = addresses.slice(0, 2000);
    expect(mismatches(f.width, single, single.map((a) => table.lookup(formatAddress(f.width, a))), want)).toEqual([]);
    expect(table.bytes).toBeGreaterThan(0);

    // The same routes as packed records (address bytes then length).
    const size = f.width / 8;
    const records = Buffer.alloc(routes.length * (size + 1));
    const raw = packAddresses(f.width, routes.map((r) => r.address));
    routes.forEach((r, i) => {
      raw.copy(records, i * (size + 1), i * size, (i + 1) * size);
      records[i * (size + 1) + size] = r.len;
    });
    const values = Uint16Array.from(routes, (r) => r.value);
    const fromPacked = f.build(records, values);
    expect(mismatches(f.width, addresses, fromPacked.lookupMany(packed), want)).toEqual([]);

    // The benchmark's baseline answers the same.
    const trie = f.binaryTrie(records, values);
    expect(trie.engine).toBe('binaryTrie');
    expect(mismatches(f.width, addresses, trie.lookupMany(packed), want)).toEqual([]);
  });
});

describe('route tables at the edges', () => {
  it('an empty table finds no route anywhere', () => {
    const t4 = route.build4([], []);
    const t6 = route.build6([], []);
    expect(t4.lookupMany(Buffer.from([0, 0, 0, 0, 255, 255, 255, 255, 10, 1, 2, 3]))).toEqual(new Uint16Array([0, 0, 0]));
    expect(t6.lookup('::')).toBe(0);
    expect(t6.lookup('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(0);
  });

  it('the default route matches everything not more specific', () => {
    const t4 = route.build4(['0.0.0.0/0', '10.0.0.0/8'], [7, 8]);
    expect([t4.lookup('0.0.0.0'), t4.lookup('255.255.255.255'), t4.lookup('10.255.0.1'), t4.lookup('11.0.0.0')]).toEqual([7, 7, 8, 7]);
    const t6 = route.build6(['::/0', '2001:db8::/32'], [7, 8]);
    expect([t6.lookup('::'), t6.lookup('2001:db8:ffff::1'), t6.lookup('2001:db9::')]).toEqual([7, 8, 7]);
  });

  it('host routes match their address only, at both ends of the space', () => {
    const t4 = route.build4(['0.0.0.0/32', '255.255.255.255/32', '192.0.2.1/32', '192.0.2.0/24'], [1, 2, 3, 4]);
    expect([t4.lookup(0), t4.lookup(1), t4.lookup(0xffffffff), t4.lookup(0xfffffffe)]).toEqual([1, 0, 2, 0]);
    expect([t4.lookup('192.0.2.1'), t4.lookup('192.0.2.0'), t4.lookup('192.0.2.2')]).toEqual([3, 4, 4]);
    const t6 = route.build6(['::/128', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128', '2001:db8::1/128', '2001:db8::/64'], [1, 2, 3, 4]);
    expect([t6.lookup('::'), t6.lookup('::1'), t6.lookup('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')]).toEqual([1, 0, 2]);
    expect([t6.lookup('2001:db8::1'), t6.lookup('2001:db8::'), t6.lookup('2001:db8::2')]).toEqual([3, 4, 4]);
  });

  it('a prefix given twice takes its last value; host bits are ignored', () => {
    const t4 = route.build4(['10.0.0.0/8', '10.9.9.9/8', '10.1.2.3/16'], [1, 2, 3]);
    expect([t4.lookup('10.200.0.1'), t4.lookup('10.1.200.1')]).toEqual([2, 3]);
    const t6 = route.build6(['2001:db8::/32', '2001:db8:1:2:3:4:5:6/32'], [1, 2]);
    expect(t6.lookup('2001:db8:ffff::')).toBe(2);
  });

  it('single lookups take a string, bytes or (IPv4) a host-order number', () => {
    const t4 = route.build4(['198.51.100.0/24'], [9]);
    expect([t4.lookup('198.51.100.7'), t4.lookup(0xc6336407), t4.lookup(Buffer.from([198, 51, 100, 7]))]).toEqual([9, 9, 9]);
    expect(t4.lookup('198.51.101.7')).toBe(0);
    const t6 = route.build6(['2001:db8::/32'], [9]);
    expect(t6.lookup(Buffer.from('20010db8000000000000000000000001', 'hex'))).toBe(9);
  });

  it('refuses bad prefixes, naming the element and the reason', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => route.build4(['10.0.0.0/8', '10.0.0.0/33'], [1, 2]), /prefixes\[1\]: not an IPv4 prefix: "10\.0\.0\.0\/33" \(length over 32\)/],
      [() => route.build4(['10.0.0.0'], [1]), /prefixes\[0\]: .*"10\.0\.0\.0" \(no \/length\)/],
      [() => route.build4(['10.0.0/8'], [1]), /prefixes\[0\]: .*\(bad address\)/],
      [() => route.build4(['2001:db8::/32'], [1]), /prefixes\[0\]: not an IPv4 prefix.*\(bad address\)/],
      [() => route.build4(['10.0.0.0/-1'], [1]), /length is not a decimal number/],
      [() => route.build4(['10.0.0.0/8 '], [1]), /length is not a decimal number/],
      [() => route.build4([42 as unknown as string], [1]), /prefixes\[0\]: not a string/],
      [() => route.build6(['2001:db8::/129'], [1]), /prefixes\[0\]: not an IPv6 prefix: "2001:db8::\/129" \(length over 128\)/],
      [() => route.build6(['10.0.0.0/8'], [1]), /not an IPv6 prefix.*\(bad address\)/],
      [() => route.build4(Buffer.from([10, 0, 0, 0, 33]), [1]), /prefix record 0 \(10\.0\.0\.0\/33\): length over 32/],
      [() => route.build4(Buffer.from([10, 0, 0, 0]), []), /not a whole number of 5-byte records/],
      [() => route.build6(Buffer.alloc(17 * 2, 200), [1, 2]), /prefix record 0 .*length over 128/],
    ];
    for (const [build, message] of cases) expect(build).toThrow(message);
  });

  it('refuses route values outside 1..65535 and counts that do not match', () => {
    expect(() => route.build4(['10.0.0.0/8'], [0])).toThrow(/values\[0\]: 0 is not a route index/);
    expect(() => route.build4(['10.0.0.0/8'], [65536])).toThrow(/values\[0\]: 65536 is not a route index/);
    expect(() => route.build4(['10.0.0.0/8'], [1.5])).toThrow(/values\[0\]: 1\.5 is not a route index/);
    expect(() => route.build4(['10.0.0.0/8'], ['1' as unknown as number])).toThrow(/values\[0\]: not a number/);
    expect(() => route.build4(['10.0.0.0/8'], new Uint16Array([0]))).toThrow(/values\[0\]: 0 is not a route index/);
    expect(() => route.build6(['::/0', '::/1'], [1])).toThrow(/values: 1 values for 2 prefixes/);
  });

  it('refuses bad lookups', () => {
    const t4 = route.build4(['10.0.0.0/8'], [1]);
    expect(() => t4.lookup('10.0.0')).toThrow(/not an IPv4 address: "10\.0\.0"/);
    expect(() => t4.lookup(2 ** 32)).toThrow(/not an IPv4 address/);
    expect(() => t4.lookup(Buffer.alloc(16))).toThrow(/4 bytes or a number/);
    expect(() => t4.lookupMany(Buffer.alloc(6))).toThrow(/packed 4-byte addresses/);
    expect(() => t4.lookupMany(Buffer.alloc(8), 'fast' as 'auto')).toThrow(/path must be/);
    const t6 = route.build6(['::/0'], [1]);
    expect(() => t6.lookup(0 as unknown as string)).toThrow(/string, 16 bytes/);
    expect(() => t6.lookupMany(Buffer.alloc(20))).toThrow(/packed 16-byte addresses/);
  });

  it('a table grows with its routes and reports its size', () => {
    const empty = route.build4([], []);
    const prefixes = Array.from({ length: 5000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const full = route.build4(prefixes, prefixes.map((_, i) => (i % 65535) + 1));
    expect(empty.bytes).toBe((1 << 18) * 4); // the direct-pointing array alone
    expect(full.bytes).toBeGreaterThan(empty.bytes);
    expect(full.nodes).toBeGreaterThan(0);
    expect(full.lookup('10.19.135.77')).toBe(19 * 256 + 135 + 1);
  });
});
