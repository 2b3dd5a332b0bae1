// What a gateway announces to its site's router (docs/scale-out.md): the
// remote prefixes it has a live tunnel for — a route with an active outbound
// SA and its peer up (exchange/liveness.ts). Those go into routes-file as two
// BIRD static protocols (IPv4 and IPv6); BIRD reads them on `birdc configure`
// and exports them over BGP with the gateway's private address as next hop
// (deploy/bird/gateway.conf). A route that loses its SA or its peer leaves the
// file and BIRD withdraws it; the gateway stopping or dying takes BIRD, and
// so every announcement, with it (bird.ts).
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway.js';
import type { BgpConfig } from '../config/types.js';
import { routePeers } from '../peer-state.js';
import { Bird } from './bird.js';

// The running gateway's announcer, for its state and metrics (as drain.ts's registry).
const registry = new WeakMap<object, Announcer>();

/** What the gateway announces now (gateway-state/bgp/announced), or undefined without bgp. */
export function announcedOf(gw: object): Array<{ prefix: string; since: number }> | undefined {
  const a = registry.get(gw);
  return a ? a.announced.map((prefix) => ({ prefix, since: a.since.get(prefix) ?? 0 })) : undefined;
}

// How often the tunnels are looked at. Liveness decides in seconds; this adds
// at most this much to a withdrawal.
const POLL_MS = 200;

/** The remote prefixes with a live tunnel, in configuration order. */
export function livePrefixes(gw: Gateway): string[] {
  const km = gw.keymanager;
  if (!km) return [];
  const sending = new Set(km.state().filter((e) => e.outbound !== null).map((e) => e.route));
  const peers = routePeers(gw);
  // A route whose every peer drains (exchange/drain-notices.ts) is withdrawn: the site's router moves its flows to our neighbours.
  return gw.currentConfig.routes.filter((r) => sending.has(r.id) && peers.get(r.id)?.peerUp === true && peers.get(r.id)?.draining !== true).map((r) => r.net);
}

/** routes-file's text: a static protocol per IP version, so that one include serves both. */
export function routesFileText(prefixes: readonly string[]): string {
  const proto = (name: string, channel: string, nets: string[]) =>
    `protocol static ${name} {\n  ${channel};\n${nets.map((n) => `  route ${n} blackhole;\n`).join('')}}\n`;
  return '# Written by vitesse (controlplane/bgp/announcer.ts): the prefixes this gateway has a live tunnel for.\n'
    + proto('vitesse4', 'ipv4', prefixes.filter((p) => !p.includes(':')))
    + proto('vitesse6', 'ipv6', prefixes.filter((p) => p.includes(':')));
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

export class Announcer {
  private readonly bird: Bird;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private written: string | null = null;
  private busy = false;
  private withdrawn = false;
  /** Prefixes announced now (as last given to BIRD). */
  announced: string[] = [];
  /** When each announced prefix was given to BIRD (ms since the epoch). */
  readonly since = new Map<string, number>();

  constructor(private readonly gw: Gateway, private readonly config: BgpConfig, log: Logger) {
    this.log = log.child({ module: 'bgp' });
    this.bird = new Bird({ config: config.birdConfig, socket: config.controlSocket, log: this.log });
    registry.set(gw, this);
  }

  start(): void {
    // BIRD reads the file at start: it exists, empty, before BIRD does.
    this.written = routesFileText([]);
    writeAtomically(this.config.routesFile, this.written);
    this.bird.start();
    this.poll();
  }

  private poll(): void {
    this.timer = setInterval(() => void this.update(), POLL_MS);
    this.timer.unref();
  }

  /** Withdraws every announcement (drain, drain.ts): the file empties and BIRD is told; nothing is announced until resume(). */
  async withdrawAll(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.withdrawn = true;
    // An update in flight finishes first, so that its file cannot follow ours.
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    this.busy = true;
    try {
      await this.publish([]);
    } catch (e) {
      this.written = null;
      throw e;
    } finally {
      this.busy = false;
    }
  }

  /** The drain cancelled: the live tunnels are announced again. */
  resume(): void {
    if (!this.withdrawn) return;
    this.withdrawn = false;
    if (!this.timer) this.poll();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.bird.stop();
    try {
      writeAtomically(this.config.routesFile, routesFileText([]));
    } catch {
      // the directory went away: nothing to announce from it anyway
    }
  }

  private async update(): Promise<void> {
    if (this.busy || this.withdrawn) return;
    this.busy = true;
    try {
      await this.publish(livePrefixes(this.gw));
    } catch (e) {
      // Tried again at the next poll (the text differs from what BIRD has).
      this.written = null;
      this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'announcements not updated');
    } finally {
      this.busy = false;
    }
  }

  private async publish(prefixes: string[]): Promise<void> {
    const text = routesFileText(prefixes);
    if (text === this.written) return;
    writeAtomically(this.config.routesFile, text);
    this.written = text;
    await this.bird.configure();
    const added = prefixes.filter((p) => !this.announced.includes(p));
    const withdrawn = this.announced.filter((p) => !prefixes.includes(p));
    this.announced = prefixes;
    for (const p of withdrawn) this.since.delete(p);
    for (const p of added) this.since.set(p, Date.now());
    this.log.info({ announced: added, withdrawn }, 'announcements updated');
  }
}
