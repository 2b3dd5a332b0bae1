// A running gateway: the data plane (native workers), the slow path (ARP, ND,
// ICMP), the key manager (Noise key exchange, SA lifecycle) and the
// configuration they were built from, wired together.
//
//   punted frames ──▶ SlowPath ──(UDP for the protocol port)──▶ KeyManager
//   KeyManager ──(SaSink)──▶ Dataplane SAs      KeyManager ──(Transport)──▶ inject
//   SlowPath ──(next-hop MACs, ICMP/ARP/ND answers)──▶ Dataplane
import fs from 'node:fs';
import pino, { type Logger } from 'pino';
import { Dataplane, type LinkSpec, type Punt } from './dataplane.js';
import type { GatewayConfig, InterfaceConfig, RouteConfig, SaConfig } from './config/types.js';
import { diffConfig, type ConfigDiff } from './config/diff.js';
import { KeyManager } from './keymanager.js';
import type { TrafficReading } from './exchange/liveness.js';
import { readKeyFile } from './key-files.js';
import { ROOT_PATH } from './config/defaults.js';
import { wipe } from './exchange/primitives.js';
import type { KeyManagerConfig, OutboundSaSpec, InboundSaSpec, QueueNumber, RouteId, SaSink, Spi, Transport } from './exchange/types.js';
import { SlowPath } from './slowpath/slowpath.js';
import { SaLedger } from './sa-ledger.js';
import { parseMac } from './slowpath/address.js';
import { udpFrame } from './udp.js';
import { SequenceKeeper, type SequenceStart } from './sequence-keeper.js';
import { SequenceStore } from './sequence-state.js';
import { NAT_KEEPALIVE, NatKeepalives, type KeepaliveTarget } from './nat-keepalive.js';
import { NON_ESP_MARKER, natTPayload } from './nat-t.js';
import { hasNatPeers, natRemotes, syncEndpoints } from './nat-peer.js';
import { keyManagerPeers, multiPeers, pairGateways, pairTraffic } from './multi-peer.js';
import { exchangeKey } from './exchange/types.js';

// Enough for one message per route and queue of a modest gateway; a larger
// gateway's first knocks beyond this wait for the negotiation to be retried.
const MAX_PENDING_KEY_EXCHANGE = 1024;
// How often the exhausted-sequence drop counter is read (rekeyExhausted).
const EXHAUSTION_POLL_MS = 100;

// Settings a running gateway takes without a restart (paths as diffConfig names them).
export const LIVE_SETTINGS: ReadonlySet<string> = new Set(['mtu', 'tfc', 'sa-ttl', 'negotiation-ttl', 'protocol-port', 'replay-window', 'liveness-interval', 'liveness-failures', 'nat-keepalive-interval']);

export interface GatewayRuntimeOptions {
  logger?: Logger;
  busywait?: boolean;
  cpus?: number[];
  /** Use these links instead of the configured devices (tests, benchmarks). */
  links?: { private: LinkSpec; public: LinkSpec };
  /**
   * Data-plane mode: the sequence state file (sequence-state.ts). Absent or
   * null: kept in memory only, for tests and benchmarks that build a gateway
   * in-process; `vitesse run` and `vitesse replay` always give one.
   */
  sequenceState?: string | null;
  /** Sequence numbers reserved ahead per outbound SA (default 2^20; small in tests). */
  sequenceReserve?: bigint;
}

export class Gateway {
  readonly dataplane: Dataplane;
  readonly slowpath: SlowPath;
  readonly keymanager: KeyManager | null;
  /** SA install times and AEADs, and the counts of removed SAs (state API, metrics). */
  readonly saLedger: SaLedger;
  /** Data-plane mode: the outbound SAs' sequence numbers reserved on disk; null in key-manager mode. */
  readonly sequences: SequenceKeeper | null;
  readonly log: Logger;
  /** NAT keepalives to the peers of routes whose outbound SAs use ESP in UDP. */
  readonly keepalives: NatKeepalives;
  private config: GatewayConfig;
  private publicNextHopMac: Buffer | null = null;
  // Key-exchange datagrams sent before the public next hop was resolved (at
  // start, the first knock would otherwise wait a whole negotiation timeout).
  private pendingKeyExchange: { queue: QueueNumber; frame: (dstMac: Buffer) => Buffer }[] = [];
  private readonly outbound = new Map<string, Spi>(); // `${route}/${queue}` → active outbound SPI
  private ipId = 0;
  private exhaustionTimer: NodeJS.Timeout | null = null;
  private exhaustedDrops = 0;
  private readonly natPeers = natRemotes();
  private readonly startedAt = Date.now();
  readonly stats = { keyExchangeTxNoNextHop: 0, keyExchangeTxDropped: 0 };

  constructor(config: GatewayConfig, opts: GatewayRuntimeOptions = {}) {
    this.config = config;
    this.log = opts.logger ?? pino({ name: 'vitesse' });
    const priv = config.privateInterface;
    const pub = config.publicInterface;
    const privateMac = priv.mac ?? deviceMac(priv);
    const publicMac = pub.mac ?? deviceMac(pub);
    const publicAddresses = pub.queues.map((q) => q.address as string);

    // Before any interface is opened: an unreadable state file refuses the
    // start (SequenceStateError), and the first reservations are on disk
    // before any SA can send.
    let starts: SequenceStart[] = [];
    if (config.dataPlane) {
      this.sequences = new SequenceKeeper(SequenceStore.open(opts.sequenceState ?? null), () => this.dataplane, this.log, opts.sequenceReserve);
      try {
        starts = this.sequences.prepare(config.dataPlane.outboundSas);
      } catch (e) {
        this.sequences.close();
        throw e;
      }
    } else {
      this.sequences = null;
    }

    try {
      this.dataplane = new Dataplane({
        queues: config.queues,
        mtu: config.mtu,
        tfc: config.tfc,
        busywait: opts.busywait,
        cpus: opts.cpus,
        natTPort: config.natTPort,
        private: { mac: privateMac, ipv4: priv.ipv4 ?? undefined, ipv6: priv.ipv6 ?? undefined, link: opts.links?.private ?? linkSpec(priv, config.queues) },
        public: { mac: publicMac, addresses: publicAddresses, link: opts.links?.public ?? linkSpec(pub, config.queues) },
      });
    } catch (e) {
      this.sequences?.close(); // the state file is free for the next try
      throw e;
    }
    this.saLedger = new SaLedger(() => this.dataplane.sas());

    this.slowpath = new SlowPath({
      private: { mac: privateMac, ipv4: priv.ipv4 ?? undefined, ipv6: priv.ipv6 ?? undefined, nextHop: priv.nextHop.address, nextHopMac: priv.nextHop.mac ?? undefined },
      public: { mac: publicMac, queues: pub.queues, nextHop: pub.nextHop.address, nextHopMac: pub.nextHop.mac ?? undefined },
      mtu: config.mtu,
      logger: this.log,
      inject: (queue, side, mode, frames) => { this.dataplane.inject(queue, side, mode, frames); },
      setNextHop: (side, mac) => {
        this.dataplane.setNextHop(side, mac);
        if (side === 'public') {
          this.publicNextHopMac = mac ? parseMac(mac) : null;
          if (mac) this.flushPendingKeyExchange();
        }
        // Resolved, changed or configured: the neighbour table logs it (with the next hop's address).
        if (!mac) this.log.info({ side }, 'next hop lost');
      },
      onUdp: (queue, src, dst, srcPort, dstPort, payload) => {
        if (dstPort === this.config.protocolPort && this.keymanager) {
          this.keymanager.receive({ address: src, port: srcPort }, payload, { address: dst, port: dstPort });
        } else if (dstPort === this.config.natTPort && this.keymanager && natTPayload(payload) === 'key-exchange') {
          // The data plane punts only these (and fragments) from the NAT-T
          // port; the key manager answers on that port, behind the marker (transport()).
          this.keymanager.receive({ address: src, port: srcPort }, payload.subarray(NON_ESP_MARKER.length), { address: dst, port: dstPort });
        }
      },
    });

    this.dataplane.setRoutes(this.routeSpecs(config));

    if (config.dataPlane) {
      this.keymanager = null;
      this.installStaticSas(config, starts);
    } else {
      const secrets: Buffer[] = [];
      try {
        this.keymanager = new KeyManager(keyManagerConfig(config, secrets), {
          sink: this.saSink(),
          transport: this.transport(),
          logger: this.log,
          traffic: () => this.routeTraffic(),
          onPeerEndpoint: (route, queue, at) => {
            if (this.natPeers.learned(route, queue, at)) this.dataplane.setRoutes(this.routeSpecs(this.config));
          },
          // A route with several peers: its flows go through the usable pairs only.
          onPairUsable: (route, queue, pair, usable) => this.dataplane.setPairUsable(queue, route, pair, usable),
        });
      } finally {
        wipe(...secrets);
      }
    }
    this.dataplane.onPunt((punts: Punt[]) => this.slowpath.handle(punts));
    this.keepalives = new NatKeepalives({
      intervalSeconds: () => this.config.natKeepaliveInterval,
      targets: () => this.keepaliveTargets(),
      send: (t) => { if (this.publicNextHopMac) this.sendUdp(t.to, NAT_KEEPALIVE, t.from); },
    });
  }

  start(): void {
    // The slow path first: static next-hop MACs are then in the first
    // snapshot the workers see, and the first frames read (a capture is read
    // at once) are not dropped for want of them.
    this.slowpath.start();
    this.dataplane.commit();
    this.dataplane.start();
    this.keymanager?.start();
    this.sequences?.start();
    this.keepalives.start();
    if (this.keymanager) {
      this.exhaustionTimer = setInterval(() => this.rekeyExhausted(), EXHAUSTION_POLL_MS);
      this.exhaustionTimer.unref();
    }
    this.log.info({ queues: this.config.queues, routes: this.config.routes.length, mode: this.config.dataPlane ? 'data-plane' : 'key-manager' }, 'gateway started');
  }

  close(): void {
    if (this.exhaustionTimer) clearInterval(this.exhaustionTimer);
    this.exhaustionTimer = null;
    this.keepalives.stop();
    this.sequences?.close();
    this.keymanager?.close();
    this.slowpath.stop();
    this.dataplane.close();
    this.log.info('gateway stopped');
  }

  get currentConfig(): GatewayConfig {
    return this.config;
  }

  get uptimeSeconds(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  /** The SAs the data plane holds, with the route and the queue they serve. */
  sas() {
    return this.dataplane.sas();
  }

  /**
   * Negotiated outbound SAs that dropped packets because their sequence
   * numbers ran out (private_drop_sequence_exhausted) are rekeyed at once:
   * the counter is read every EXHAUSTION_POLL_MS, and only when it rose are
   * the SAs read to find which.
   */
  rekeyExhausted(): void {
    const km = this.keymanager;
    if (!km) return;
    const drops = this.dataplane.counters().private_drop_sequence_exhausted ?? 0;
    if (hasNatPeers(this.config)) syncEndpoints(km, this.dataplane.endpoints());
    if (drops === this.exhaustedDrops) return;
    this.exhaustedDrops = drops;
    for (const sa of this.dataplane.sas()) {
      if (sa.direction === 'outbound' && sa.sequenceExhausted > 0) km.outboundExhausted(sa.route, sa.queue, sa.spi);
    }
  }

  // A peer behind NAT has no address until learned (nat-peer.ts).
  private routeSpecs(config: GatewayConfig) {
    return config.routes.map((r) => ({ id: r.id, net: r.net, gateways: this.natPeers.remotes(r, config.publicInterface.queues), ...pairGateways(r) }));
  }

  /** Each route and queue's packets each way, for dead-peer detection (read in one batch, as a scrape reads them). */
  private routeTraffic(): TrafficReading[] {
    const out = new Map<string, TrafficReading>();
    // Routes with several peers: each pair's own (its liveness is its own).
    const multi = new Set(this.config.routes.filter((r) => multiPeers(r).length).map((r) => r.id));
    for (const t of this.saLedger.routeTraffic(this.config.routes.filter((r) => !multi.has(r.id)).map((r) => r.id))) {
      const k = `${t.route}/${t.queue}`;
      const r = out.get(k) ?? out.set(k, { route: t.route, queue: t.queue, inbound: 0, outbound: 0 }).get(k)!;
      r[t.direction] += t.packets;
    }
    return multi.size ? [...out.values(), ...pairTraffic(multi, this.dataplane.sas())] : [...out.values()];
  }

  private saSink(): SaSink {
    const replayWindow = () => this.config.replayWindow;
    return {
      installInbound: (sa: InboundSaSpec) => {
        this.dataplane.addInboundSa({ queue: sa.queue, route: sa.route, pair: sa.pair, spi: sa.spi, aead: sa.aead, keymat: sa.keymat, replayWindow: replayWindow() });
        this.saLedger.installed('inbound', sa.queue, sa.route, sa.spi, sa.aead);
        this.log.info({ route: sa.route, queue: sa.queue, spi: sa.spi }, 'inbound SA installed');
      },
      installOutbound: (sa: OutboundSaSpec) => {
        const key = exchangeKey(sa.route, sa.queue, sa.pair);
        const replaced = this.outbound.get(key);
        // Also under the same SPI (a retried negotiation): the data plane's SA, and its counters, are new.
        if (replaced !== undefined) this.saLedger.removing('outbound', sa.queue, replaced);
        this.dataplane.setOutboundSa({ queue: sa.queue, route: sa.route, pair: sa.pair, spi: sa.spi, aead: sa.aead, keymat: sa.keymat, udpSourcePort: sa.udpSourcePort, udpDestinationPort: sa.udpDestinationPort });
        this.saLedger.installed('outbound', sa.queue, sa.route, sa.spi, sa.aead);
        this.outbound.set(key, sa.spi);
        this.log.info({ route: sa.route, queue: sa.queue, ...(sa.pair ? { pair: sa.pair } : {}), spi: sa.spi }, 'outbound SA activated');
      },
      removeInbound: (queue: QueueNumber, spi: Spi) => {
        const route = this.saLedger.routeOf('inbound', queue, spi);
        this.saLedger.removing('inbound', queue, spi);
        if (this.dataplane.removeInboundSa(queue, spi)) this.log.info({ route, queue, spi }, 'inbound SA expired');
      },
      removeOutbound: (route: RouteId, queue: QueueNumber, spi: Spi, pair = 0) => {
        const key = exchangeKey(route, queue, pair);
        if (this.outbound.get(key) !== spi) return;
        this.outbound.delete(key);
        this.saLedger.removing('outbound', queue, spi);
        this.dataplane.removeOutboundSa(queue, route, pair);
        this.log.info({ route, queue, spi }, 'outbound SA expired');
      },
      inboundUsed: (queue: QueueNumber, spi: Spi) => this.dataplane.inboundPackets(queue, spi) > 0,
    };
  }

  private transport(): Transport {
    return {
      // On the NAT-T port, key-exchange messages follow the non-ESP marker (RFC 3948 §2.2).
      send: (to, payload, from) => this.sendUdp(to, from.port === this.config.natTPort ? Buffer.concat([NON_ESP_MARKER, payload]) : payload, from),
    };
  }

  /**
   * Where each route's outbound ESP in UDP goes on each queue (the learned
   * endpoint, else the route's gateway and the SA's port), from our NAT-T port.
   */
  keepaliveTargets(): KeepaliveTarget[] {
    const learned = new Map(this.dataplane.endpoints().filter((e) => e.learned).map((e) => [`${e.route}/${e.queue}`, e]));
    const gateways = new Map(this.config.routes.map((r) => [r.id as string, r.gateways]));
    const out: KeepaliveTarget[] = [];
    for (const sa of this.dataplane.sas()) {
      if (sa.direction !== 'outbound' || !sa.udpDestinationPort || !sa.udpSourcePort) continue;
      const local = this.config.publicInterface.queues.find((q) => q.id === sa.queue)?.address;
      const e = learned.get(`${sa.route}/${sa.queue}`);
      const gws = gateways.get(sa.route);
      const gw = gws?.find((g) => g.queue === sa.queue)?.address ?? gws?.[0]?.address;
      if (!local || (!e && !gw)) continue;
      out.push({
        route: sa.route,
        queue: sa.queue,
        to: e ? { address: e.address!, port: e.port! } : { address: gw!, port: sa.udpDestinationPort },
        from: { address: local, port: sa.udpSourcePort },
        packets: sa.packets,
        spi: sa.spi,
      });
    }
    return out;
  }

  /** One UDP datagram from one of our public addresses (queued until the public next hop is known). */
  private sendUdp(to: { address: string; port: number }, payload: Buffer, from: { address: string; port: number }): void {
    const queue = this.config.publicInterface.queues.find((q) => q.address === from.address)?.id;
    if (queue === undefined) throw new Error(`key exchange: ${from.address} is not one of our public addresses`);
    const copy = Buffer.from(payload);
    const frame = (dstMac: Buffer) =>
      udpFrame({
        srcMac: parseMac(this.dataplane.options.public.mac),
        dstMac,
        src: from.address,
        dst: to.address,
        srcPort: from.port,
        dstPort: to.port,
        payload: copy,
        ipId: this.ipId++ & 0xffff,
      });
    if (!this.publicNextHopMac) {
      if (this.pendingKeyExchange.length >= MAX_PENDING_KEY_EXCHANGE) {
        this.pendingKeyExchange.shift();
        this.stats.keyExchangeTxNoNextHop++;
      }
      this.pendingKeyExchange.push({ queue, frame });
      return;
    }
    if (this.dataplane.inject(queue, 'public', 'transmit', [frame(this.publicNextHopMac)]) !== 1) this.stats.keyExchangeTxDropped++;
  }

  private flushPendingKeyExchange(): void {
    const pending = this.pendingKeyExchange;
    this.pendingKeyExchange = [];
    for (const p of pending) {
      if (this.dataplane.inject(p.queue, 'public', 'transmit', [p.frame(this.publicNextHopMac!)]) !== 1) this.stats.keyExchangeTxDropped++;
    }
  }

  /**
   * Applies a new, already validated configuration as a delta: routes that
   * did not change keep their SAs and lose no packet. Settings that only a
   * restart can change are refused (with nothing changed). `known`: the diff
   * from `known.from` to `next`, used if that is still the running configuration.
   */
  apply(next: GatewayConfig, known?: { from: GatewayConfig; diff: ConfigDiff }): ConfigDiff {
    // A diff the caller already made (the API's), if it was made from the running configuration.
    const d = known && known.from === this.config ? known.diff : diffConfig(this.config, next);
    const needRestart = d.settings.filter((path) => !LIVE_SETTINGS.has(path));
    if (d.mode) needRestart.push(`mode (${d.mode.from} → ${d.mode.to})`);
    if (needRestart.length) {
      throw new Error(`changing ${needRestart.join(', ')} needs a restart of the gateway; nothing was changed`);
    }
    if (d.empty) return d;
    // Key files are read before anything changes: one that cannot be used refuses the whole change.
    const secrets: Buffer[] = [];
    let kmConfig: KeyManagerConfig | null;
    try {
      kmConfig = this.keymanager ? keyManagerConfig(next, secrets) : null;
    } catch (err) {
      wipe(...secrets);
      throw err;
    }
    const prev = this.config;
    // New outbound SAs' numbers are reserved on disk first: if they cannot
    // be, nothing is changed (SequenceStateError).
    // SAs looked up by key, not searched: a reload that changes every SA stays linear.
    const outboundKey = (k: { route: RouteId; queue: QueueNumber }) => `${k.route}\u0000${k.queue}`;
    const newOut = new Map((next.dataPlane?.outboundSas ?? []).map((s) => [outboundKey(s), s]));
    const outboundNew = next.dataPlane && this.sequences
      ? [...d.outboundSas.added, ...d.outboundSas.changed].map((k) => newOut.get(outboundKey(k))!)
      : [];
    const starts = outboundNew.length ? this.sequences!.prepare(outboundNew) : [];
    if (next.mtu !== prev.mtu || next.tfc !== prev.tfc) {
      this.dataplane.setMtu(next.mtu, next.tfc);
      this.slowpath.setMtu(next.mtu);
    }
    // The data plane rebuilds its whole route table: not when only keys, SPIs or AEADs changed.
    if (!sameRouteTable(prev.routes, next.routes)) {
      this.dataplane.setRoutes(this.routeSpecs(next));
    }
    if (this.keymanager) {
      // Only the routes the diff names are compiled again (the others keep their state untouched).
      try {
        this.keymanager.configure(kmConfig!, [...d.routes.added, ...d.routes.removed, ...d.routes.changed]);
      } finally {
        wipe(...secrets);
      }
    } else {
      const dp = prev.dataPlane!, np = next.dataPlane!;
      const oldIn = new Map(dp.inboundSas.map((s) => [s.spi, s]));
      const newIn = new Map(np.inboundSas.map((s) => [s.spi, s]));
      const oldOut = new Map(dp.outboundSas.map((s) => [outboundKey(s), s]));
      for (const spi of [...d.inboundSas.removed, ...d.inboundSas.changed]) {
        const old = oldIn.get(spi)!;
        this.saLedger.removing('inbound', old.queue, spi);
        this.dataplane.removeInboundSa(old.queue, spi);
      }
      for (const spi of [...d.inboundSas.added, ...d.inboundSas.changed]) {
        const sa = newIn.get(spi)!;
        this.dataplane.addInboundSa(inboundSpec(sa, next.replayWindow));
        this.saLedger.installed('inbound', sa.queue, sa.route, sa.spi, sa.aead);
      }
      const oldOutbound = (k: { route: RouteId; queue: QueueNumber }) => oldOut.get(outboundKey(k));
      for (const k of [...d.outboundSas.removed, ...d.outboundSas.changed]) this.saLedger.removing('outbound', k.queue, oldOutbound(k)!.spi);
      for (const k of d.outboundSas.removed) {
        this.dataplane.removeOutboundSa(k.queue, k.route);
        this.sequences?.removed(k.queue, k.route);
      }
      outboundNew.forEach((sa, i) => {
        this.saLedger.installed('outbound', sa.queue, sa.route, sa.spi, sa.aead);
        this.installOutbound(sa, starts[i], natTOf(next, sa.route));
      });
    }
    this.dataplane.commit();
    this.config = next;
    this.log.info({ settings: d.settings, routes: { added: d.routes.added, removed: d.routes.removed, changed: d.routes.changed }, inboundSas: d.inboundSas, outboundSas: d.outboundSas }, 'configuration changed');
    return d;
  }

  private installStaticSas(config: GatewayConfig, starts: readonly SequenceStart[]): void {
    const dp = config.dataPlane!;
    for (const sa of dp.inboundSas) {
      this.dataplane.addInboundSa(inboundSpec(sa, config.replayWindow));
      this.saLedger.installed('inbound', sa.queue, sa.route, sa.spi, sa.aead);
    }
    dp.outboundSas.forEach((sa, i) => {
      this.installOutbound(sa, starts[i], natTOf(config, sa.route));
      this.saLedger.installed('outbound', sa.queue, sa.route, sa.spi, sa.aead);
    });
  }

  /** An explicit outbound SA, within the numbers `start` reserved for it. */
  private installOutbound(sa: SaConfig, start: SequenceStart, udp: { port: number } | null): void {
    this.dataplane.setOutboundSa({
      queue: sa.queue, route: sa.route, spi: sa.spi, aead: sa.aead, keymat: Buffer.concat([sa.key, sa.salt]),
      esn: sa.esn, seq: start.seq, limit: start.limit,
      // The route's nat-traversal "force": ESP in UDP, from our NAT-T port to the peer's.
      ...(udp ? { udpSourcePort: udp.port, udpDestinationPort: udp.port } : {}),
    });
    this.sequences!.installed(sa, start);
  }
}

// The NAT-T port of a route with nat-traversal "force" (data-plane mode: its
// explicit outbound SAs send ESP in UDP), or null. Routes are indexed once
// per configuration, so installing many SAs stays linear.
const forcedRoutes = new WeakMap<GatewayConfig, ReadonlySet<string>>();
function natTOf(config: GatewayConfig, route: string): { port: number } | null {
  let forced = forcedRoutes.get(config);
  if (!forced) forcedRoutes.set(config, (forced = new Set(config.routes.filter((r) => r.natTraversal === 'force').map((r) => r.id))));
  return forced.has(route) ? { port: config.natTPort } : null;
}

/** An explicit inbound SA: every number before its initial-sequence counts as received. */
function inboundSpec(sa: SaConfig, replayWindow: number) {
  return {
    queue: sa.queue, route: sa.route, spi: sa.spi, aead: sa.aead, keymat: Buffer.concat([sa.key, sa.salt]), replayWindow,
    esn: sa.esn, seq: sa.initialSequence === null ? 0n : sa.initialSequence - 1n,
  };
}

/** True if the data plane's route table (ids, nets, gateway addresses, in order) would be the same. */
function sameRouteTable(a: readonly RouteConfig[], b: readonly RouteConfig[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x.id !== y.id || x.net !== y.net || x.gateways.length !== y.gateways.length) return false;
    for (let j = 0; j < x.gateways.length; j++) if (x.gateways[j].address !== y.gateways[j].address) return false;
    if (JSON.stringify(pairGateways(x)) !== JSON.stringify(pairGateways(y))) return false;
  }
  return true;
}

/**
 * What the key manager needs of the configuration. Keys in files
 * (private-key-file, preshared-key-file) are read here, and KeyFileError
 * names the one that cannot be used; the buffers read go to `secrets` when
 * given, for the caller to wipe once the key manager has its copies.
 */
export function keyManagerConfig(config: GatewayConfig, secrets: Buffer[] = []): KeyManagerConfig {
  const file = (path: string, at: string) => {
    const key = readKeyFile(path, at);
    secrets.push(key);
    return key;
  };
  return {
    saTtl: config.saTtl,
    negotiationTtl: config.negotiationTtl,
    port: config.protocolPort,
    livenessInterval: config.livenessInterval,
    livenessFailures: config.livenessFailures,
    ...(config.privateKeyFile !== null ? { privateKey: file(config.privateKeyFile, `${ROOT_PATH}/private-key-file`) } : {}),
    natTPort: config.natTPort,
    routes: config.routes.map((r) => ({
      id: r.id,
      spi: r.spi!,
      ...(r.peer
        ? {
          peerPublicKey: r.peer.publicKey,
          ...(r.peer.presharedKeyFile !== null
            ? { preSharedKey: file(r.peer.presharedKeyFile, `${ROOT_PATH}/route[id='${r.id}']/peer/preshared-key-file`) }
            : {}),
        }
        : { preSharedKey: r.presharedKey! }),
      aead: r.aead,
      ...(r.livenessInterval !== null ? { livenessInterval: r.livenessInterval } : {}),
      ...(r.livenessFailures !== null ? { livenessFailures: r.livenessFailures } : {}),
      protocol: r.protocol,
      queues: config.publicInterface.queues.map((q) => {
        const port = r.peer?.endpoints.find((e) => e.queue === q.id)?.port ?? null;
        return {
          queue: q.id,
          localAddress: q.address,
          ...(r.gateways.length ? { gatewayAddress: (r.gateways.find((g) => g.queue === q.id) ?? r.gateways[0]).address } : {}),
          ...(port !== null ? { gatewayPort: port } : {}),
        };
      }),
      natTraversal: r.natTraversal,
      ...keyManagerPeers(config, r, file),
    })),
  };
}

function linkSpec(i: InterfaceConfig, queues: number): LinkSpec {
  switch (i.driver) {
    case 'memory':
      return { driver: 'memory', wire: i.device, end: i.wireEnd ?? 0 };
    case 'pcap':
      return { driver: 'pcap', pcapIn: i.pcap?.input ?? undefined, pcapOut: i.pcap?.output ?? undefined };
    default:
      return { driver: i.driver, ifname: i.device, queues };
  }
}

function deviceMac(i: InterfaceConfig): string {
  const file = `/sys/class/net/${i.device}/address`;
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    throw new Error(`interface ${i.device}: no MAC address configured and cannot read ${file} (does the device exist?)`);
  }
}
