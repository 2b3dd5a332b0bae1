// ESP in UDP through a real NAT (RFC 3948), on real interfaces, for each
// packet driver:
//
//   hostA ── gwA ══ nat ══ gwB ── hostB      (controlplane/demo/nat-sites.ts)
//
// The `nat` namespace masquerades gateway A's traffic with nftables (random
// source ports); gateway B knows A only by the NAT's address and learns the
// port (and, after a rebinding, the address) from A's authenticated ESP.
//
// Three setups, each built by natSites() below:
// * data-plane mode: nat-traversal "force" with explicit SAs (an NNpsk0 key
//   exchange binds both gateways' addresses, so it cannot run across an
//   address-translating NAT: docs/configuration.md);
// * key-manager mode: public-key routes (Noise IKpsk2) with nat-traversal
//   "force"; B's route names A's public key and no endpoint (A is behind the
//   NAT) and learns it from A's authenticated proposal, then from its ESP;
// * key-manager mode with nat-traversal "auto": through the NAT the key
//   exchange detects it and both ends send ESP in UDP; the same lab without
//   the masquerade (a second pair of gateways) detects none and sends plain
//   ESP, and no keepalives; when a NAT then appears there, A's unanswered
//   traffic makes it probe, and that negotiation detects the NAT.
//
// Checked: ping both ways and TCP with SHA-256 through the NAT; after the NAT
// forgets its bindings and masquerades from another address, traffic resumes
// on A's next packet, and it is that packet that moved B's endpoint (counted,
// not timed; how long it takes is `vitesse bench roaming`); with the NAT's UDP
// timeouts at 3 s, keepalives every second keep an idle tunnel's binding, and
// without keepalives it expires and B can no longer reach A until A sends
// again (both modes).
//
// Needs root, ip, ping, nft and conntrack; skipped with the reason otherwise.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runBench, runRoaming } from '../bench/roaming.js';
import { UsageError } from '../controlplane/cli/args.js';
import { parseConfig, toJson } from '../controlplane/config/index.js';
import { tcpTransfer, waitForTunnel } from '../controlplane/demo/demo.js';
import { buildNatSites, NAT_ADDR, type NatSiteLab, type NatSiteOptions } from '../controlplane/demo/nat-sites.js';
import type { Driver } from '../controlplane/demo/two-sites.js';
import { QueueNumber, RouteId } from '../controlplane/exchange/types.js';
import { Gateway } from '../controlplane/gateway.js';
import { routePeers } from '../controlplane/peer-state.js';
import { missing } from './support/requires.js';

const why = missing('root', 'ip', 'ping', 'nft', 'conntrack');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KEEPALIVE_S = 1;
const NAT_UDP_TIMEOUT_S = 3;
const DRIVERS: Driver[] = ['af-packet', 'af-xdp'];
const skipped = why ? ` [skipped: ${why}]` : '';

/** A lab and its two running gateways, filled in by natSites()'s beforeAll. */
interface NatSites {
  lab: NatSiteLab;
  gwA: Gateway;
  gwB: Gateway;
}

/**
 * Builds the lab and starts both gateways before the enclosing describe's
 * tests, and removes everything after them. `keyManager`: public-key routes
 * (a key pair per gateway, in a temporary directory).
 */
function natSites(driver: Driver, o: Omit<NatSiteOptions, 'driver' | 'publicKeys'> & { keyManager?: boolean }): NatSites {
  const s = {} as NatSites;
  let dir: string | null = null;
  const logger = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });
  const start = (name: string, config: object, ns: string) => {
    const link = (device: string) => ({ driver, ifname: device, netns: ns });
    const gw = new Gateway(parseConfig(config), { logger: logger.child({ gw: name }), links: { private: link('private'), public: link('public') } });
    gw.start();
    return gw;
  };
  beforeAll(async () => {
    let publicKeys: NatSiteOptions['publicKeys'];
    if (o.keyManager) {
      const d = (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-natkm-')));
      const keys = (me: string) => {
        const priv = crypto.randomBytes(32);
        const file = path.join(d, `${me}.key`);
        fs.writeFileSync(file, `${priv.toString('base64')}\n`, { mode: 0o600 });
        return { privateKeyFile: file, publicKey: rawPublicKey(priv).toString('base64') };
      };
      publicKeys = { a: keys('a'), b: keys('b') };
    }
    s.lab = buildNatSites({ ...o, driver, publicKeys });
    s.gwA = start('gwA', s.lab.configA, s.lab.ns.gwA);
    s.gwB = start('gwB', s.lab.configB, s.lab.ns.gwB);
    await waitForTunnel(s.lab, performance.now());
  }, 60_000);
  afterAll(() => {
    s.gwA?.close();
    s.gwB?.close();
    s.lab?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  return s;
}

/** Replies received by `count` pings from `ns` to `dst`. */
async function ping(s: NatSites, ns: string, dst: string, count = 1): Promise<number> {
  let out: string;
  try {
    out = await s.lab.lab.execAsync(ns, ['ping', '-c', String(count), '-W', '1', dst]);
  } catch (e) {
    out = (e as { stdout?: string }).stdout ?? ''; // ping exits 1 when a reply is missing
  }
  return Number(/(\d+) received/.exec(out)?.[1] ?? 0);
}

const endpointOfB = (s: NatSites) => s.gwB.dataplane.endpoints().find((e) => e.route === 'site-a')!;
const outboundOf = (gw: Gateway) => gw.sas().find((sa) => sa.direction === 'outbound')!;

/** The NAT forgets its bindings and moves to another address: A's next packet moves B's endpoint, traffic resumes. */
async function followsRebinding(s: NatSites): Promise<void> {
  const before = endpointOfB(s).changes;
  s.lab.rebind(NAT_ADDR.natOutside2);
  // One echo request from A: its ESP, the first B sees from the new binding, moves the endpoint; the reply takes it.
  expect(await ping(s, s.lab.ns.hostA, NAT_ADDR.hostB)).toBe(1);
  const e = endpointOfB(s);
  expect(e).toMatchObject({ learned: true, address: NAT_ADDR.natOutside2 });
  expect(e.changes).toBe(before + 1);
  expect(await ping(s, s.lab.ns.hostB, NAT_ADDR.hostA, 2)).toBe(2);
}

/** With the NAT's UDP timeouts short, keepalives keep an idle tunnel's binding; turned off, it expires. */
async function keepalivesKeepTheBinding(s: NatSites): Promise<void> {
  const { lab, gwA, gwB } = s;
  lab.udpTimeout(NAT_UDP_TIMEOUT_S);
  await ping(s, lab.ns.hostA, NAT_ADDR.hostB); // the binding now has the short timeout
  const sentBefore = gwA.keepalives.sent;
  await sleep(2 * NAT_UDP_TIMEOUT_S * 1000);
  expect(gwA.keepalives.sent - sentBefore).toBeGreaterThanOrEqual(NAT_UDP_TIMEOUT_S);
  expect(lab.bindings().length).toBeGreaterThan(0);
  expect(await ping(s, lab.ns.hostB, NAT_ADDR.hostA)).toBe(1);

  // Keepalives off at both ends (a live setting).
  for (const gw of [gwA, gwB]) gw.apply(parseConfig({ 'vitesse-gateway:gateway': { ...configOf(gw), 'nat-keepalive-interval': 0 } }));
  await ping(s, lab.ns.hostA, NAT_ADDR.hostB);
  const quiet = gwA.keepalives.sent + gwB.keepalives.sent;
  await sleep(2 * NAT_UDP_TIMEOUT_S * 1000 + 1000);
  expect(gwA.keepalives.sent + gwB.keepalives.sent).toBe(quiet);
  expect(lab.bindings()).toEqual([]);
  expect(await ping(s, lab.ns.hostB, NAT_ADDR.hostA)).toBe(0);
  // A speaks again: a new binding, learned from its ESP.
  expect(await ping(s, lab.ns.hostA, NAT_ADDR.hostB)).toBe(1);
  expect(await ping(s, lab.ns.hostB, NAT_ADDR.hostA)).toBe(1);
}

/** A running gateway's configuration as RFC 7951 JSON (the gateway member's content), secrets included. */
function configOf(gw: Gateway): Record<string, unknown> {
  return (toJson(gw.currentConfig, { secrets: true }) as Record<string, Record<string, unknown>>)['vitesse-gateway:gateway'];
}

const rawPublicKey = (priv: Buffer) => {
  const key = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]), format: 'der', type: 'pkcs8' });
  return Buffer.from(crypto.createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');
};

for (const driver of DRIVERS) {
  describe.skipIf(why)(`ESP in UDP through a NAT (${driver})${skipped}`, () => {
    const s = natSites(driver, { prefix: `vnat${driver === 'af-xdp' ? 'x' : 'p'}`, keepaliveInterval: KEEPALIVE_S });

    it('carries ping both ways and TCP through the NAT; B learned the NAT\'s port from A\'s ESP', async () => {
      expect(await ping(s, s.lab.ns.hostA, NAT_ADDR.hostB, 3)).toBe(3);
      expect(await ping(s, s.lab.ns.hostB, NAT_ADDR.hostA, 3)).toBe(3);
      const e = endpointOfB(s);
      expect(e).toMatchObject({ learned: true, address: NAT_ADDR.natOutside });
      expect(e.changes).toBeGreaterThanOrEqual(1);
      // B's ESP comes from where A expects it: nothing moved there.
      expect(s.gwA.dataplane.counters().endpoint_changes).toBe(0);
      for (const gw of [s.gwA, s.gwB]) expect(outboundOf(gw)).toMatchObject({ udpSourcePort: 4500, udpDestinationPort: 4500 });
      expect(await tcpTransfer(s.lab, 2)).toMatchObject({ megabytes: 2, sha256Match: true });
    }, 60_000);

    it('follows a rebinding: the NAT forgets its bindings and moves to another address; A\'s next packet moves B\'s endpoint', () => followsRebinding(s), 30_000);

    it('keepalives keep an idle tunnel\'s binding; without them it expires', () => keepalivesKeepTheBinding(s), 60_000);
  });
}

// Key-manager mode: B learns A's endpoint from A's authenticated proposal,
// then from its ESP; after the NAT forgets its bindings and moves to another
// address, A's next authenticated packet moves B's endpoint, in the data
// plane and in B's key manager (whose own rekeys and probes then go there).
for (const driver of DRIVERS) {
  describe.skipIf(why)(`public-key peer behind a NAT, key-manager mode (${driver})${skipped}`, () => {
    const s = natSites(driver, { prefix: `vnk${driver === 'af-xdp' ? 'x' : 'p'}`, keepaliveInterval: KEEPALIVE_S, keyManager: true });
    const keyManagerEndpointOfB = () => s.gwB.keymanager!.learnedEndpoint(RouteId('site-a'), QueueNumber(1));

    it('negotiates through the NAT: ping both ways; B learned A\'s endpoint (the NAT\'s address and port) from the key exchange', async () => {
      expect(await ping(s, s.lab.ns.hostA, NAT_ADDR.hostB, 3)).toBe(3);
      expect(await ping(s, s.lab.ns.hostB, NAT_ADDR.hostA, 3)).toBe(3);
      const learned = keyManagerEndpointOfB();
      expect(learned?.address).toBe(NAT_ADDR.natOutside);
      expect(s.gwB.keymanager!.counters.keypairs_offered + s.gwB.keymanager!.counters.keypairs_negotiated).toBeGreaterThan(0);
      for (const gw of [s.gwA, s.gwB]) expect(outboundOf(gw)).toMatchObject({ udpSourcePort: 4500 });
      // B sends its ESP to the port the NAT gave A (random, not 4500).
      expect(outboundOf(s.gwB).udpDestinationPort).toBe(learned!.port);
      expect(await tcpTransfer(s.lab, 2)).toMatchObject({ megabytes: 2, sha256Match: true });
    }, 60_000);

    it('conntrack flush and a new masquerade address: A\'s next authenticated packet moves B\'s endpoint; traffic resumes', async () => {
      await followsRebinding(s);
      // The key manager follows the data plane's endpoint (handed over on its poll), never anything unauthenticated.
      const e = endpointOfB(s);
      for (let i = 0; i < 50 && keyManagerEndpointOfB()?.address !== NAT_ADDR.natOutside2; i++) await sleep(100);
      expect(keyManagerEndpointOfB()).toEqual({ address: e.address, port: e.port });
    }, 30_000);

    it('keepalives keep an idle tunnel\'s binding; without them it expires', () => keepalivesKeepTheBinding(s), 60_000);
  });
}

// nat-traversal "auto": the key exchange (on the NAT-T port from its first
// message) detects the NAT, and the SAs send ESP in UDP only then; the same
// lab without the masquerade detects none: plain ESP, no keepalives.
for (const driver of DRIVERS) {
  describe.skipIf(why)(`nat-traversal auto, key-manager mode (${driver})${skipped}`, () => {
    const nat = natSites(driver, { prefix: `vna${driver === 'af-xdp' ? 'x' : 'p'}`, keepaliveInterval: KEEPALIVE_S, keyManager: true, natTraversal: 'auto' });
    const direct = natSites(driver, { prefix: `vnd${driver === 'af-xdp' ? 'x' : 'p'}`, keepaliveInterval: KEEPALIVE_S, keyManager: true, natTraversal: 'auto', masquerade: false });
    const detected = (gw: Gateway, route: string) => routePeers(gw).get(RouteId(route))!.natDetected;

    it('through the NAT: both ends detect it and send ESP in UDP to the NAT\'s binding; keepalives go out', async () => {
      expect(await ping(nat, nat.lab.ns.hostA, NAT_ADDR.hostB, 3)).toBe(3);
      expect(await ping(nat, nat.lab.ns.hostB, NAT_ADDR.hostA, 3)).toBe(3);
      expect([detected(nat.gwA, 'site-b'), detected(nat.gwB, 'site-a')]).toEqual([true, true]);
      for (const gw of [nat.gwA, nat.gwB]) expect(outboundOf(gw)).toMatchObject({ udpSourcePort: 4500 });
      // B sends its ESP in UDP to the NAT's binding for A, learned from A's authenticated messages.
      const learned = nat.gwB.keymanager!.learnedEndpoint(RouteId('site-a'), QueueNumber(1));
      expect(learned?.address).toBe(NAT_ADDR.natOutside);
      expect(outboundOf(nat.gwB).udpDestinationPort).toBe(learned!.port);
      const sent = nat.gwA.keepalives.sent;
      await sleep(2500 * KEEPALIVE_S); // idle: keepalives keep the binding
      expect(nat.gwA.keepalives.sent).toBeGreaterThan(sent);
      expect(await tcpTransfer(nat.lab, 2)).toMatchObject({ megabytes: 2, sha256Match: true });
    }, 60_000);

    it('without a NAT: neither end detects one; plain ESP both ways, no keepalives', async () => {
      expect(await ping(direct, direct.lab.ns.hostA, NAT_ADDR.hostB, 3)).toBe(3);
      expect(await ping(direct, direct.lab.ns.hostB, NAT_ADDR.hostA, 3)).toBe(3);
      expect([detected(direct.gwA, 'site-b'), detected(direct.gwB, 'site-a')]).toEqual([false, false]);
      for (const gw of [direct.gwA, direct.gwB]) {
        const out = outboundOf(gw);
        expect(out.udpSourcePort).toBeUndefined();
        expect(out.udpDestinationPort).toBeUndefined();
      }
      // B knows A at its own address (from the key exchange); no ESP in UDP came to teach the data plane anything.
      expect(direct.gwB.keymanager!.learnedEndpoint(RouteId('site-a'), QueueNumber(1))?.address).toBe(NAT_ADDR.gwAPublic);
      expect(direct.gwB.dataplane.endpoints().filter((e) => e.learned)).toEqual([]);
      await sleep(2500 * KEEPALIVE_S);
      for (const gw of [direct.gwA, direct.gwB]) {
        expect(gw.keepalives.sent).toBe(0);
        expect(gw.dataplane.counters().nat_keepalives).toBe(0);
      }
      expect(await tcpTransfer(direct.lab, 2)).toMatchObject({ megabytes: 2, sha256Match: true });
    }, 60_000);

    it('a NAT appears: A\'s plain ESP goes unanswered, its liveness probe negotiates again and detects it; ESP in UDP from then on', async () => {
      const { lab, gwA, gwB } = direct;
      // Fast liveness at both ends (a live setting): the probe comes within seconds, not at the rekey (sa-ttl 600 s).
      for (const gw of [gwA, gwB]) gw.apply(parseConfig({ 'vitesse-gateway:gateway': { ...configOf(gw), 'liveness-interval': 1 } }));
      const plain = outboundOf(gwA).spi;
      const probes = routePeers(gwA).get(RouteId('site-b'))!.probesSent;
      lab.startNat(NAT_ADDR.natOutside);
      // A keeps sending, one echo request at a time, until the tunnel carries it again.
      let replies = 0;
      for (let i = 0; i < 30 && replies === 0; i++) replies = await ping(direct, lab.ns.hostA, NAT_ADDR.hostB);
      expect(replies).toBe(1);
      // The cause: A's liveness probe (a negotiation), which detected the NAT; the next pair sends ESP in UDP.
      expect(routePeers(gwA).get(RouteId('site-b'))!.probesSent).toBeGreaterThan(probes);
      expect(detected(gwA, 'site-b')).toBe(true);
      // B's pair from that negotiation is activated by A's first packet on it (key confirmation, seen on B's next poll).
      // Up to 20 s: under a busy CI machine B's poll has come later than 5 s (a wait, not a time asserted).
      for (let i = 0; i < 200 && !detected(gwB, 'site-a'); i++) await sleep(100);
      expect(detected(gwB, 'site-a')).toBe(true);
      expect(outboundOf(gwA).spi).not.toBe(plain);
      expect(outboundOf(gwA)).toMatchObject({ udpSourcePort: 4500, udpDestinationPort: 4500 });
      const learned = gwB.keymanager!.learnedEndpoint(RouteId('site-a'), QueueNumber(1));
      expect(learned?.address).toBe(NAT_ADDR.natOutside);
      expect(outboundOf(gwB)).toMatchObject({ udpSourcePort: 4500, udpDestinationPort: learned!.port });
      expect(await ping(direct, lab.ns.hostB, NAT_ADDR.hostA, 2)).toBe(2);
    }, 60_000);
  });
}

// `vitesse bench roaming` (bench/roaming.ts) on the same lab: the counts
// behind its figures — one endpoint move per rebinding, to the NAT's new
// address, both directions back — not the times.
for (const driver of DRIVERS) {
  describe.skipIf(why)(`vitesse bench roaming (${driver})${skipped}`, () => {
    it('each rebinding moves B\'s endpoint once, on A\'s first packet through the new binding, and traffic resumes both ways', async () => {
      const f = await runRoaming({ driver, rounds: 2, intervalMs: 100 });
      expect(f.rounds.map((r) => r.address)).toEqual([NAT_ADDR.natOutside2, NAT_ADDR.natOutside]);
      for (const r of f.rounds) {
        expect(r.endpoint_changes).toBe(1);
        for (const ms of [r.endpoint_moved_ms, r.a_to_b_resumed_ms, r.b_to_a_resumed_ms]) expect(ms).toBeGreaterThanOrEqual(0);
      }
      expect(f).toMatchObject({ driver, mode: 'key-manager', nat_traversal: 'auto', interval_ms: 100 });
    }, 90_000);
  });
}

describe('vitesse bench roaming: options', () => {
  it('refuses an unknown driver, mode or nat-traversal, and a round count below 1, before building anything', async () => {
    for (const argv of [['--driver', 'dpdk'], ['--mode', 'psk'], ['--nat-traversal', 'off'], ['--rounds', '0'], ['--interval', '1']]) {
      await expect(runBench(argv)).rejects.toThrow(UsageError);
    }
  });
});
