// The TCP API's bearer token: what a token must be to be accepted at start.
//
// A token is refused if it is
// - shorter than MIN_TOKEN_LENGTH (32) characters,
// - a repetition of a shorter pattern ("aaaa…", "abab…"),
// - mostly a run of neighbouring characters ("abcdef…", "123456…"), or
// - worth less than MIN_TOKEN_BITS (80) bits by its own character
//   frequencies (length × the empirical Shannon entropy per character):
//   `openssl rand -hex 16` (32 characters) scores at least ~90, hex of 32
//   random octets ~240, sixteen "a"s 0.
// and its file is refused if others than its owner's group may read it
// (mode o+r, o+w); group access is allowed with a warning. `--insecure`
// turns each refusal into a warning.
import fs from 'node:fs';

export const MIN_TOKEN_LENGTH = 32;
export const MIN_TOKEN_BITS = 80;

/** Why a token is too weak, or null. Never says what the token is. */
export function tokenWeakness(token: string): string | null {
  if (token.length < MIN_TOKEN_LENGTH) return `it has ${token.length} characters, fewer than ${MIN_TOKEN_LENGTH}`;
  if (/\s/.test(token)) return 'it contains whitespace (a bearer token is one word)';
  const period = smallestPeriod(token);
  if (period < token.length) return `it repeats a ${period}-character pattern`;
  let neighbours = 0;
  for (let i = 1; i < token.length; i++) if (Math.abs(token.charCodeAt(i) - token.charCodeAt(i - 1)) <= 1) neighbours++;
  if (neighbours * 2 > token.length - 1) return 'it is mostly runs of neighbouring characters (like "abcd" or "1111")';
  const bits = entropyBits(token);
  if (bits < MIN_TOKEN_BITS) return `it is worth about ${Math.floor(bits)} bits by its character frequencies, fewer than ${MIN_TOKEN_BITS}`;
  return null;
}

/** Length × the empirical entropy per character, in bits. */
export function entropyBits(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    h -= p * Math.log2(p);
  }
  return h * text.length;
}

/** The smallest p such that text is a prefix of its first p characters repeated. */
function smallestPeriod(text: string): number {
  // The prefix function (KMP): the longest border gives the smallest period.
  const pi = new Array<number>(text.length).fill(0);
  for (let i = 1; i < text.length; i++) {
    let k = pi[i - 1];
    while (k > 0 && text[i] !== text[k]) k = pi[k - 1];
    if (text[i] === text[k]) k++;
    pi[i] = k;
  }
  const p = text.length - pi[text.length - 1];
  return p * 2 <= text.length ? p : text.length;
}

/** Why the token file's permissions are unsafe (others may read or write it), or null. */
export function tokenFileExposure(file: string): { refuse: string | null; warn: string | null } {
  const mode = fs.statSync(file).mode & 0o777;
  const octal = mode.toString(8).padStart(4, '0');
  if (mode & 0o006) return { refuse: `${file} is ${mode & 0o004 ? 'readable' : 'writable'} by every user (mode ${octal}): chmod 600 ${file}`, warn: null };
  if (mode & 0o060) return { refuse: null, warn: `${file} is accessible to its group (mode ${octal})` };
  return { refuse: null, warn: null };
}
