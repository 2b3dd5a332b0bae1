// Network namespaces and veth pairs for tests that need real kernel
// interfaces. Each NetLab names its namespaces after the process id and a
// counter, so parallel test files (and parallel engineers) never collide, and
// removes them when asked, when the process exits, and, for labs left by a
// process that died, the next time any lab starts. Interfaces live inside the
// lab's namespaces and disappear with them.
//
// Our drivers open links inside a namespace themselves (spec.netns: the
// opening thread enters it with setns and returns; sockets keep the
// namespace they were created in), so a test process stays in the root
// namespace and can hold both ends of a veth pair. `exec` runs a command in
// a namespace through `ip netns exec`, for the kernel's side of a test.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const PREFIX = 'vtio';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

// Why these tests cannot run here, or undefined if they can.
export function labUnavailable(): string | undefined {
  if (!isRoot()) return 'needs root (creates network namespaces and veth pairs; run the tests as root)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs the ip command (iproute2)';
  }
  return undefined;
}

function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Removes namespaces left by test processes that no longer run.
function reapOrphans(): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const n of names) {
    const m = new RegExp(`^${PREFIX}-(\\d+)-\\d+$`).exec(n);
    if (m && !alive(Number(m[1]))) {
      try {
        ip(['netns', 'del', n]);
      } catch {
        // someone else reaped it first
      }
    }
  }
}

const liveLabs = new Set<NetLab>();
process.on('exit', () => {
  for (const lab of liveLabs) lab.cleanup();
});

let counter = 0;

export interface VethPair {
  a: string; // interface name in nsA
  b: string; // interface name in nsB
  macA: string;
  macB: string;
}

export class NetLab {
  private namespaces: string[] = [];
  private ifCounter = 0;

  constructor() {
    reapOrphans();
    liveLabs.add(this);
  }

  // A fresh namespace with loopback up and IPv6 off, so the kernel sends no
  // router solicitations or MLD reports of its own into the tests' traffic.
  // Pass ipv6 = true to keep it.
  namespace(ipv6 = false): string {
    const name = `${PREFIX}-${process.pid}-${counter++}`;
    ip(['netns', 'add', name]);
    this.namespaces.push(name);
    this.exec(name, ['ip', 'link', 'set', 'lo', 'up']);
    if (!ipv6) {
      this.exec(name, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
      this.exec(name, ['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    return name;
  }

  // A veth pair between two namespaces, both ends up. `queues` sets the
  // number of receive and transmit queues of each end.
  veth(nsA: string, nsB: string, opts: { queues?: number; mtu?: number } = {}): VethPair {
    const n = this.ifCounter++;
    const a = `va${n}`;
    const b = `vb${n}`;
    const q = opts.queues ?? 1;
    const qArgs = (x: number) => ['numtxqueues', String(x), 'numrxqueues', String(x)];
    ip(['link', 'add', a, 'netns', nsA, ...qArgs(q), 'type', 'veth', 'peer', 'name', b, 'netns', nsB, ...qArgs(q)]);
    for (const [ns, dev] of [[nsA, a], [nsB, b]]) {
      if (opts.mtu) this.exec(ns, ['ip', 'link', 'set', dev, 'mtu', String(opts.mtu)]);
      this.exec(ns, ['ip', 'link', 'set', dev, 'up']);
    }
    return { a, b, macA: this.mac(nsA, a), macB: this.mac(nsB, b) };
  }

  mac(ns: string, dev: string): string {
    const info = JSON.parse(this.exec(ns, ['ip', '-j', 'link', 'show', dev])) as { address: string }[];
    return info[0].address;
  }

  // Adds an address (CIDR), with no duplicate address detection for IPv6.
  address(ns: string, dev: string, cidr: string): void {
    this.exec(ns, ['ip', 'addr', 'add', cidr, 'dev', dev, ...(cidr.includes(':') ? ['nodad'] : [])]);
  }

  // A static neighbour entry, so the kernel answers without asking ARP/ND.
  neighbour(ns: string, dev: string, addr: string, mac: string): void {
    this.exec(ns, ['ip', 'neigh', 'replace', addr, 'lladdr', mac, 'dev', dev, 'nud', 'permanent']);
  }

  // Runs a command inside a namespace; returns its stdout.
  exec(ns: string, argv: string[]): string {
    return ip(['netns', 'exec', ns, ...argv]);
  }

  // One interface's kernel counters (ip -s link).
  stats(ns: string, dev: string): { rxPackets: number; rxBytes: number; rxDropped: number; txPackets: number; txDropped: number } {
    type Dir = { packets: number; bytes: number; dropped: number };
    const info = JSON.parse(this.exec(ns, ['ip', '-j', '-s', 'link', 'show', dev])) as { stats64: { rx: Dir; tx: Dir } }[];
    const s = info[0].stats64;
    return { rxPackets: s.rx.packets, rxBytes: s.rx.bytes, rxDropped: s.rx.dropped, txPackets: s.tx.packets, txDropped: s.tx.dropped };
  }

  // Deletes every namespace of this lab (and with them their interfaces).
  cleanup(): void {
    for (const ns of this.namespaces.splice(0)) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    liveLabs.delete(this);
  }
}
