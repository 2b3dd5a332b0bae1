// Coalescing on transmit, against the kernel: hosts with their default
// offloads, through af-packet gateways:
//
//   hostA ── gwA ══ net ══ gwB ── hostB      (controlplane/demo/two-sites.ts)
//
// gwA cuts hostA's 64 KB super-frames into wire-sized frames (io/gso.h); gwB
// decrypts them and, since its private veth takes TSO, sends hostB runs of
// consecutive segments as one super-frame each (io/gso_coalesce.h), which
// hostB's real TCP stack receives as one skb. The transfer must arrive with
// its SHA-256 over IPv4 and IPv6, hostB must have received fewer frames than
// gwB forwarded (by exactly what gwB says it merged), and hostB's stack must
// count no checksum errors. Then gwB's private interface loses TSO: gwB must
// coalesce nothing, and the transfer still arrives intact.
// Needs root, ip and ethtool; skipped with the reason otherwise.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpTransfer } from '../controlplane/demo/demo.js';
import { ADDR, buildTwoSites, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import type { Gateway } from '../controlplane/gateway.js';
import { missing } from './support/requires.js';
import { startAfPacketGateways } from './support/two-site-gateways.js';

const why = missing('root', 'ip', 'ethtool');

describe.skipIf(why)(`af-packet gateways coalescing TCP segments for hosts with offloads on${why ? ` [skipped: ${why}]` : ''}`, () => {
  let lab: TwoSiteLab;
  let gateways: Gateway[] = [];
  const logger = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });

  async function start(): Promise<void> {
    for (const g of gateways) g.close();
    gateways = [];  // closed: not closed again by afterAll if the start below fails
    gateways = await startAfPacketGateways(lab, logger);
  }

  function tcpCounter(ns: string, name: string): number {
    const lines = lab.lab.exec(ns, ['cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Tcp:'));
    return Number(lines[1].split(/\s+/)[lines[0].split(/\s+/).indexOf(name)]);
  }

  beforeAll(async () => {
    lab = buildTwoSites({ driver: 'af-packet', hostOffloads: true, prefix: 'vgco' });
    await start();
  });

  afterAll(() => {
    for (const g of gateways) g.close();
    lab?.cleanup();
  });

  it('gwB\'s private interface takes TSO (the premise of coalescing)', () => {
    expect(lab.lab.exec(lab.ns.gwB, ['ethtool', '-k', 'private'])).toMatch(/tcp-segmentation-offload: on/);
  });

  for (const [family, to] of [['IPv4', ADDR.hostB], ['IPv6', ADDR.hostB6]] as const) {
    it(`${family}: the transfer arrives intact, hostB receives the super-frames gwB coalesced`, async () => {
      const gwB = gateways[1];
      const before = gwB.dataplane.counters();
      const rxBefore = lab.lab.stats(lab.ns.hostB, 'eth0').rxPackets;
      const csumBefore = tcpCounter(lab.ns.hostB, 'InCsumErrors');
      const tcp = await tcpTransfer(lab, 32, to);
      expect(tcp.sha256Match).toBe(true);
      const after = gwB.dataplane.counters();
      const rx = lab.lab.stats(lab.ns.hostB, 'eth0').rxPackets - rxBefore;
      const sent = after.private_tx_packets - before.private_tx_packets;
      const supers = after.private_tx_gso_frames - before.private_tx_gso_frames;
      const merged = after.private_tx_gso_segments - before.private_tx_gso_segments;
      expect(sent).toBeGreaterThan((32 * 1024 * 1024) / 1500);
      expect(supers).toBeGreaterThan(0);
      expect(merged).toBeGreaterThanOrEqual(2 * supers);
      // hostB's veth counts one packet per skb: every run of `merged` frames
      // arrived as `supers` skbs.
      expect(rx).toBe(sent - merged + supers);
      expect(rx).toBeLessThan(sent);
      expect(tcpCounter(lab.ns.hostB, 'InCsumErrors')).toBe(csumBefore);
    });
  }

  it('without TSO on gwB\'s private interface nothing is coalesced, and the transfer still arrives intact', async () => {
    lab.lab.exec(lab.ns.gwB, ['ethtool', '-K', 'private', 'tso', 'off']);
    expect(lab.lab.exec(lab.ns.gwB, ['ethtool', '-k', 'private'])).toMatch(/tcp-segmentation-offload: off/);
    await start();
    const tcp = await tcpTransfer(lab, 8);
    expect(tcp.sha256Match).toBe(true);
    const b = gateways[1].dataplane.counters();
    expect(b.private_tx_packets).toBeGreaterThan((8 * 1024 * 1024) / 1500);
    expect(b.private_tx_gso_frames).toBe(0);
    expect(b.private_tx_gso_segments).toBe(0);
  });
});
