// The data plane's counter table (dataplane/pipeline/counters.h) is the one
// declaration of every counter and drop reason: the TypeScript names, the
// YANG model's leaves and their descriptions, and the per-SA counters agree
// with it; a name not in it is an error, never 0; the drivers' counters are
// read through it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COUNTER_NAMES, COUNTER_TABLE, counterAt, counterEntry, counterSum, counterValue } from '../controlplane/counter-table.js';
import { Dataplane } from '../controlplane/dataplane.js';
import { FIRST_QUEUE } from '../controlplane/exchange/types.js';
import { formatPcap } from './support/pcap.js';
import { yangLeaves } from './support/yang-leaves.js';
import { repoRoot } from './support/systemd-unit.js';

const state = yangLeaves(path.join(repoRoot, 'yang', 'vitesse-gateway.yang'), 'gateway-state');

describe('the counter table', () => {
  it('controlplane/counter-names.ts is current (node tools/counter-names.mjs writes it)', () => {
    // COUNTER_TABLE is the addon's table (counter-table.ts, which also refuses to load on a mismatch).
    expect([...COUNTER_NAMES]).toEqual(COUNTER_TABLE.map((c) => c.name));
    expect(COUNTER_TABLE.length).toBeGreaterThan(50);
  });

  it('gives every counter one YANG leaf of its own, described by its help text', () => {
    expect(state.size).toBeGreaterThan(100); // the parser found the model's leaves
    for (const c of COUNTER_TABLE) {
      expect(state.has(c.yang), `${c.name}: ${c.yang} is not a leaf of gateway-state`).toBe(true);
      expect(state.get(c.yang), `${c.name}: the description of ${c.yang}`).toBe(c.help);
      expect(counterAt(c.yang).name).toBe(c.name);
    }
  });

  it('names every drop <side>_drop_<reason> or <side>_<reason>, and every counter with a side after it', () => {
    for (const c of COUNTER_TABLE) {
      if (c.side) expect(c.name.startsWith(`${c.side}_`), c.name).toBe(true);
      if (c.metric === 'drops') expect([`${c.side}_drop_${c.label}`, `${c.side}_${c.label}`]).toContain(c.name);
      if (c.kind === 'error') expect(c.name, 'errors are drops').toMatch(/_drop_/);
    }
  });

  it('has the drivers\' counters on both sides', () => {
    for (const side of ['private', 'public']) {
      for (const n of ['rx_oversize', 'rx_kernel_drops', 'tx_oversize', 'rx_csum_partial']) expect(counterEntry(`${side}_${n}`).kind).toBe('driver');
    }
  });

  it('names an SA\'s error counters as the interface counters they are part of', () => {
    const sa = [...state.keys()].filter((k) => k.startsWith('sa/') && k.endsWith('-errors')).map((k) => k.slice(3));
    const router = (leaf: string) => COUNTER_TABLE.filter((c) => /^(private|public)-router\//.test(c.yang) && c.yang.endsWith(`/${leaf}`));
    // protocol-errors is the deprecated sum of three of them (its name is the public router's unknown_protocol).
    expect(sa.filter((leaf) => leaf !== 'protocol-errors' && router(leaf).length !== 1)).toEqual([]);
    expect(sa).toEqual(expect.arrayContaining(['decrypt-errors', 'replay-errors', 'truncated-errors', 'trailer-errors', 'next-header-errors', 'inbound-policy-errors', 'encapsulation-errors', 'sequence-unreserved-errors']));
  });

  it('refuses a name not in the table instead of reading 0', () => {
    const dp = { ...Object.fromEntries(COUNTER_NAMES.map((n) => [n, 7])) } as Record<(typeof COUNTER_NAMES)[number], number>;
    expect(counterValue(dp, 'public_drop_replay')).toBe(7);
    expect(counterSum(dp, ['public_drop_replay', 'private_drop_no_sa'])).toBe(14);
    expect(() => counterValue(dp, 'public_drop_replays')).toThrow(/no data-plane counter is named "public_drop_replays"/);
    expect(() => counterValue(dp, 'private_drop_encap')).toThrow(/private_drop_encap/);
    expect(() => counterEntry('toString')).toThrow();
    // @ts-expect-error a misspelt name does not type-check
    expect(dp.public_drop_replays).toBeUndefined();
  });

  it('reads a driver\'s counter through the gateway: a frame too large for a buffer is rx_oversize', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-ctr-'));
    try {
      const frame = (n: number) => ({ data: Buffer.concat([Buffer.from('020000000001020000000002ffff', 'hex'), crypto.randomBytes(n)]) });
      fs.writeFileSync(path.join(dir, 'in.pcap'), formatPcap([frame(60), frame(12_000), frame(60)]));
      const dp = new Dataplane({
        private: { mac: '02:00:00:00:00:01', ipv4: '10.0.0.1', link: { driver: 'pcap', pcapIn: path.join(dir, 'in.pcap') } },
        public: { mac: '02:00:00:00:01:01', addresses: ['192.0.2.1'], link: { driver: 'pcap' } },
      });
      try {
        for (let idle = 0; idle < 3;) idle = dp.pollOnce() === 0 ? idle + 1 : 0;
        const c = dp.counters();
        expect(c.private_rx_oversize).toBe(1);
        expect(dp.counters(FIRST_QUEUE).private_rx_oversize).toBe(1);
        expect(c.private_rx_packets).toBe(2);
        expect(c.private_drop_unknown_ethertype).toBe(2);
        expect(c.public_rx_oversize + c.private_rx_kernel_drops + c.private_tx_oversize).toBe(0);
      } finally {
        dp.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
