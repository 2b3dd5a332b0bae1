// ESP in UDP coalesced into UDP GSO super-frames on the public side, against
// the kernel:
//
//   hostA ── gwA ══ net ══ gwB ── hostB      (controlplane/demo/two-sites.ts)
//
// Over IPv4 and over IPv6 on the public side (IPv6 ESP in UDP carries a UDP
// checksum, IPv4's is 0). Both routes force NAT traversal (ESP in UDP, RFC 3948), the public veth
// pairs keep the kernel's transmit offloads (tx-udp-segmentation on), and
// both gateways run af-packet. gwA seals hostA's TCP segments and sends each
// run of consecutive datagrams to gwB as one GSO_UDP_L4 super-frame
// (io/udp_gso_coalesce.h); the kernel carries it as one skb through net's IP
// forwarding to gwB, whose packet socket reads it with its virtio-net header
// and cuts it into the datagrams (io/gso.h). The transfer must arrive with its
// SHA-256; net must have received one skb per super-frame (fewer than gwA's
// frames, by exactly what gwA merged); gwB must have cut UDP super-frames and
// decrypted exactly the ESP packets gwA sealed, with no UDP length or checksum
// drops. Then with coalescing off (txGso: false), and with tx-udp-segmentation
// off on gwA's public interface, nothing is coalesced and the transfer still
// arrives intact.
// Needs root, ip and ethtool; skipped with the reason otherwise.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpTransfer } from '../controlplane/demo/demo.js';
import { ADDR, buildTwoSites, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import type { Gateway } from '../controlplane/gateway.js';
import { missing } from './support/requires.js';
import { startAfPacketGateways } from './support/two-site-gateways.js';

const why = missing('root', 'ip', 'ethtool');

type Counters = Record<string, number>;

for (const outer of [4, 6] as const) describe.skipIf(why)(`af-packet gateways coalescing ESP in UDP over IPv${outer} into UDP GSO super-frames${why ? ` [skipped: ${why}]` : ''}`, () => {
  let lab: TwoSiteLab;
  let gateways: Gateway[] = [];
  const logger = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });

  async function start(extra: { txGso?: boolean } = {}): Promise<void> {
    for (const g of gateways) g.close();
    gateways = [];  // closed: not closed again by afterAll if the start below fails
    gateways = await startAfPacketGateways(lab, logger, extra);
  }

  const delta = (after: Counters, before: Counters, name: string) => after[name] - before[name];

  /** Transfers `mb` MB hostA → hostB; the counters of both gateways and net's interfaces around it. */
  async function transfer(mb: number, to: string = ADDR.hostB) {
    const [a0, b0] = gateways.map((g) => g.dataplane.counters() as unknown as Counters);
    const siteA0 = lab.lab.stats(lab.ns.net, 'siteA'), siteB0 = lab.lab.stats(lab.ns.net, 'siteB');
    const tcp = await tcpTransfer(lab, mb, to);
    // The last ACKs and ESP packets in flight settle.
    await new Promise((r) => setTimeout(r, 300));
    const [a1, b1] = gateways.map((g) => g.dataplane.counters() as unknown as Counters);
    const siteA1 = lab.lab.stats(lab.ns.net, 'siteA'), siteB1 = lab.lab.stats(lab.ns.net, 'siteB');
    return {
      tcp,
      a: (n: string) => delta(a1, a0, n),
      b: (n: string) => delta(b1, b0, n),
      netRx: siteA1.rxPackets - siteA0.rxPackets,
      netRxDropped: siteA1.rxDropped - siteA0.rxDropped,
      netTx: siteB1.txPackets - siteB0.txPackets,
    };
  }

  beforeAll(async () => {
    // Over IPv6 the outer header is 20 bytes longer: a tunnel MTU that fits 1500-byte frames.
    lab = buildTwoSites({ driver: 'af-packet', natTraversal: 'force', publicOffloads: true, outer, ...(outer === 6 ? { mtu: 1400 } : {}), prefix: `vugs${outer}` });
    await start();
  });

  afterAll(() => {
    for (const g of gateways) g.close();
    lab?.cleanup();
  });

  it('the public veths take UDP segmentation (the premise of coalescing)', () => {
    expect(lab.lab.exec(lab.ns.gwA, ['ethtool', '-k', 'public'])).toMatch(/tx-udp-segmentation: on/);
    expect(lab.lab.exec(lab.ns.net, ['ethtool', '-k', 'siteB'])).toMatch(/tx-udp-segmentation: on/);
  });

  for (const [family, to] of outer === 4 ? ([['IPv4', ADDR.hostB], ['IPv6', ADDR.hostB6]] as const) : ([['IPv4', ADDR.hostB]] as const)) {
    it(`${family} inside: the transfer arrives intact, net forwards gwA's super-frames as one skb each, gwB decrypts every datagram`, async () => {
      const t = await transfer(32, to);
      expect(t.tcp.sha256Match).toBe(true);
      const sent = t.a('public_tx_packets');
      const supers = t.a('public_tx_gso_frames');
      const merged = t.a('public_tx_gso_segments');
      expect(sent).toBeGreaterThan((32 * 1024 * 1024) / 1500);
      expect(supers).toBeGreaterThan(0);
      expect(merged).toBeGreaterThanOrEqual(2 * supers);
      // net's end of gwA's veth counts one packet per skb.
      expect(t.netRxDropped).toBe(0);
      expect(t.netRx).toBe(sent - merged + supers);
      expect(t.netTx).toBeLessThan(sent);
      // gwB read UDP super-frames, cut them and decrypted every datagram gwA sealed.
      expect(t.b('public_rx_gso_frames')).toBeGreaterThan(0);
      expect(t.b('public_rx_gso_unsupported')).toBe(0);
      expect(t.b('public_rx_kernel_drops')).toBe(0);
      expect(t.b('decapsulated_packets')).toBe(t.a('encapsulated_packets'));
      for (const reason of ['public_drop_udp_length', 'public_drop_udp_checksum', 'public_drop_authentication', 'public_drop_replay', 'public_drop_truncated', 'public_drop_bad_header']) {
        expect(t.b(reason), reason).toBe(0);
      }
    });
  }

  /** An 8 MB transfer that arrives intact, every datagram sent and decrypted on its own. */
  async function expectUncoalesced(): Promise<void> {
    const t = await transfer(8);
    expect(t.tcp.sha256Match).toBe(true);
    expect(t.a('public_tx_packets')).toBeGreaterThan((8 * 1024 * 1024) / 1500);
    expect(t.a('public_tx_gso_frames')).toBe(0);
    expect(t.a('public_tx_gso_segments')).toBe(0);
    expect(t.b('public_rx_gso_frames')).toBe(0);
    expect(t.b('decapsulated_packets')).toBe(t.a('encapsulated_packets'));
  }

  it('with coalescing off (txGso: false), nothing is coalesced, and the transfer still arrives intact', async () => {
    await start({ txGso: false });
    await expectUncoalesced();
  });

  it('without tx-udp-segmentation on gwA\'s public interface nothing is coalesced, and the transfer still arrives intact', async () => {
    lab.lab.exec(lab.ns.gwA, ['ethtool', '-K', 'public', 'tx-udp-segmentation', 'off']);
    expect(lab.lab.exec(lab.ns.gwA, ['ethtool', '-k', 'public'])).toMatch(/tx-udp-segmentation: off/);
    await start();
    await expectUncoalesced();
  });
});
