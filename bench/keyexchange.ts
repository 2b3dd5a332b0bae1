// `vitesse bench keyexchange --routes N [--json]`: how long one core takes to
// negotiate SA pairs for N routes. A hub gateway with N routes (one public
// address) and N spoke gateways (one route each, own address) start at the
// same moment, so both ends of every route initiate; messages go through an
// in-memory network in this one thread, so the figure is pure key-exchange
// CPU (X25519, BLAKE2s, AES-GCM via OpenSSL, plus our bookkeeping). Done means:
// every route has, in both directions, an active outbound SA whose key
// material the other end holds under the same SPI.
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import type { Endpoint, InboundSaSpec, OutboundSaSpec, SaSink } from '../controlplane/exchange/types.js';
import { QueueId, RouteId, RouteSpi } from '../controlplane/exchange/types.js';
import { KeyManager } from '../controlplane/keymanager.js';

const spec: Record<string, OptionSpec> = {
  routes: { type: 'number', default: 10_000, help: 'routes (spoke gateways) to negotiate' },
  timeout: { type: 'number', default: 120, help: 'give up after this many seconds' },
  json: { type: 'boolean', help: 'print one JSON result on the last line' },
  help: { type: 'boolean' },
};

class KeySink implements SaSink {
  readonly inbound = new Map<number, Buffer>();
  readonly outbound = new Map<string, { spi: number; keymat: Buffer }>();
  installInbound(sa: InboundSaSpec): void {
    this.inbound.set(sa.spi, Buffer.from(sa.keymat));
  }
  installOutbound(sa: OutboundSaSpec): void {
    this.outbound.set(sa.route, { spi: sa.spi, keymat: Buffer.from(sa.keymat) });
  }
  removeInbound(_q: number, spi: number): void {
    this.inbound.delete(spi);
  }
  removeOutbound(route: string, _q: number, spi: number): void {
    if (this.outbound.get(route)?.spi === spi) this.outbound.delete(route);
  }
}

function works(from: KeySink, route: string, to: KeySink): boolean {
  const out = from.outbound.get(route);
  return !!out && !!to.inbound.get(out.spi)?.equals(out.keymat);
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench keyexchange [options]\n${usageText(spec)}\n`);
    return 0;
  }
  const n = options.routes as number;
  if (!Number.isInteger(n) || n < 1 || n > 1 << 24) throw new UsageError(`--routes: must be an integer from 1 to ${1 << 24}, got ${n}`);

  const logger = pino({ level: 'silent' });
  const hubAddress = '192.0.2.1';
  const spokeAddress = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const queue: { to: Endpoint; from: Endpoint; payload: Buffer }[] = [];
  const transport = { send: (to: Endpoint, payload: Buffer, from: Endpoint) => void queue.push({ to, from, payload }) };
  const rateLimit = { perSecond: 1e9, burst: 1e9 }; // every spoke is its own source; the hub talks to each

  const hubSink = new KeySink();
  const spokes: { km: KeyManager; sink: KeySink; route: string }[] = [];
  const hubRoutes = [];
  for (let i = 0; i < n; i++) {
    const psk = crypto.randomBytes(32);
    const spi = RouteSpi(i + 1);
    hubRoutes.push({ id: RouteId(`spoke${i}`), spi, preSharedKey: psk, aead: 'aes-gcm-16-icv' as const,
      queues: [{ queue: QueueId(0), localAddress: hubAddress, gatewayAddress: spokeAddress(i) }] });
    const sink = new KeySink();
    const km = new KeyManager(
      { routes: [{ id: RouteId('hub'), spi, preSharedKey: psk, aead: 'aes-gcm-16-icv',
        queues: [{ queue: QueueId(0), localAddress: spokeAddress(i), gatewayAddress: hubAddress }] }] },
      { sink, transport, logger, rateLimit },
    );
    spokes.push({ km, sink, route: `spoke${i}` });
  }
  const hub = new KeyManager({ routes: hubRoutes }, { sink: hubSink, transport, logger, rateLimit });
  const byAddress = new Map<string, KeyManager>([[hubAddress, hub], ...spokes.map((s, i) => [spokeAddress(i), s.km] as const)]);
  const flush = () => {
    for (let i = 0; i < queue.length; i++) byAddress.get(queue[i].to.address)!.receive(queue[i].from, queue[i].payload, queue[i].to);
    queue.length = 0;
  };
  const established = () => spokes.every((s) => works(hubSink, s.route, s.sink) && works(s.sink, 'hub', hubSink));

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let done = false;
  while (performance.now() - t0 < (options.timeout as number) * 1000) {
    hub.tick();
    for (const s of spokes) s.km.tick();
    flush();
    if ((done = established())) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const negotiations = hub.counters.keypairs_negotiated + hub.counters.keypairs_offered;
  const errors = hub.counters.rxerrors + spokes.reduce((e, s) => e + s.km.counters.rxerrors, 0);
  const result = {
    bench: 'keyexchange',
    routes: n,
    established: done,
    seconds: Number(seconds.toFixed(3)),
    cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
    negotiations,
    negotiations_per_second: Math.round(negotiations / seconds),
    microseconds_per_negotiation: Number(((seconds * 1e6) / negotiations).toFixed(1)),
    rxerrors: errors,
  };
  process.stdout.write(
    `${n} routes: ${done ? 'all established' : 'NOT all established'} in ${result.seconds} s ` +
    `(${result.cpu_seconds} s CPU, one thread); ${negotiations} negotiations ` +
    `(${result.negotiations_per_second}/s, ${result.microseconds_per_negotiation} µs each, both ends); ${errors} errors\n`,
  );
  if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
  hub.close();
  for (const s of spokes) s.km.close();
  return done && errors === 0 ? 0 : 1;
}
