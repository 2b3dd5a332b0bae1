// `vitesse keygen`: a fresh 32-byte key from the OS CSPRNG. Without
// --private, a route's pre-shared key in hex (the `preshared-key` value, or
// the contents of a peer's `preshared-key-file`); with --private, the
// gateway's static X25519 private key in base64, as `wg genkey` writes it
// (the gateway's `private-key-file`). --out writes the key to a new file
// that only its owner can read, and never replaces one.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Command } from '../cli/command.js';
import { parseArgs, usageText } from '../cli/args.js';
import { wipe } from '../exchange/primitives.js';

const spec = {
  private: { type: 'boolean', help: 'a static X25519 private key in base64 (for private-key-file) instead of a pre-shared key' },
  out: { type: 'string', help: 'write the key to this new file (mode 0600; an existing file is never replaced) instead of stdout' },
  help: { type: 'boolean' },
} as const;

const HELP = `usage: vitesse keygen [--private] [--out FILE]

Prints a random 32-byte key from the OS's CSPRNG.

Without --private: a pre-shared key for one route, 64 hexadecimal digits.
Used as it is at both ends of the route, through a channel you trust:
either as the route's "preshared-key" in the configurations of the
gateways at both ends ("preshared-key": "<the 64 digits>"), or, for a route
with a peer (public-key route), in a file each end names as the peer's
"preshared-key-file" (a psk on top of the public keys).

With --private: the gateway's static X25519 private key in base64 (as
wg genkey writes it), for the gateway's "private-key-file". Its public key
(vitesse pubkey) goes into the peer gateways' configurations, as the
"public-key" of their route's peer.

--out FILE creates FILE with mode 0600 (readable by you only, as the
gateway requires of key files) and refuses to replace an existing file.
Keep keys out of other files and logs.

${usageText(spec)}

examples:
  vitesse keygen
  key=$(vitesse keygen)     # one key for the route between site-a and site-b
  echo "\\"$key\\"" | vitesse config set --name site-a /route=site-b/preshared-key -
  echo "\\"$key\\"" | vitesse config set --name site-b /route=site-a/preshared-key -
  vitesse keygen --private --out /etc/vitesse/private.key
  vitesse pubkey < /etc/vitesse/private.key      # this gateway's public key, for its peers
  vitesse keygen --out /etc/vitesse/site-b.psk   # then copy it to site-b as its site-a.psk
`;

/** Writes `text` to a new file `file` with mode 0600 (O_EXCL: an existing file is an error). */
export function writeNewKeyFile(file: string, text: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    // The umask may have taken bits off, never added any; make sure of 0600.
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

export const keygenCommand: Command = {
  summary: 'print a fresh 32-byte pre-shared key in hex, or an X25519 private key (--private)',
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
    // Clamped as RFC 7748 §5 does (and wg genkey writes): X25519 would clamp it anyway.
    const key = crypto.randomBytes(32);
    if (options.private) {
      key[0] &= 248;
      key[31] = (key[31] & 127) | 64;
    }
    const text = (options.private ? key.toString('base64') : key.toString('hex')) + '\n';
    wipe(key);
    if (options.out === undefined) {
      process.stdout.write(text);
      return 0;
    }
    const file = String(options.out);
    try {
      writeNewKeyFile(file, text);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      process.stderr.write(`vitesse keygen: cannot create "${file}": ${code === 'EEXIST' ? 'it exists (a key file is never replaced; remove it first if you mean to)' : code ?? (err as Error).message}\n`);
      return 1;
    }
    return 0;
  },
};
