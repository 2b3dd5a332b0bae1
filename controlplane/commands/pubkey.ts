// `vitesse pubkey`: the public key of the X25519 private key on stdin, as
// `wg pubkey` does: what a gateway's peers put as its route's peer
// `public-key`. The private key is never echoed, not even in an error.
import type { Command } from '../cli/command.js';
import { parseArgs, usageText } from '../cli/args.js';
import { encodeKey } from '../exchange/identity.js';
import { keyPairFromPrivate, wipe } from '../exchange/primitives.js';
import { parseKeyText } from '../key-files.js';

const spec = { help: { type: 'boolean' } } as const;

const HELP = `usage: vitesse pubkey < PRIVATE-KEY-FILE

Reads a gateway's X25519 private key on stdin (base64, as vitesse keygen
--private writes it) and prints its public key in base64: the "public-key"
of the peer that names this gateway in the other gateways' routes.

${usageText(spec)}

examples:
  vitesse pubkey < /etc/vitesse/private.key
  vitesse keygen --private | tee private.key | vitesse pubkey
`;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    size += (c as Buffer).length;
    if (size > 4096) break;
  }
  const all = Buffer.concat(chunks);
  wipe(...chunks);
  return all;
}

export const pubkeyCommand: Command = {
  summary: 'print the public key of the X25519 private key on stdin',
  async run(argv) {
    const { options, positional } = parseArgs(argv, spec);
    if (options.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positional.length) {
      process.stderr.write(`vitesse pubkey: unexpected argument "${positional[0]}" (the private key comes on stdin)\n`);
      return 2;
    }
    const input = await readStdin();
    const text = input.toString('latin1');
    wipe(input);
    // 64 hex digits is how vitesse keygen writes a pre-shared key: a private key's "public key" would mean nothing.
    if (/^[0-9a-fA-F]{64}\n?$/.test(text)) {
      process.stderr.write('vitesse pubkey: stdin holds a pre-shared key (64 hexadecimal digits, as vitesse keygen writes), not a private key (base64, vitesse keygen --private); the input is not shown\n');
      return 1;
    }
    const key = parseKeyText(text);
    if (!key) {
      process.stderr.write('vitesse pubkey: stdin is not one 32-octet private key in base64 (as vitesse keygen --private writes it); the input is not shown\n');
      return 1;
    }
    const { publicKey } = keyPairFromPrivate(key);
    wipe(key);
    process.stdout.write(encodeKey(publicKey) + '\n');
    return 0;
  },
};
