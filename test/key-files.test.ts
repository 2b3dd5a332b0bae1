// Keys in files and the commands that make them: `vitesse keygen --private
// [--out FILE]`, `vitesse pubkey` (against RFC 7748's vector and Node's
// crypto), and readKeyFile's refusals (permissions, contents), whose
// messages never hold the key.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyFileError, parseKeyText, readKeyFile } from '../controlplane/key-files.js';

const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'vitesse.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-keys-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function vitesse(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

// Node's own derivation, as the reference for `vitesse pubkey`.
function nodePublic(privB64: string): string {
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), Buffer.from(privB64, 'base64')]);
  const jwk = crypto.createPublicKey(crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url').toString('base64');
}

describe('vitesse keygen --private and vitesse pubkey', () => {
  it('pubkey of RFC 7748 §6.1\'s Alice is her public key', async () => {
    const alice = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString('base64');
    const r = await vitesse(['pubkey'], `${alice}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.from(r.stdout.trim(), 'base64').toString('hex')).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  });

  it('keygen --private prints clamped base64 keys whose pubkey Node derives the same', async () => {
    for (let i = 0; i < 3; i++) {
      const priv = (await vitesse(['keygen', '--private'])).stdout.trim();
      expect(priv).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      const raw = Buffer.from(priv, 'base64');
      expect(raw[0] & 7).toBe(0);
      expect(raw[31] & 0xc0).toBe(0x40);
      const pub = (await vitesse(['pubkey'], priv)).stdout.trim();
      expect(pub).toBe(nodePublic(priv));
    }
  });

  it('--out creates the file with mode 0600 and never replaces one', async () => {
    const file = path.join(dir, 'private.key');
    const r = await vitesse(['keygen', '--private', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const key = fs.readFileSync(file, 'utf8');
    expect(readKeyFile(file, '/x').equals(Buffer.from(key.trim(), 'base64'))).toBe(true);
    const again = await vitesse(['keygen', '--private', '--out', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists/);
    expect(fs.readFileSync(file, 'utf8')).toBe(key);
    // A pre-shared key the same way (hex), readable as a preshared-key-file.
    const psk = path.join(dir, 'site-b.psk');
    expect((await vitesse(['keygen', '--out', psk])).code).toBe(0);
    expect(fs.readFileSync(psk, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    expect(readKeyFile(psk, '/x').length).toBe(32);
  });

  it('pubkey refuses what is not a key, without echoing it', async () => {
    const secret = 'not-a-key-but-maybe-a-secret';
    const r = await vitesse(['pubkey'], secret);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain(secret);
    expect(r.stdout).toBe('');
  });

  it('keygen --help says how to use a psk as preshared-key-file and the private key as private-key-file', async () => {
    const help = (await vitesse(['keygen', '--help'])).stdout;
    expect(help).toContain('"preshared-key-file"');
    expect(help).toContain('"private-key-file"');
    expect(help).toContain('vitesse pubkey');
  });
});

describe('readKeyFile', () => {
  const key = crypto.randomBytes(32);
  const write = (name: string, text: string, mode = 0o600) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text, { mode });
    fs.chmodSync(f, mode);
    return f;
  };

  it('reads base64 and hex keys, with or without a newline', () => {
    for (const [name, text] of [['b64', key.toString('base64')], ['b64nl', `${key.toString('base64')}\n`], ['hex', `${key.toString('hex')}\n`]]) {
      expect(readKeyFile(write(name, text), '/x').equals(key)).toBe(true);
    }
  });

  it('refuses a file its group or others may access, naming the path and the mode, never the key', () => {
    for (const mode of [0o640, 0o604, 0o660, 0o644]) {
      const f = write(`open-${mode.toString(8)}`, key.toString('base64'), mode);
      let err: unknown;
      try {
        readKeyFile(f, '/vitesse-gateway:gateway/private-key-file');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KeyFileError);
      const message = (err as Error).message;
      expect(message).toContain('/vitesse-gateway:gateway/private-key-file');
      expect(message).toContain(f);
      expect(message).toContain(`0${mode.toString(8)}`);
      expect(message).not.toContain(key.toString('base64'));
    }
  });

  it('refuses a missing file, a directory and contents that are not one key, without showing them', () => {
    expect(() => readKeyFile(path.join(dir, 'none'), '/p')).toThrow(/\/p: cannot read .*ENOENT/);
    const sub = path.join(dir, 'd');
    fs.mkdirSync(sub, { mode: 0o700 });
    expect(() => readKeyFile(sub, '/p')).toThrow(/not a regular file/);
    for (const text of ['', 'abc', `${key.toString('hex')}00`, `${key.toString('base64')}\n\n`, key.subarray(0, 31).toString('base64')]) {
      const f = write('bad', text);
      expect(() => readKeyFile(f, '/p')).toThrow(/does not hold one 32-octet key.*not shown/);
      fs.rmSync(f);
    }
    expect(parseKeyText(' ' + key.toString('base64'))).toBeNull();
  });
});
