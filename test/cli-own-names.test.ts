// The CLI looks commands, benchmarks and options up by own property: a name
// that Object.prototype has (`constructor`, `__proto__`, `toString`, …) is
// unknown like any other — exit 2 and a usage error, never an internal error.
import { describe, expect, it } from 'vitest';
import { vitesse } from './support/cli-capture.js';

const INHERITED = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

describe('names Object.prototype has are unknown to the CLI', () => {
  it.each(INHERITED)('%s: as a command, a benchmark and an option', async (name) => {
    const command = await vitesse([name]);
    expect(command.code).toBe(2);
    expect(command.err).toContain(`unknown command "${name}"`);

    const bench = await vitesse(['bench', name]);
    expect(bench.code).toBe(2);
    expect(bench.err).toContain(`unknown benchmark "${name}"`);

    for (const argv of [['keygen', `--${name}`], ['status', `--${name}`, 'x'], ['bench', 'softbench', `--${name}=1`]]) {
      const option = await vitesse(argv);
      expect(option.code, argv.join(' ')).toBe(2);
      expect(option.err, argv.join(' ')).toContain(`unknown option --${name}`);
    }
  });
});
