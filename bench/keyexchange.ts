// `vitesse bench keyexchange --routes N [--json]`: how long one core takes to
// negotiate SA pairs for N routes. Two gateways with N routes between them
// (one queue each, default key-manager options) start at the same moment,
// so both ends of every route want to initiate; messages go through an
// in-memory network in this one thread, so the figure is pure key-exchange
// CPU for *both* ends (X25519, BLAKE2s, AES-GCM via OpenSSL, plus our
// bookkeeping). Done means: every route has, in both directions, an active
// outbound SA whose key material the other end holds under the same SPI.
//
// --identity public-key runs the same with public-key routes (Noise IKpsk2,
// each gateway a static key, no psk): a responder's SA pair there waits for
// the initiator's first packet (key confirmation, sa-lifecycle.ts), which
// the sinks model as sent as soon as an outbound SA is active.
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import type { Endpoint, InboundSaSpec, OutboundSaSpec, SaSink } from '../controlplane/exchange/types.js';
import { QueueNumber, RouteId, RouteSpi } from '../controlplane/exchange/types.js';
import { KeyManager } from '../controlplane/keymanager.js';
import { keyPairFromPrivate, type KeyPair } from '../controlplane/exchange/primitives.js';

// The raw private key back out of a KeyObject (only a benchmark needs this: gateways read theirs from a file).
function rawPrivate(kp: KeyPair): Buffer {
  return Buffer.from(kp.privateKey.export({ format: 'jwk' }).d!, 'base64url');
}

const spec: Record<string, OptionSpec> = {
  routes: { type: 'number', default: 10_000, help: 'routes between the two gateways' },
  identity: { type: 'string', default: 'psk', help: 'how routes authenticate: psk (pre-shared key, Noise NNpsk0) or public-key (static keys, Noise IKpsk2)' },
  timeout: { type: 'number', default: 120, help: 'give up after this many seconds' },
  json: { type: 'boolean', help: 'print one JSON result on the last line' },
  help: { type: 'boolean' },
};

class KeySink implements SaSink {
  readonly inbound = new Map<number, Buffer>();
  readonly outbound = new Map<string, { spi: number; keymat: Buffer }>();
  // SPIs we send on: the peer's sink sees its inbound SA used (traffic flows at once).
  readonly sending = new Set<number>();
  peer: KeySink | null = null;
  installInbound(sa: InboundSaSpec): void {
    this.inbound.set(sa.spi, Buffer.from(sa.keymat));
  }
  installOutbound(sa: OutboundSaSpec): void {
    const old = this.outbound.get(sa.route);
    if (old) this.sending.delete(old.spi);
    this.outbound.set(sa.route, { spi: sa.spi, keymat: Buffer.from(sa.keymat) });
    this.sending.add(sa.spi);
  }
  removeInbound(_q: number, spi: number): void {
    this.inbound.delete(spi);
  }
  removeOutbound(route: string, _q: number, spi: number): void {
    if (this.outbound.get(route)?.spi === spi) {
      this.outbound.delete(route);
      this.sending.delete(spi);
    }
  }
  inboundUsed(_q: number, spi: number): boolean {
    return this.peer?.sending.has(spi) ?? false;
  }
}

function works(from: KeySink, route: string, to: KeySink): boolean {
  const out = from.outbound.get(route);
  return !!out && !!to.inbound.get(out.spi)?.equals(out.keymat);
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench keyexchange [options]\n${usageText(spec)}\n\nWith --identity public-key, the same routes with pre-shared keys are measured first, in the same run, as the baseline.\n\nexamples:\n  vitesse bench keyexchange --routes 10000\n  vitesse bench keyexchange --routes 10000 --identity public-key\n  vitesse bench keyexchange --routes 1000 --json\n`);
    return 0;
  }
  const n = options.routes as number;
  const identity = String(options.identity);
  if (identity !== 'psk' && identity !== 'public-key') throw new UsageError(`--identity: psk or public-key, got "${identity}"`);
  if (!Number.isInteger(n) || n < 1 || n > 1 << 24) throw new UsageError(`--routes: must be an integer from 1 to ${1 << 24}, got ${n}`);
  const timeout = options.timeout as number;
  const baseline = identity === 'public-key' ? measure(n, 'psk', timeout) : null;
  const result = { ...measure(n, identity, timeout), ...(baseline ? { baseline, cpu_ratio_to_baseline: 0 } : {}) };
  if (baseline) {
    result.cpu_ratio_to_baseline = Number((result.cpu_seconds / baseline.cpu_seconds).toFixed(2));
    process.stdout.write(`public-key routes took ${result.cpu_ratio_to_baseline} times the CPU of pre-shared-key routes\n`);
  }
  if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
  return [result, ...(baseline ? [baseline] : [])].every((r) => r.established && r.rxerrors === 0) ? 0 : 1;
}

// Two key managers with n routes of one kind, until every route has working SAs both ways.
function measure(n: number, identity: 'psk' | 'public-key', timeoutSeconds: number) {
  const publicKeys = identity === 'public-key';
  const logger = pino({ level: 'silent' });
  const addressA = '192.0.2.1';
  const addressB = '198.51.100.2';
  const queue: { to: Endpoint; from: Endpoint; payload: Buffer }[] = [];
  const transport = { send: (to: Endpoint, payload: Buffer, from: Endpoint) => void queue.push({ to, from, payload }) };
  const statics = { a: keyPairFromPrivate(crypto.randomBytes(32)), b: keyPairFromPrivate(crypto.randomBytes(32)) };
  const routes = (self: string, peer: string, psks: Buffer[], peerKey: Buffer) => psks.map((psk, i) => ({
    id: RouteId(`route${i}`), spi: RouteSpi(i + 1), aead: 'aes-gcm-16-icv' as const,
    ...(publicKeys ? { peerPublicKey: peerKey } : { preSharedKey: psk }),
    queues: [{ queue: QueueNumber(1), localAddress: self, gatewayAddress: peer }],
  }));
  const privateKey = (kp: typeof statics.a) => (publicKeys ? { privateKey: rawPrivate(kp) } : {});
  const psks = Array.from({ length: n }, () => crypto.randomBytes(32));
  const sinkA = new KeySink();
  const sinkB = new KeySink();
  sinkA.peer = sinkB;
  sinkB.peer = sinkA;
  const a = new KeyManager({ ...privateKey(statics.a), routes: routes(addressA, addressB, psks, statics.b.publicKey) }, { sink: sinkA, transport, logger });
  const b = new KeyManager({ ...privateKey(statics.b), routes: routes(addressB, addressA, psks, statics.a.publicKey) }, { sink: sinkB, transport, logger });
  // CPU time (µs, all threads of the process) spent in each gateway's own calls.
  const cpu = new Map<KeyManager, number>([[a, 0], [b, 0]]);
  const timed = (km: KeyManager, f: () => void) => {
    const t = process.cpuUsage();
    f();
    const d = process.cpuUsage(t);
    cpu.set(km, cpu.get(km)! + d.user + d.system);
  };
  const byAddress = new Map([[addressA, a], [addressB, b]]);
  const flush = () => {
    for (let i = 0; i < queue.length; i++) {
      const { to, from, payload } = queue[i];
      const km = byAddress.get(to.address)!;
      timed(km, () => km.receive(from, payload, to));
    }
    queue.length = 0;
  };
  const negotiated = () => a.counters.keypairs_negotiated + a.counters.keypairs_offered;
  const established = () => psks.every((_, i) => works(sinkA, `route${i}`, sinkB) && works(sinkB, `route${i}`, sinkA));

  const cpuStart = process.cpuUsage();
  const t0 = performance.now();
  let done = false;
  while (performance.now() - t0 < timeoutSeconds * 1000) {
    timed(a, () => a.tick());
    timed(b, () => b.tick());
    flush();
    if (negotiated() >= n && (done = established())) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpuStart);
  const negotiations = negotiated();
  const errors = a.counters.rxerrors + b.counters.rxerrors;
  const result = {
    bench: 'keyexchange',
    identity,
    routes: n,
    established: done,
    seconds: Number(seconds.toFixed(3)),
    cpu_seconds: Number(((used.user + used.system) / 1e6).toFixed(3)),
    gateway_cpu_seconds: [a, b].map((km) => Number((cpu.get(km)! / 1e6).toFixed(3))),
    negotiations,
    negotiations_per_second: Math.round(negotiations / seconds),
    microseconds_per_negotiation: Number(((seconds * 1e6) / negotiations).toFixed(1)),
    rxerrors: errors,
  };
  process.stdout.write(
    `${n} ${identity} routes: ${done ? 'all established' : 'NOT all established'} in ${result.seconds} s ` +
    `(${result.cpu_seconds} s CPU, one thread; per gateway ${result.gateway_cpu_seconds.join(' s and ')} s); ${negotiations} negotiations ` +
    `(${result.negotiations_per_second}/s, ${result.microseconds_per_negotiation} µs each, both ends); ${errors} errors\n`,
  );
  a.close();
  b.close();
  return result;
}
