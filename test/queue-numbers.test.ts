// One SA, one queue number. The configuration counts queues from 1, the data
// plane its workers from 0; controlplane/dataplane.ts converts, and only
// there. Two gateways with two queues each negotiate an SA pair per queue and
// carry traffic on both; for every SA, the log lines about it (gateway and key
// manager), the state API, the metrics and the worker threads' names name
// the queue it is configured on.
import fs from 'node:fs';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerIndex } from '../controlplane/dataplane.js';
import { FIRST_QUEUE, QueueNumber } from '../controlplane/exchange/types.js';
import { GatewayMetrics } from '../controlplane/metrics.js';
import { gatewayState } from '../controlplane/state.js';
import { buildIpv4 } from './support/ip-packets.js';
import { ethernet } from './support/gateway-harness.js';
import { GW_A_PRIV_MAC, HOST_A_MAC, twoSites, until, type TwoSites } from '../controlplane/demo/memory-two-sites.js';

let s: TwoSites | undefined;
afterEach(() => {
  s?.close();
  s = undefined;
});

interface LogLine { gw: string; msg: string; route?: string; queue?: number; spi?: number; inbound?: number; outbound?: number }

/** Both gateways logging at debug level into `lines` (pino's JSON, parsed). */
function capture(lines: LogLine[]) {
  return pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line)); } });
}

/** A datagram from hostA to hostB; the source port varies the flow, so flows spread over both queues. */
function flow(port: number): Buffer {
  const payload = Buffer.alloc(32);
  payload.writeUInt16BE(port, 0);
  payload.writeUInt16BE(5000, 2);
  payload.writeUInt16BE(payload.length, 4);
  return ethernet(GW_A_PRIV_MAC, HOST_A_MAC, 0x0800, buildIpv4({ src: '10.1.0.2', dst: '10.2.0.2', payload }));
}

function metricSeries(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out = [];
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    out.push({ labels: Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]])), value: Number(m[2]) });
  }
  return out;
}

describe('queue numbers', () => {
  it('logs, state and metrics name the configured queue of each SA of a two-queue gateway', async () => {
    const lines: LogLine[] = [];
    s = twoSites({ queues: 2, logger: capture(lines) });
    s.a.start();
    s.b.start();
    const outboundOn = (q: number) => s!.a.sas().some((x) => x.direction === 'outbound' && x.queue === q) && s!.b.sas().some((x) => x.direction === 'outbound' && x.queue === q);
    await until(() => outboundOn(1) && outboundOn(2), 10_000, 'outbound SAs on both queues');

    const total = 400;
    let sent = 0;
    for (let port = 1024; sent < total; port++) sent += s.sendA([flow(port)]);
    await until(() => s!.a.sas().filter((x) => x.direction === 'outbound').reduce((n, x) => n + x.packets, 0) === total, 20_000, 'the traffic');

    const state = gatewayState(s.a);
    const metrics = await new GatewayMetrics(s.a).scrape();
    const sas = state.sa as { direction: 'inbound' | 'outbound'; route: string; queue: number; spi: number; packets: string }[];
    expect((state.queue as { id: number }[]).map((q) => q.id)).toEqual([1, 2]);
    expect(new Set(sas.map((sa) => sa.queue))).toEqual(new Set([1, 2]));
    // Both queues carried some of the flows.
    for (const q of [1, 2]) expect(Number(sas.find((sa) => sa.direction === 'outbound' && sa.queue === q)!.packets)).toBeGreaterThan(0);

    const a = lines.filter((l) => l.gw === 'A');
    for (const sa of sas) {
      const what = `${sa.direction} SA ${sa.spi}`;
      // The gateway's line for the SA, and the key manager's for the pair it belongs to.
      const installed = a.filter((l) => l.spi === sa.spi && (l.msg === 'inbound SA installed' || l.msg === 'outbound SA activated'));
      const negotiated = a.filter((l) => l.msg === 'SA pair negotiated' && l[sa.direction] === sa.spi);
      expect(installed.length, what).toBeGreaterThan(0);
      expect(negotiated.length, what).toBeGreaterThan(0);
      for (const l of [...installed, ...negotiated]) expect({ what, msg: l.msg, queue: l.queue }).toEqual({ what, msg: l.msg, queue: sa.queue });
    }
    // Every key-manager line that names a queue names a configured one.
    for (const l of lines) if (l.queue !== undefined) expect([1, 2], `${l.gw}: ${l.msg}`).toContain(l.queue);

    for (const q of [1, 2]) {
      for (const direction of ['inbound', 'outbound'] as const) {
        const here = sas.filter((sa) => sa.queue === q && sa.direction === direction);
        const labels = { route: 'site-b', direction, queue: String(q) };
        const packets = metricSeries(metrics, 'vitesse_route_packets_total').find((m) => JSON.stringify(m.labels) === JSON.stringify(labels));
        expect({ labels, packets: packets?.value }).toEqual({ labels, packets: here.reduce((n, sa) => n + Number(sa.packets), 0) });
        const count = metricSeries(metrics, 'vitesse_route_sas').find((m) => JSON.stringify(m.labels) === JSON.stringify(labels));
        expect({ labels, sas: count?.value }).toEqual({ labels, sas: here.length });
      }
    }
    const queueLabels = new Set([...metrics.matchAll(/queue="([^"]*)"/g)].map((m) => m[1]));
    expect(queueLabels).toEqual(new Set(['1', '2']));
    // The workers' threads (top -H, ps -L) are named by the same numbers.
    const threads = fs.readdirSync('/proc/self/task').map((t) => fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim());
    expect(new Set(threads.filter((t) => t.startsWith('vitesse-q')))).toEqual(new Set(['vitesse-q1', 'vitesse-q2']));
  });

  it('refuses a queue the gateway does not have, naming it as configured', () => {
    s = twoSites({ queues: 2 });
    expect(() => s!.a.dataplane.counters(QueueNumber(3))).toThrow('queue 3: no such queue (the gateway has queues 1..2)');
    expect(() => s!.a.dataplane.inject(QueueNumber(0), 'public', 'transmit', [])).toThrow('queue 0: no such queue');
    expect(s.a.dataplane.queueNumbers).toEqual([1, 2]);
  });

  it('keeps configured queue numbers and worker indexes apart in the types (npm run typecheck)', () => {
    const worker = 0 as WorkerIndex;
    // @ts-expect-error a worker index is not a configured queue number
    const fromWorker: QueueNumber = worker;
    // @ts-expect-error nor is a plain number
    const fromNumber: QueueNumber = 1;
    // @ts-expect-error a configured queue number is not a worker index
    const toWorker: WorkerIndex = FIRST_QUEUE;
    expect([fromWorker, fromNumber, toWorker]).toEqual([0, 1, 1]);
  });
});
