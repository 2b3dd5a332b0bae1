// Two gateways on real kernel interfaces, for each packet driver:
//
//   hostA ── gwA ══ net ══ gwB ── hostB      (controlplane/demo/two-sites.ts)
//
// The hosts are ordinary Linux network stacks: their ping, traceroute, TCP
// and UDP go through the tunnel, and the kernel's own reaction to our ICMP
// (the path MTU it caches) is what is checked. Gateways run in this process
// except in the last test, which runs gateway B as `vitesse run` child
// processes, kills one with SIGKILL and starts another.
//
// The gateways' slow path (ARP, ND, ICMP, key exchange) is served from this
// process's event loop, so nothing here may block it while they run: every
// command goes through Lab.execAsync or a spawned child.
//
// Settings: sa-ttl 4 s and negotiation-ttl 2 s, so SAs roll over every 2 s or
// so during every test (each must lose nothing to it), and a tunnel MTU of
// 1400, not the default, so the MTU in our ICMP is visibly the configured one.
// Needs root, ip, ping, traceroute, ethtool, and the compiled CLI (dist/, for
// `vitesse run`); skipped with the reason otherwise.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../controlplane/config/index.js';
import { tcpTransfer, waitForTunnel } from '../controlplane/demo/demo.js';
import { spawnGateway, vitesseBin, type GatewayProcess } from '../controlplane/demo/gateway-process.js';
import { ADDR, buildTwoSites, type Driver, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import { Gateway } from '../controlplane/gateway.js';
import { missing } from './support/requires.js';
import { udpReceiver as streamReceiver, udpSender as streamSender } from './support/udp-stream.js';

const MTU = 1400;
const SA_TTL = 4;
const NEGOTIATION_TTL = 2;
const STREAM_SECONDS = 30;
const STREAM_PPS = 500; // per stream; four streams

const why = missing('root', 'ip', 'ping', 'traceroute', 'ethtool', 'cli');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(why).each(['af-packet', 'af-xdp'] as Driver[])(`two sites over %s${why ? ` [skipped: ${why}]` : ''}`, (driver) => {
  let lab: TwoSiteLab;
  let gwA: Gateway;
  let gwB: Gateway | null = null;
  let dir: string;
  const logger = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });

  const exec = (ns: string, argv: string[]) => lab.lab.execAsync(ns, argv);
  // ping's output whether it succeeded or not (it exits 1 when a reply is missing).
  const ping = async (ns: string, args: string[]) => {
    try {
      return await exec(ns, ['ping', ...args]);
    } catch (e) {
      return (e as { stdout?: string }).stdout ?? '';
    }
  };
  // Three echoes a third of a second apart: true if any is answered.
  const roundTrip = async (ns: string, dst: string) => /[1-3] received/.test(await ping(ns, ['-c', '3', '-i', '0.3', '-W', '2', dst]));

  const start = (name: 'gwA' | 'gwB', config: object, ns: string) => {
    const link = (device: string) => ({ driver, ifname: device, netns: ns });
    const gw = new Gateway(parseConfig(config), { logger: logger.child({ gw: name }), links: { private: link('private'), public: link('public') } });
    gw.start();
    return gw;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-realif-'));
    lab = buildTwoSites({ driver, mtu: MTU, saTtl: SA_TTL, negotiationTtl: NEGOTIATION_TTL, prefix: 'vrealif' });
    gwA = start('gwA', lab.configA, lab.ns.gwA);
    gwB = start('gwB', lab.configB, lab.ns.gwB);
    await waitForTunnel(lab, performance.now());
  });

  afterAll(() => {
    gwA?.close();
    gwB?.close();
    lab?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ping goes both ways, over IPv4 and IPv6', async () => {
    const runs = await Promise.all([
      ping(lab.ns.hostA, ['-c', '5', '-i', '0.2', '-W', '2', ADDR.hostB]),
      ping(lab.ns.hostB, ['-c', '5', '-i', '0.2', '-W', '2', ADDR.hostA]),
      ping(lab.ns.hostA, ['-c', '5', '-i', '0.2', '-W', '2', ADDR.hostB6]),
      ping(lab.ns.hostB, ['-c', '5', '-i', '0.2', '-W', '2', ADDR.hostA6]),
    ]);
    for (const out of runs) expect(out).toMatch(/5 packets transmitted, 5 received/);
  });

  it('traceroute sees the tunnel as two hops (IPv4 and IPv6)', async () => {
    const hops = async (args: string[]) =>
      (await exec(lab.ns.hostA, ['traceroute', '-n', '-q', '1', '-w', '2', '-m', '6', ...args]))
        .split('\n').slice(1).filter((l) => l.trim()).map((l) => l.trim().split(/\s+/)[1]);
    const [v4, v6] = await Promise.all([hops([ADDR.hostB]), hops(['-6', ADDR.hostB6])]);
    // Each gateway decrements the TTL and answers for it from its private
    // address; the public network between them is inside the tunnel.
    expect(v4).toEqual([ADDR.gwAPrivate, ADDR.gwBPrivate, ADDR.hostB]);
    expect(v6).toEqual([ADDR.gwAPrivate6, ADDR.gwBPrivate6, ADDR.hostB6]);
  });

  it('a packet over the tunnel MTU gets fragmentation-needed / packet-too-big with the MTU, and the sender learns it', async () => {
    // Exactly the MTU passes with DF set; one byte more does not.
    expect(await ping(lab.ns.hostA, ['-c', '1', '-W', '2', '-M', 'do', '-s', String(MTU - 28), ADDR.hostB])).toMatch(/1 received/);
    expect(await ping(lab.ns.hostA, ['-c', '1', '-W', '2', '-s', String(MTU - 48), ADDR.hostB6])).toMatch(/1 received/);
    const v4 = await ping(lab.ns.hostA, ['-c', '2', '-i', '0.3', '-W', '1', '-M', 'do', '-s', String(MTU - 28 + 1), ADDR.hostB]);
    const v6 = await ping(lab.ns.hostA, ['-c', '2', '-i', '0.3', '-W', '1', '-s', String(MTU - 48 + 1), ADDR.hostB6]);
    expect(v4).toMatch(new RegExp(`mtu ?[=:] ?${MTU}\\b`));
    expect(v6).toMatch(new RegExp(`mtu ?[=:] ?${MTU}\\b`));
    // The kernel accepted our ICMP (it checks that it quotes a packet it
    // sent) and caches the path MTU for hostB.
    expect(await exec(lab.ns.hostA, ['ip', 'route', 'get', ADDR.hostB])).toMatch(new RegExp(`mtu ${MTU}\\b`));
    expect(await exec(lab.ns.hostA, ['ip', '-6', 'route', 'get', ADDR.hostB6])).toMatch(new RegExp(`mtu ${MTU}\\b`));
  });

  it('a TCP transfer arrives with the SHA-256 it was sent with', async () => {
    const tcp = await tcpTransfer(lab, 32);
    expect(tcp.sha256Match).toBe(true);
  });

  it(`a numbered UDP stream across rekeys (sa-ttl ${SA_TTL} s, ${STREAM_SECONDS} s) loses nothing`, async () => {
    const routes = ['site-b', 'site-b-v6'];
    const outboundSpis = new Map(routes.map((r) => [r, new Set<number>()]));
    const negotiatedBefore = gwA.keymanager!.counters.keypairs_negotiated + gwB!.keymanager!.counters.keypairs_negotiated;
    const receivers = [udpReceiver(lab.ns.hostA), udpReceiver(lab.ns.hostB)];
    await Promise.all(receivers.map((r) => r.ready));
    const senders = [udpSender(lab.ns.hostA, ADDR.hostB, ADDR.hostB6), udpSender(lab.ns.hostB, ADDR.hostA, ADDR.hostA6)];
    const sampler = setInterval(() => {
      for (const s of gwA.sas()) if (s.direction === 'outbound') outboundSpis.get(s.route)?.add(s.spi);
    }, 200);
    let sent: { v4: number; v6: number }[];
    try {
      sent = await Promise.all(senders.map((s) => s.done));
      await sleep(1000);
    } finally {
      clearInterval(sampler);
    }
    const got = await Promise.all(receivers.map((r) => r.stop()));
    // hostA's receiver got hostB's streams and the other way round.
    const pairs = [[sent[1], got[0], 'hostB → hostA'], [sent[0], got[1], 'hostA → hostB']] as const;
    for (const [s, g, what] of pairs) {
      for (const family of ['v4', 'v6'] as const) {
        const r = g[family];
        expect(s[family], `${what} ${family}: sent`).toBeGreaterThan(STREAM_SECONDS * STREAM_PPS * 0.5);
        expect({ what, family, lost: s[family] - r.distinct, firstMissing: r.firstMissing, duplicates: r.duplicates, beyond: r.beyond })
          .toEqual({ what, family, lost: 0, firstMissing: [], duplicates: 0, beyond: 0 });
      }
    }
    // The SAs did roll over, many times, in both routes and both gateways.
    for (const r of routes) expect(outboundSpis.get(r)!.size, `outbound SAs of ${r} seen at gwA`).toBeGreaterThanOrEqual(STREAM_SECONDS / SA_TTL);
    const negotiated = gwA.keymanager!.counters.keypairs_negotiated + gwB!.keymanager!.counters.keypairs_negotiated - negotiatedBefore;
    expect(negotiated).toBeGreaterThanOrEqual((2 * STREAM_SECONDS) / SA_TTL);
  });

  it('gateway B killed with SIGKILL and restarted (vitesse run): traffic from it and to it within negotiation-ttl + 1 s', async () => {
    // Long-lived SAs now: gwA keeps the ones it had with the killed gateway,
    // so traffic can only resume through a new negotiation, not because the
    // stale SAs happened to expire.
    const longLived = (c: object) => {
      const copy = structuredClone(c) as Record<string, Record<string, unknown>>;
      copy['vitesse-gateway:gateway']['sa-ttl'] = 600;
      return copy;
    };
    gwA.apply(parseConfig(longLived(lab.configA)));
    const file = path.join(dir, 'gwB.json');
    fs.writeFileSync(file, JSON.stringify(longLived(lab.configB)));
    gwB!.close();
    gwB = null;

    // One-way probes, 50 per second each way, so each direction's return is seen on its own.
    const beats = { atA: heartbeat(lab.ns.hostA, ADDR.hostB), atB: heartbeat(lab.ns.hostB, ADDR.hostA) };
    const first = spawnGateway(lab.lab, lab.ns.gwB, file, 'gwB');
    let second: GatewayProcess | undefined;
    try {
      await first.started;
      await until(async () => beats.atA.arrivals.length > 0 && beats.atB.arrivals.length > 0, 15_000, 'traffic both ways through the first `vitesse run` of gwB');

      first.child.kill('SIGKILL');
      await first.exited;
      const killed = Date.now();
      await sleep(500);
      const restartAt = Date.now();
      second = spawnGateway(lab.lab, lab.ns.gwB, file, 'gwB');
      await second.started;
      const started = Date.parse(second.log.find((l) => l.msg === 'gateway started')!.time!); // the child's clock (ISO 8601)
      // Nothing crossed while gwB was dead (frames in flight aside).
      for (const b of Object.values(beats)) expect(b.arrivals.filter((t) => t > killed + 100 && t < started)).toEqual([]);
      await until(async () => beats.atA.arrivals.some((t) => t > started) && beats.atB.arrivals.some((t) => t > started), 15_000, 'traffic both ways through the restarted gwB');
      const resumed = (b: { arrivals: number[] }) => b.arrivals.find((t) => t > started)! - started;
      const bToA = resumed(beats.atA), aToB = resumed(beats.atB);
      console.info(`realif ${driver}: after gwB's restart (${started - restartAt} ms to start), traffic B→A resumed after ${bToA} ms, A→B after ${aToB} ms`);
      // How soon is measured and printed, not judged (a loaded machine
      // stretches it): that traffic towards the restarted gateway resumes by
      // activation on proof, not after the activation delay, is asserted
      // deterministically in tunnel.test.ts.
      // Round trips, both address families. The IPv6 route is an exchange of
      // its own: until a packet from B proves its new SAs to A, A answers on
      // the stale one, so the first echo may go unanswered.
      expect(await roundTrip(lab.ns.hostA, ADDR.hostB)).toBe(true);
      expect(await roundTrip(lab.ns.hostB, ADDR.hostA6)).toBe(true);
    } finally {
      for (const b of Object.values(beats)) b.child.kill('SIGKILL');
      for (const p of [first, second]) {
        if (!p || p.child.exitCode !== null || p.child.signalCode !== null) continue;
        p.child.kill('SIGTERM');
        await Promise.race([p.exited, sleep(5000)]);
      }
    }
  });

  // Sends a UDP datagram to `peer` every 20 ms and records (Date.now()) when
  // the peer's arrive.
  function heartbeat(ns: string, peer: string) {
    const script = `
      const s = require('dgram').createSocket('udp4');
      s.on('error', () => {}); // a send refused while the path is down is a lost beat, nothing more
      s.on('message', () => process.stdout.write(Date.now() + '\\n'));
      s.bind(7778, () => setInterval(() => s.send(Buffer.alloc(32), 7778, '${peer}'), 20));`;
    const child = lab.lab.spawn(ns, [process.execPath, '-e', script]);
    const arrivals: number[] = [];
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l) arrivals.push(Number(l));
    });
    return { child, arrivals };
  }

  // Two numbered UDP streams (IPv4 and IPv6), STREAM_PPS each, for STREAM_SECONDS (test/support/udp-stream.ts).
  const udpSender = (ns: string, dst4: string, dst6: string) => streamSender(lab.lab, ns, dst4, dst6, STREAM_PPS, STREAM_SECONDS);
  const udpReceiver = (ns: string) => streamReceiver(lab.lab, ns);
});

async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await cond()) return;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}
