// Runs the vitesse CLI in the test's own process (so the addon and coverage
// are shared), capturing what it prints instead of letting it reach the
// test runner's output.
import { main } from '../../controlplane/cli.js';

export async function vitesse(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return captured(() => main(argv));
}

/** Runs a command's entry point (e.g. a benchmark's `run`), capturing what it prints. */
export async function captured(run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const [w1, w2] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((c: string | Uint8Array) => out.push(c.toString()) > 0) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => err.push(c.toString()) > 0) as typeof process.stderr.write;
  try {
    return { code: await run(), out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}
