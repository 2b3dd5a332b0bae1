// `vitesse bench <name>`: the project's benchmarks. Each reports human-readable
// figures and, with --json, one machine-readable JSON value on the last line.
import type { Command } from '../controlplane/cli/command.js';
import { UsageError } from '../controlplane/cli/args.js';

type Bench = { summary: string; load: () => Promise<(argv: string[]) => Promise<number>> };

// Each benchmark module exports `run(argv): Promise<number>`.
const benches: Record<string, Bench> = {
  crypto: { summary: 'AES-GCM per packet size: ours (best path, batched) vs OpenSSL EVP', load: async () => (await import('./crypto.js')).run },
  lookup: { summary: 'Poptrie route lookups per second (IPv4, IPv6) vs a binary trie', load: async () => (await import('./lookup.js')).run },
  keyexchange: { summary: 'negotiate SA pairs for N routes on one core', load: async () => (await import('./keyexchange.js')).run },
  flood: { summary: 'key-exchange flood at a forwarding, rekeying gateway: stream loss, rekeys', load: async () => (await import('./flood.js')).run },
  softbench: { summary: 'route, encrypt, decrypt and forward in a loop (one gateway)', load: async () => (await import('./softbench.js')).run },
  scaling: { summary: 'softbench --queues 1 vs 2 per worker, beside the CPU topology and a plain two-thread CPU loop', load: async () => (await import('./scaling.js')).run },
  io: { summary: 'raw af-packet / af-xdp rate over a veth pair (needs root)', load: async () => (await import('./io.js')).run },
  config: { summary: 'load a configuration of N routes and change one route through the API: times, event-loop block', load: async () => (await import('./config.js')).run },
  liveness: { summary: 'dead-peer detection and recovery times of two gateways, one killed and restarted (needs root)', load: async () => (await import('./liveness.js')).run },
  roaming: { summary: 'traffic resuming after the NAT in front of one gateway rebinds to another address (needs root, nft, conntrack)', load: async () => (await import('./roaming.js')).run },
  telemetry: { summary: 'gNMI at N routes: CPU per SAMPLE of every route, time of a full Get, ON_CHANGE cost', load: async () => (await import('./telemetry.js')).run },
  failover: { summary: 'two gateways per site behind BIRD and ECMP, one killed under numbered flows: outage; one drained: loss (needs root, bird2, nft)', load: async () => (await import('./failover.js')).run },
  multipeer: { summary: 'a route listing two peer gateways, one killed under numbered flows: spread, takeout, outage (needs root, bird2, nft)', load: async () => (await import('./failover-multi-peer.js')).run },
  tcp: { summary: 'TCP (iperf3, both directions) through two Vitesse gateways vs two Vita nodes (--vita), interleaved (needs root)', load: async () => (await import('./tcp.js')).run },
  e2e: { summary: 'two gateways over veth vs the raw driver and kernel forwarding, iperf3 (needs root)', load: async () => (await import('./e2e.js')).run },
};

export const benchCommand: Command = {
  summary: 'run a benchmark',
  async run(argv) {
    const [name, ...rest] = argv;
    if (!name || name === '--help') {
      process.stdout.write('usage: vitesse bench <' + Object.keys(benches).join('|') + '> [options] [--json]\n' +
        Object.entries(benches).map(([n, b]) => `  ${n.padEnd(10)} ${b.summary}`).join('\n') + '\n' +
        '\nvitesse bench <name> --help shows the options of a benchmark.\n\nexamples:\n' +
        '  vitesse bench crypto\n  vitesse bench softbench --packet-size IMIX --packets 10000000 --routes 1 --json\n');
      return name ? 0 : 2;
    }
    const b = Object.hasOwn(benches, name) ? benches[name] : undefined;
    if (!b) throw new UsageError(`unknown benchmark "${name}" (have: ${Object.keys(benches).join(', ')})`);
    return (await b.load())(rest);
  },
};
