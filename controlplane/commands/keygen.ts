// `vitesse keygen`: a fresh 32-byte pre-shared key in hex, from the OS CSPRNG.
import crypto from 'node:crypto';
import type { Command } from '../cli.js';
import { parseArgs, usageText } from '../cli/args.js';

const spec = { help: { type: 'boolean' } } as const;

export const keygenCommand: Command = {
  summary: 'print a fresh 32-byte pre-shared key in hex',
  async run(argv) {
    const { options, positional } = parseArgs(argv, spec);
    if (options.help) {
      process.stdout.write(`usage: vitesse keygen\n\nPrints a random 32-byte key (64 hex digits) for a route's preshared-key.\n\nexample:\n  vitesse keygen > /etc/vitesse/site2.key\n${usageText(spec)}\n`);
      return 0;
    }
    if (positional.length) {
      process.stderr.write(`vitesse keygen: unexpected argument "${positional[0]}"\n`);
      return 2;
    }
    process.stdout.write(crypto.randomBytes(32).toString('hex') + '\n');
    return 0;
  },
};
