// The SA arena (dataplane/esp/sa_arena.h) through the testkit addon: where a
// queue's SAs live in the gateway. Slots are cache-line aligned, an odd
// number of lines apart, so the lines a packet reads of consecutive SAs fall
// into every L1 set (32 KiB, 8-way: 64 sets, address bits 6..11) instead of a
// few (docs/dataplane.md, "Round five, SA arena"); a freed slot is wiped and
// reused, the arena grows by chunks, and under AddressSanitizer a free slot
// is poisoned so that a worker touching a freed SA is still reported.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as testkit from '../controlplane/testkit.js';

const esp = testkit.esp;
const LINE = 64n;
const SETS = 64n;
const set = (line: bigint) => Number((line / LINE) % SETS);

for (const kind of ['inbound', 'outbound'] as const) {
  describe(`SA arena, ${kind}`, () => {
    it('hands out line-aligned slots an odd number of lines apart, in address order', () => {
      const arena = esp.arenaCreate(kind);
      const info = esp.arenaInfo(arena);
      expect(info.stride % 64).toBe(0);
      expect((info.stride / 64) % 2).toBe(1);
      expect(info.stride).toBeGreaterThanOrEqual(info.objectSize);
      expect(info.stride - info.objectSize).toBeLessThan(128);
      const slots = Array.from({ length: 10 }, () => esp.arenaAllocate(arena, crypto.randomBytes(20)));
      const addr = slots.map((s) => esp.arenaSlot(arena, s).address);
      for (const a of addr) expect(a % LINE).toBe(0n);
      for (let i = 1; i < addr.length; i++) expect(addr[i] - addr[i - 1]).toBe(BigInt(info.stride));
      expect(esp.arenaInfo(arena)).toMatchObject({ chunks: 1, inUse: 10 });
    });

    it("spreads the lines a packet reads of consecutive SAs over all 64 L1 sets", () => {
      const arena = esp.arenaCreate(kind);
      const n = 1000;
      const lines = Array.from({ length: n }, () => esp.arenaSlot(arena, esp.arenaAllocate(arena, crypto.randomBytes(20))).lines);
      const perSa = lines[0].length;
      expect(perSa).toBe(kind === 'inbound' ? 7 : 6);
      // Each of the packet's lines (the hot line, a key line, ...) of any 64
      // consecutive SAs: 64 different sets.
      for (let start = 0; start + 64 <= n; start += 64) {
        for (let k = 0; k < perSa; k++) {
          const sets = new Set(lines.slice(start, start + 64).map((l) => set(l[k])));
          expect(sets.size).toBe(64);
        }
      }
      // A chunk of 32 packets with 32 SAs (esp::kEspChunk): its SAs' lines
      // (6 or 7 each) fill no set beyond 6 of its 8 ways. The SAs where
      // malloc put them in softbench had 9 lines in some set.
      for (let start = 0; start + 32 <= n; start += 32) {
        const count = new Array<number>(64).fill(0);
        for (const l of lines.slice(start, start + 32)) for (const line of l) count[set(line)]++;
        expect(Math.max(...count)).toBeLessThanOrEqual(6);
      }
    });

    it('wipes a freed slot and gives it out again, zeroed and keyed anew', () => {
      const arena = esp.arenaCreate(kind);
      const a = esp.arenaAllocate(arena, crypto.randomBytes(20));
      const b = esp.arenaAllocate(arena, crypto.randomBytes(20));
      const where = esp.arenaSlot(arena, a).address;
      expect(esp.arenaSlot(arena, a).keyZero).toBe(false);
      esp.arenaFree(arena, a);
      const freed = esp.arenaSlot(arena, a);
      expect(freed.keyZero).toBe(true);
      expect(esp.arenaInfo(arena).inUse).toBe(1);
      const c = esp.arenaAllocate(arena, crypto.randomBytes(20));
      expect(esp.arenaSlot(arena, c).address).toBe(where);
      expect(esp.arenaSlot(arena, c).keyZero).toBe(false);
      expect(esp.arenaSlot(arena, b).address).not.toBe(where);
      expect(() => esp.arenaFree(arena, a)).toThrow(/slot 0 is free/);
    });

    it('poisons free slots for AddressSanitizer (null without ASan)', () => {
      const arena = esp.arenaCreate(kind);
      const asan = esp.arenaInfo(arena).asan;
      const a = esp.arenaAllocate(arena, crypto.randomBytes(20));
      expect(esp.arenaSlot(arena, a).poisoned).toBe(asan ? false : null);
      esp.arenaFree(arena, a);
      expect(esp.arenaSlot(arena, a).poisoned).toBe(asan ? true : null);
      const b = esp.arenaAllocate(arena, crypto.randomBytes(20));
      expect(esp.arenaSlot(arena, b).poisoned).toBe(asan ? false : null);
    });

    it('grows by chunks when full, keeping every slot where it was', () => {
      const arena = esp.arenaCreate(kind);
      const perChunk = esp.arenaInfo(arena).slotsPerChunk;
      expect(perChunk).toBeGreaterThan(500);
      const slots = Array.from({ length: perChunk + 3 }, () => esp.arenaAllocate(arena, crypto.randomBytes(20)));
      const info = esp.arenaInfo(arena);
      expect(info).toMatchObject({ chunks: 2, inUse: perChunk + 3 });
      const addr = slots.map((s) => esp.arenaSlot(arena, s).address);
      expect(new Set(addr).size).toBe(addr.length);
      // No two slots overlap.
      const sorted = [...addr].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      for (let i = 1; i < sorted.length; i++) expect(sorted[i] - sorted[i - 1]).toBeGreaterThanOrEqual(BigInt(info.objectSize));
      for (const s of slots.slice(0, 100)) esp.arenaFree(arena, s);
      expect(esp.arenaInfo(arena)).toMatchObject({ chunks: 2, inUse: perChunk - 97 });
    });

    it('refuses bad arguments with clear errors', () => {
      const arena = esp.arenaCreate(kind);
      expect(() => esp.arenaAllocate(arena, Buffer.alloc(7))).toThrow(/keymat must be 20 octets/);
      expect(esp.arenaInfo(arena).inUse).toBe(0);
      expect(() => esp.arenaSlot(arena, 3)).toThrow(/no slot 3/);
      expect(() => esp.arenaInfo({} as testkit.SaArenaHandle)).toThrow(/not an SA arena/);
    });
  });
}

it('refuses an unknown arena kind', () => {
  expect(() => esp.arenaCreate('sideways' as 'inbound')).toThrow(/inbound or outbound/);
});
