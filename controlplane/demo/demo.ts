// `vitesse demo`: the first thing a new user runs. Builds two sites in network
// namespaces (hostA — gwA — net — gwB — hostB), starts two gateways with fresh
// pre-shared keys, waits for the tunnel, pings both ways over IPv4 and IPv6,
// runs traceroute, moves data over TCP through the tunnel, prints a summary and
// removes everything it created, also when interrupted.
import { spawn } from 'node:child_process';
import pino from 'pino';
import { parseConfig } from '../config/index.js';
import { Gateway } from '../gateway.js';
import { commandMissing } from './lab.js';
import { ADDR, buildTwoSites, type Driver, type TwoSiteLab } from './two-sites.js';

export interface DemoOptions {
  driver: Driver;
  megabytes: number;
  out: (line: string) => void;
}

export interface DemoSummary {
  driver: Driver;
  tunnelUpMs: number;
  rttMs: { ipv4: number; ipv6: number };
  traceroute: string[];
  tcp: { megabytes: number; seconds: number; mbitPerSecond: number; sha256Match: boolean };
  sas: { gateway: string; route: string; direction: string; spi: number; packets: number }[];
  counters: Record<string, Record<string, number>>;
}

/** What the demo needs from this machine, or the first thing missing. */
export function demoPrerequisite(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'vitesse demo needs root: it creates network namespaces and veth pairs (ip netns, ip link) and opens raw packet sockets on them. Run it as root, e.g. sudo npx vitesse demo';
  }
  const missing = ['ip', 'ping', 'traceroute', 'ethtool'].filter(commandMissing);
  if (missing.length) {
    return `vitesse demo needs ${missing.join(', ')} (Debian: apt-get install ${missing.map((m) => ({ ip: 'iproute2', ping: 'iputils-ping', traceroute: 'traceroute', ethtool: 'ethtool' })[m]).join(' ')})`;
  }
  return undefined;
}

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const say = o.out;
  say(`building two sites in network namespaces (driver ${o.driver})…`);
  const lab = buildTwoSites({ driver: o.driver, prefix: 'vdemo' });
  const gateways: Gateway[] = [];
  const interrupted = () => {
    say('interrupted: removing the namespaces');
    for (const g of gateways) g.close();
    lab.cleanup();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const logger = pino({ level: process.env.VITESSE_DEMO_LOG ?? 'warn' });
    const t0 = performance.now();
    for (const [name, config, ns] of [['gwA', lab.configA, lab.ns.gwA], ['gwB', lab.configB, lab.ns.gwB]] as const) {
      const c = parseConfig(config);
      const link = (device: string) => ({ driver: o.driver, ifname: device, netns: ns });
      const gw = new Gateway(c, { logger: logger.child({ gw: name }), links: { private: link('private'), public: link('public') } });
      gateways.push(gw);
      gw.start();
    }
    say('gateways started; waiting for the tunnel…');
    const tunnelUpMs = await waitForTunnel(lab, t0);
    say(`tunnel up after ${Math.round(tunnelUpMs)} ms`);

    const rtt4 = await ping(lab, lab.ns.hostA, ADDR.hostB, 'hostA → hostB', say);
    await ping(lab, lab.ns.hostB, ADDR.hostA, 'hostB → hostA', say);
    const rtt6 = await ping(lab, lab.ns.hostA, ADDR.hostB6, 'hostA → hostB (IPv6)', say);
    await ping(lab, lab.ns.hostB, ADDR.hostA6, 'hostB → hostA (IPv6)', say);

    const hops = (await lab.lab.execAsync(lab.ns.hostA, ['traceroute', '-n', '-q', '1', '-w', '1', '-m', '5', ADDR.hostB]))
      .split('\n').slice(1).filter((l) => l.trim()).map((l) => l.trim());
    say(`traceroute hostA → hostB:\n    ${hops.join('\n    ')}`);

    say(`moving ${o.megabytes} MB over TCP from hostA to hostB…`);
    const tcp = await tcpTransfer(lab, o.megabytes);
    say(`  ${tcp.megabytes} MB in ${tcp.seconds.toFixed(2)} s: ${tcp.mbitPerSecond.toFixed(0)} Mbit/s, SHA-256 ${tcp.sha256Match ? 'matches at both ends' : 'DOES NOT MATCH'}`);

    const sas = gateways.flatMap((g, i) => g.sas().map((s) => ({ gateway: i ? 'gwB' : 'gwA', route: s.route, direction: s.direction, spi: s.spi, packets: s.packets })));
    const counters: DemoSummary['counters'] = {};
    gateways.forEach((g, i) => {
      const c = g.dataplane.counters();
      counters[i ? 'gwB' : 'gwA'] = Object.fromEntries(Object.entries(c).filter(([k, v]) => v > 0 && (k.includes('drop') || k.endsWith('_packets'))));
    });
    return { driver: o.driver, tunnelUpMs, rttMs: { ipv4: rtt4, ipv6: rtt6 }, traceroute: hops, tcp, sas, counters };
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    for (const g of gateways) g.close();
    lab.cleanup();
    say('removed the namespaces and interfaces the demo created');
  }
}

export async function waitForTunnel(lab: TwoSiteLab, t0: number): Promise<number> {
  for (let i = 0; i < 150; i++) {
    try {
      await lab.lab.execAsync(lab.ns.hostA, ['ping', '-c', '1', '-W', '0.2', ADDR.hostB]);
      return performance.now() - t0;
    } catch {
      // not yet
    }
  }
  throw new Error('the tunnel did not come up within 30 s (run with VITESSE_DEMO_LOG=info to see the gateways\' logs)');
}

async function ping(lab: TwoSiteLab, ns: string, dst: string, what: string, say: (l: string) => void): Promise<number> {
  let out: string;
  try {
    out = await lab.lab.execAsync(ns, ['ping', '-c', '5', '-i', '0.2', '-W', '1', dst]);
  } catch (e) {
    out = (e as { stdout?: string }).stdout ?? ''; // ping exits 1 when a reply is missing
  }
  const loss = /(\d+(?:\.\d+)?)% packet loss/.exec(out)?.[1] ?? '?';
  const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(out)?.[1] ?? NaN);
  say(`  ping ${what}: ${loss}% loss, average RTT ${avg.toFixed(2)} ms`);
  return avg;
}

// A server in hostB hashes what it receives; a client in hostA sends a
// pseudo-random stream and hashes what it sends (to hostB's IPv4 address,
// or `to`, e.g. ADDR.hostB6).
export async function tcpTransfer(lab: TwoSiteLab, megabytes: number, to: string = ADDR.hostB): Promise<DemoSummary['tcp']> {
  const server = `
    const h = require('crypto').createHash('sha256'); let n = 0;
    const s = require('net').createServer((c) => { c.on('data', (d) => { h.update(d); n += d.length; });
      c.on('end', () => { process.stdout.write(JSON.stringify({ bytes: n, sha256: h.digest('hex') })); s.close(); }); });
    s.listen(5201, '::', () => process.stdout.write('ready\\n'));`;
  const client = `
    const crypto = require('crypto'); const h = crypto.createHash('sha256');
    const total = ${megabytes} * 1024 * 1024; let sent = 0; const chunk = crypto.randomBytes(1 << 16);
    const t0 = process.hrtime.bigint();
    const c = require('net').connect(5201, '${to}', () => { (function pump() {
      while (sent < total) { const b = chunk.subarray(0, Math.min(chunk.length, total - sent)); h.update(b); sent += b.length;
        if (!c.write(b)) return c.once('drain', pump); }
      c.end(); })(); });
    c.on('error', (e) => { process.stderr.write('tcp client: ' + e.message + '\\n'); process.exit(1); });
    c.on('close', () => process.stdout.write(JSON.stringify({ bytes: sent, sha256: h.digest('hex'), seconds: Number(process.hrtime.bigint() - t0) / 1e9 })));`;
  const srv = lab.lab.spawn(lab.ns.hostB, [process.execPath, '-e', server]);
  let srvOut = '';
  srv.stdout!.on('data', (d) => (srvOut += d));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('TCP server did not start')), 10_000);
    srv.stdout!.on('data', () => { if (srvOut.includes('ready')) { clearTimeout(t); resolve(); } });
  });
  const cli = spawn('ip', ['netns', 'exec', lab.ns.hostA, process.execPath, '-e', client], { stdio: ['ignore', 'pipe', 'inherit'] });
  let cliOut = '';
  cli.stdout.on('data', (d) => (cliOut += d));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { cli.kill(); reject(new Error('TCP transfer did not finish within 300 s')); }, 300_000);
    cli.on('exit', () => { clearTimeout(t); resolve(); });
  });
  if (!cliOut) {
    srv.kill('SIGKILL');
    throw new Error('the TCP transfer through the tunnel failed (the client ended without a result)');
  }
  await new Promise<void>((resolve, reject) => {
    if (srv.exitCode !== null) return resolve();
    const t = setTimeout(() => { srv.kill('SIGKILL'); reject(new Error('the TCP server did not see the end of the stream')); }, 30_000);
    srv.on('exit', () => { clearTimeout(t); resolve(); });
  });
  const sent = JSON.parse(cliOut) as { bytes: number; sha256: string; seconds: number };
  const got = JSON.parse(srvOut.slice(srvOut.indexOf('{'))) as { bytes: number; sha256: string };
  return {
    megabytes,
    seconds: sent.seconds,
    mbitPerSecond: (sent.bytes * 8) / sent.seconds / 1e6,
    sha256Match: sent.sha256 === got.sha256 && sent.bytes === got.bytes,
  };
}
