// The cryptographic functions of Noise_*_25519_AESGCM_BLAKE2s (Noise
// specification revision 34, §4 and §12), all computed by Node's crypto
// (OpenSSL): nothing here implements a cipher, a hash or a curve.
//
// Buffers that held secrets are zeroed by whoever drops them (`wipe`).
// X25519 private keys live in KeyObjects, which OpenSSL clears when freed.
import crypto from 'node:crypto';

export const DHLEN = 32;
export const HASHLEN = 32;
export const KEYLEN = 32;
export const TAGLEN = 16;

export class PublicKeyError extends Error {}

/** Zeroes every buffer given (null entries are skipped). */
export function wipe(...buffers: (Buffer | null | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}

/** Equality in time independent of the contents (lengths are not secret). */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** HASH(): BLAKE2s with a 32-octet output. */
export function hash(...parts: Buffer[]): Buffer {
  // One-shot: no native object per call (cheaper to collect at 10,000 routes).
  const data = parts.length === 1 ? parts[0] : Buffer.concat(parts);
  const digest = crypto.hash('blake2s256', data, 'buffer') as unknown as Buffer;
  if (data !== parts[0]) wipe(data);
  return digest;
}

/** HMAC-HASH() per RFC 2104 (BLAKE2s block length 64), computed by OpenSSL. */
export function hmac(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = crypto.createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

const ONE = Buffer.from([1]);
const TWO = Buffer.from([2]);
const THREE = Buffer.from([3]);

/** HKDF(chaining_key, input_key_material, num_outputs) of Noise §4.3. */
export function hkdf(chainingKey: Buffer, ikm: Buffer, outputs: 2 | 3): Buffer[] {
  const tempKey = hmac(chainingKey, ikm);
  const out1 = hmac(tempKey, ONE);
  const out2 = hmac(tempKey, out1, TWO);
  if (outputs === 2) {
    wipe(tempKey);
    return [out1, out2];
  }
  const out3 = hmac(tempKey, out2, THREE);
  wipe(tempKey);
  return [out1, out2, out3];
}

// AESGCM nonce (Noise §12.3): 32 zero bits, then n as a big-endian uint64.
function gcmNonce(n: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 4);
  iv.writeUInt32BE(n >>> 0, 8);
  return iv;
}

/** ENCRYPT(k, n, ad, plaintext): ciphertext ‖ 16-octet tag. */
export function encrypt(k: Buffer, n: number, ad: Buffer, plaintext: Buffer): Buffer {
  const c = crypto.createCipheriv('aes-256-gcm', k, gcmNonce(n), { authTagLength: TAGLEN });
  c.setAAD(ad);
  const body = c.update(plaintext);
  c.final();
  return Buffer.concat([body, c.getAuthTag()]);
}

/** DECRYPT(k, n, ad, ciphertext): the plaintext, or null if it is not authentic. */
export function decrypt(k: Buffer, n: number, ad: Buffer, ciphertext: Buffer): Buffer | null {
  if (ciphertext.length < TAGLEN) return null;
  const d = crypto.createDecipheriv('aes-256-gcm', k, gcmNonce(n), { authTagLength: TAGLEN });
  d.setAAD(ad);
  d.setAuthTag(ciphertext.subarray(ciphertext.length - TAGLEN));
  const body = d.update(ciphertext.subarray(0, ciphertext.length - TAGLEN));
  try {
    d.final();
  } catch {
    wipe(body);
    return null;
  }
  return body;
}

export interface KeyPair {
  privateKey: crypto.KeyObject;
  publicKey: Buffer;
}

// The public key is computed as X25519(private, 9), the base point (RFC 7748
// §6.1), not exported from the KeyObject: Node 20 exports JWK while holding
// the key's lock and allocating, and a garbage collection at that moment can
// finalize the key-generation job that made the key, whose destructor takes
// the same lock: the thread deadlocks (seen in bench keyexchange). The
// stateless DH derives without that lock held while allocating.
const BASE_POINT = crypto.createPublicKey({
  key: { kty: 'OKP', crv: 'X25519', x: Buffer.concat([Buffer.from([9]), Buffer.alloc(31)]).toString('base64url') },
  format: 'jwk',
});

function publicOf(privateKey: crypto.KeyObject): Buffer {
  return crypto.diffieHellman({ privateKey, publicKey: BASE_POINT });
}

/** GENERATE_KEYPAIR(). */
export function generateKeyPair(): KeyPair {
  const { privateKey } = crypto.generateKeyPairSync('x25519');
  return { privateKey, publicKey: publicOf(privateKey) };
}

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A key pair from a raw 32-octet private key (test vectors fix ephemerals). */
export function keyPairFromPrivate(raw: Buffer): KeyPair {
  if (raw.length !== DHLEN) throw new RangeError(`X25519 private key must be ${DHLEN} octets, got ${raw.length}`);
  const der = Buffer.concat([PKCS8_X25519, raw]);
  const privateKey = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  wipe(der);
  return { privateKey, publicKey: publicOf(privateKey) };
}

/**
 * DH(key_pair, public_key). A public key of the wrong length, or one whose
 * result is all zeros (a low-order point: the "shared" secret would be known
 * to anyone), is refused with PublicKeyError and never becomes key material.
 */
export function dh(keyPair: KeyPair, publicKey: Buffer): Buffer {
  if (publicKey.length !== DHLEN) throw new PublicKeyError(`public key must be ${DHLEN} octets, got ${publicKey.length}`);
  let shared: Buffer;
  try {
    const peer = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: publicKey.toString('base64url') }, format: 'jwk' });
    shared = crypto.diffieHellman({ privateKey: keyPair.privateKey, publicKey: peer });
  } catch {
    // OpenSSL itself refuses an all-zero result ("failed during derivation").
    throw new PublicKeyError('public key refused by X25519');
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i];
  if (shared.length !== DHLEN || acc === 0) {
    wipe(shared);
    throw new PublicKeyError('low-order public key (all-zero shared secret)');
  }
  return shared;
}
