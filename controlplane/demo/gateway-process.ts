// A gateway as operators run it: `vitesse run --config FILE` as a child
// process inside a lab namespace (its interfaces are that namespace's), with
// its JSON log lines parsed as they arrive. Tests kill and restart these to
// see a gateway come back; nothing of it shares the caller's event loop.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { packageRoot } from '../native.js';
import type { Lab } from './lab.js';

export interface LogLine {
  msg?: string;
  level?: string;
  time?: string;
  [k: string]: unknown;
}

export interface GatewayProcess {
  child: ChildProcess;
  /** Every log line so far, in order. */
  log: LogLine[];
  /** Resolves with performance.now() when the gateway logs that it started; rejects if it exits first. */
  started: Promise<number>;
  /** Resolves when the process has exited (by any signal). */
  exited: Promise<void>;
  /** Resolves with the first log line after now that `match` accepts. */
  next(match: (l: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
}

export const vitesseBin = path.join(packageRoot, 'bin', 'vitesse.js');

/** Calls `each` with every non-empty line of `stream` (a process's stdout) as it completes. */
export function eachLine(stream: Readable, each: (text: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const text of lines) if (text.trim()) each(text);
  });
}

export function spawnGateway(lab: Lab, ns: string, configFile: string, name: string, extraArgs: string[] = []): GatewayProcess {
  const child = lab.spawn(ns, [process.execPath, vitesseBin, 'run', '--config', configFile, '--name', name, ...extraArgs]);
  const log: LogLine[] = [];
  const waiters = new Set<(l: LogLine) => void>();
  let stderr = '';
  eachLine(child.stdout!, (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
    }
    log.push(line);
    for (const w of [...waiters]) w(line);
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const next = (match: (l: LogLine) => boolean, timeoutMs: number) =>
    new Promise<LogLine>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(w);
        child.off('exit', onExit);
      };
      const w = (l: LogLine) => {
        if (!match(l)) return;
        done();
        resolve(l);
      };
      const onExit = (code: number | null, signal: string | null) => {
        done();
        reject(new Error(`gateway ${name} exited (${signal ?? code}) before the expected log line: ${stderr.trim() || '(no stderr)'}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`gateway ${name}: no matching log line within ${timeoutMs} ms; stderr: ${stderr.trim() || '(none)'}`));
      }, timeoutMs);
      waiters.add(w);
      child.once('exit', onExit);
    });

  const started = next((l) => l.msg === 'gateway started', 30_000).then(() => performance.now());
  started.catch(() => {}); // callers that never look must not see an unhandled rejection
  return { child, log, started, exited, next };
}
