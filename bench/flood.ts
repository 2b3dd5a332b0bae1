// `vitesse bench flood [--rate N] [--seconds N] [--traffic N] [--json]`: a
// key-exchange flood against a gateway that forwards traffic and rekeys.
//
// Two gateways with the real data plane, slow path and key manager on memory
// wires (controlplane/demo/memory-two-sites.ts), sa-ttl short so they rekey every few
// seconds. Host A sends a numbered UDP stream to host B through the tunnel
// while `rate` key-exchange datagrams per second arrive on gateway B's public
// address, a mix of
//   random    random payloads from random sources;
//   replayed  genuine messages A sent B earlier, unchanged, from random
//             sources (an attacker who recorded them replays them);
//   spoofed   from gateway A's own address: half of them genuine messages
//             replayed, half random ones with the route's SPI and a real
//             type (an attacker who knows the route SPI and forges the
//             peer's address; docs/security.md, "Key-exchange floods").
// The flood enters B's worker through its inject ring in "process as
// received" mode: the same classification and punt path as a frame from the
// wire (the memory wire's rings take one producer, gateway A).
//
// Reported: the stream's loss, the rekeys that completed during the flood
// (each direction), what B's key manager made of the flood (errors by
// reason, rate-limited, knocks left unanswered), punts the data plane could not queue, and the
// process's CPU time. Goal: loss ≤ 0.1% and rekeys in both directions,
// whatever the mix (issue 10).
import crypto from 'node:crypto';
import { parseArgs, usageText, UsageError, type OptionSpec } from '../controlplane/cli/args.js';
import type { KeyManagerCounters } from '../controlplane/keymanager.js';
import { FIRST_QUEUE, KEY_EXCHANGE_PROTOCOLS, type KeyExchangeProtocol } from '../controlplane/exchange/types.js';
import { parseMac } from '../controlplane/slowpath/address.js';
import { udpFrame } from '../controlplane/udp.js';
import { numbered, twoSites, until, type TwoSites } from '../controlplane/demo/memory-two-sites.js';

const spec: Record<string, OptionSpec> = {
  rate: { type: 'number', default: 100_000, help: 'key-exchange datagrams per second at gateway B' },
  seconds: { type: 'number', default: 10, help: 'duration of the flood' },
  traffic: { type: 'number', default: 5_000, help: 'packets per second of the stream from host A to host B' },
  mix: { type: 'string', default: '50,50,0', help: 'shares of random, replayed and spoofed datagrams' },
  'sa-ttl': { type: 'number', default: 6, help: 'seconds; the gateways rekey at about half of it' },
  protocol: { type: 'string', default: 'vitesse-ske', help: 'the route\'s key exchange: vitesse-ske or vita-ske-v5' },
  json: { type: 'boolean', help: 'print one JSON result on the last line' },
  help: { type: 'boolean' },
};

const A_PUBLIC = '192.0.2.1';
const B_PUBLIC = '198.51.100.1';
const A_PUBLIC_MAC = parseMac('02:00:00:0a:01:01');
const B_PUBLIC_MAC = parseMac('02:00:00:0b:01:01');
const PORT = 303;
const ROUTE_SPI = 1001;
const POOL = 8192; // distinct flood datagrams, sent round and round
const BATCH = 256;
const MAX_LOSS_PCT = 0.1;

export interface FloodOptions {
  rate: number;
  seconds: number;
  traffic: number;
  mix: [number, number, number];
  saTtl: number;
  /** negotiation-ttl in seconds (default 1: the bench's hardest setting). */
  negotiationTtl?: number;
  /** The route's key exchange (default vitesse-ske); spoofed datagrams take its message lengths. */
  protocol?: KeyExchangeProtocol;
}

export interface FloodResult {
  rate_offered: number;
  flood_sent: number;
  flood_refused: number; // the inject ring was full
  traffic_sent: number;
  traffic_received: number;
  loss_pct: number;
  rekeys_a_to_b: number; // new outbound SAs of A activated during the flood
  rekeys_b_to_a: number;
  negotiated_during_flood: number; // SA pairs agreed, both ends, either role
  b_rxerrors: number;
  b_ratelimited: number;
  b_knocks_ratelimited: number;
  /** vita-ske-v5: proposals left unread over the knock budget. */
  b_proposals_ratelimited: number;
  b_challenges: number; // answers to knocks (replayed knocks get one)
  b_errors: Record<string, number>;
  b_punt_ring_drops: number;
  /** Exchanges that expired during the flood (a lost message: retried after negotiation-ttl). */
  a_negotiations_expired: number;
  b_negotiations_expired: number;
  /** Data-plane drops during the flood, by counter (where a lost packet of the stream went). */
  a_dataplane_drops: Record<string, number>;
  b_dataplane_drops: Record<string, number>;
  cpu_seconds: number;
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function datagram(src: string, payload: Buffer, srcPort = PORT): Buffer {
  return udpFrame({ srcMac: A_PUBLIC_MAC, dstMac: B_PUBLIC_MAC, src, dst: B_PUBLIC, srcPort, dstPort: PORT, payload });
}

function randomSource(): string {
  const b = crypto.randomBytes(4);
  return `${1 + (b[0] % 223)}.${b[1]}.${b[2]}.${b[3]}`;
}

// A random key-exchange message with the route's SPI: a header of a real type
// (or not), then random octets, often of the type's exact length.
function spoofedPayload(protocol: KeyExchangeProtocol): Buffer {
  if (protocol === 'vita-ske-v5') return spoofedVitaPayload();
  const lengths: Record<number, number> = { 11: 44, 12: 44, 13: 96, 14: 60 };
  const type = [11, 12, 13, 14, 11, 13, 0, 99][crypto.randomInt(8)];
  const len = crypto.randomInt(2) ? lengths[type] ?? 44 : 8 + crypto.randomInt(120);
  const m = crypto.randomBytes(len);
  m.writeUInt32BE(ROUTE_SPI, 0);
  m[4] = type;
  m.fill(0, 5, 8);
  if (type !== 14 && len > 8) m[8] = 1; // version 1, so it reaches the deeper checks
  return m;
}

// The same for vita-ske v5 (key-exchange.md §11): its lengths, version 5.
function spoofedVitaPayload(): Buffer {
  const lengths: Record<number, number> = { 11: 12, 12: 76, 13: 88, 14: 88 };
  const type = [11, 12, 13, 14, 11, 13, 0, 99][crypto.randomInt(8)];
  const len = crypto.randomInt(2) ? lengths[type] ?? 12 : 8 + crypto.randomInt(120);
  const m = crypto.randomBytes(len);
  m.writeUInt32BE(ROUTE_SPI, 0);
  m[4] = type;
  if ((type === 11 || type === 12) && len >= 12) m.writeUInt32BE(5, 8);
  return m;
}

/** The flood's datagrams: `mix` shares of random, replayed and spoofed ones. */
export function floodPool(recorded: Buffer[], mix: [number, number, number], size = POOL, protocol: KeyExchangeProtocol = 'vitesse-ske'): Buffer[] {
  if (!recorded.length) throw new Error('flood: no genuine message recorded to replay');
  const total = mix[0] + mix[1] + mix[2];
  if (total <= 0) throw new UsageError('--mix: the shares must not all be zero');
  return Array.from({ length: size }, (_, i) => {
    const x = (((i * 7919) % size) / size) * total; // the kinds spread evenly through the pool
    const genuine = recorded[i % recorded.length];
    if (x < mix[0]) return datagram(randomSource(), crypto.randomBytes(8 + crypto.randomInt(120)), 1024 + crypto.randomInt(60000));
    if (x < mix[0] + mix[1]) return datagram(randomSource(), genuine);
    return datagram(A_PUBLIC, i % 2 ? genuine : spoofedPayload(protocol));
  });
}

function drops(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (/drop/.test(k) && v !== before[k]) out[k] = v - (before[k] ?? 0);
  return out;
}

const outboundSpis = (s: TwoSites, g: 'a' | 'b') => s[g].sas().filter((x) => x.direction === 'outbound').map((x) => x.spi);
const negotiated = (c: KeyManagerCounters) => c.keypairs_negotiated + c.keypairs_offered;

/**
 * Runs the flood scenario. Calls `progress` about once a second. Resolves when
 * the flood is over and the stream has drained.
 */
export async function runFlood(o: FloodOptions, progress?: (line: string) => void): Promise<FloodResult> {
  const s = twoSites({ saTtl: o.saTtl, negotiationTtl: o.negotiationTtl ?? 1, protocol: o.protocol });
  try {
    // Record what gateway A sends B's key manager, to replay it later.
    const recorded: Buffer[] = [];
    const kmB = s.b.keymanager!;
    const receive = kmB.receive.bind(kmB);
    kmB.receive = (from, payload, to) => {
      if (recorded.length < 64 && from.address === A_PUBLIC) recorded.push(Buffer.from(payload));
      receive(from, payload, to);
    };
    s.a.start();
    s.b.start();
    await until(() => outboundSpis(s, 'a').length > 0 && outboundSpis(s, 'b').length > 0, 10_000, 'first SAs');
    const pool = floodPool(recorded, o.mix, POOL, o.protocol);

    const b0 = { ...kmB.counters };
    const a0 = { ...s.a.keymanager!.counters };
    const negotiated0 = negotiated(s.a.keymanager!.counters) + negotiated(kmB.counters);
    const puntFull0 = s.b.dataplane.counters().punt_ring_drops;
    const dp0 = { a: s.a.dataplane.counters(), b: s.b.dataplane.counters() };
    const spisA = new Set(outboundSpis(s, 'a'));
    const spisB = new Set(outboundSpis(s, 'b'));
    const firstA = spisA.size, firstB = spisB.size;
    let floodSent = 0, floodRefused = 0, trafficSent = 0, received = 0, next = 0;
    const take = () => {
      received += s.receiveB().length;
    };

    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let lastReport = t0;
    for (let now = t0; now - t0 < o.seconds * 1000; now = performance.now()) {
      const elapsed = (now - t0) / 1000;
      for (let due = Math.floor(elapsed * o.rate) - floodSent - floodRefused; due > 0; due -= BATCH) {
        const n = Math.min(due, BATCH);
        const batch = Array.from({ length: n }, (_, i) => pool[(floodSent + floodRefused + i) % pool.length]);
        const ok = s.b.dataplane.inject(FIRST_QUEUE, 'public', 'receive', batch);
        floodSent += ok;
        floodRefused += n - ok;
      }
      const dueTraffic = Math.floor(elapsed * o.traffic) - trafficSent;
      if (dueTraffic > 0) {
        const frames = Array.from({ length: dueTraffic }, () => numbered('a', next++));
        trafficSent += s.sendA(frames);
      }
      take();
      for (const spi of outboundSpis(s, 'a')) spisA.add(spi);
      for (const spi of outboundSpis(s, 'b')) spisB.add(spi);
      if (progress && now - lastReport >= 1000) {
        lastReport = now;
        const c = kmB.counters;
        progress(`${elapsed.toFixed(0).padStart(3)} s  flood ${floodSent}  stream ${received}/${trafficSent}  ` +
          `B: errors ${c.rxerrors - b0.rxerrors}, rate-limited ${c.ratelimited - b0.ratelimited} + ${c.knocks_ratelimited - b0.knocks_ratelimited} knocks  SAs A→B ${spisA.size - firstA} B→A ${spisB.size - firstB} new`);
      }
      await sleep(1); // what is due is computed from the clock: a late timer sends a bigger batch
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    // The stream's last packets, and the flood's last punts, are in flight
    // for a moment: wait until B has handled as many datagrams as were sent
    // and its count has stood still for 50 ms.
    const handled = () => {
      const c = kmB.counters;
      return c.rxerrors - b0.rxerrors + c.ratelimited - b0.ratelimited + c.knocks_ratelimited - b0.knocks_ratelimited +
        c.proposals_ratelimited - b0.proposals_ratelimited +
        c.challenges_offered - b0.challenges_offered +
        s.b.dataplane.counters().punt_ring_drops - puntFull0;
    };
    const drainUntil = performance.now() + 5000;
    let last = -1, still = performance.now();
    while (performance.now() < drainUntil) {
      take();
      const h = handled();
      if (h !== last) [last, still] = [h, performance.now()];
      if (received >= trafficSent && h >= floodSent && performance.now() - still >= 50) break;
      await sleep(5);
    }

    const c = kmB.counters;
    const errors: Record<string, number> = {};
    for (const k of Object.keys(c) as (keyof KeyManagerCounters)[]) {
      if (k.endsWith('_errors') && c[k] !== b0[k]) errors[k] = c[k] - b0[k];
    }
    return {
      rate_offered: Math.round(floodSent / seconds),
      flood_sent: floodSent,
      flood_refused: floodRefused,
      traffic_sent: trafficSent,
      traffic_received: received,
      loss_pct: trafficSent ? (100 * (trafficSent - received)) / trafficSent : 0,
      rekeys_a_to_b: spisA.size - firstA,
      rekeys_b_to_a: spisB.size - firstB,
      negotiated_during_flood: negotiated(s.a.keymanager!.counters) + negotiated(c) - negotiated0,
      b_rxerrors: c.rxerrors - b0.rxerrors,
      b_ratelimited: c.ratelimited - b0.ratelimited,
      b_knocks_ratelimited: c.knocks_ratelimited - b0.knocks_ratelimited,
      b_proposals_ratelimited: c.proposals_ratelimited - b0.proposals_ratelimited,
      b_challenges: c.challenges_offered - b0.challenges_offered,
      b_errors: errors,
      b_punt_ring_drops: s.b.dataplane.counters().punt_ring_drops - puntFull0,
      a_negotiations_expired: s.a.keymanager!.counters.negotiations_expired - a0.negotiations_expired,
      b_negotiations_expired: c.negotiations_expired - b0.negotiations_expired,
      a_dataplane_drops: drops(dp0.a, s.a.dataplane.counters()),
      b_dataplane_drops: drops(dp0.b, s.b.dataplane.counters()),
      cpu_seconds: (cpu.user + cpu.system) / 1e6,
      seconds,
    };
  } finally {
    s.close();
  }
}

function parseMix(text: string): [number, number, number] {
  const parts = text.split(',').map(Number);
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p) || p < 0)) {
    throw new UsageError(`--mix: "${text}" is not three shares like 50,50,0 (random, replayed, spoofed)`);
  }
  return parts as [number, number, number];
}

export async function run(argv: string[]): Promise<number> {
  const { options, positional } = parseArgs(argv, spec);
  if (options.help) {
    process.stdout.write(`usage: vitesse bench flood [options]\n${usageText(spec)}\n\nexamples:\n  vitesse bench flood\n  vitesse bench flood --rate 100000 --seconds 30 --traffic 20000 --json\n  vitesse bench flood --mix 0,0,100 --sa-ttl 6\n  vitesse bench flood --mix 0,0,100 --protocol vita-ske-v5\n`);
    return 0;
  }
  if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const positive = (name: string) => {
    const v = options[name] as number;
    if (!(v > 0)) throw new UsageError(`--${name}: must be positive, got ${v}`);
    return v;
  };
  const o: FloodOptions = {
    rate: positive('rate'),
    seconds: positive('seconds'),
    traffic: positive('traffic'),
    mix: parseMix(String(options.mix)),
    saTtl: positive('sa-ttl'),
    protocol: options.protocol as KeyExchangeProtocol,
  };
  if (!KEY_EXCHANGE_PROTOCOLS.includes(o.protocol!)) throw new UsageError(`--protocol: must be one of ${KEY_EXCHANGE_PROTOCOLS.join(', ')}, got ${o.protocol}`);
  if (o.saTtl < 2) throw new UsageError('--sa-ttl: at least 2 seconds');
  const json = Boolean(options.json);
  const r = await runFlood(o, json ? undefined : (line) => process.stdout.write(line + '\n'));
  const ok = r.loss_pct <= MAX_LOSS_PCT && r.rekeys_a_to_b > 0 && r.rekeys_b_to_a > 0;
  if (json) {
    process.stdout.write(JSON.stringify({ ...r, goal_met: ok }) + '\n');
  } else {
    const pct = (x: number) => `${x.toFixed(2)}%`;
    process.stdout.write([
      '',
      `flood          ${r.flood_sent} datagrams in ${r.seconds.toFixed(1)} s (${r.rate_offered}/s; ${r.flood_refused} refused by a full inject ring)`,
      `stream         ${r.traffic_received} of ${r.traffic_sent} packets arrived: loss ${pct(r.loss_pct)} (goal ≤ ${MAX_LOSS_PCT}%)`,
      `rekeys         ${r.rekeys_a_to_b} new SAs A→B, ${r.rekeys_b_to_a} B→A, ${r.negotiated_during_flood} SA pairs agreed during the flood`,
      `gateway B      ${r.b_rxerrors} key-exchange errors (${Object.entries(r.b_errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}), ${r.b_ratelimited} rate-limited, ${r.b_knocks_ratelimited} knocks unanswered and ${r.b_proposals_ratelimited} proposals unread (over budget), ${r.b_punt_ring_drops} punts lost (ring full)`,
      `CPU            ${r.cpu_seconds.toFixed(1)} s in ${r.seconds.toFixed(1)} s (the whole process: both gateways, the flood and the stream)`,
      `goal           ${ok ? 'met' : 'NOT met'}`,
      '',
    ].join('\n'));
  }
  return ok ? 0 : 1;
}
