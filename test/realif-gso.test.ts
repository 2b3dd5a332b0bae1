// Hosts with their default offloads, through af-packet gateways:
//
//   hostA ── gwA ══ net ══ gwB ── hostB      (controlplane/demo/two-sites.ts)
//
// The hosts' veth ends keep TSO, GSO and checksum offload on, so hostA's TCP
// stack hands gwA 64 KB super-frames with checksums left to "hardware", as a
// new operator's hosts do. af-packet reads them with their virtio-net header
// and cuts them into wire-sized frames before encryption (io/gso.h): the
// transfer arrives intact, the gateway counts the super-frames it cut and
// drops none. Before, every super-frame was an rx_oversize drop and TCP
// crawled (issue 15).
// Needs root, ip and ethtool; skipped with the reason otherwise.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpTransfer } from '../controlplane/demo/demo.js';
import { buildTwoSites, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import type { Gateway } from '../controlplane/gateway.js';
import { missing } from './support/requires.js';
import { startAfPacketGateways } from './support/two-site-gateways.js';

const why = missing('root', 'ip', 'ethtool');

describe.skipIf(why)(`af-packet gateways, hosts with offloads on${why ? ` [skipped: ${why}]` : ''}`, () => {
  let lab: TwoSiteLab;
  let gateways: Gateway[] = [];
  const logger = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });

  beforeAll(async () => {
    lab = buildTwoSites({ driver: 'af-packet', hostOffloads: true, prefix: 'vgso' });
    gateways = await startAfPacketGateways(lab, logger);
  });

  afterAll(() => {
    for (const g of gateways) g.close();
    lab?.cleanup();
  });

  it('the hosts really segment in "hardware" (the premise of this test)', () => {
    const features = lab.lab.exec(lab.ns.hostA, ['ethtool', '-k', 'eth0']);
    expect(features).toMatch(/tcp-segmentation-offload: on/);
    expect(features).toMatch(/tx-checksumming: on/);
  });

  it('a TCP transfer arrives with the SHA-256 it was sent with, its super-frames cut by the driver, none dropped', async () => {
    const [gwA, gwB] = gateways;
    const before = gwA.dataplane.counters();
    const tcp = await tcpTransfer(lab, 32);
    expect(tcp.sha256Match).toBe(true);
    const a = gwA.dataplane.counters(), b = gwB.dataplane.counters();
    // hostA's data reached gwA as super-frames; gwB sent hostB wire-sized frames.
    expect(a.private_rx_gso_frames - before.private_rx_gso_frames).toBeGreaterThan(0);
    expect(a.private_rx_packets - before.private_rx_packets).toBeGreaterThan(32 * 1024 * 1024 / 1500);
    for (const c of [a, b]) {
      expect(c.private_rx_gso_unsupported + c.public_rx_gso_unsupported).toBe(0);
      expect(c.private_rx_oversize + c.public_rx_oversize).toBe(0);
      expect(c.private_tx_oversize + c.public_tx_oversize).toBe(0);
    }
    // The checksums hostA left to offload were completed before encryption:
    // hostB's stack accepted every segment (the SHA-256 above), and counted
    // no checksum errors.
    const snmp = lab.lab.exec(lab.ns.hostB, ['cat', '/proc/net/snmp']);
    const tcpLines = snmp.split('\n').filter((l) => l.startsWith('Tcp:'));
    const inCsumErrors = Number(tcpLines[1].split(/\s+/)[tcpLines[0].split(/\s+/).indexOf('InCsumErrors')]);
    expect(inCsumErrors).toBe(0);
  });
});
