// The sequence state file of SAs with explicit keys (data-plane mode).
//
// An explicit key outlives the process, so its sequence numbers must too: an
// AES-GCM nonce is salt ‖ sequence number, and sending one number twice under
// one key leaks the XOR of two plaintexts (RFC 4303 §3.3.3: a manually keyed
// sender must not reuse a number). The gateway reserves numbers ahead of use:
// it writes "this SA may have sent up to N" here, durably, before its data
// plane may send N; after a restart or a crash each SA resumes above its mark.
//
// An SA is identified by a fingerprint of its key (HMAC-SHA-256 keyed with
// the key over a fixed label: it changes with the key and reveals nothing of
// it), so a new key starts afresh and a reused key does not. SPI, route and
// queue are recorded for the operator's eyes only. Entries are never removed:
// an old key put back must not start over.
//
// The file is replaced atomically (temporary file, fsync, rename, fsync of
// the directory). One gateway at a time may use a file: `NAME.lock` beside
// it holds the user's PID (a lock left by a process that no longer exists,
// e.g. after SIGKILL, is taken over); two users would reserve the same
// numbers.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Refusal to install SAs: the state is unreadable or cannot be written. */
export class SequenceStateError extends Error {}

const TOP = 'vitesse-sequence-state';
const VERSION = 1;
const U64_MAX = 2n ** 64n - 1n;

export interface SequenceEntry {
  fingerprint: string;
  spi: number;
  route: string;
  /** 1-based, as configured. */
  queue: number;
  /** The highest sequence number the SA may have sent. */
  reserved: bigint;
}

/** Identifies an SA's key in the state file without revealing it. */
export function keyFingerprint(key: Buffer): string {
  return crypto.createHmac('sha256', key).update('vitesse sequence state: SA key fingerprint').digest('hex').slice(0, 32);
}

/** The state file of a configuration: `NAME.sequence.json` in `stateDir`, by default the configuration's directory. */
export function sequenceStateFile(configFile: string, stateDir?: string): string {
  const dir = stateDir ?? path.dirname(path.resolve(configFile));
  return path.join(path.resolve(dir), `${path.basename(configFile).replace(/\.json$/i, '')}.sequence.json`);
}

function unreadable(file: string, why: string): SequenceStateError {
  return new SequenceStateError(
    `sequence state ${file} exists but cannot be read (${why}), so the outbound SAs with explicit keys are not installed: ` +
      'they could send sequence numbers, and so AES-GCM nonces, that were sent before. ' +
      'Restore the file (its permissions, or a copy no older than the last run), or, if it is lost, give every outbound SA a new key ' +
      '(or an initial-sequence above any number it sent) and then move the file aside.',
  );
}

function parseEntries(file: string, text: string): SequenceEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw unreadable(file, `not JSON: ${(e as Error).message}`);
  }
  const top = (json as Record<string, unknown> | null)?.[TOP] as Record<string, unknown> | undefined;
  if (typeof json !== 'object' || json === null || !Object.hasOwn(json, TOP) || typeof top !== 'object' || top === null) {
    throw unreadable(file, `no "${TOP}" object`);
  }
  if (top.version !== VERSION) throw unreadable(file, `version ${JSON.stringify(top.version)}, this gateway reads ${VERSION}`);
  const list = top['outbound-sa'];
  if (!Array.isArray(list)) throw unreadable(file, '"outbound-sa" is not a list');
  return list.map((e: unknown, i: number) => {
    const o = e as Record<string, unknown>;
    const bad = (what: string) => unreadable(file, `outbound-sa entry ${i + 1}: ${what}`);
    if (typeof o !== 'object' || o === null) throw bad('not an object');
    if (typeof o.fingerprint !== 'string' || !/^[0-9a-f]{32}$/.test(o.fingerprint)) throw bad('no fingerprint');
    if (typeof o.reserved !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(o.reserved) || BigInt(o.reserved) > U64_MAX) throw bad('"reserved" is not a uint64 string');
    return {
      fingerprint: o.fingerprint,
      spi: Number(o.spi),
      route: String(o.route),
      queue: Number(o.queue),
      reserved: BigInt(o.reserved),
    };
  });
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true; // another gateway of this process
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Temporary files of writes cut short by a crash (holding no key, but clutter). */
function removeStaleTemps(file: string): void {
  const dir = path.dirname(file);
  const pattern = new RegExp(`^\\.${path.basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)\\.tmp$`);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return; // no directory yet
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (m && !alive(Number(m[1]))) {
      try { fs.rmSync(path.join(dir, name)); } catch { /* not a file: leave it */ }
    }
  }
}

function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export class SequenceStore {
  private readonly entries = new Map<string, SequenceEntry>();

  /**
   * `file` null keeps the state in memory only (tests and benchmarks that
   * build a gateway in-process; the commands always give a file).
   */
  private constructor(readonly file: string | null) {}

  /**
   * Takes the file's lock and reads it (a missing file is an empty state);
   * throws SequenceStateError if another gateway uses it, or if it exists but
   * cannot be read. close() releases the lock.
   */
  static open(file: string | null): SequenceStore {
    const store = new SequenceStore(file);
    if (file === null) return store;
    store.lock();
    try {
      removeStaleTemps(file);
      store.read(file);
    } catch (e) {
      store.close();
      throw e;
    }
    return store;
  }

  /**
   * Reads `file` as open() does, without taking its lock (vitesse run
   * --check, beside the gateway that holds it): throws SequenceStateError if
   * it exists but cannot be read.
   */
  static check(file: string): void {
    new SequenceStore(file).read(file);
  }

  private lockFile: string | null = null;

  private lock(): void {
    const lock = `${this.file!.replace(/\.json$/, '')}.lock`;
    for (let attempt = 0; ; attempt++) {
      try {
        if (!fs.existsSync(path.dirname(lock))) fs.mkdirSync(path.dirname(lock), { recursive: true, mode: 0o700 });
        fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
        this.lockFile = lock;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
          throw new SequenceStateError(`cannot lock the sequence state ${this.file}: ${(e as Error).message}`);
        }
      }
      const holder = Number.parseInt(fs.readFileSync(lock, 'utf8'), 10);
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
        throw new SequenceStateError(
          `the sequence state ${this.file} is in use by process ${holder}: two gateways (or a replay beside a running gateway) ` +
            `with one configuration would send the same sequence numbers; stop the other one, or give this one --state-dir and SAs with other keys`,
        );
      }
      fs.rmSync(lock, { force: true }); // its process is gone (killed): take it over
    }
  }

  private read(file: string): void {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw unreadable(file, (e as Error).message);
    }
    for (const e of parseEntries(file, text)) {
      const had = this.entries.get(e.fingerprint);
      if (!had || had.reserved < e.reserved) this.entries.set(e.fingerprint, e);
    }
  }

  /** Releases the lock (the state stays readable in memory). */
  close(): void {
    if (this.lockFile === null) return;
    try {
      if (fs.readFileSync(this.lockFile, 'utf8').trim() === String(process.pid)) fs.rmSync(this.lockFile, { force: true });
    } catch { /* already gone */ }
    this.lockFile = null;
  }

  /** The highest number the SA under this key may have sent, or undefined if it never sent. */
  reserved(fingerprint: string): bigint | undefined {
    return this.entries.get(fingerprint)?.reserved;
  }

  /**
   * Records higher marks and returns once they are on disk; nothing changes
   * (and SequenceStateError says why) if they cannot be written.
   */
  reserve(updates: readonly SequenceEntry[]): void {
    const next = new Map(this.entries);
    for (const u of updates) {
      const had = next.get(u.fingerprint);
      next.set(u.fingerprint, { ...u, reserved: had && had.reserved > u.reserved ? had.reserved : u.reserved });
    }
    if (this.file !== null) this.write(this.file, next);
    for (const [k, v] of next) this.entries.set(k, v);
  }

  private write(file: string, entries: Map<string, SequenceEntry>): void {
    const doc = {
      [TOP]: {
        version: VERSION,
        'outbound-sa': [...entries.values()].map((e) => ({ fingerprint: e.fingerprint, spi: e.spi, route: e.route, queue: e.queue, reserved: String(e.reserved) })),
      },
    };
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
    try {
      if (!fs.existsSync(dir)) {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        fsyncDirectory(path.dirname(dir));
      }
      const fd = fs.openSync(temp, 'w', 0o600);
      try {
        fs.writeSync(fd, JSON.stringify(doc, null, 1) + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temp, file);
      fsyncDirectory(dir);
    } catch (e) {
      try { fs.rmSync(temp, { force: true }); } catch { /* not ours to remove (e.g. a directory) */ }
      throw new SequenceStateError(`cannot write the sequence state ${file}: ${(e as Error).message}`);
    }
  }
}
