// deploy/systemd/vitesse@.service as data, for the tests that hold the
// gateway to it: the unit's settings, and the system calls its
// SystemCallFilter allows (expanded by systemd-analyze itself).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const UNIT_FILE = path.join(repoRoot, 'deploy', 'systemd', 'vitesse@.service');
export const DETACH_HELPER = path.join(repoRoot, 'deploy', 'systemd', 'vitesse-xdp-detach.mjs');

/** Where the unit expects the package (npm install -g, prefix /usr/local). */
export const INSTALLED = { bin: '/usr/local/bin/vitesse', package: '/usr/local/lib/node_modules/vitesse' };

/** Every `Key=value` of the unit, by section and key, in order (keys may repeat). */
export type Unit = Record<string, Record<string, string[]>>;

export function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1];
      unit[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`${UNIT_FILE}: not a setting: ${line}`);
    const key = line.slice(0, eq);
    (unit[section][key] ??= []).push(line.slice(eq + 1));
  }
  return unit;
}

export const unit = parseUnit(fs.readFileSync(UNIT_FILE, 'utf8'));
export const service = unit.Service;

/** The single value of a [Service] setting. */
export function setting(key: string): string {
  const v = service[key];
  if (!v || v.length !== 1) throw new Error(`vitesse@.service: expected one ${key}=, found ${v?.length ?? 0}`);
  return v[0];
}

/** The words of a [Service] setting that lists things (capabilities, families, system calls). */
export const words = (key: string) => setting(key).split(/\s+/).filter(Boolean);

/** The unit's capabilities as setpriv names them: net_raw, bpf, … */
export const capabilities = () => words('CapabilityBoundingSet').map((c) => c.replace(/^CAP_/, '').toLowerCase());

export const systemdAnalyzeAvailable = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;

/** The system calls the unit's SystemCallFilter allows, its @groups expanded by systemd-analyze. */
export function allowedSyscalls(): Set<string> {
  const out = spawnSync('systemd-analyze', ['syscall-filter'], { encoding: 'utf8' }).stdout;
  const groups = new Map<string, string[]>();
  let group: string[] | null = null;
  for (const line of out.split('\n')) {
    if (line.startsWith('@')) groups.set(line.trim(), (group = []));
    else if (group && line.trim() && !line.trim().startsWith('#')) group.push(line.trim());
  }
  const expand = (name: string, seen = new Set<string>()): string[] => {
    if (!name.startsWith('@')) return [name];
    if (seen.has(name)) return [];
    seen.add(name);
    const members = groups.get(name);
    if (!members) throw new Error(`systemd-analyze does not know the group ${name}`);
    return members.flatMap((m) => expand(m, seen));
  };
  return new Set(words('SystemCallFilter').flatMap((w) => expand(w)));
}
