// `vitesse status` shows each route's peer like `wg show` (controlplane/
// commands/status.ts), from the route state's peer leaves: a peer that is
// down says since when and how many probes failed; an IPv6 endpoint is
// bracketed; a learned endpoint says so, and whether a NAT was detected; each route says its key-exchange
// protocol (the default when the configuration leaves it out); data-plane
// mode shows no peer.
import { describe, expect, it } from 'vitest';
import { statusReport, summarise } from '../controlplane/commands/status.js';

const config = { route: [{ id: 'site-b', net: '10.2.0.0/16' }] };
const NOW = Date.parse('2026-12-07T05:31:00Z');

function state(route: Record<string, unknown>, mode = 'key-manager') {
  return {
    mode,
    route: [{ id: 'site-b', 'inbound-packets': '10', 'inbound-bytes': '1000', 'outbound-packets': '30', 'outbound-bytes': '3000', ...route }],
    sa: [{ direction: 'outbound', route: 'site-b', queue: 1, spi: 4097, age: 90, packets: '30', bytes: '3000', esn: true, 'next-sequence': '31' }],
  };
}

describe('vitesse status: the peer of each route', () => {
  it('a public-key peer: whether its negotiation detected a NAT, per queue (text and JSON)', () => {
    const s = state({
      'peer-up': true, 'liveness-probes-sent': '0', 'liveness-probes-failed': '0', 'peer-public-key': 'mP0jnSvyxVKFN8JfGqaI/0C2Cuo4yTxRe+DtWYYvKAg=',
      'peer-endpoint': [
        { queue: 1, address: '203.0.113.9', port: 61000, learned: true, 'nat-detected': true },
        { queue: 2, address: '198.51.100.1', port: 4500, learned: false, 'nat-detected': false },
      ],
    });
    const report = statusReport('gw', config, s, s, 0);
    expect(report.routes[0]['peer-state']!.endpoints).toEqual([
      { queue: 1, endpoint: '203.0.113.9:61000', learned: true, 'nat-detected': true },
      { queue: 2, endpoint: '198.51.100.1:4500', learned: false, 'nat-detected': false },
    ]);
    expect(summarise(report, NOW)).toContain('  endpoint (queue 1): 203.0.113.9:61000 (learned, NAT detected)\n  endpoint (queue 2): 198.51.100.1:4500 (no NAT)\n');
  });

  it('a peer that is down: since when, the probes, the last packet received, the SA still sending', () => {
    const s = state({
      'peer-up': false, 'peer-down-since': '2026-12-07T05:30:00Z', 'last-handshake': '2026-12-07T05:29:30Z', 'last-received': '2026-12-07T05:29:50Z',
      'liveness-probes-sent': '4', 'liveness-probes-failed': '3', 'peer-endpoint': [{ queue: 1, address: '2001:db8:b::1', port: 303, learned: false }],
    });
    const report = statusReport('gw', config, s, s, 0);
    expect(report.routes[0].peer).toBe('psk');
    expect(report.routes[0].protocol).toBe('vitesse-ske');
    expect(report.routes[0]['peer-state']).toEqual({
      endpoints: [{ queue: 1, endpoint: '[2001:db8:b::1]:303', learned: false }],
      up: false, 'down-since': '2026-12-07T05:30:00Z', 'last-handshake': '2026-12-07T05:29:30Z', 'last-received': '2026-12-07T05:29:50Z',
      'liveness-probes': { sent: 4, failed: 3 }, bytes: { inbound: 1000, outbound: 3000 },
    });
    expect(report.routes[0]['sa-list']).toEqual([{ direction: 'outbound', queue: 1, spi: 4097, age: 90, packets: 30, bytes: 3000, sequence: '31' }]);
    const text = summarise(report, NOW);
    expect(text).toContain([
      'route site-b (10.2.0.0/16)',
      '  peer: psk',
      '  endpoint: [2001:db8:b::1]:303',
      '  peer status: down since 2026-12-07T05:30:00Z (60 s ago)',
      '  latest handshake: 90 s ago',
      '  key exchange: vitesse-ske',
      '  last received: 70 s ago',
      '  liveness probes: 4 sent, 3 failed',
      '  transfer: 1.0 kB received, 3.0 kB sent',
      '  outbound SA 4097 (queue 1): age 90 s, 30 packets, 3.0 kB, next sequence 31',
    ].join('\n'));
  });

  it('a public-key peer never heard from, with a learned endpoint on its second queue', () => {
    const s = state({
      'peer-up': false, 'liveness-probes-sent': '3', 'liveness-probes-failed': '3', 'peer-public-key': 'mP0jnSvyxVKFN8JfGqaI/0C2Cuo4yTxRe+DtWYYvKAg=',
      'peer-endpoint': [{ queue: 1, address: '198.51.100.1', port: 303, learned: false }, { queue: 2, address: '203.0.113.9', port: 61000, learned: true }],
    });
    const text = summarise(statusReport('gw', config, s, s, 0), NOW);
    expect(text).toContain('  peer: mP0jnSvyxVKFN8JfGqaI/0C2Cuo4yTxRe+DtWYYvKAg=\n');
    expect(text).toContain('  endpoint (queue 1): 198.51.100.1:303\n  endpoint (queue 2): 203.0.113.9:61000 (learned)\n');
    expect(text).toContain('  peer status: down (never heard from)\n  latest handshake: never\n  key exchange: vitesse-ske\n  last received: never\n');
  });

  it('a route with two peers: each listed, up or down, and whether it carries flows', () => {
    const s = state({
      'peer-up': true, 'liveness-probes-sent': '3', 'liveness-probes-failed': '3', 'peer-public-key': 'mP0jnSvyxVKFN8JfGqaI/0C2Cuo4yTxRe+DtWYYvKAg=',
      'peer-endpoint': [{ queue: 1, address: '198.51.100.1', port: 303, learned: false }],
      peer: [
        { 'public-key': 'mP0jnSvyxVKFN8JfGqaI/0C2Cuo4yTxRe+DtWYYvKAg=', usable: false, 'peer-up': false, 'peer-down-since': '2026-12-07T05:30:30Z', 'peer-endpoint': [{ queue: 1, address: '198.51.100.1', port: 303, learned: false }] },
        { 'public-key': 'IGonBGMrJ/oFceNF+U8RQUwrGcyoXIJ2u+SU7VIgYkQ=', usable: true, 'peer-up': true, 'peer-endpoint': [{ queue: 1, address: '198.51.100.2', port: 303, learned: false }] },
      ],
    });
    const report = statusReport('gw', config, s, s, 0);
    expect(report.routes[0]['peer-state']!.peers!.map((p) => [p.peer, p.usable, p.up])).toEqual([
      ['mP0jnSvyxVKFN8JfGqaI/0C2Cuo4yTxRe+DtWYYvKAg=', false, false],
      ['IGonBGMrJ/oFceNF+U8RQUwrGcyoXIJ2u+SU7VIgYkQ=', true, true],
    ]);
    const text = summarise(report, NOW);
    expect(text).toContain('  peer mP0jnSvyxVKFN8JfGqaI/0C2Cuo4yTxRe+DtWYYvKAg=: down since 2026-12-07T05:30:30Z (30 s ago), no flows (down or draining), endpoint 198.51.100.1:303\n');
    expect(text).toContain('  peer IGonBGMrJ/oFceNF+U8RQUwrGcyoXIJ2u+SU7VIgYkQ=: up, carries flows, endpoint 198.51.100.2:303\n');
  });

  it('a vita-ske-v5 route beside a vitesse-ske one: each says its protocol, in the text and in --json', () => {
    const two = { route: [{ id: 'site-b', net: '10.2.0.0/16', protocol: 'vitesse-ske' }, { id: 'vita-c', net: '10.3.0.0/16', protocol: 'vita-ske-v5' }] };
    const up = { 'peer-up': true, 'last-handshake': '2026-12-07T05:30:57Z', 'liveness-probes-sent': '0', 'liveness-probes-failed': '0' };
    const s = { ...state(up), route: [{ id: 'site-b', ...up }, { id: 'vita-c', ...up }] };
    const report = statusReport('gw', two, s, s, 0);
    expect(report.routes.map((r) => [r.id, r.protocol])).toEqual([['site-b', 'vitesse-ske'], ['vita-c', 'vita-ske-v5']]);
    expect(JSON.parse(JSON.stringify(report)).routes[1]).toMatchObject({ id: 'vita-c', peer: 'psk', protocol: 'vita-ske-v5' });
    const text = summarise(report, NOW);
    expect(text).toContain('route site-b (10.2.0.0/16)\n  peer: psk\n  peer status: up\n  latest handshake: 3 s ago\n  key exchange: vitesse-ske\n');
    expect(text).toContain('route vita-c (10.3.0.0/16)\n  peer: psk\n  peer status: up\n  latest handshake: 3 s ago\n  key exchange: vita-ske-v5\n');
  });

  it('data-plane mode: no peer state, no peer block', () => {
    const s = state({}, 'data-plane');
    const report = statusReport('gw', config, s, s, 0);
    expect(report.routes[0].peer).toBe('-');
    expect(report.routes[0].protocol).toBe('-');
    expect(report.routes[0]).not.toHaveProperty('peer-state');
    expect(summarise(report, NOW)).not.toContain('peer status');
  });
});
