// `vitesse bench softbench` comparisons: the route curve (`--routes` list)
// and Vita's benchmark beside ours (`--vita PATH`). Vita itself is never run
// here: a stand-in `snabb` prints what Vita's gauge prints, so the test checks
// how the benchmark calls it, reads it and compares, not anyone's speed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { vitesse } from './support/cli-capture.js';

function lastJson(out: string): any {
  const lines = out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-softbench-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// A Vita source tree with a stand-in snabb that logs its arguments and
// working directory and prints a SoftBench result of 2.000 Mpps.
function fakeVita(): { testSnabb: string; log: string } {
  const src = path.join(dir, 'vita', 'src');
  fs.mkdirSync(path.join(src, 'program', 'vita'), { recursive: true });
  const testSnabb = path.join(src, 'program', 'vita', 'test.snabb');
  fs.writeFileSync(testSnabb, '#!snabb snsh\n');
  const log = path.join(dir, 'snabb.log');
  fs.writeFileSync(
    path.join(src, 'snabb'),
    `#!/bin/sh\necho "$PWD $*" >> ${JSON.stringify(log)}\n` +
      `echo "Dec 07 2026 08:24:11 SoftBench: Processed 0.1 million packets in 0.05 seconds"\n` +
      `echo "Dec 07 2026 08:24:11 SoftBench: 2.000 Mpps"\n`,
    { mode: 0o755 },
  );
  return { testSnabb, log };
}

describe('bench softbench --routes list (the route curve)', () => {
  it('runs every route count each round and reports medians relative to the first', async () => {
    const r = await vitesse(['bench', 'softbench', '--routes', '1,3', '--packets', '3000', '--rounds', '2', '--json']);
    expect(r.code).toBe(0);
    const j = lastJson(r.out);
    expect(j.lost).toBe(0);
    expect(j.rounds).toBe(2);
    expect(j.points.map((p: any) => p.routes)).toEqual([1, 3]);
    expect(j.points[0].ratio).toBe(1);
    for (const p of j.points) {
      expect(p.runs).toHaveLength(2);
      expect(p.wall_runs).toHaveLength(2);
      expect(p.mpps).toBeGreaterThan(0);
    }
  });

  it('refuses a route count out of range, naming it', async () => {
    const r = await vitesse(['bench', 'softbench', '--routes', '1,0', '--packets', '1000']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--routes: "0" is not 1\.\.65535/);
  });

  it('takes a list of packet sizes only with --vita', async () => {
    const r = await vitesse(['bench', 'softbench', '--packet-size', '60,IMIX', '--packets', '1000']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--packet-size: a list is for --vita only/);
  });
});

describe('bench softbench --public-link', () => {
  // Both harnesses deliver every frame, ESP and ESP in UDP, one and two queues:
  // the loopback exchanges buffers, and a lost or repeated buffer would show
  // as lost frames or a count that does not add up.
  it.each([
    ['loopback', []],
    ['memory', []],
    ['loopback', ['--nat-t']],
    ['loopback', ['--queues', '2', '--packet-size', 'IMIX']],
  ] as Array<[string, string[]]>)('%s %j delivers every frame', async (link, extra) => {
    const args = ['bench', 'softbench', '--public-link', link, '--packets', '20000', '--rounds', '1', '--json', ...extra];
    const r = await vitesse(args);
    expect(r.code).toBe(0);
    const j = lastJson(r.out);
    if (extra[0] === '--nat-t') {
      expect(j.lost).toBe(0);
      return;
    }
    expect(j.public_link).toBe(link);
    expect(j.lost).toBe(0);
    expect(j.packets).toBe(20000);
  });

  it('refuses an unknown link, naming it, and a list without --vita', async () => {
    let r = await vitesse(['bench', 'softbench', '--public-link', 'wire', '--packets', '1000']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--public-link: "wire" is not loopback or memory/);
    r = await vitesse(['bench', 'softbench', '--public-link', 'memory,loopback', '--packets', '1000']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--public-link: a list is for --vita only/);
  });
});

describe('bench softbench --vita PATH', () => {
  it("runs Vita's test.snabb from its source directory after each of ours and reports the ratio of the medians", async () => {
    const { testSnabb, log } = fakeVita();
    const r = await vitesse(['bench', 'softbench', '--vita', testSnabb, '--packet-size', '60,IMIX', '--packets', '4000', '--rounds', '2', '--json']);
    expect(r.code).toBe(0);
    const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
    const src = path.join(dir, 'vita', 'src');
    // Each round: the full run, then one of an eighth (its CPU time, less, is Vita's start-up).
    expect(calls).toEqual([
      `${src} snsh program/vita/test.snabb 60 4000 1`,
      `${src} snsh program/vita/test.snabb 60 500 1`,
      `${src} snsh program/vita/test.snabb 60 4000 1`,
      `${src} snsh program/vita/test.snabb 60 500 1`,
      `${src} snsh program/vita/test.snabb IMIX 4000 1`,
      `${src} snsh program/vita/test.snabb IMIX 500 1`,
      `${src} snsh program/vita/test.snabb IMIX 4000 1`,
      `${src} snsh program/vita/test.snabb IMIX 500 1`,
    ]);
    const j = lastJson(r.out);
    expect(j.lost).toBe(0);
    expect(j.results.map((x: any) => x.packet_size)).toEqual([60, 'IMIX']);
    for (const x of j.results) {
      expect(x.vita_runs).toEqual([2, 2]);
      expect(x.vita_mpps).toBe(2);
      expect(x.vitesse_wall_runs).toHaveLength(2);
      expect(x.ratio).toBeCloseTo(x.vitesse_wall_mpps / 2, 2);
      // The shell's `times` was read: CPU seconds of every run, as numbers.
      expect(x.vita_cpu_seconds).toHaveLength(2);
      expect(x.vita_short_cpu_seconds).toHaveLength(2);
      for (const t of [...x.vita_cpu_seconds, ...x.vita_short_cpu_seconds]) expect(t).toBeGreaterThanOrEqual(0);
    }
  });

  it('runs ours with each --public-link of a list every round, one row each against the same Vita runs', async () => {
    const { testSnabb, log } = fakeVita();
    fs.rmSync(log, { force: true });
    const r = await vitesse(['bench', 'softbench', '--vita', testSnabb, '--public-link', 'memory,loopback', '--packets', '4000', '--rounds', '2', '--json']);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(4);
    const j = lastJson(r.out);
    expect(j.lost).toBe(0);
    expect(j.results.map((x: any) => x.public_link)).toEqual(['memory', 'loopback']);
    for (const x of j.results) {
      expect(x.vitesse_runs).toHaveLength(2);
      expect(x.vita_runs).toEqual([2, 2]);
    }
  });

  it('says which file is missing', async () => {
    const missing = path.join(dir, 'nowhere', 'test.snabb');
    const r = await vitesse(['bench', 'softbench', '--vita', missing, '--packets', '1000', '--rounds', '1']);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(`--vita: ${missing}: no such file`);
  });

  it('refuses more than one queue', async () => {
    const { testSnabb } = fakeVita();
    const r = await vitesse(['bench', 'softbench', '--vita', testSnabb, '--queues', '2', '--packets', '1000']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--vita: one queue only/);
  });
});
