// Where a gateway's management API socket is: one per gateway, named for it.
import path from 'node:path';

export const RUN_DIR = '/run/vitesse';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The socket of the gateway called `name` (vitesse run --name NAME). */
export function socketPathFor(name: string): string {
  if (!NAME.test(name)) throw new Error(`"${name}" is not a gateway name (1..64 letters, digits, '.', '_', '-', starting with a letter or digit)`);
  return path.join(RUN_DIR, `${name}.sock`);
}
