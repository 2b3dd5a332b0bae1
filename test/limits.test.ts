// The limits both halves check come from one place: dataplane/config_limits.h.
// The configuration (LIMITS in controlplane/config/defaults.ts) and the YANG
// model carry the same numbers, and the data plane refuses what lies outside.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../controlplane/config/defaults.js';
import { MAX_PEERS_PER_ROUTE } from '../controlplane/exchange/config.js';
import { FIRST_SPI } from '../controlplane/exchange/spi.js';
import { makeHarness, type Harness } from './support/gateway-harness.js';

const ROOT = path.resolve(__dirname, '..');
const HEADER = fs.readFileSync(path.join(ROOT, 'dataplane/config_limits.h'), 'utf8');
const YANG = fs.readFileSync(path.join(ROOT, 'yang/vitesse-gateway.yang'), 'utf8');

function cxx(name: string): number {
  const m = HEADER.match(new RegExp(`inline constexpr uint32_t ${name} = (\\d+);`));
  expect(m, `${name} in dataplane/config_limits.h`).not.toBeNull();
  return Number(m![1]);
}

/** The range of a YANG leaf or typedef, e.g. `leaf mtu` or `typedef spi`. */
function yangRange(statement: string): string {
  const m = YANG.match(new RegExp(`${statement} \\{[^}]*?range "([^"]+)"`));
  expect(m, `${statement} in the YANG model`).not.toBeNull();
  return m![1];
}

let h: Harness | undefined;
afterEach(() => {
  h?.close();
  h = undefined;
});

describe('limits both halves check', () => {
  it('the configuration and the YANG model carry the data plane’s numbers', () => {
    expect(LIMITS.mtu).toEqual({ min: cxx('kMinMtu'), max: cxx('kMaxMtu') });
    expect(yangRange('leaf mtu')).toBe(`${cxx('kMinMtu')}..${cxx('kMaxMtu')}`);
    expect(LIMITS.queues.max).toBe(cxx('kMaxQueues'));
    expect(LIMITS.peersPerRoute.max).toBe(cxx('kMaxPeersPerRoute'));
    expect(MAX_PEERS_PER_ROUTE).toBe(cxx('kMaxPeersPerRoute'));
    expect(yangRange('typedef queue-id')).toBe(`1..${cxx('kMaxQueues')}`);
    expect(LIMITS.spi.min).toBe(cxx('kMinSpi'));
    expect(FIRST_SPI).toBe(cxx('kMinSpi'));
    expect(yangRange('typedef spi')).toBe(`${cxx('kMinSpi')}..max`);
    expect(LIMITS.replayWindow).toEqual({ min: cxx('kMinReplayWindow'), max: cxx('kMaxReplayWindow') });
    const windows = [];
    for (let w = cxx('kMinReplayWindow'); w <= cxx('kMaxReplayWindow'); w *= 2) windows.push(w);
    expect(yangRange('leaf replay-window')).toBe(windows.join(' | '));
  });

  it('the data plane refuses an MTU outside them and takes one at each end', () => {
    h = makeHarness({ mtu: LIMITS.mtu.min, private: { mac: '52:54:00:00:00:00', ipv4: '10.0.0.1' }, public: { mac: '52:54:00:00:00:ff', addresses: ['192.0.2.1'] } });
    expect(() => h!.gw.setMtu(LIMITS.mtu.min - 1, false)).toThrow(`mtu must be between ${LIMITS.mtu.min} and ${LIMITS.mtu.max}`);
    expect(() => h!.gw.setMtu(LIMITS.mtu.max + 1, false)).toThrow(`mtu must be between ${LIMITS.mtu.min} and ${LIMITS.mtu.max}`);
    h.gw.setMtu(LIMITS.mtu.max, true);
  });
});
