// `vitesse bench e2e`: the interface operators' scripts rely on (options, the
// JSON object on the last line) and the paced traffic generator behind
// `--pps`. The figures themselves are the benchmark's business, not judged here.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../bench/e2e.js';
import { UsageError } from '../controlplane/cli/args.js';
import * as testkit from '../controlplane/testkit.js';
import { captured } from './support/cli-capture.js';
import { readPcap } from './support/pcap.js';
import { itNeeding } from './support/requires.js';

const capture = (argv: string[]) => captured(() => run(argv));

describe('the paced generator (testkit.io.blast with pps)', () => {
  it('never runs ahead of its rate by more than a burst, and sends what it counts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-pace-'));
    try {
      const out = path.join(dir, 'out.pcap');
      const frame = Buffer.alloc(60, 0xab);
      const r = await testkit.io.blast({ spec: { driver: 'pcap', pcapOut: out }, frame, seconds: 0.3, pps: 200, burst: 4 });
      expect(r.packets).toBeGreaterThan(0);
      expect(r.packets).toBeLessThanOrEqual(200 * r.elapsedSeconds + 4);
      const records = readPcap(out).records;
      expect(records.length).toBe(r.packets);
      for (const rec of records) expect(Buffer.compare(rec.data, frame)).toBe(0);
      // Flat out, the same link takes far more in the same time.
      const flat = await testkit.io.blast({ spec: { driver: 'pcap', pcapOut: out }, frame, seconds: 0.3, burst: 4 });
      expect(flat.packets).toBeGreaterThan(200 * flat.elapsedSeconds + 4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a rate that is not a number of frames per second', async () => {
    const spec = { driver: 'pcap' } as const;
    expect(() => testkit.io.blast({ spec, frame: Buffer.alloc(60), seconds: 0.1, pps: -1 })).toThrow(/pps must be a number of frames per second/);
    expect(() => testkit.io.blast({ spec, frame: Buffer.alloc(60), seconds: 0.1, pps: 'fast' as never })).toThrow(/pps must be/);
  });
});

describe('vitesse bench e2e', () => {
  it('refuses bad options by name', async () => {
    await expect(capture(['--driver', 'dpdk'])).rejects.toThrow(UsageError);
    await expect(capture(['--driver', 'dpdk'])).rejects.toThrow(/--driver: "dpdk" is not af-xdp or af-packet/);
    await expect(capture(['--seconds', '0'])).rejects.toThrow(/--seconds/);
    await expect(capture(['--pps', '-5'])).rejects.toThrow(/--pps/);
    await expect(capture(['--sizes', '60'])).rejects.toThrow(/unknown option --sizes/);
  });

  itNeeding(['root', 'ip'], '--json ends with the figures of all three paths at 60 and 1400 bytes', async () => {
    const { code, out } = await capture(['--driver', 'af-packet', '--seconds', '0.3', '--iperf-seconds', '0', '--json']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    const r = JSON.parse(lines[lines.length - 1]);
    expect(r.driver).toBe('af-packet');
    for (const mode of ['raw', 'kernel', 'gateway']) {
      expect(r.mpps_60[mode]).toBeGreaterThan(0);
      expect(r.gbps_1400[mode]).toBeGreaterThan(0);
    }
    expect(r.gateway_vs_raw.mpps_60).toBeCloseTo(r.mpps_60.gateway / r.mpps_60.raw, 2);
    expect(r.gateway_vs_raw.gbps_1400).toBeCloseTo(r.gbps_1400.gateway / r.gbps_1400.raw, 2);
    expect(r.iperf3_gbps).toEqual({ gateway: null, kernel: null });
    expect(r.rows.map((x: { mode: string; size: number }) => `${x.mode}/${x.size}`)).toEqual(['raw/60', 'raw/1400', 'kernel/60', 'kernel/1400', 'gateway/60', 'gateway/1400']);
    // Frames crossed the gateways through ESP: both encrypted and decrypted.
    expect(r.gateway_counters.gwA.encapsulated_packets).toBeGreaterThan(0);
    expect(r.gateway_counters.gwB.decapsulated_packets).toBeGreaterThan(0);
    for (const x of r.rows.filter((y: { mode: string }) => y.mode === 'gateway')) expect(x.gateway_cpu_ns).toBeGreaterThan(0);
    // The figures derived from the same rows, and the idle measurement.
    const row = (mode: string, size: number) => r.rows.find((x: { mode: string; size: number }) => x.mode === mode && x.size === size);
    for (const size of [60, 1400]) {
      expect(r.gateway_beyond_raw_ns[size]).toBe(row('gateway', size).gateway_cpu_ns - 2 * (row('raw', size).tx_cpu_ns + row('raw', size).rx_cpu_ns));
    }
    expect(r.idle_cpu_pct_per_worker).toBeGreaterThanOrEqual(0);
    expect(r.driver_mode).toEqual({});  // af-packet has no mode to report
  });
});
