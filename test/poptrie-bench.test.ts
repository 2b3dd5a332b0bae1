// `vitesse bench lookup`: the interface operators' scripts rely on (options,
// the JSON object on the last line) and the native timing loop behind it.
// Figures are not judged here; they belong to the benchmark.
import { describe, expect, it } from 'vitest';
import { run } from '../bench/lookup.js';
import { UsageError } from '../controlplane/cli/args.js';
import * as testkit from '../controlplane/testkit.js';
import { captured } from './support/cli-capture.js';

const capture = (argv: string[]) => captured(() => run(argv));

describe('vitesse bench lookup', () => {
  it('--json ends with {ipv4: {routes, mlps, bytes}, ipv6: {...}}', async () => {
    const { code, out } = await capture(['--routes', '3000', '--runs', '1', '--seconds', '0.02', '--json']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1]);
    for (const family of ['ipv4', 'ipv6']) {
      const r = result[family];
      expect(r.routes).toBe(3000);
      expect(r.mlps).toBeGreaterThan(0);
      expect(r.bytes).toBeGreaterThan(0);
      expect(r.baselineMlps).toBeGreaterThan(0);
      expect(r.ratio).toBeCloseTo(r.mlps / r.baselineMlps, -1);
    }
    expect(out).toMatch(/ipv4: 3000 routes/);
  });

  it('refuses bad options by name', async () => {
    await expect(capture(['--routes', '0'])).rejects.toThrow(UsageError);
    await expect(capture(['--routes', '1.5'])).rejects.toThrow(/--routes/);
    await expect(capture(['--route', '10'])).rejects.toThrow(/unknown option --route/);
  });

  it('the native loop looks up every address it is given, 64 at a time', () => {
    const table = testkit.route.build4(['0.0.0.0/1', '128.0.0.0/1'], [1, 2]);
    const addresses = Buffer.alloc(64 * 4);
    for (let i = 0; i < 64; i++) addresses.writeUInt32BE(i < 32 ? i : 0x80000000 + i, i * 4);
    const r = testkit.route.bench(table, addresses, 0.01);
    expect(r.lookups % 64).toBe(0);
    expect(r.lookups).toBeGreaterThanOrEqual(64 * 64);
    // It adds up one result per batch, cycling through the 64 positions
    // (half route 1, half route 2), and stops after a multiple of 64 batches.
    expect(r.checksum).toBe((1.5 * r.lookups) / 64);
    expect(() => testkit.route.bench({} as never, addresses, 0.01)).toThrow(/must be a RouteTable/);
    expect(() => testkit.route.bench(table, Buffer.alloc(8), 0.01)).toThrow(/at least 64/);
  });
});
