// `vitesse keygen`: a fresh 32-byte pre-shared key in hex, from the OS CSPRNG.
// The configuration holds keys only as a route's `preshared-key` value (no
// key files): the help says so, and how to put the key there.
import crypto from 'node:crypto';
import type { Command } from '../cli/command.js';
import { parseArgs, usageText } from '../cli/args.js';

const spec = { help: { type: 'boolean' } } as const;

const HELP = `usage: vitesse keygen

Prints a random 32-byte key (64 hexadecimal digits, from the OS's CSPRNG)
for one route. The key is used as it is: the value of the route's
"preshared-key" in the configurations of the gateways at both ends of the
route ("preshared-key": "<the 64 digits>"), through a channel you trust.
Configurations hold keys only there; do not leave copies in other files.

${usageText(spec)}

examples:
  vitesse keygen
  key=$(vitesse keygen)     # one key for the route between site-a and site-b
  echo "\\"$key\\"" | vitesse config set --name site-a /route=site-b/preshared-key -
  echo "\\"$key\\"" | vitesse config set --name site-b /route=site-a/preshared-key -
`;

export const keygenCommand: Command = {
  summary: 'print a fresh 32-byte pre-shared key in hex',
  async run(argv) {
    const { options, positional } = parseArgs(argv, spec);
    if (options.help) {
      process.stdout.write(HELP);
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
