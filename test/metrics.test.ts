// Prometheus metrics of a running gateway pair (controlplane/demo/memory-two-sites.ts):
// a scrape of a busy gateway passes `promtool check metrics`, values are the
// data plane's own counters at scrape time, route counters never go
// backwards when SAs roll over, and no label carries an SPI.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { COUNTER_NAMES } from '../controlplane/counter-table.js';
import { FIRST_QUEUE } from '../controlplane/exchange/types.js';
import { DATAPLANE_METRICS, GatewayMetrics, serveMetrics, type MetricsServer } from '../controlplane/metrics.js';
import { itNeeding } from './support/requires.js';
import { numbered, numberOf, sleep, twoSites, until, type TwoSites } from '../controlplane/demo/memory-two-sites.js';

let s: TwoSites | undefined;
let server: MetricsServer | undefined;
/** The busy gateway's scrape, for promtool in the test after. */
let busyScrape = '';
afterEach(async () => {
  await server?.close();
  server = undefined;
  s?.close();
  s = undefined;
});

interface Sample { name: string; labels: Record<string, string>; value: number }

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length)?.value;
}

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    }).on('error', reject).end();
  });
}

async function started(o: Parameters<typeof twoSites>[0] = {}) {
  s = twoSites(o);
  s.a.start();
  s.b.start();
  await until(() => s!.a.sas().some((x) => x.direction === 'outbound') && s!.b.sas().some((x) => x.direction === 'outbound'), 10_000, 'outbound SAs');
  const metrics = new GatewayMetrics(s.a);
  server = await serveMetrics(metrics, '127.0.0.1:0');
  return { metrics, port: server.address.port };
}

describe('metrics', () => {
  it('maps every data-plane counter to its own series, a drop to the reason its name says', () => {
    expect(Object.keys(DATAPLANE_METRICS)).toEqual([...COUNTER_NAMES]);
    const series = Object.values(DATAPLANE_METRICS).map((m) => `${m.metric}${JSON.stringify(m.labels)}`);
    expect(new Set(series).size).toBe(COUNTER_NAMES.length);
    const drops = Object.entries(DATAPLANE_METRICS).filter(([, m]) => m.metric === 'drops');
    expect(drops.length).toBeGreaterThan(30);
    for (const [name, m] of drops) expect([`${m.labels.interface}_drop_${m.labels.reason}`, `${m.labels.interface}_${m.labels.reason}`]).toContain(name);
  });

  it('a scrape of a busy gateway has its counters, with no SPI in any label', async () => {
    const { port } = await started();
    let next = 0;
    let running = true;
    const pump = (async () => {
      while (running) {
        s!.sendA(Array.from({ length: 20 }, () => numbered('a', next++)));
        s!.sendB([numbered('b', next)]);
        s!.receiveA();
        s!.receiveB();
        await sleep(1);
      }
    })();
    await sleep(200);
    const scrape = await get(port, '/metrics');
    running = false;
    await pump;
    expect(scrape.status).toBe(200);
    expect(scrape.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parse(scrape.body);
    expect(value(samples, 'vitesse_esp_packets_total', { direction: 'outbound', queue: '1' })).toBeGreaterThan(0);
    expect(value(samples, 'vitesse_route_packets_total', { route: 'site-b', direction: 'outbound', queue: '1' })).toBeGreaterThan(0);
    expect(samples.filter((x) => Object.keys(x.labels).some((l) => /spi/i.test(l)))).toEqual([]);
    const spis = s!.a.sas().map((x) => String(x.spi));
    expect(samples.filter((x) => Object.values(x.labels).some((v) => spis.includes(v)))).toEqual([]);
    for (const x of samples.filter((x) => x.name.startsWith('vitesse_'))) expect(x.name).toMatch(/^vitesse_[a-z0-9_]+$/);

    busyScrape = scrape.body;
  });

  itNeeding(['promtool'], 'that scrape passes promtool check metrics', () => {
    expect(busyScrape).toContain('vitesse_esp_packets_total');
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: busyScrape, encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`).toBe('');
    expect(lint.status).toBe(0);
  });

  it('reports the data plane\'s counters, read at scrape time', async () => {
    const { metrics } = await started();
    for (let i = 0; i < 300; i++) s!.sendA([numbered('a', i)]);
    s!.sendA([Buffer.alloc(10)]); // a runt: a drop with its reason
    await until(() => s!.a.dataplane.counters(FIRST_QUEUE).private_drop_bad_header === 1 && s!.a.dataplane.counters(FIRST_QUEUE).encapsulated_packets >= 300, 20_000, 'the traffic');
    // A scrape between two equal readings of the counters is of that moment
    // (ARP refreshes may still move them).
    let c: Record<string, number>, samples: Sample[];
    for (let attempt = 0; ; attempt++) {
      c = s!.a.dataplane.counters(FIRST_QUEUE);
      samples = parse(await metrics.scrape());
      if (JSON.stringify(s!.a.dataplane.counters(FIRST_QUEUE)) === JSON.stringify(c)) break;
      expect(attempt).toBeLessThan(50);
      await sleep(20);
    }
    for (const [counter, m] of Object.entries(DATAPLANE_METRICS)) {
      expect({ counter, value: value(samples, `vitesse_${m.metric}_total`, { ...m.labels, queue: '1' }) }).toEqual({ counter, value: c[counter] });
    }
    expect(value(samples, 'vitesse_drops_total', { interface: 'private', reason: 'bad_header', queue: '1' })).toBe(1);
    const sas = s!.a.sas();
    const out = sas.find((x) => x.direction === 'outbound')!;
    expect(value(samples, 'vitesse_route_packets_total', { route: 'site-b', direction: 'outbound', queue: '1' })).toBe(out.packets);
    expect(value(samples, 'vitesse_route_bytes_total', { route: 'site-b', direction: 'outbound', queue: '1' })).toBe(out.bytes);
    expect(value(samples, 'vitesse_route_sas', { route: 'site-b', direction: 'inbound', queue: '1' })).toBe(sas.filter((x) => x.direction === 'inbound').length);
    expect(value(samples, 'vitesse_route_outbound_sa_age_seconds', { route: 'site-b', queue: '1' })).toBeGreaterThanOrEqual(0);
    const km = s!.a.keymanager!.counters;
    expect(value(samples, 'vitesse_key_exchange_keypairs_total', { role: 'initiator' })).toBe(km.keypairs_negotiated);
    expect(value(samples, 'vitesse_key_exchange_keypairs_total', { role: 'responder' })).toBe(km.keypairs_offered);
    expect(value(samples, 'vitesse_next_hop_resolved', { interface: 'public' })).toBe(1);
    for (const name of ['unsolicited_claims', 'mac_changes', 'mac_changes_rate_limited']) {
      expect(value(samples, `vitesse_next_hop_${name}_total`, { interface: 'public' })).toBe(0);
    }
    expect(value(samples, 'vitesse_routes', {})).toBe(1);
    // The peer answered: up, as the state says; probes as the key manager counted them.
    const peer = s!.a.keymanager!.liveness.snapshot('site-b/1')!;
    expect(peer.peerUp).toBe(true);
    expect(value(samples, 'vitesse_route_peer_up', { route: 'site-b' })).toBe(1);
    expect(value(samples, 'vitesse_route_liveness_probes_total', { route: 'site-b', event: 'sent' })).toBe(peer.probesSent);
    expect(value(samples, 'vitesse_route_liveness_probes_total', { route: 'site-b', event: 'failed' })).toBe(0);
    // A second scrape sees what happened since: nothing is cached.
    s!.sendA([Buffer.alloc(10)]);
    await until(() => s!.a.dataplane.counters(FIRST_QUEUE).private_drop_bad_header === 2, 20_000, 'second runt');
    expect(value(parse(await metrics.scrape()), 'vitesse_drops_total', { interface: 'private', reason: 'bad_header', queue: '1' })).toBe(2);
  });

  it('route counters never go backwards while SAs roll over every second', async () => {
    const { metrics } = await started({ saTtl: 2, negotiationTtl: 1 });
    const spis = new Set<number>();
    let sent = 0, received = 0, last = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 6000) {
      const batch = Array.from({ length: 20 }, () => numbered('a', sent++));
      s!.sendA(batch);
      received += s!.receiveB().map(numberOf).length;
      for (const sa of s!.a.sas()) if (sa.direction === 'outbound') spis.add(sa.spi);
      const v = value(parse(await metrics.scrape()), 'vitesse_route_packets_total', { route: 'site-b', direction: 'outbound', queue: '1' }) ?? 0;
      expect(v).toBeGreaterThanOrEqual(last);
      last = v;
      await sleep(5);
    }
    await until(() => { received += s!.receiveB().length; return received >= sent; }, 20_000, 'the last datagrams');
    expect(spis.size).toBeGreaterThanOrEqual(3); // it did roll over
    const total = value(parse(await metrics.scrape()), 'vitesse_route_packets_total', { route: 'site-b', direction: 'outbound', queue: '1' })!;
    // Every packet sent went through some outbound SA of the route. A removed
    // SA's count is read as it is replaced, so a packet a worker encrypts in
    // that instant may be missed: a few per rekey at most.
    expect(total).toBeLessThanOrEqual(sent);
    expect(total).toBeGreaterThanOrEqual(sent - 5 * spis.size);
    const inbound = value(parse(await metrics.scrape()), 'vitesse_route_packets_total', { route: 'site-b', direction: 'inbound', queue: '1' });
    expect(inbound ?? 0).toBe(0); // B sent nothing back
  });

  it('key-exchange errors: by route where the message matched one, without the label where none did', async () => {
    const { metrics } = await started();
    const km = s!.a.keymanager!;
    const before = parse(await metrics.scrape());
    for (const reason of ['route', 'protocol', 'version', 'parameter', 'authentication', 'public_key']) {
      expect(value(before, 'vitesse_key_exchange_errors_total', { reason })).toBe(0);
    }
    // What KeyManager.drop reports (the counters of the YANG state aside).
    km.failures.dropped('authentication', 'site-b', '192.0.2.99', 0);
    km.failures.dropped('authentication', 'site-b', '192.0.2.99', 0);
    km.failures.dropped('route', undefined, '203.0.113.7', 0);
    const after = parse(await metrics.scrape());
    expect(value(after, 'vitesse_key_exchange_errors_total', { reason: 'authentication', route: 'site-b' })).toBe(2);
    expect(value(after, 'vitesse_key_exchange_errors_total', { reason: 'authentication' })).toBe(0);
    expect(value(after, 'vitesse_key_exchange_errors_total', { reason: 'route' })).toBe(1);
  });

  it('serves /metrics only', async () => {
    const { port } = await started();
    expect((await get(port, '/')).status).toBe(404);
    expect((await get(port, '/metrics', 'POST')).status).toBe(405);
    const head = await get(port, '/metrics', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });
});
