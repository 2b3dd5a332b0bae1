// What a test needs from the machine beyond Node. A test that needs a tool
// declares it here and, where the tool is missing, is reported as skipped with
// the reason in its name — never passed without asserting. `.ci/run`, which
// installs every tool, fails when any test was skipped (tools/ci-skipped.mjs).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

/** Each command a test may run, with the Debian package that has it. */
const COMMANDS = {
  ip: 'iproute2',
  ping: 'iputils-ping',
  traceroute: 'traceroute',
  ethtool: 'ethtool',
  iperf3: 'iperf3',
  yanglint: 'libyang2-tools',
  promtool: 'prometheus',
  openssl: 'openssl',
  strace: 'strace',
  'systemd-analyze': 'systemd',
  setpriv: 'util-linux',
  prlimit: 'util-linux',
  groff: 'groff-base',
  bash: 'bash',
  nft: 'nftables',
  conntrack: 'conntrack',
  bird: 'bird2',
  birdc: 'bird2',
  npm: 'npm',
} as const;

/** `root`: creates namespaces and opens raw sockets; `cli`: the compiled CLI (dist/, built by npm install). */
export type Need = keyof typeof COMMANDS | 'root' | 'cli';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const found = new Map<Need, boolean>();

function present(need: Need): boolean {
  let ok = found.get(need);
  if (ok === undefined) {
    if (need === 'root') ok = typeof process.getuid === 'function' && process.getuid() === 0;
    else if (need === 'cli') ok = fs.existsSync(path.join(REPO, 'dist/controlplane/cli.js'));
    else ok = spawnSync('sh', ['-c', `command -v ${need}`], { stdio: 'ignore' }).status === 0;
    found.set(need, ok);
  }
  return ok;
}

/** Why a test needing `needs` cannot run here, or undefined if it can. */
export function missing(...needs: Need[]): string | undefined {
  const absent = needs.filter((n) => !present(n));
  if (!absent.length) return undefined;
  return absent
    .map((n) => (n === 'root' ? 'root' : n === 'cli' ? 'the compiled CLI (npm run build:ts)' : `${n} (Debian: ${COMMANDS[n]})`))
    .join(', ')
    .replace(/^/, 'needs ');
}

/** `describe`, or `describe.skip` with the reason in its name. */
export function describeNeeding(needs: Need[], name: string, body: () => void): void {
  const why = missing(...needs);
  if (why) describe.skip(`${name} [skipped: ${why}]`, body);
  else describe(name, body);
}

/** `it`, or `it.skip` with the reason in its name. */
export function itNeeding(needs: Need[], name: string, body: () => unknown, timeout?: number): void {
  const why = missing(...needs);
  if (why) it.skip(`${name} [skipped: ${why}]`, body);
  else it(name, body, timeout);
}
