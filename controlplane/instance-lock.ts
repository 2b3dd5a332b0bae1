// One gateway per name and per interface. Two `vitesse run` on the same
// interfaces would both answer the peer's key exchange and both install SAs
// (the peer's tunnel goes dark when the second stops); two with the same
// name would fight over the API socket. So before it opens a link or sends
// a frame, `vitesse run` takes an exclusive lock on its name and on each
// interface it drives, and a second instance is refused naming the holder.
//
// The locks are flock(2) locks on files in a directory (/run/vitesse/lock by
// default; --lock-dir): they die with the process however it ends, SIGKILL
// included, and a file left behind is simply locked again. An interface is
// known by its index in its network namespace (the namespace's inode), not
// by its name, which can change or repeat across namespaces. Only drivers
// that own a device lock it (af-packet, af-xdp; memory wires and pcap files
// are not shared resources).
//
// This file is the one place locks are taken: a command that must not take
// them (a configuration check) simply does not call lockInstance().
import fs from 'node:fs';
import path from 'node:path';
import type { GatewayConfig, InterfaceConfig } from './config/types.js';
import { native } from './native.js';

export const DEFAULT_LOCK_DIR = '/run/vitesse/lock';

/** Another running gateway holds a lock we need. */
export class InstanceLockError extends Error {}

export interface InstanceLocks {
  /** The lock files held, for the log. */
  readonly files: string[];
  release(): void;
}

interface Holder {
  pid?: number;
  name?: string;
  config?: string;
}

// A holder between taking its lock and writing its note shows an empty file:
// look again a few times before saying we cannot tell who it is.
const HOLDER_RETRIES = 5;
const HOLDER_RETRY_MS = 20;

/** Locks `name` and the config's interfaces in `dir`; throws InstanceLockError naming the holder's PID. */
export function lockInstance(config: GatewayConfig, name: string, configFile: string, dir = DEFAULT_LOCK_DIR): InstanceLocks {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const note = JSON.stringify({ pid: process.pid, name, config: path.resolve(configFile) }) + '\n';
  const fds: number[] = [];
  const files: string[] = [];
  const release = () => {
    for (const fd of fds.splice(0)) native.instance.unlock(fd);
  };
  try {
    const take = (file: string, what: string, advice: string) => {
      const full = path.join(dir, file);
      const fd = lockFile(full, note, (h) => {
        const who = h.pid ? `gateway "${h.name ?? '?'}" (PID ${h.pid}${h.config ? `, ${h.config}` : ''})` : 'another process (its PID is not recorded yet)';
        return new InstanceLockError(`${what} is in use by ${who}; ${advice} (lock ${full})`);
      });
      fds.push(fd);
      files.push(full);
    };
    take(`name-${name}.lock`, `the name "${name}"`, 'stop that gateway or choose another --name');
    const seen = new Set<string>();
    for (const itf of [config.privateInterface, config.publicInterface]) {
      const id = interfaceId(itf);
      if (!id || seen.has(id.key)) continue;
      seen.add(id.key);
      take(`interface-${id.key}.lock`, `interface ${itf.device} (${id.text})`, 'one interface serves one gateway: stop the other or configure other interfaces');
    }
  } catch (e) {
    release();
    throw e;
  }
  return { files, release };
}

function lockFile(file: string, note: string, held: (h: Holder) => Error): number {
  for (let attempt = 0; ; attempt++) {
    const r = native.instance.lock(file, note) as { fd?: number; holder?: string };
    if (r.fd !== undefined) return r.fd;
    const holder = parseHolder(r.holder ?? '');
    if (holder.pid || attempt >= HOLDER_RETRIES) throw held(holder);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, HOLDER_RETRY_MS);
  }
}

function parseHolder(text: string): Holder {
  try {
    const h = JSON.parse(text) as Record<string, unknown>;
    return {
      pid: Number.isInteger(h.pid) ? (h.pid as number) : undefined,
      name: typeof h.name === 'string' ? h.name : undefined,
      config: typeof h.config === 'string' ? h.config : undefined,
    };
  } catch {
    return {};
  }
}

// (network namespace inode, ifindex) of a device the gateway will open in
// its own namespace; null for drivers without a device, or a device that
// does not exist (opening the link then fails with its own message).
function interfaceId(itf: InterfaceConfig): { key: string; text: string } | null {
  if (itf.driver !== 'af-packet' && itf.driver !== 'af-xdp') return null;
  let index: number;
  try {
    index = native.instance.ifindex(itf.device) as number;
  } catch {
    return null;
  }
  const netns = native.instance.netns() as number;
  return { key: `${netns}-${index}`, text: `ifindex ${index} in network namespace net:[${netns}]` };
}
