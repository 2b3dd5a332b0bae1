// `vitesse demo`: two sites and a tunnel in network namespaces, end to end.
import type { Command } from '../cli/command.js';
import { parseArgs, usageText, UsageError } from '../cli/args.js';
import { demoPrerequisite, runDemo } from '../demo/demo.js';

const spec = {
  driver: { type: 'string', default: 'af-packet', help: 'packet I/O driver: af-packet or af-xdp' },
  megabytes: { type: 'number', default: 100, help: 'data moved over TCP through the tunnel' },
  json: { type: 'boolean', help: 'print the summary as one JSON object on the last line' },
  help: { type: 'boolean' },
} as const;

export const demoCommand: Command = {
  summary: 'two sites and a tunnel in network namespaces, end to end (root)',
  async run(argv) {
    const { options } = parseArgs(argv, spec);
    if (options.help) {
      process.stdout.write(`usage: vitesse demo [options]\n\nCreates hostA — gwA — net — gwB — hostB in network namespaces, runs two\ngateways, pings, traceroutes and moves data through the tunnel, prints a\nsummary and removes everything it created.\n\n${usageText(spec)}\n\nexample:\n  sudo npx vitesse demo --driver af-xdp\n`);
      return 0;
    }
    const driver = String(options.driver);
    if (driver !== 'af-packet' && driver !== 'af-xdp') throw new UsageError(`--driver: "${driver}" is not af-packet or af-xdp`);
    const megabytes = Number(options.megabytes);
    if (!(megabytes > 0)) throw new UsageError('--megabytes must be positive');
    const missing = demoPrerequisite();
    if (missing) {
      process.stderr.write(missing + '\n');
      return 1;
    }
    const s = await runDemo({ driver, megabytes, out: (l) => process.stdout.write(l + '\n') });
    process.stdout.write(
      [
        '',
        'summary',
        `  tunnel up after   ${Math.round(s.tunnelUpMs)} ms`,
        `  RTT hostA→hostB   ${s.rttMs.ipv4.toFixed(2)} ms (IPv4), ${s.rttMs.ipv6.toFixed(2)} ms (IPv6)`,
        `  traceroute        ${s.traceroute.length} hops: ${s.traceroute.map((h) => h.split(/\s+/)[1]).join(' → ')}`,
        `  TCP               ${s.tcp.megabytes} MB at ${s.tcp.mbitPerSecond.toFixed(0)} Mbit/s, SHA-256 ${s.tcp.sha256Match ? 'ok' : 'MISMATCH'}`,
        `  SAs               ${s.sas.map((a) => `${a.gateway} ${a.route} ${a.direction} ${a.spi.toString(16)} (${a.packets} pkts)`).join('\n                    ')}`,
        ...Object.entries(s.counters).map(([g, c]) => `  ${g} counters      ${Object.entries(c).map(([k, v]) => `${k}=${v}`).join(' ')}`),
        '',
      ].join('\n'),
    );
    if (options.json) process.stdout.write(JSON.stringify(s) + '\n');
    return s.tcp.sha256Match ? 0 : 1;
  },
};
