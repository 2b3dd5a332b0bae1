// The peer leaves of gateway-state/route (controlplane/peer-state.ts,
// peerLeaves) in their edge cases, checked by yanglint against the model:
// never heard from, down, up, two queues with an endpoint each (one on the
// peer's own port), NAT detected on one queue (route/peer-endpoint/nat-detected).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { peerLeaves, type RoutePeer } from '../controlplane/peer-state.js';
import { QueueNumber } from '../controlplane/exchange/types.js';
import { yanglintDocument } from './config-yanglint.js';

const example = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'configs', 'state', 'gateway-state.json'), 'utf8'));
const TOP = 'vitesse-gateway:gateway-state';
const PEER_LEAVES = ['peer', 'peer-up', 'peer-down-since', 'last-handshake', 'last-received', 'liveness-probes-sent', 'liveness-probes-failed', 'peer-endpoint'];

function stateWith(peer: RoutePeer): unknown {
  const doc = structuredClone(example);
  const route = doc[TOP].route[0];
  for (const k of PEER_LEAVES) delete route[k];
  Object.assign(route, peerLeaves(peer));
  return doc;
}

const endpoint = (queue: number, port: number) => ({ queue: QueueNumber(queue), address: `198.51.100.${queue}`, port, learned: false });
const cases: Record<string, RoutePeer> = {
  'never heard from': { peerUp: false, downSince: null, lastHandshake: null, lastReceived: null, probesSent: 0, probesFailed: 0, endpoints: [endpoint(1, 303)] },
  'down': { peerUp: false, downSince: Date.parse('2026-12-07T05:30:00Z'), lastHandshake: null, lastReceived: null, probesSent: 3, probesFailed: 3, endpoints: [endpoint(1, 303)] },
  'up on two queues': {
    peerUp: true, downSince: null, lastHandshake: Date.parse('2026-12-07T05:29:00Z'), lastReceived: Date.parse('2026-12-07T05:30:00.5Z'),
    probesSent: 2 ** 40, probesFailed: 1, endpoints: [endpoint(1, 303), endpoint(2, 65535)],
  },
  'NAT detected on one queue, none on the other': {
    peerUp: true, downSince: null, lastHandshake: null, lastReceived: null, probesSent: 0, probesFailed: 0, natDetected: true,
    endpoints: [{ ...endpoint(1, 40001), learned: true, natDetected: true }, { ...endpoint(2, 303), natDetected: false }],
  },
  'no key manager endpoints': { peerUp: false, downSince: null, lastHandshake: null, lastReceived: null, probesSent: 0, probesFailed: 0, endpoints: [] },
  // A route with several peers (docs/scale-out.md): each under route/peer, keyed by its public key.
  'two peers, one down and out of the flow hashing': {
    peerUp: true, downSince: null, lastHandshake: Date.parse('2026-12-07T05:29:00Z'), lastReceived: Date.parse('2026-12-07T05:30:00Z'),
    probesSent: 4, probesFailed: 3, endpoints: [endpoint(1, 303)],
    peers: [
      {
        publicKey: 'ycVIDuIk0DtL8vsFKQj92M5hj2gerARUFOB6f3cnsjY=', usable: true, peerUp: true, downSince: null,
        lastHandshake: Date.parse('2026-12-07T05:29:00Z'), lastReceived: Date.parse('2026-12-07T05:30:00Z'), probesSent: 1, probesFailed: 0, endpoints: [endpoint(1, 303)],
      },
      {
        publicKey: 'IGonBGMrJ/oFceNF+U8RQUwrGcyoXIJ2u+SU7VIgYkQ=', usable: false, peerUp: false, downSince: Date.parse('2026-12-07T05:29:30Z'),
        lastHandshake: null, lastReceived: null, probesSent: 3, probesFailed: 3, endpoints: [endpoint(2, 303)],
      },
    ],
  },
};

describe('peer state leaves, yanglint', () => {
  it('a route with several peers: each under route/peer with its key and usable', () => {
    const leaves = peerLeaves(cases['two peers, one down and out of the flow hashing']);
    expect((leaves.peer as Array<Record<string, unknown>>).map((p) => [p['public-key'], p.usable, p['peer-up'], p['peer-down-since'] ?? null])).toEqual([
      ['ycVIDuIk0DtL8vsFKQj92M5hj2gerARUFOB6f3cnsjY=', true, true, null],
      ['IGonBGMrJ/oFceNF+U8RQUwrGcyoXIJ2u+SU7VIgYkQ=', false, false, '2026-12-07T05:29:30.000Z'],
    ]);
    expect(leaves['peer-up']).toBe(true);
    expect(peerLeaves(cases.down).peer).toBeUndefined();
  });

  for (const [name, peer] of Object.entries(cases)) {
    it(name, () => {
      expect(yanglintDocument(stateWith(peer), 'get')).toEqual({ ok: true, messages: '' });
    });
  }
  it('nat-detected is per queue, only where known', () => {
    const leaves = peerLeaves(cases['NAT detected on one queue, none on the other']) as { 'peer-endpoint': Record<string, unknown>[] };
    expect(leaves['peer-endpoint'].map((e) => e['nat-detected'])).toEqual([true, false]);
    expect(Object.keys((peerLeaves(cases['never heard from']) as { 'peer-endpoint': object[] })['peer-endpoint'][0])).not.toContain('nat-detected');
  });
});
