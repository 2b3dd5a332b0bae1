// Waiting for the scale-out lab to reach a state (bench/drain.ts,
// bench/failover-multi-peer.ts). A wait that times out names the
// conditions that were still false at the last poll, each with the state it
// saw (routes, b1's view of its peers), so that one timeout seen once can
// be read from its error alone.

/** One condition of a wait: its name, whether it holds, and what was seen (for the error). */
export interface Condition {
  name: string;
  ok: boolean;
  seen?: unknown;
}

/** A check gives a bare yes/no, or the conditions that make it up. */
export type Check = () => Promise<boolean | Condition[]>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function holds(r: boolean | Condition[]): boolean {
  return typeof r === 'boolean' ? r : r.every((c) => c.ok);
}

/** What was still false at the last poll, for the timeout's message. */
export function stillFalse(r: boolean | Condition[] | undefined): string {
  if (r === undefined) return 'never checked';
  if (typeof r === 'boolean') return 'the condition';
  return r.filter((c) => !c.ok).map((c) => `${c.name} (seen: ${JSON.stringify(c.seen)})`).join('; ');
}

/** Polls `check` every `pollMs` until it holds; returns the time it did (performance.now()). */
export async function until(what: string, check: Check, ms: number, pollMs = 20): Promise<number> {
  const start = performance.now();
  const end = start + ms;
  let last: boolean | Condition[] | undefined;
  for (;;) {
    try {
      last = await check();
    } catch (e) {
      // A gateway's API not answering yet (its socket comes a moment after
      // "gateway started") is a condition not yet met, not the end of the wait.
      last = [{ name: 'the check could run', ok: false, seen: e instanceof Error ? e.message : String(e) }];
    }
    if (holds(last)) return performance.now();
    if (performance.now() > end) throw new Error(`timed out after ${Math.round(performance.now() - start)} ms waiting for ${what}; still false: ${stillFalse(last)}`);
    await sleep(pollMs);
  }
}
