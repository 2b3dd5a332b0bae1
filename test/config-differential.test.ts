// Random configurations — a valid one with a few random edits drawn from
// pools of valid and invalid values — judged by the loader and by yanglint.
// They must agree, except where the loader applies a rule beyond the model
// (semantics.ts), and then every problem it reports must be one of those.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../controlplane/config/index.js';
import { YANGLINT_MISSING, yanglintAvailable, yanglintMany } from './config-yanglint.js';

const K = [
  '9430bf45f1ee20eb77850d0ee38564aca77021fdec915153c683d290789b315f',
  '3744654f9a6ea605168e6637d210179ee5fd7a24c46e2ae78610c172a4be68d0',
  '7e53f39046234b0fc1777c2978816fbb239001bf6191a75c6fa4ed4e099dc19e',
];

type G = Record<string, any>;

function base(): G {
  return {
    queues: 2,
    'private-interface': { device: 'eth0', mac: '02:00:00:00:00:01', address: ['10.1.0.1', 'fd00:1::1'], 'next-hop': { address: '10.1.0.254' } },
    'public-interface': {
      device: 'eth1', mac: '02:00:00:00:01:01',
      queue: [{ id: 1, address: '192.0.2.1' }, { id: 2, address: '192.0.2.2' }],
      'next-hop': { address: '192.0.2.254' },
    },
    route: [
      { id: 'site2', net: '10.2.0.0/16', gateway: [{ queue: 1, address: '198.51.100.1' }, { queue: 2, address: '198.51.100.2' }], spi: 1001, 'preshared-key': K[0] },
      { id: 'site3', net: 'fd00:3::/48', gateway: [{ queue: 1, address: '203.0.113.1' }, { queue: 2, address: '203.0.113.2' }], spi: 1002, 'preshared-key': K[1] },
    ],
  };
}

const pick = <T>(...values: T[]) => fc.constantFrom(...values);
const v4 = pick('192.0.2.1', '192.0.2.3', '198.51.100.1', '198.51.100.2', '203.0.113.9');
const v6 = pick('2001:db8:1::1', '2001:DB8:1::1', '2001:db8:2::2', 'fd00:1::1', '::ffff:192.0.2.1');
const odd = pick<unknown>('0.0.0.0', '224.0.0.5', '255.255.255.255', '300.1.1.1', 'fe80::1%eth0', '1.2.3', '', 7);
const address = fc.oneof({ weight: 5, arbitrary: v4 }, { weight: 2, arbitrary: v6 }, { weight: 1, arbitrary: odd });
const net = pick<unknown>('10.4.0.0/16', '10.2.0.1/16', '10.2.0.0/16', 'fd00:3:0::/48', 'FD00:3::/48', '0.0.0.0/0', '::/0', '10.0.0.0/33', '10.4.0.0', 10);
const key = pick<unknown>(K[2], K[0], K[0].toUpperCase(), K[2].slice(2), `${K[2]}00`, 'xyz');
const iface = pick('private-interface', 'public-interface');
const queue = pick(1, 2, 3);
const routeIndex = pick(0, 1);

/** One random edit of a configuration. */
/** Values at and around each global setting's limits. */
const settings: Record<string, unknown[]> = {
  queues: [1, 2, 3, 0, 65, '2'],
  mtu: [575, 576, 9216, 9217, 1440.5, '1440'],
  tfc: [true, false, 'yes', null],
  'sa-ttl': [1, 2, 9, 10, 19, 20, 86401],
  'negotiation-ttl': [1, 5, 10, 300, 301],
  'protocol-port': [0, 1, 65535, 65536],
  'replay-window': [16, 32, 48, 4096, 8192],
};

const edit: fc.Arbitrary<(g: G) => void> = fc.oneof(
  {
    weight: 6,
    arbitrary: pick(...Object.keys(settings)).chain((leaf) => pick(...settings[leaf]).map((value) => (g: G) => { g[leaf] = value; })),
  },
  fc.array(address, { minLength: 0, maxLength: 3 }).map((a) => (g: G) => { g['private-interface'].address = a; }),
  fc.tuple(iface, address).map(([i, a]) => (g: G) => { g[i]['next-hop'].address = a; }),
  fc.tuple(iface, pick('af-xdp', 'memory', 'pcap', 'dpdk'), fc.boolean()).map(([i, d, dropMac]) => (g: G) => {
    g[i].driver = d;
    if (dropMac) delete g[i].mac;
  }),
  fc.tuple(iface, pick<unknown>(0, 1, 2)).map(([i, end]) => (g: G) => { g[i]['wire-end'] = end; }),
  fc.tuple(pick(0, 1), address).map(([q, a]) => (g: G) => { g['public-interface'].queue[q].address = a; }),
  fc.tuple(queue, address).map(([id, a]) => (g: G) => { g['public-interface'].queue.push({ id, address: a }); }),
  fc.constant((g: G) => { g['public-interface'].queue.pop(); }),
  fc.tuple(routeIndex, net).map(([r, n]) => (g: G) => { g.route[r].net = n; }),
  fc.tuple(routeIndex, pick<unknown>(255, 256, 1001, 1002, 4096, '1001')).map(([r, s]) => (g: G) => { g.route[r].spi = s; }),
  fc.tuple(routeIndex, key).map(([r, k]) => (g: G) => { g.route[r]['preshared-key'] = k; }),
  fc.tuple(routeIndex, pick('aes-256-gcm-16-icv', 'aes-gcm-16-icv', 'chacha')).map(([r, a]) => (g: G) => { g.route[r].aead = a; }),
  fc.tuple(routeIndex, pick<unknown>('site2', 'site3', 'site 4', '')).map(([r, id]) => (g: G) => { g.route[r].id = id; }),
  fc.tuple(routeIndex, pick(0, 1), address).map(([r, q, a]) => (g: G) => { g.route[r].gateway[q].address = a; }),
  fc.tuple(routeIndex, queue, address).map(([r, q, a]) => (g: G) => { g.route[r].gateway.push({ queue: q, address: a }); }),
  fc.tuple(routeIndex, pick('net', 'spi', 'preshared-key', 'gateway')).map(([r, m]) => (g: G) => { delete g.route[r][m]; }),
  fc.tuple(net, key, pick(1003, 1001), pick('198.51.100.7', '192.0.2.1')).map(([n, k, s, a]) => (g: G) => {
    g.route.push({ id: 'site4', net: n, gateway: [{ queue: 1, address: a }, { queue: 2, address: '198.51.100.8' }], spi: s, 'preshared-key': k });
  }),
  fc.tuple(
    fc.array(fc.record({
      route: pick('site2', 'site3', 'site9'), queue: pick(1, 2, 3), spi: pick(4097, 4098, 200),
      aead: pick('aes-gcm-16-icv', 'aes-256-gcm-16-icv'), key: pick('d5cad67f4de7930e4ddf5fa69e2aae75', 'D5CAD67F4DE7930E4DDF5FA69E2AAE75', '0852a3692cfa7a41940fb9994f902ae2', K[2], K[1]), salt: pick('ae4a84e1', 'f809ef9'),
    }), { maxLength: 3 }),
    fc.boolean(),
  ).map(([sas, keepKeys]) => (g: G) => {
    g['data-plane'] = { 'inbound-sa': sas.filter((_, i) => i % 2 === 0), 'outbound-sa': sas.filter((_, i) => i % 2 === 1) };
    if (!keepKeys) for (const r of g.route) { delete r.spi; delete r['preshared-key']; }
  }),
  pick('device', 'next-hop', 'mac').chain((m) => iface.map((i) => (g: G) => { delete g[i][m]; })),
  fc.tuple(iface, pick('enp129s0f1np1v1', 'enp129s0f1np1v12', 'eth 0', 'br/0')).map(([i, d]) => (g: G) => { g[i].device = d; }),
  {
    // Edits that only the rules beyond the model refuse, so that they are exercised often.
    weight: 3,
    arbitrary: fc.constantFrom<(g: G) => void>(
      (g) => { g.route[0].net = '10.2.0.1/16'; },
      (g) => { g.route[1].net = 'fd00:3::1/48'; },
      (g) => { g.route[1]['preshared-key'] = K[0].toUpperCase(); },
      (g) => { g.route[0].gateway[1].address = '192.0.2.2'; },
      (g) => { g['private-interface'].address = ['0.0.0.0']; },
      (g) => { g['public-interface']['next-hop'].address = '224.0.0.1'; },
    ),
  },
  pick('colour', 'vitesse-gateway:mtu', 'other-module:mtu').map((m) => (g: G) => { g[m] = 1400; }),
);

const documents = fc.array(edit, { minLength: 0, maxLength: 3 }).map((edits) => {
  const g = base();
  for (const e of edits) {
    try { e(g); } catch { /* an edit of something an earlier edit removed */ }
  }
  return { 'vitesse-gateway:gateway': JSON.parse(JSON.stringify(g)) };
});

/** The reasons of the rules beyond the model (semantics.ts, and keys compared as values in constraints.ts). */
const BEYOND_MODEL = [
  / has host bits set /,
  / is not a unicast address$/,
  / is our own public address /,
  /^is the same as route "[^"]+"'s \(every route needs its own key\)$/,
  /^is the same key as (inbound|outbound)-sa\[.*every SA needs its own key$/,
];

describe.skipIf(!yanglintAvailable)('the loader and yanglint', () => {
  it('agree on random configurations, but for the rules beyond the model', () => {
    const seed = Date.now() ^ (Math.random() * 0x7fffffff);
    const sample = fc.sample(documents, { numRuns: 250, seed });
    const verdicts = yanglintMany(sample);
    const outcomes = { bothAccept: 0, bothRefuse: 0, beyondModel: 0 };
    sample.forEach((document, i) => {
      let problems: string[] = [];
      try {
        parseConfig(document);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        problems = e.problems.map((p) => `${p.path}: ${p.reason}`);
      }
      const context = `seed ${seed}, document ${JSON.stringify(document)}`;
      if (problems.length === 0) {
        expect(verdicts[i].messages, `yanglint refuses what the loader accepts: ${context}`).toBe('');
        outcomes.bothAccept++;
      } else if (verdicts[i].ok) {
        for (const p of problems) expect(BEYOND_MODEL.some((r) => r.test(p.replace(/^\S+: /, ''))), `${p}: ${context}`).toBe(true);
        outcomes.beyondModel++;
      } else {
        outcomes.bothRefuse++;
      }
    });
    // Every outcome must occur, or the sample proves little.
    expect(outcomes.bothAccept).toBeGreaterThan(10);
    expect(outcomes.bothRefuse).toBeGreaterThan(10);
    expect(outcomes.beyondModel).toBeGreaterThan(5);
  });
});

if (!yanglintAvailable) it.skip(YANGLINT_MISSING, () => {});
