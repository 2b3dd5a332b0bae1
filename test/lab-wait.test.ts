// bench/lab-wait.ts: a wait of the scale-out lab benches that times out
// names the conditions still false and what each saw (docs/scale-out.md,
// limits: the one timeout after --cancel whose cause was not recorded).
import { describe, expect, it } from 'vitest';
import { until } from '../bench/lab-wait.js';

describe('lab waits', () => {
  it('returns once every condition holds', async () => {
    let n = 0;
    const t = await until('n to reach 3', async () => [{ name: 'n is 3', ok: ++n >= 3, seen: n }], 5_000, 1);
    expect(n).toBe(3);
    expect(t).toBeGreaterThan(0);
  });

  it('a timeout names only the conditions still false, with what they saw', async () => {
    const check = async () => [
      { name: 'router A routes over lan1 and lan2', ok: true, seen: ['lan1', 'lan2'] },
      { name: 'b1 uses a1', ok: false, seen: { usable: false, draining: true } },
    ];
    await expect(until('router A to choose a1 again and b1 to use it', check, 30, 5)).rejects.toThrow(
      /^timed out after \d+ ms waiting for router A to choose a1 again and b1 to use it; still false: b1 uses a1 \(seen: \{"usable":false,"draining":true\}\)$/,
    );
  });

  it('a check that throws (an API not answering yet) is retried, and named if it never runs', async () => {
    let n = 0;
    await until('b1 to answer', async () => { if (++n < 3) throw new Error('no such socket'); return true; }, 5_000, 1);
    expect(n).toBe(3);
    await expect(until('b1 to answer', async () => { throw new Error('no such socket'); }, 20, 5)).rejects.toThrow(/still false: the check could run \(seen: "no such socket"\)$/);
  });

  it('a bare yes/no check still times out naming its wait', async () => {
    await expect(until('never', async () => false, 20, 5)).rejects.toThrow(/waiting for never; still false: the condition$/);
  });
});
