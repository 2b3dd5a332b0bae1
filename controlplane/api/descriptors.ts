// File descriptors as a budget. Every connection to a listener costs one, so
// clients can spend them all (20,000 idle TLS connections did); then nothing
// the gateway must do itself (read its configuration on SIGHUP, save an API
// change) could open a file. Two defences:
//
// - the listeners' connection caps are fitted to RLIMIT_NOFILE at start
//   (fitCaps), so that all of them full still leave descriptors free;
// - a few descriptors are held in reserve (on /dev/null) and given up, one
//   at a time, only when the gateway's own open() fails with EMFILE: the
//   descriptor is freed and taken again in the same synchronous step, so
//   no connection can take it in between.
import fs from 'node:fs';

/** The soft RLIMIT_NOFILE, or null where /proc does not say. */
export function descriptorLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Descriptors open now, or null where /proc does not say. */
export function openDescriptors(): number | null {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

/** Descriptors left free for the gateway itself when every listener is full. */
export const HEADROOM = 32;

/**
 * The per-listener cap: `requested`, or less if `listeners` listeners that
 * full would leave fewer than HEADROOM descriptors free. An explicit request
 * is kept as given (the operator decided), with a warning.
 */
export function fitCaps(requested: number, listeners: number, explicit: boolean): { cap: number; warning: string | null } {
  const limit = descriptorLimit();
  const open = openDescriptors();
  if (limit === null || open === null || listeners === 0) return { cap: requested, warning: null };
  const budget = limit - open - HEADROOM;
  const fits = Math.max(1, Math.floor(budget / listeners));
  if (requested <= fits) return { cap: requested, warning: null };
  if (explicit) {
    return { cap: requested, warning: `--max-connections ${requested} on ${listeners} listeners can use every descriptor (RLIMIT_NOFILE ${limit}, ${open} open): clients could starve the gateway; raise the limit (LimitNOFILE=) or lower the cap` };
  }
  return { cap: fits, warning: `at most ${fits} connections per listener (RLIMIT_NOFILE ${limit}, ${open} open, ${HEADROOM} kept free): raise the limit (LimitNOFILE=) for more` };
}

const RESERVE_SIZE = 4;

class DescriptorReserve {
  private readonly fds: number[] = [];

  /** Takes descriptors until the reserve is full (or none are left). */
  fill(): void {
    while (this.fds.length < RESERVE_SIZE) {
      try {
        this.fds.push(fs.openSync('/dev/null', 'r'));
      } catch {
        return;
      }
    }
  }

  get size(): number {
    return this.fds.length;
  }

  /** fs.openSync that, at EMFILE, gives up a reserved descriptor to succeed. */
  openSync(file: string, flags: string | number, mode?: number): number {
    try {
      return fs.openSync(file, flags, mode);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const spare = code === 'EMFILE' || code === 'ENFILE' ? this.fds.pop() : undefined;
      if (spare === undefined) throw e;
      fs.closeSync(spare);
      return fs.openSync(file, flags, mode);
    }
  }

  /** Closes a descriptor from openSync and takes it back into the reserve if it ran low. */
  closeSync(fd: number): void {
    fs.closeSync(fd);
    this.fill();
  }

  /** A whole file, read through a reserved descriptor if need be. */
  readFileSync(file: string): string {
    const fd = this.openSync(file, 'r');
    try {
      return fs.readFileSync(fd, 'utf8');
    } finally {
      this.closeSync(fd);
    }
  }
}

/** The process's reserve (one: descriptors are per process). */
export const reserve = new DescriptorReserve();
