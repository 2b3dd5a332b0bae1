// docs/operations.md is the operator's guide to the counters and alerts: it
// must explain every drop reason the gateway can report (data plane, control
// plane, key exchange — taken from the code, not listed here) and every
// alert the Prometheus rules define.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DROP_COUNTER } from '../controlplane/exchange/counters.js';
import { COUNTER_TABLE } from '../controlplane/counter-table.js';
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
  it('explains every data-plane drop reason on the side it is counted on, with its counter and YANG leaf', () => {
    // Each drop's row names its reason, its counter and its leaf (the whole
    // path, or under private-router/public-router the leaf's name alone).
    const rows = (heading: string) => section(heading).split('\n').filter((l) => l.startsWith('| `')).map((l) => explained(l));
    const sections = {
      private: rows('Data plane, private side (traffic to encrypt)'),
      public: rows('Data plane, public side (ESP and control traffic)'),
      '': rows('Between data plane and control plane'),
    };
    const leaf = (yang: string) => (/^(private|public)-router\//.test(yang) ? yang.split('/')[1] : yang.split('/').slice(1).join('/'));
    const missing: string[] = [];
    let checked = 0;
    for (const c of COUNTER_TABLE) {
      if (c.kind === 'traffic' || (c.kind === 'driver' && c.metric !== 'drops')) continue;
      const id = c.metric === 'drops' ? c.label : `vitesse_${c.metric}_total`;
      const shown = sections[c.side].some((r) => r.has(id) && r.has(c.name) && (r.has(leaf(c.yang)) || r.has(c.yang)));
      if (!shown) missing.push(`${c.name} (${id}, ${c.yang})`);
      checked++;
    }
    expect(checked).toBeGreaterThan(35);
    expect(missing).toEqual([]);
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
