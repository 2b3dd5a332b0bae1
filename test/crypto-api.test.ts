// The crypto part's surface: which paths exist, how one is forced through
// VITESSE_CRYPTO_PATH (checked in child processes, since the choice is made
// once per process), and that bad arguments are refused with a precise error.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { addonPath } from '../controlplane/native.js';
import * as testkit from '../controlplane/testkit.js';
import { gcm, PATHS } from './crypto-cases.js';

const addon = addonPath('vitesse_testkit');

function childDefaultPath(forced: string): { path: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(addon)}).crypto.defaultPath())`], {
    env: { ...process.env, VITESSE_CRYPTO_PATH: forced },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return { path: r.stdout, stderr: r.stderr };
}

describe('crypto paths', () => {
  it('always offers generic, and the best path is the widest supported', () => {
    expect(PATHS).toContain('generic');
    expect(PATHS).toContain(gcm.bestPath());
    expect(PATHS[PATHS.length - 1]).toBe(gcm.bestPath());
    expect(PATHS).toContain(gcm.defaultPath());
  });

  it.each(PATHS)('VITESSE_CRYPTO_PATH=%s forces that path', (p) => {
    expect(childDefaultPath(p)).toEqual({ path: p, stderr: '' });
  });

  it('an unknown VITESSE_CRYPTO_PATH falls back to the best path with a warning', () => {
    const r = childDefaultPath('sse9');
    expect(r.path).toBe(gcm.bestPath());
    expect(r.stderr).toMatch(/VITESSE_CRYPTO_PATH=sse9: not one of generic, avx2, avx512/);
  });
});

describe('crypto bench loop', () => {
  it('returns one checked row per size and key size (shape only; figures belong to the benchmark)', () => {
    const rows = testkit.gcm.bench({ sizes: [0, 65], keyBits: [128, 256], minMs: 0.05, samples: 1, batch: 3 }) as unknown as
      Record<string, unknown>[];
    expect(rows.map((r) => [r.size, r.keyBits, r.path])).toEqual([
      [0, 128, gcm.defaultPath()], [0, 256, gcm.defaultPath()], [65, 128, gcm.defaultPath()], [65, 256, gcm.defaultPath()],
    ]);
    for (const r of rows) {
      for (const f of ['oursNs', 'oursBatchNs', 'opensslNs', 'oursOpenNs', 'oursOpenBatchNs', 'opensslOpenNs']) {
        expect(r[f], f).toBeGreaterThan(0);
      }
    }
  });

  it('refuses key sizes other than 128 and 256 bits', () => {
    expect(() => testkit.gcm.bench({ sizes: [64], keyBits: [192], minMs: 0.05, samples: 1 })).toThrow('key bits must be 128 or 256');
  });
});

describe('crypto argument checks', () => {
  const key = Buffer.alloc(16, 1), iv = Buffer.alloc(12, 2), aad = Buffer.alloc(12), pt = Buffer.alloc(40, 3);

  it('refuses keys that are not 16 or 32 bytes', () => {
    for (const len of [0, 15, 24, 33]) {
      expect(() => gcm.seal('generic', Buffer.alloc(len), iv, aad, pt)).toThrow(`key: expected 16 or 32 bytes, got ${len}`);
    }
  });

  it('refuses IVs that are not 12 bytes and tags that are not 16', () => {
    expect(() => gcm.seal('generic', key, Buffer.alloc(16), aad, pt)).toThrow('iv: expected 12 bytes, got 16');
    expect(() => gcm.open('generic', key, iv, aad, pt, Buffer.alloc(12))).toThrow('tag: expected 16 bytes, got 12');
  });

  it('refuses unknown paths by name', () => {
    expect(() => gcm.seal('neon', key, iv, aad, pt)).toThrow('path: "neon" is not one of generic, avx2, avx512');
  });

  it('the copying and in-place calls agree', () => {
    for (const p of PATHS) {
      const { ciphertext, tag } = gcm.seal(p, key, iv, aad, pt);
      const data = Buffer.from(pt);
      expect(gcm.sealInPlace(p, key, iv, aad, data).equals(tag)).toBe(true);
      expect(data.equals(ciphertext)).toBe(true);
      expect(data.equals(pt)).toBe(false);
    }
  });
});
