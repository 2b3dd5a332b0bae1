// The peer endpoint a route's state reports (gateway-state/route/peer-endpoint,
// `vitesse status`) is where the key manager sends: a public-key peer's own
// port when its endpoint names one, our protocol-port otherwise.
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../controlplane/gateway.js';
import { routePeers } from '../controlplane/peer-state.js';
import { RouteId } from '../controlplane/exchange/types.js';
import { world } from './keymanager-harness.js';

describe('peer state: endpoint port', () => {
  it('reports a peer endpoint\'s configured port, and protocol-port for one without', () => {
    const w = world({ routeA: { queues: 2 }, routeB: { queues: 2 } });
    const gw = {
      keymanager: w.a.km,
      dataplane: { endpoints: () => [] },
      currentConfig: {
        protocolPort: 303,
        publicInterface: { queues: [{ id: 1, address: '192.0.2.1' }, { id: 2, address: '192.0.2.2' }] },
        routes: [{
          id: 'peer',
          gateways: [{ queue: 1, address: '198.51.100.2' }, { queue: 2, address: '198.51.100.3' }],
          peer: { publicKey: Buffer.alloc(32, 9), presharedKeyFile: null, endpoints: [{ queue: 1, address: '198.51.100.2', port: 51820 }, { queue: 2, address: '198.51.100.3', port: null }] },
        }],
      },
    } as unknown as Gateway;
    expect(routePeers(gw).get(RouteId('peer'))!.endpoints).toEqual([
      { queue: 1, address: '198.51.100.2', port: 51820, learned: false },
      { queue: 2, address: '198.51.100.3', port: 303, learned: false },
    ]);
  });
});
