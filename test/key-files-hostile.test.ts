// Key files as a careless operator or a local user leave them
// (controlplane/key-files.ts): symlinks, FIFOs, devices, huge and sparse
// files, trailing garbage, a file another user owns. Each is refused with
// the path and the reason, never hangs and never shows the key.
// docs/security.md, "Public-key routes".
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyFileError, readKeyFile } from '../controlplane/key-files.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-keys-hostile-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const key = crypto.randomBytes(32);
const b64 = key.toString('base64');

function write(name: string, text: string | Buffer, mode = 0o600): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text, { mode });
  fs.chmodSync(f, mode);
  return f;
}

function refusal(file: string): string {
  try {
    readKeyFile(file, '/at');
  } catch (err) {
    expect(err).toBeInstanceOf(KeyFileError);
    const m = (err as Error).message;
    expect(m).toContain('/at');
    expect(m).not.toContain(b64);
    return m;
  }
  throw new Error(`${file} was accepted`);
}

describe('key files, hostile', () => {
  it('a symlink is followed, and what is checked is the file it names', () => {
    const open = write('open.key', b64, 0o644);
    const closed = write('closed.key', b64, 0o600);
    fs.symlinkSync(open, path.join(dir, 'to-open'));
    fs.symlinkSync(closed, path.join(dir, 'to-closed'));
    expect(refusal(path.join(dir, 'to-open'))).toMatch(/group or others \(mode 0644\)/);
    expect(readKeyFile(path.join(dir, 'to-closed'), '/at').equals(key)).toBe(true);
    fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'dangling'));
    expect(refusal(path.join(dir, 'dangling'))).toMatch(/ENOENT/);
  });

  it('a FIFO (no writer), a device and a directory are not key files, and reading them does not block', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    expect(refusal(fifo)).toMatch(/not a regular file/);
    expect(refusal('/dev/zero')).toMatch(/not a regular file|group or others/);
    expect(refusal(dir)).toMatch(/not a regular file/);
  });

  it('a huge (sparse) file is refused by its size, without reading it', () => {
    const f = path.join(dir, 'huge');
    const fd = fs.openSync(f, 'w', 0o600);
    fs.ftruncateSync(fd, 1 << 30);
    fs.closeSync(fd);
    expect(refusal(f)).toMatch(/not a key file \(1073741824 octets/);
  });

  it('trailing garbage, CRLF, two keys, a BOM: refused, contents not shown', () => {
    for (const text of [`${b64}\nrest`, `${b64}\r\n`, `${b64}\n${b64}\n`, `\ufeff${b64}`, `${b64} `, `${key.toString('hex')}\n\n`]) {
      expect(refusal(write('garbage', text))).toMatch(/does not hold one 32-octet key/);
      fs.rmSync(path.join(dir, 'garbage'));
    }
  });

  it('a file another user owns (who could change this gateway\'s key) is refused, naming the owner', () => {
    if (process.getuid!() !== 0) throw new Error('this test chowns a file: run it as root (as .ci/run does)');
    const f = write('theirs.key', b64, 0o600);
    fs.chownSync(f, 65534, 65534);
    expect(refusal(f)).toMatch(/owned by uid 65534/);
    fs.chownSync(f, 0, 0);
    expect(readKeyFile(f, '/at').equals(key)).toBe(true);
  });

  it('vitesse pubkey refuses a pre-shared key (hex) on stdin, naming what it is, not echoing it', () => {
    // The compiled CLI, as test/key-files.test.ts runs it (npm install builds it).
    const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'vitesse.js');
    const hex = key.toString('hex');
    const r = spawnSync(process.execPath, [bin, 'pubkey'], { input: `${hex}\n`, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/holds a pre-shared key/);
    expect(r.stderr + r.stdout).not.toContain(hex);
  });

  it('the key itself where the file name belongs: refused without repeating it', () => {
    for (const value of [b64, key.toString('hex')]) {
      let message = '';
      try {
        readKeyFile(value, '/vitesse-gateway:gateway/private-key-file');
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/private-key-file: holds a key, not the name of a file/);
      expect(message).not.toContain(value);
    }
  });
});
