// docs/operations.md is the operator's guide to the counters and alerts: it
// must explain every drop reason the gateway can report (data plane, control
// plane, key exchange — taken from the code, not listed here) and every
// alert the Prometheus rules define.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DROP_COUNTER } from '../controlplane/exchange/counters.js';
import { DATAPLANE_METRICS } from '../controlplane/metrics.js';
import { DROP_REASONS } from '../controlplane/slowpath/counters.js';
import { repoRoot } from './support/systemd-unit.js';

const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'operations.md'), 'utf8');

/** The doc's section under a heading, up to the next heading of the same or a higher level. */
function section(heading: string): string {
  const lines = doc.split('\n');
  const at = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, '') === heading);
  if (at < 0) throw new Error(`docs/operations.md has no section "${heading}"`);
  const level = /^#+/.exec(lines[at])![0].length;
  const end = lines.findIndex((l, i) => i > at && /^#+ /.test(l) && /^#+/.exec(l)![0].length <= level);
  return lines.slice(at, end < 0 ? undefined : end).join('\n');
}

/** Names written as `code` in the first column of a table's rows. */
function explained(text: string): Set<string> {
  return new Set(text.split('\n').filter((l) => l.startsWith('| `')).flatMap((l) => [...l.split('|')[1].matchAll(/`([^`]+)`/g)].map((m) => m[1])));
}

describe('docs/operations.md', () => {
  it('explains every data-plane drop reason, on the side it is counted on', () => {
    const bySide = (side: string) => [...new Set(Object.values(DATAPLANE_METRICS).filter((m) => m.metric === 'drops' && m.labels.interface === side).map((m) => m.labels.reason))];
    const priv = explained(section('Data plane, private side (traffic to encrypt)'));
    const pub = explained(section('Data plane, public side (ESP and control traffic)'));
    expect(bySide('private').length).toBeGreaterThan(5);
    expect(bySide('private').filter((r) => !priv.has(r))).toEqual([]);
    expect(bySide('public').filter((r) => !pub.has(r))).toEqual([]);
  });

  it('explains every control-plane drop reason', () => {
    const table = explained(section('Control plane (`vitesse_slowpath_drops_total`)'));
    expect(DROP_REASONS.map((r) => r.replaceAll('-', '_')).filter((r) => !table.has(r))).toEqual([]);
  });

  it('explains every key-exchange error reason', () => {
    const table = explained(section('Key exchange (`vitesse_key_exchange_errors_total`)'));
    expect(Object.keys(DROP_COUNTER).map((r) => r.replaceAll('-', '_')).filter((r) => !table.has(r))).toEqual([]);
  });

  it('lists every alert of deploy/prometheus/vitesse-alerts.yml', () => {
    const rules = fs.readFileSync(path.join(repoRoot, 'deploy', 'prometheus', 'vitesse-alerts.yml'), 'utf8');
    const alerts = [...rules.matchAll(/^\s*- alert:\s*(\S+)/gm)].map((m) => m[1]);
    const table = explained(section('7. Alerts'));
    expect(alerts.length).toBeGreaterThan(5);
    expect(alerts.filter((a) => !table.has(a))).toEqual([]);
  });
});
