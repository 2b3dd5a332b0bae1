// The gateway's own log lines say each thing once, with the fields docs/api.md
// §8 promises, in the words the state uses: one "next hop resolved" per next
// hop (configured or learnt by ARP), "inbound SA expired" with its route, and
// the mode as the state names it (key-manager, data-plane). Two gateways on
// memory wires, SAs rolling over every 2 s.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { twoSites, until, type TwoSites } from '../controlplane/demo/memory-two-sites.js';
import { gatewayState } from '../controlplane/state.js';

interface Line { level: number; msg: string; gw?: string; [k: string]: unknown }

let s: TwoSites | undefined;
afterEach(() => {
  s?.close();
  s = undefined;
});

describe('log lines', () => {
  it('one "next hop resolved" per next hop, the mode in the state\'s word, inbound SA expiry with its route', async () => {
    const lines: Line[] = [];
    const logger = pino({ level: 'info' }, { write: (t: string) => { lines.push(JSON.parse(t)); } });
    s = twoSites({ logger, saTtl: 2, negotiationTtl: 1 });
    s.a.start();
    s.b.start();
    const ofA = () => lines.filter((l) => l.gw === 'A');
    await until(() => ofA().some((l) => l.msg === 'inbound SA expired'), 20_000, 'an inbound SA to expire at A');

    const resolved = ofA().filter((l) => l.msg === 'next hop resolved');
    // The private next hop is configured (static MAC), the public one learnt by ARP.
    expect(resolved.map((l) => [l.side, l.configured ?? false]).sort()).toEqual([['private', true], ['public', false]]);
    for (const l of resolved) expect(l).toMatchObject({ nextHop: expect.any(String), mac: expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/) });

    const started = ofA().find((l) => l.msg === 'gateway started')!;
    expect(started.mode).toBe(gatewayState(s.a).mode);
    expect(started.mode).toBe('key-manager');

    const expired = ofA().filter((l) => l.msg === 'inbound SA expired');
    for (const l of expired) expect(l).toMatchObject({ route: 'site-b', queue: 1, spi: expect.any(Number) });
  });
});
