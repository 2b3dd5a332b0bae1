// The gateway's log: JSON lines (pino) with the level as a name
// ("level":"warn") and the time in ISO 8601, for humans and log shippers
// alike. When stdout is the journal (systemd sets JOURNAL_STREAM to the
// device and inode of the stream it connected), each line starts with its
// syslog priority ("<4>"), which journald strips and records, so that
// `journalctl -p warning` shows warnings and worse.
//
// The level can change while the gateway runs (the API's set-log-level
// operation): pino children copy their parent's level when made, so the
// logger keeps track of its children and sets them all.
import fs from 'node:fs';
import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const isLogLevel = (s: string): s is LogLevel => (LOG_LEVELS as readonly string[]).includes(s);

/** RFC 5424 severities of pino's levels. */
const PRIORITY: Record<string, number> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3, fatal: 2 };

/**
 * True if the descriptor `fd` is the stream systemd connected to the journal:
 * JOURNAL_STREAM is "DEVICE:INODE" of it (systemd.exec(5)). A redirected
 * stdout (to a file, a pipe) under systemd no longer matches.
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2]);
  } catch {
    return false;
  }
}

/** "<N>" + line, N the syslog priority of the line's level (the first member, see formatters below). */
export function withPriority(line: string): string {
  const m = /^\{"level":"([a-z]+)"/.exec(line);
  const p = m && Object.hasOwn(PRIORITY, m[1]) ? PRIORITY[m[1]] : 6;
  return `<${p}>${line}`;
}

export interface GatewayLogger {
  readonly log: Logger;
  /** Sets the level of the logger and of every child made of it. */
  setLevel(level: LogLevel): void;
}

/** A logger writing to `fd` (stdout by default), with priorities when that is the journal. */
export function gatewayLogger(name: string, level: LogLevel, fd = 1, env: NodeJS.ProcessEnv = process.env): GatewayLogger {
  const children = new Set<WeakRef<Logger>>();
  const journal = isJournalStream(fd, env);
  const log = pino({
    name,
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    ...(journal ? { hooks: { streamWrite: withPriority } } : {}),
    onChild: (child) => { children.add(new WeakRef(child)); },
  }, pino.destination({ fd, sync: true }));
  return {
    log,
    setLevel(next) {
      log.level = next;
      for (const ref of children) {
        const child = ref.deref();
        if (child) child.level = next;
        else children.delete(ref);
      }
    },
  };
}
