// deploy/prometheus and deploy/grafana: promtool accepts the scrape
// configuration and the alert rules, the rules' unit tests pass, the
// dashboard's queries are valid PromQL, and every metric, label and label
// value that the rules, their tests and the dashboard name is one a real
// gateway exports — read from a scrape of gateway A of a running pair
// (controlplane/demo/memory-two-sites.ts), not from a list kept here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../controlplane/metrics.js';
import { numbered, sleep, twoSites, until } from '../controlplane/demo/memory-two-sites.js';
import { itNeeding } from './support/requires.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const prometheusDir = path.join(root, 'deploy', 'prometheus');
const RULES = path.join(prometheusDir, 'vitesse-alerts.yml');
const RULE_TESTS = path.join(prometheusDir, 'vitesse-alerts.test.yml');
const SCRAPE_CONFIG = path.join(prometheusDir, 'prometheus.yml');
const DASHBOARD = path.join(root, 'deploy', 'grafana', 'vitesse-gateway.json');


function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', cwd: prometheusDir });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Labels Prometheus adds to every scraped series, and the series it makes up itself. */
const TARGET_LABELS = new Set(['instance', 'job']);
const SYNTHETIC: Record<string, string[]> = { up: [] };
/** Labels whose values are a fixed vocabulary of the exporter (routes, queues and instances are the operator's). */
const CLOSED_LABELS = new Set(['reason', 'direction', 'interface', 'role', 'event', 'family', 'mode']);

/** Every metric of a scrape with, per label, the values seen. */
type Exported = Map<string, Map<string, Set<string>>>;

function exportedOf(text: string): Exported {
  const out: Exported = new Map();
  const metric = (name: string) => out.get(name) ?? out.set(name, new Map()).get(name)!;
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) \S+$/.exec(line);
    if (type) metric(type[1]);
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line)!;
    const labels = metric(m[1]);
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      (labels.get(l[1]) ?? labels.set(l[1], new Set()).get(l[1])!).add(l[2]);
    }
  }
  return out;
}

interface Selector { name: string; matchers: { label: string; op: string; value: string }[] }

const METRIC = /^(?:vitesse_|process_|nodejs_)|^up$/;

/** The metric selectors of a PromQL expression (or of a series in promtool's notation), string literals skipped. */
function selectorsOf(expr: string): Selector[] {
  const out: Selector[] = [];
  for (const m of expr.matchAll(/"(?:[^"\\]|\\.)*"|([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?/g)) {
    const name = m[1];
    if (!name || !METRIC.test(name)) continue;
    const matchers = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map((x) => ({ label: x[1], op: x[2], value: x[3] }));
    out.push({ name, matchers });
  }
  return out;
}

/** Label names of by/without/on/ignoring clauses. */
function groupingLabelsOf(expr: string): string[] {
  return [...expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)].flatMap((m) => m[1].split(',').map((l) => l.trim()).filter(Boolean));
}

/** Problems with the metrics an expression names: unknown metrics, labels, or values of closed labels. */
function problemsOf(where: string, expr: string, exported: Exported): string[] {
  const problems: string[] = [];
  const selectors = selectorsOf(expr);
  const labelsOf = (name: string) => new Set([...(exported.get(name)?.keys() ?? SYNTHETIC[name] ?? []), ...TARGET_LABELS]);
  for (const s of selectors) {
    if (!exported.has(s.name) && !(s.name in SYNTHETIC)) {
      problems.push(`${where}: ${s.name} is not exported`);
      continue;
    }
    for (const { label, op, value } of s.matchers) {
      if (!labelsOf(s.name).has(label)) problems.push(`${where}: ${s.name} has no label ${label}`);
      else if (CLOSED_LABELS.has(label) && !value.includes('$')) {
        const seen = exported.get(s.name)!.get(label)!;
        const values = op.includes('~') ? value.replace(/^\((.*)\)$/, '$1').split('|') : [value];
        for (const v of values) if (!seen.has(v)) problems.push(`${where}: ${s.name}{${label}${op}"${value}"}: "${v}" is not a value of ${label} (have ${[...seen].join(', ')})`);
      }
    }
  }
  const available = new Set(selectors.flatMap((s) => [...labelsOf(s.name)]));
  for (const l of groupingLabelsOf(expr)) if (!available.has(l)) problems.push(`${where}: groups by ${l}, a label none of its metrics has`);
  return problems;
}

/** `expr:` values of a rules file, folded blocks joined (the files are written in this shape). */
function ruleExprs(yaml: string): { alert: string; expr: string }[] {
  const lines = yaml.split('\n');
  const out: { alert: string; expr: string }[] = [];
  let alert = '';
  for (let i = 0; i < lines.length; i++) {
    const a = /^\s*- alert:\s*(\S+)/.exec(lines[i]);
    if (a) alert = a[1];
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    if (!/^[>|]/.test(m[2])) {
      out.push({ alert, expr: m[2] });
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1].trim() === '' || lines[i + 1].search(/\S/) > m[1].length)) block.push(lines[++i].trim());
    out.push({ alert, expr: block.join(' ').trim() });
  }
  return out;
}

/** A duration of Prometheus's notation (1m, 15s, 1h30m) in seconds. */
function seconds(duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
  let total = 0;
  for (const m of duration.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(m[1]) * units[m[2]];
  return total;
}

/** Per group of a rules unit-test file, the alert evaluations in order: when, which alert, whether any is expected to fire. */
function ruleTestEvaluations(yaml: string): { time: number; alert: string; fires: boolean }[][] {
  return yaml.split(/\n  - interval:/).slice(1).map((group) =>
    [...group.matchAll(/- eval_time:\s*(\S+)\s*\n\s*alertname:\s*(\S+)\s*\n(\s*exp_alerts:)?/g)].map((m) => ({ time: seconds(m[1]), alert: m[2], fires: Boolean(m[3]) })));
}

interface Panel { id: number; type: string; title: string; datasource?: { uid: string }; targets?: { refId: string; expr: string; datasource?: { uid: string } }[]; gridPos: { x: number; y: number; w: number; h: number } }
interface Variable { name: string; type: string; query: string | { query: string }; current?: { value?: string } }
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
  __inputs?: { name: string; type: string; pluginId: string }[];
  __requires?: { type: string; id: string }[];
}
const dashboardText = fs.readFileSync(DASHBOARD, 'utf8');
const dashboard = JSON.parse(dashboardText) as Dashboard;
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
const variables = dashboard.templating.list.map((v) => ({ name: v.name, type: v.type, query: typeof v.query === 'string' ? v.query : v.query.query }));

/** A dashboard query as Prometheus sees it once Grafana has filled in its variables. */
function substituted(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '1m').replaceAll('$__range', '1h').replace(/\$\{?([a-z_]+)\}?/g, '.*');
}

let exported: Exported;

beforeAll(async () => {
  const s = twoSites();
  try {
    s.a.start();
    s.b.start();
    await until(() => s.a.sas().some((x) => x.direction === 'outbound') && s.b.sas().some((x) => x.direction === 'outbound'), 10_000, 'outbound SAs');
    // Some traffic both ways, so per-route series have values.
    for (let n = 0; n < 20; n++) {
      s.sendA([numbered('a', n)]);
      s.sendB([numbered('b', n)]);
      await sleep(2);
    }
    exported = exportedOf(await new GatewayMetrics(s.a).scrape());
  } finally {
    s.close();
  }
});

describe('deploy/prometheus', () => {
  itNeeding(['promtool'], 'promtool check config accepts the scrape configuration and the rules it loads', () => {
    const r = promtool('check', 'config', SCRAPE_CONFIG);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: 1 rule files found/);
  });

  itNeeding(['promtool'], 'promtool check rules accepts the alert rules', () => {
    const r = promtool('check', 'rules', RULES);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  itNeeding(['promtool'], 'the alerts fire, and stay quiet, as their unit tests say', () => {
    const r = promtool('test', 'rules', RULE_TESTS);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS/);
  });

  it('every alert has a unit test that expects it to fire', () => {
    const rules = ruleExprs(fs.readFileSync(RULES, 'utf8'));
    const tests = fs.readFileSync(RULE_TESTS, 'utf8');
    const firing = new Set([...tests.matchAll(/alertname:\s*(\S+)\s*\n\s*exp_alerts:/g)].map((m) => m[1]));
    expect(rules.length).toBeGreaterThanOrEqual(8);
    expect(rules.map((r) => r.alert).filter((a) => !firing.has(a))).toEqual([]);
  });

  it('no rule looks back further than 2 minutes, so that every alert resolves within 2 minutes of the recovery', () => {
    const rules = ruleExprs(fs.readFileSync(RULES, 'utf8'));
    const windows = rules.flatMap((r) => [...r.expr.matchAll(/\[([0-9smhd]+)(?::[0-9smhd]*)?\]/g)].map((m) => ({ alert: r.alert, window: m[1] })));
    expect(windows.length).toBeGreaterThanOrEqual(6);
    expect(windows.filter((w) => seconds(w.window) > 120)).toEqual([]);
    // The 15-minute window of VitesseRekeyFailing, once there, is caught.
    expect(seconds('15m')).toBeGreaterThan(120);
  });

  it('every alert has a unit test in which it fires and, later, resolves', () => {
    const rules = ruleExprs(fs.readFileSync(RULES, 'utf8')).map((r) => r.alert);
    const groups = ruleTestEvaluations(fs.readFileSync(RULE_TESTS, 'utf8'));
    const resolving = new Set<string>();
    for (const evals of groups) {
      for (const e of evals) {
        if (e.fires && evals.some((later) => later.alert === e.alert && !later.fires && later.time > e.time)) resolving.add(e.alert);
      }
    }
    expect(rules.filter((a) => !resolving.has(a))).toEqual([]);
    // The parser sees what promtool sees: a group that only fires is not a resolution.
    const onlyFires = '\n  - interval: 1m\n    alert_rule_test:\n      - eval_time: 5m\n        alertname: X\n        exp_alerts:\n          - exp_labels: {}\n';
    expect(ruleTestEvaluations(onlyFires)).toEqual([[{ time: 300, alert: 'X', fires: true }]]);
  });

  it('the rules select the job the scrape configuration defines', () => {
    const jobs = [...fs.readFileSync(SCRAPE_CONFIG, 'utf8').matchAll(/job_name:\s*(\S+)/g)].map((m) => m[1]);
    const used = new Set(ruleExprs(fs.readFileSync(RULES, 'utf8')).flatMap((r) => [...r.expr.matchAll(/job="([^"]+)"/g)].map((m) => m[1])));
    expect(used.size).toBeGreaterThan(0);
    for (const j of used) expect(jobs).toContain(j);
  });

  it('every metric, label and reason the rules use is exported by a gateway', () => {
    const problems = ruleExprs(fs.readFileSync(RULES, 'utf8')).flatMap((r) => problemsOf(r.alert, r.expr, exported));
    expect(problems).toEqual([]);
  });

  it('the rules\' unit tests feed series with the exported names and labels', () => {
    const series = [...fs.readFileSync(RULE_TESTS, 'utf8').matchAll(/series:\s*'([^']+)'/g)].map((m) => m[1]);
    expect(series.length).toBeGreaterThan(10);
    expect(series.flatMap((s) => problemsOf(s, s, exported))).toEqual([]);
  });

  it('the checks above catch a misspelt metric, label, reason and grouping', () => {
    expect(problemsOf('x', 'rate(vitesse_drop_total[5m])', exported)).toHaveLength(1);
    expect(problemsOf('x', 'vitesse_drops_total{cause="replay"}', exported)).toHaveLength(1);
    expect(problemsOf('x', 'vitesse_drops_total{reason=~"replay|authentification"}', exported)).toHaveLength(1);
    expect(problemsOf('x', 'sum by (instance, rout) (vitesse_route_sas)', exported)).toHaveLength(1);
    expect(problemsOf('x', 'sum by (instance, route) (vitesse_route_sas{direction="outbound"})', exported)).toEqual([]);
  });
});

describe('deploy/grafana', () => {
  it('every metric, label and reason the dashboard uses is exported by a gateway', () => {
    const problems = [
      ...queries.flatMap((q) => problemsOf(q.panel, q.expr, exported)),
      ...variables.filter((v) => v.type === 'query').flatMap((v) => problemsOf(`variable ${v.name}`, v.query, exported)),
    ];
    expect(queries.length).toBeGreaterThan(10);
    expect(problems).toEqual([]);
  });

  itNeeding(['promtool'], 'every dashboard query is valid PromQL', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-dashboard-'));
    try {
      // Each query as a recording rule: promtool parses and type-checks them.
      const rules = queries.map((q, i) => `      - record: dashboard_query_${i}\n        expr: ${JSON.stringify(substituted(q.expr))}`).join('\n');
      const file = path.join(dir, 'queries.yml');
      fs.writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
      const r = promtool('check', 'rules', file);
      expect(r.status, r.output).toBe(0);
      expect(r.output).toContain(`SUCCESS: ${queries.length} rules found`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses only the variables it defines, and the data source variable everywhere', () => {
    const defined = new Set([...variables.map((v) => v.name), '__rate_interval', '__interval', '__range']);
    const used = [...queries.map((q) => q.expr), ...variables.map((v) => v.query)].flatMap((e) => [...e.matchAll(/\$\{?([a-zA-Z_]+)\}?/g)].map((m) => m[1]));
    expect(used.filter((v) => !defined.has(v))).toEqual([]);
    for (const p of dashboard.panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe('${datasource}');
    }
  });

  itNeeding(['promtool'], 'every stat shows a value for every gateway, 0 routes with an SA when all are down or none is configured', () => {
    // Three gateways as Prometheus scrapes them: gw-a's two routes are down,
    // gw-b has no route (so no per-route series at all), gw-c's one route is up.
    const series: [string, string][] = [];
    for (const [instance, up, down] of [['gw-a:9301', [], ['site-b', 'site-c']], ['gw-b:9301', [], []], ['gw-c:9301', ['site-a'], []]] as const) {
      const at = `job="vitesse", instance="${instance}"`;
      series.push([`vitesse_info{${at}, version="0.1.0", mode="key-manager"}`, '1x10']);
      series.push([`vitesse_routes{${at}}`, `${up.length + down.length}x10`]);
      for (const iface of ['private', 'public']) series.push([`vitesse_next_hop_resolved{${at}, interface="${iface}"}`, '1x10']);
      for (const [route, sas] of [...up.map((r) => [r, 1] as const), ...down.map((r) => [r, 0] as const)]) {
        for (const direction of ['inbound', 'outbound']) series.push([`vitesse_route_sas{${at}, route="${route}", direction="${direction}", queue="1"}`, `${sas}x10`]);
      }
    }
    const instances = ['gw-a:9301', 'gw-b:9301', 'gw-c:9301'];
    const samples = (values: number[]) => values.map((v, i) => `          - labels: '{instance="${instances[i]}"}'\n            value: ${v}`).join('\n');
    const stats = dashboard.panels.filter((p) => p.type === 'stat').flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: substituted(t.expr) })));
    expect(stats.length).toBeGreaterThanOrEqual(4);
    const routesUp = stats.find((s) => s.panel === 'Routes with an outbound SA' && s.refId === 'A');
    expect(routesUp).toBeDefined();
    const tests = [
      // Each stat query gives every gateway a value (and nothing without an instance).
      ...stats.map((s) => `      - expr: ${JSON.stringify(`group by (instance) (${s.expr})`)}\n        eval_time: 5m\n        exp_samples:\n${samples([1, 1, 1])}`),
      `      - expr: ${JSON.stringify(routesUp!.expr)}\n        eval_time: 5m\n        exp_samples:\n${samples([0, 0, 1])}`,
    ];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-stats-'));
    try {
      fs.writeFileSync(path.join(dir, 'none.yml'), 'groups: []\n');
      const file = path.join(dir, 'stats.test.yml');
      fs.writeFileSync(file, [
        'rule_files: [none.yml]',
        'tests:',
        '  - interval: 1m',
        '    input_series:',
        ...series.map(([s, v]) => `      - series: '${s}'\n        values: '${v}'`),
        '    promql_expr_test:',
        ...tests,
        '',
      ].join('\n'));
      const r = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8', cwd: dir });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('declares its Prometheus data source as an input, so that Grafana\'s import asks for it', () => {
    const inputs = dashboard.__inputs ?? [];
    expect(inputs).toEqual([expect.objectContaining({ type: 'datasource', pluginId: 'prometheus' })]);
    const input = `\${${inputs[0].name}}`;
    // The import replaces the input's ${NAME} with the chosen data source: it
    // is the data source variable's default, which every panel uses.
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable?.query).toBe('prometheus');
    expect(variable?.current?.value).toBe(input);
    // Every ${…} is an input or a variable of the dashboard: nothing is left unresolved after the import.
    const known = new Set([...inputs.map((i) => i.name), ...dashboard.templating.list.map((v) => v.name), '__rate_interval', '__interval', '__range']);
    const references = [...dashboardText.matchAll(/\$\{([A-Za-z_]+)\}/g)].map((m) => m[1]);
    expect(references.filter((r) => !known.has(r))).toEqual([]);
    // And it names what it needs: the data source plugin and every panel type.
    const required = new Set((dashboard.__requires ?? []).map((r) => `${r.type}/${r.id}`));
    for (const need of ['datasource/prometheus', ...new Set(dashboard.panels.filter((p) => p.type !== 'row').map((p) => `panel/${p.type}`))]) expect(required).toContain(need);
  });

  it('has unique panel ids and panels that do not overlap', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) for (let j = y; j < y + h; j++) {
        expect(cells.has(`${i},${j}`), `${p.title} overlaps at ${i},${j}`).toBe(false);
        cells.add(`${i},${j}`);
      }
    }
  });

  it('shows per-route throughput, SA age and rollovers, drops by reason, key-exchange errors and per-queue load', () => {
    const uses = (re: RegExp) => queries.some((q) => re.test(q.expr));
    expect(uses(/by \([^)]*\broute\b[^)]*\) \(rate\(vitesse_route_bytes_total/)).toBe(true);
    expect(uses(/vitesse_route_outbound_sa_age_seconds/)).toBe(true);
    expect(uses(/resets\(vitesse_route_outbound_sa_age_seconds/)).toBe(true);
    expect(uses(/by \([^)]*\breason\b[^)]*\) \(rate\(vitesse_drops_total/)).toBe(true);
    expect(uses(/vitesse_key_exchange_errors_total/)).toBe(true);
    expect(uses(/by \([^)]*\bqueue\b[^)]*\) \(rate\(vitesse_interface_packets_total/)).toBe(true);
  });
});
