// The configuration file a running gateway was started from, as the API
// writes changes back to it:
//
// - atomically: a temporary `.NAME.PID.tmp` beside the file (mode 0600, it
//   holds keys), fsynced, renamed over the file, the directory fsynced;
//   temporaries left by a gateway killed during a save are removed at start;
// - through a symlink: the link stays a link and its target is replaced
//   (the temporary goes beside the target, so the rename stays in one
//   directory and one file system);
// - never over an operator's edit: the file must still be what the gateway
//   last loaded or saved (compared by SHA-256 of its content); if someone
//   changed it since, the change is refused (409) until the file is
//   reloaded (SIGHUP) or put back; an unchanged stat (inode, size, times)
//   spares reading a large file at every change;
// - with the descriptor reserve (descriptors.ts), so reading and writing it
//   work even when clients hold every other descriptor.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { reserve } from './descriptors.js';

const writeFile = promisify(fs.writeFile);
const fsync = promisify(fs.fsync);

const digest = (text: string) => crypto.createHash('sha256').update(text).digest('hex');

/** `.NAME.PID.tmp`: PID is the writer's. */
const TEMP = /^\.(.+)\.(\d+)\.tmp$/;

export class FileChangedError extends Error {
  constructor(readonly file: string, why: string) {
    super(`${file} ${why} since the gateway loaded it: nothing was changed (reload it with SIGHUP to make it the running configuration, or undo the edit, then retry)`);
    this.name = 'FileChangedError';
  }
}

/** The file's content as read, and its stat taken just before (so a change during the read shows). */
export interface FileText {
  text: string;
  stat: fs.Stats;
}

const sameStat = (a: fs.Stats, b: fs.Stats) =>
  a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;

export class ConfigFile {
  /** The content last loaded or saved (SHA-256) and the stat that went with it; null: not known (unreadable at start). */
  private known: { digest: string; stat: fs.Stats } | null = null;

  constructor(readonly file: string, private readonly log: Pick<Logger, 'info' | 'warn'>) {
    reserve.fill();
    this.removeStaleTemps();
    try {
      this.loaded(this.read());
    } catch { /* checked again at the first save */ }
  }

  /** The file's real path (through symlinks); the file itself if it does not exist. */
  private target(): string {
    try {
      return fs.realpathSync(this.file);
    } catch {
      return this.file;
    }
  }

  /** The file's text now (synchronous: a reserved descriptor freed here cannot be taken by anyone else). */
  read(): FileText {
    const stat = fs.statSync(this.file);
    return { text: reserve.readFileSync(this.file), stat };
  }

  /** Records what the running configuration was loaded from (at start, SIGHUP). */
  loaded(f: FileText): void {
    this.known = { digest: digest(f.text), stat: f.stat };
  }

  /** Throws FileChangedError if the file is not what was last loaded or saved. */
  checkUnchanged(): void {
    const why = (e: unknown) => new FileChangedError(this.file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}), so it may have changed`);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.file);
    } catch (e) {
      throw why(e);
    }
    if (this.known && sameStat(stat, this.known.stat)) return;
    let now: FileText;
    try {
      now = this.read();
    } catch (e) {
      throw why(e);
    }
    // Unreadable at start, readable now: nothing to compare with. Touched but the same: fine.
    if (this.known === null || digest(now.text) === this.known.digest) this.loaded(now);
    else throw new FileChangedError(this.file, 'changed on disk');
  }

  /** Writes `text` to a temporary file beside the target; returns it for commit(). */
  async writeTemp(text: string): Promise<{ temp: string; target: string; text: string }> {
    const target = this.target();
    const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
    try {
      const fd = reserve.openSync(temp, 'w', 0o600);
      try {
        fs.fchmodSync(fd, 0o600); // an existing temp file keeps its mode otherwise
        await writeFile(fd, text);
        await fsync(fd);
      } finally {
        reserve.closeSync(fd);
      }
    } catch (e) {
      fs.rmSync(temp, { force: true });
      throw e;
    }
    return { temp, target, text };
  }

  /** Renames the temporary over the target and makes the rename durable. */
  async commit(w: { temp: string; target: string; text: string }): Promise<void> {
    try {
      fs.renameSync(w.temp, w.target);
      this.known = { digest: digest(w.text), stat: fs.statSync(w.target) };
      const dir = reserve.openSync(path.dirname(w.target), 'r');
      try {
        await fsync(dir);
      } finally {
        reserve.closeSync(dir);
      }
    } catch (e) {
      fs.rmSync(w.temp, { force: true });
      throw e;
    }
  }

  discard(w: { temp: string }): void {
    fs.rmSync(w.temp, { force: true });
  }

  /**
   * Removes `.NAME.PID.tmp` files of this configuration file (beside it and
   * beside its target) whose writer is gone: a gateway killed during a save
   * leaves one, and it holds keys.
   */
  private removeStaleTemps(): void {
    const names = new Set([path.basename(this.file), path.basename(this.target())]);
    for (const dir of new Set([path.dirname(this.file), path.dirname(this.target())])) {
      let entries: string[];
      try {
        entries = fs.readdirSync(dir);
      } catch {
        continue;
      }
      for (const entry of entries) {
        const m = TEMP.exec(entry);
        if (!m || !names.has(m[1])) continue;
        const pid = Number(m[2]);
        if (pid !== process.pid && alive(pid)) continue;
        try {
          fs.rmSync(path.join(dir, entry), { force: true });
          this.log.warn({ file: path.join(dir, entry) }, 'removed a temporary configuration file left by an interrupted save (it held keys)');
        } catch { /* not ours to remove: left as it is */ }
      }
    }
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
