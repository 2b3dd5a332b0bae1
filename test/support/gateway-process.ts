// A `vitesse run` child process as tests watch it when they spawn it
// themselves (their own arguments, no lab namespace; controlplane/demo/
// gateway-process.ts is the lab's): its JSON log lines as they arrive, its
// stderr, and its end — reported on 'close', after its output is all read,
// so a test that awaits the end sees every line the gateway wrote.
import type { ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { eachLine } from '../../controlplane/demo/gateway-process.js';
import { until } from '../../controlplane/demo/memory-two-sites.js';

export interface WatchedProcess {
  logs: Record<string, any>[];
  stderr: string;
  /** True once the process has ended and its output was read. */
  exited: boolean;
  /** The exit code (null if a signal ended it) and the signal. */
  end: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Watches `child` (spawned with piped stdout and stderr); the object's fields change as output comes. */
export function watchProcess(child: ChildProcess): WatchedProcess {
  const w = { logs: [], stderr: '', exited: false } as unknown as WatchedProcess;
  // Strictly JSON: anything else on a gateway's stdout is a defect the test should show.
  eachLine(child.stdout!, (text) => w.logs.push(JSON.parse(text)));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (w.stderr += c));
  w.end = new Promise((resolve) => child.once('close', (code, signal) => {
    w.exited = true;
    resolve({ code, signal });
  }));
  return w;
}

/** Waits until the gateway logged that it is running; fails with its stderr if it ended first. */
export async function untilRunning(w: WatchedProcess, what = 'the gateway to start', ms = 30_000): Promise<void> {
  await until(() => w.exited || w.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('running')), ms, what);
  expect(w.exited, `${what}: it ended instead (stderr: ${w.stderr})`).toBe(false);
}

/** SIGTERM, then the process's end (nothing if it has ended already). */
export async function stopProcess(child: ChildProcess, w: WatchedProcess): Promise<void> {
  if (w.exited) return;
  child.kill('SIGTERM');
  await w.end;
}
