// Keys kept in files rather than in the configuration (`private-key-file`,
// a peer's `preshared-key-file`), so a configuration can be shared and
// checked in without secrets. A file holds one 32-octet key: base64 (as
// `vitesse keygen --private` and `wg genkey` write it) or 64 hexadecimal
// digits (as `vitesse keygen` writes a pre-shared key), and may end with a
// newline. It must be a regular file that only its owner may access: a file
// its group or others can read (or write) is refused, as ssh refuses such
// private keys, and so is one owned by another user than the gateway's or
// root (that user could replace the key). Errors name the configuration path, the file and the reason,
// never the contents.
import fs from 'node:fs';
import { decodeKey } from './exchange/identity.js';
import { wipe } from './exchange/primitives.js';

export const KEY_FILE_OCTETS = 32;

export class KeyFileError extends Error {}

/** Parses a key file's text (base64 or hex); null if it is not one 32-octet key. */
export function parseKeyText(text: string): Buffer | null {
  const t = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  return decodeKey(t);
}

/**
 * The key in `file`, for the configuration node `at` (in errors). Refused:
 * missing or unreadable, not a regular file, any access for group or others,
 * anything but one key. The caller owns (and wipes) the buffer.
 */
export function readKeyFile(file: string, at: string): Buffer {
  // The key itself where its file's name belongs (an easy slip): never repeated in an error.
  const looksLikeKey = parseKeyText(file);
  if (looksLikeKey) {
    looksLikeKey.fill(0);
    throw new KeyFileError(`${at}: holds a key, not the name of a file that holds one; the value is not shown (write the key to a file of mode 0600 and name that file)`);
  }
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw new KeyFileError(`${at}: cannot read "${file}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    // fstat on the open file: what is checked is what is read.
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new KeyFileError(`${at}: "${file}" is not a regular file`);
    if (st.mode & 0o077) {
      throw new KeyFileError(`${at}: "${file}" is accessible to its group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); keys must be readable by their owner only: chmod 600 "${file}"`);
    }
    // Its owner could change this gateway's key at will: only ours or root's.
    const uid = process.geteuid?.();
    if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
      throw new KeyFileError(`${at}: "${file}" is owned by uid ${st.uid}, who could change the key; key files must belong to the gateway's user (uid ${uid}) or root`);
    }
    if (st.size > 256) throw new KeyFileError(`${at}: "${file}" is not a key file (${st.size} octets; one base64 or hex key expected)`);
    const raw = Buffer.alloc(st.size);
    const n = fs.readSync(fd, raw, 0, raw.length, 0);
    const text = raw.subarray(0, n).toString('latin1');
    wipe(raw);
    const key = parseKeyText(text);
    if (!key) throw new KeyFileError(`${at}: "${file}" does not hold one ${KEY_FILE_OCTETS}-octet key (base64, as vitesse keygen --private writes, or 64 hexadecimal digits); the contents are not shown`);
    return key;
  } finally {
    fs.closeSync(fd);
  }
}
