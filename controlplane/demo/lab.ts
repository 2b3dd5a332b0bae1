// Network namespaces joined by veth pairs: the one lab of the demo, `vitesse
// bench io/e2e` and the tests that need real kernel interfaces. Everything a
// Lab creates lives in its namespaces and disappears with them, so cleanup is
// deleting the namespaces — also at exit, and for labs whose process died, the
// next time a lab with the same prefix starts. Names carry the process id, so
// parallel runs never collide.
//
// Our drivers open links inside a namespace themselves (spec.netns), so a
// process using a lab stays in the root namespace and can hold both ends of a
// veth pair.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export function commandMissing(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
}

/** Why a lab cannot be built here, or undefined if it can. */
export function labUnavailable(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'needs root (creates network namespaces and veth pairs)';
  }
  if (commandMissing('ip')) return 'needs the ip command (iproute2)';
  return undefined;
}

function run(argv: string[], input?: string): string {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', input, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${argv.join(' ')}: ${(err.stderr || err.message).trim()}`);
  }
}

const live = new Set<Lab>();
process.on('exit', () => {
  for (const lab of live) lab.cleanup();
});

export interface Veth {
  a: string;
  b: string;
  macA: string;
  macB: string;
}

export class Lab {
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private links = 0;

  /** `prefix` names this lab's namespaces: `${prefix}-${pid}-${name}`. */
  constructor(private readonly prefix: string) {
    this.reap();
    live.add(this);
  }

  /** A namespace with loopback up; `ipv6: false` silences the kernel's own IPv6 chatter. */
  namespace(name: string, opts: { ipv6?: boolean; forwarding?: boolean } = {}): string {
    const ns = `${this.prefix}-${process.pid}-${name}`;
    run(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
    this.exec(ns, ['ip', 'link', 'set', 'lo', 'up']);
    if (opts.ipv6 === false) this.exec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    if (opts.forwarding) this.exec(ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    return ns;
  }

  /**
   * A veth pair, both ends up, with the offloads a real wire would have done
   * away with turned off: a veth hands a local stack's 64 KB TSO segments to
   * its peer unsplit, and leaves TCP/UDP checksums to a NIC that is not there
   * (af-packet repairs those, af-xdp cannot tell). `kernelOffloads` keeps
   * them, for the driver tests, which meet what a veth really does.
   */
  veth(nsA: string, nameA: string, nsB: string, nameB: string, opts: { queues?: number; mtu?: number; kernelOffloads?: boolean } = {}): Veth {
    const q = String(opts.queues ?? 1);
    const tmpA = `vl${process.pid % 10000}x${this.links}a`, tmpB = `vl${process.pid % 10000}x${this.links++}b`;
    run(['ip', 'link', 'add', tmpA, 'numtxqueues', q, 'numrxqueues', q, 'type', 'veth', 'peer', 'name', tmpB, 'numtxqueues', q, 'numrxqueues', q]);
    run(['ip', 'link', 'set', tmpA, 'netns', nsA, 'name', nameA]);
    run(['ip', 'link', 'set', tmpB, 'netns', nsB, 'name', nameB]);
    for (const [ns, dev] of [[nsA, nameA], [nsB, nameB]]) {
      if (opts.mtu) this.exec(ns, ['ip', 'link', 'set', dev, 'mtu', String(opts.mtu)]);
      this.exec(ns, ['ip', 'link', 'set', dev, 'up']);
      if (!opts.kernelOffloads && !commandMissing('ethtool')) {
        try {
          this.exec(ns, ['ethtool', '-K', dev, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
        } catch {
          // not every kernel lets every feature change; the defaults still work, only slower
        }
      }
    }
    return { a: nameA, b: nameB, macA: this.mac(nsA, nameA), macB: this.mac(nsB, nameB) };
  }

  mac(ns: string, dev: string): string {
    return (JSON.parse(this.exec(ns, ['ip', '-j', 'link', 'show', dev])) as { address: string }[])[0].address;
  }

  address(ns: string, dev: string, cidr: string): void {
    this.exec(ns, ['ip', 'addr', 'add', cidr, 'dev', dev, ...(cidr.includes(':') ? ['nodad'] : [])]);
  }

  /** A static neighbour entry, so the kernel sends without asking ARP/ND. */
  neighbour(ns: string, dev: string, addr: string, mac: string): void {
    this.exec(ns, ['ip', 'neigh', 'replace', addr, 'lladdr', mac, 'dev', dev, 'nud', 'permanent']);
  }

  /** One interface's kernel counters (ip -s link). */
  stats(ns: string, dev: string): { rxPackets: number; rxBytes: number; rxDropped: number; txPackets: number; txDropped: number } {
    type Dir = { packets: number; bytes: number; dropped: number };
    const s = (JSON.parse(this.exec(ns, ['ip', '-j', '-s', 'link', 'show', dev])) as { stats64: { rx: Dir; tx: Dir } }[])[0].stats64;
    return { rxPackets: s.rx.packets, rxBytes: s.rx.bytes, rxDropped: s.rx.dropped, txPackets: s.tx.packets, txDropped: s.tx.dropped };
  }

  route(ns: string, dst: string, via: string): void {
    this.exec(ns, ['ip', ...(via.includes(':') ? ['-6'] : []), 'route', 'add', dst, 'via', via]);
  }

  exec(ns: string, argv: string[], input?: string): string {
    return run(['ip', 'netns', 'exec', ns, ...argv], input);
  }

  /**
   * Runs a command in a namespace without blocking the event loop — required
   * while gateways run in this process: their slow path (ARP, key exchange)
   * is served from the event loop.
   */
  async execAsync(ns: string, argv: string[]): Promise<string> {
    try {
      return (await execFileAsync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' })).stdout;
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      throw Object.assign(new Error(`${argv.join(' ')} in ${ns}: ${(err.stderr || err.message).trim()}`), { stdout: err.stdout ?? '' });
    }
  }

  /** Starts a long-running command in a namespace; it is killed at cleanup. */
  spawn(ns: string, argv: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  cleanup(): void {
    for (const c of this.children) c.kill('SIGKILL');
    this.children.clear();
    for (const ns of this.namespaces.splice(0)) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    live.delete(this);
  }

  private reap(): void {
    let names: string[] = [];
    try {
      names = fs.readdirSync('/run/netns');
    } catch {
      return;
    }
    for (const n of names) {
      const m = new RegExp(`^${this.prefix}-(\\d+)-`).exec(n);
      if (!m) continue;
      try {
        process.kill(Number(m[1]), 0);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') {
          try {
            execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
          } catch {
            // someone else reaped it
          }
        }
      }
    }
  }
}
