// Issue 10 items 6 and 8 on real interfaces: a third host on gateway A's
// public segment, with the public side over IPv4 (ARP) and over IPv6 (ND).
//
//   hostA ── gwA ── public ─┐
//                           brA (net: the real next hop) ── net ── gwB ── hostB
//   attacker ── eth0 ───────┘
//
// `net`'s side of gwA's segment becomes a bridge with a port for the
// attacker, whose namespace has no address: it speaks only through an
// af-packet link this process holds (testkit.io), so every frame it sends is
// exactly the forged one. The gateways run in this process (their slow path
// is served from the event loop: the attacker's link is polled without
// blocking, commands run with execAsync).
//
// - One forged frame claiming the next hop's address for the attacker's MAC
//   (IPv4: an ARP reply to gwA, a gratuitous ARP request, a gratuitous ARP
//   reply; IPv6: an unsolicited NA with the override flag to all nodes, an NA
//   with the solicited and override flags to gwA that nobody asked for):
//   pings keep crossing the tunnel, no ESP frame reaches the attacker's MAC,
//   `unsolicited-claims` grows by one; the same while the attacker also
//   answers every request for the next hop.
// - A genuine change: the next hop's MAC changes and its kernel announces it
//   (arp_notify / ndisc_notify): gwA follows after one broadcast (multicast)
//   request (`mac-changes`).
// - A 3000/s echo flood from the attacker at gwA's public address (IPv4):
//   pings from hostA to gwA's private address and from the next hop to its
//   public address are all answered.
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../controlplane/config/index.js';
import { waitForTunnel } from '../controlplane/demo/demo.js';
import { ADDR, buildTwoSites, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import { Gateway } from '../controlplane/gateway.js';
import * as testkit from '../controlplane/testkit.js';
import { gatewayState } from '../controlplane/state.js';
import { describeNeeding } from './support/requires.js';
import { arpPacket, eth, icmp4Packet, macText, multicastMac6, naPacket, v4, v6 } from './support/slowpath-frames.js';

const ROUTER_MAC = '02:00:00:00:fe:01';
const MOVED_MAC = '02:00:00:00:fe:02';
const ATTACKER_IP = '192.0.2.66';
const BROADCAST = 'ff:ff:ff:ff:ff:ff';
const ARP = 0x0806;
const IPV4 = 0x0800;
const IPV6 = 0x86dd;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Link = ReturnType<typeof testkit.io.open>;

for (const outer of [4, 6] as const) {
  const nextHop = outer === 4 ? ADDR.netA : ADDR.netA6;
  const gwAPublic = outer === 4 ? ADDR.gwAPublic : ADDR.gwAPublic6;

  describeNeeding(['root', 'ip', 'ping'], `a hostile host on the public segment, public side over IPv${outer} (real interfaces, af-packet)`, () => {
    let lab: TwoSiteLab;
    let gwA: Gateway | undefined;
    let gwB: Gateway | undefined;
    let attacker: Link | undefined;
    let attackerMac = '';
    let gwAPublicMac = '';
    let poll: ReturnType<typeof setInterval> | undefined;
    // What the attacker's link received, counted as it is polled.
    const seen = { espToAttacker: 0, echoRepliesToAttacker: 0 };
    let answerRequests = false;
    const logger = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });

    const ping = async (ns: string, args: string[]) => {
      try {
        return await lab.lab.execAsync(ns, ['ping', ...args]);
      } catch (e) {
        return (e as { stdout?: string }).stdout ?? ''; // ping exits 1 when a reply is missing
      }
    };
    const received = (out: string) => Number(/(\d+) received/.exec(out)?.[1] ?? -1);
    const publicNextHop = () => (gatewayState(gwA!)['public-next-hop'] as { 'next-hop': Record<string, string | boolean> })['next-hop'];
    const requestsSent = () => (outer === 4 ? gwA!.slowpath.counters().arp.requestsSent : gwA!.slowpath.counters().nd.solicitationsSent);
    const send = (frames: Buffer[]) => expect(attacker!.send(frames)).toBe(frames.length);

    const start = (name: string, config: object, ns: string) => {
      const link = (device: string) => ({ driver: 'af-packet' as const, ifname: device, netns: ns });
      const gw = new Gateway(parseConfig(config), { logger: logger.child({ gw: name }), links: { private: link('private'), public: link('public') } });
      gw.start();
      return gw;
    };

    // The forger's answer to gwA's request for the next hop in `f`, or null if `f` is none.
    const forgedAnswer = (f: Buffer): Buffer | null => {
      const requester = macText(f.subarray(6, 12));
      if (outer === 4) {
        if (f.readUInt16BE(12) !== ARP || f.readUInt16BE(20) !== 1 || !f.subarray(38, 42).equals(v4(nextHop))) return null;
        const from = Array.from(f.subarray(28, 32)).join('.');
        return eth(requester, attackerMac, ARP, arpPacket(2, attackerMac, nextHop, requester, from));
      }
      if (f.readUInt16BE(12) !== IPV6 || f[14 + 6] !== 58 || f[14 + 40] !== 135 || !f.subarray(14 + 48, 14 + 64).equals(v6(nextHop))) return null;
      return eth(requester, attackerMac, IPV6, naPacket(nextHop, gwAPublic, nextHop, { r: true, s: true, o: true }, attackerMac));
    };

    beforeAll(async () => {
      lab = buildTwoSites({ driver: 'af-packet', prefix: 'vhostile', outer });
      const { lab: L, ns } = lab;
      const cidr = outer === 4 ? `${ADDR.netA}/24` : `${ADDR.netA6}/64`;
      // gwA's segment becomes a bridge in `net` with a second port, the attacker's.
      L.exec(ns.net, ['ip', 'addr', 'del', cidr, 'dev', 'siteA']);
      L.exec(ns.net, ['ip', 'link', 'add', 'brA', 'address', ROUTER_MAC, 'type', 'bridge']);
      L.exec(ns.net, ['ip', 'link', 'set', 'siteA', 'master', 'brA']);
      const atk = L.namespace('attacker', { ipv6: false });
      attackerMac = L.veth(atk, 'eth0', ns.net, 'atkA').macA;
      L.exec(ns.net, ['ip', 'link', 'set', 'atkA', 'master', 'brA']);
      // The next hop announces a new MAC, as a replaced router would.
      L.exec(ns.net, ['sysctl', '-qw', outer === 4 ? 'net.ipv4.conf.brA.arp_notify=1' : 'net.ipv6.conf.brA.ndisc_notify=1']);
      L.exec(ns.net, ['ip', 'link', 'set', 'brA', 'up']);
      L.address(ns.net, 'brA', cidr);
      gwAPublicMac = (lab.configA as any)['vitesse-gateway:gateway']['public-interface'].mac;

      gwA = start('gwA', lab.configA, ns.gwA);
      gwB = start('gwB', lab.configB, ns.gwB);
      await waitForTunnel(lab, performance.now());
      attacker = testkit.io.open({ driver: 'af-packet', ifname: 'eth0', netns: atk });
      poll = setInterval(() => {
        for (const f of attacker!.receive(64, 0)) {
          const toMe = macText(f.subarray(0, 6)) === attackerMac;
          const type = f.readUInt16BE(12);
          const protocol = type === IPV4 ? f[14 + 9] : type === IPV6 ? f[14 + 6] : -1;
          if (toMe && protocol === 50) seen.espToAttacker++;
          if (toMe && type === IPV4 && protocol === 1 && f[14 + 20] === 0) seen.echoRepliesToAttacker++;
          const answer = answerRequests ? forgedAnswer(f) : null;
          if (answer) attacker!.send([answer]);
        }
      }, 2);
    });

    afterAll(() => {
      if (poll) clearInterval(poll);
      attacker?.close();
      gwA?.close();
      gwB?.close();
      lab?.cleanup();
    });

    it('the tunnel uses the real next hop to begin with', () => {
      expect(publicNextHop()).toMatchObject({ address: nextHop, mac: ROUTER_MAC, 'unsolicited-claims': '0', 'mac-changes': '0' });
    });

    const FORGED: Record<string, () => Buffer> =
      outer === 4
        ? {
            'an ARP reply to gwA': () => eth(gwAPublicMac, attackerMac, ARP, arpPacket(2, attackerMac, nextHop, gwAPublicMac, gwAPublic)),
            'a gratuitous ARP request': () => eth(BROADCAST, attackerMac, ARP, arpPacket(1, attackerMac, nextHop, '00:00:00:00:00:00', nextHop)),
            'a gratuitous ARP reply': () => eth(BROADCAST, attackerMac, ARP, arpPacket(2, attackerMac, nextHop, BROADCAST, nextHop)),
          }
        : {
            'unsolicited NA with the override flag': () =>
              eth(multicastMac6('ff02::1'), attackerMac, IPV6, naPacket(nextHop, 'ff02::1', nextHop, { r: true, o: true }, attackerMac)),
            'NA with the solicited and override flags that nobody asked for': () =>
              eth(gwAPublicMac, attackerMac, IPV6, naPacket(nextHop, gwAPublic, nextHop, { r: true, s: true, o: true }, attackerMac)),
          };

    for (const answering of [false, true]) {
      for (const [what, frame] of Object.entries(FORGED)) {
        it(`one forged ${what}${answering ? ', the forger answering every request too,' : ''} does not redirect the tunnel`, async () => {
          answerRequests = answering;
          try {
            const claims = Number(publicNextHop()['unsolicited-claims']);
            const esp = seen.espToAttacker;
            send([frame()]);
            const out = await ping(lab.ns.hostA, ['-c', '20', '-i', '0.1', '-W', '2', ADDR.hostB]);
            expect(received(out)).toBe(20);
            expect(seen.espToAttacker - esp).toBe(0);
            expect(publicNextHop()).toMatchObject({ mac: ROUTER_MAC, 'mac-changes': '0' });
            // The claim, and when the forger answers our request, its answer too.
            expect(Number(publicNextHop()['unsolicited-claims']) - claims).toBe(answering ? 2 : 1);
          } finally {
            answerRequests = false;
          }
        });
      }
    }

    if (outer === 4) {
      it('a 3000/s echo flood from the attacker at the public address: private-side pings and other public sources are all answered', async () => {
        const flood = eth(gwAPublicMac, attackerMac, IPV4, icmp4Packet(ATTACKER_IP, gwAPublic, 8, 0, (0x77 << 16) | 1, Buffer.alloc(56)));
        let sent = 0;
        const t0 = performance.now();
        const timer = setInterval(() => {
          // 3000/s whatever the timer's jitter: catch up to the time elapsed.
          const due = Math.floor(((performance.now() - t0) / 1000) * 3000) - sent;
          if (due > 0) {
            const n = Math.min(due, 300);
            send(Array(n).fill(flood));
            sent += n;
          }
        }, 5);
        const replies0 = seen.echoRepliesToAttacker;
        let privateOut = '', publicOut = '';
        try {
          await sleep(500);
          [privateOut, publicOut] = await Promise.all([
            ping(lab.ns.hostA, ['-c', '30', '-i', '0.1', '-W', '2', ADDR.gwAPrivate]),
            ping(lab.ns.net, ['-c', '30', '-i', '0.1', '-W', '2', gwAPublic]),
          ]);
        } finally {
          clearInterval(timer);
        }
        const seconds = (performance.now() - t0) / 1000;
        const floodReplies = seen.echoRepliesToAttacker - replies0;
        console.log(`flood: ${sent} echo requests in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s), ${floodReplies} answered; private ${received(privateOut)}/30, public ${received(publicOut)}/30`);
        expect(sent / seconds).toBeGreaterThan(2000); // the flood really was one
        expect(received(privateOut)).toBe(30);
        expect(received(publicOut)).toBe(30);
        expect(floodReplies).toBeGreaterThan(0);
        expect(floodReplies).toBeLessThanOrEqual(100 * seconds + 50); // the attacker's per-source share
      });
    }

    it('a genuine change of the next hop\'s MAC, announced by its kernel, is followed after one request', async () => {
      const requests = requestsSent();
      lab.lab.exec(lab.ns.net, ['ip', 'link', 'set', 'brA', 'address', MOVED_MAC]);
      for (let i = 0; i < 100 && publicNextHop().mac !== MOVED_MAC; i++) await sleep(100);
      expect(publicNextHop()).toMatchObject({ mac: MOVED_MAC, 'mac-changes': '1' });
      expect(requestsSent() - requests).toBe(1);
      const out = await ping(lab.ns.hostA, ['-c', '10', '-i', '0.1', '-W', '2', ADDR.hostB]);
      expect(received(out)).toBe(10);
    });
  });
}
