// ESP in UDP through a real NAT (RFC 3948), on real interfaces, for each
// packet driver:
//
//   hostA ── gwA ══ nat ══ gwB ── hostB      (controlplane/demo/nat-sites.ts)
//
// The `nat` namespace masquerades gateway A's traffic with nftables (random
// source ports); gateway B knows A only by the NAT's address and learns the
// port (and, after a rebinding, the address) from A's authenticated ESP.
// The route uses nat-traversal "force" with explicit SAs (data-plane mode):
// an NNpsk0 key exchange binds both gateways' addresses, so it cannot run
// across an address-translating NAT (docs/configuration.md).
//
// Checked: ping both ways and TCP with SHA-256 through the NAT; after the NAT
// forgets its bindings and masquerades from another address, traffic resumes
// on A's next packet, and it is that packet that moved B's endpoint (counted,
// not timed); with the NAT's UDP timeouts at 3 s, keepalives every second keep
// an idle tunnel's binding, and without keepalives it expires and B can no
// longer reach A until A sends again.
//
// The same lab in key-manager mode (public-key routes, B names no endpoint
// for A) is the second describe below.
//
// Needs root, ip, ping, nft and conntrack; skipped with the reason otherwise.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, toJson } from '../controlplane/config/index.js';
import { tcpTransfer, waitForTunnel } from '../controlplane/demo/demo.js';
import { buildNatSites, NAT_ADDR, type NatSiteLab } from '../controlplane/demo/nat-sites.js';
import type { Driver } from '../controlplane/demo/two-sites.js';
import { QueueNumber, RouteId } from '../controlplane/exchange/types.js';
import { Gateway } from '../controlplane/gateway.js';
import { missing } from './support/requires.js';

const why = missing('root', 'ip', 'ping', 'nft', 'conntrack');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KEEPALIVE_S = 1;
const NAT_UDP_TIMEOUT_S = 3;

for (const driver of ['af-packet', 'af-xdp'] as Driver[]) {
  describe.skipIf(why)(`ESP in UDP through a NAT (${driver})${why ? ` [skipped: ${why}]` : ''}`, () => {
    let lab: NatSiteLab;
    let gwA: Gateway;
    let gwB: Gateway;
    const logger = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });

    const start = (name: string, config: object, ns: string) => {
      const link = (device: string) => ({ driver, ifname: device, netns: ns });
      const gw = new Gateway(parseConfig(config), { logger: logger.child({ gw: name }), links: { private: link('private'), public: link('public') } });
      gw.start();
      return gw;
    };
    /** Replies received by one ping from `ns` to `dst`. */
    const ping = async (ns: string, dst: string, count = 1) => {
      let out: string;
      try {
        out = await lab.lab.execAsync(ns, ['ping', '-c', String(count), '-W', '1', dst]);
      } catch (e) {
        out = (e as { stdout?: string }).stdout ?? ''; // ping exits 1 when a reply is missing
      }
      return Number(/(\d+) received/.exec(out)?.[1] ?? 0);
    };
    const endpointOfB = () => gwB.dataplane.endpoints().find((e) => e.route === 'site-a')!;

    beforeAll(async () => {
      lab = buildNatSites({ driver, prefix: `vnat${driver === 'af-xdp' ? 'x' : 'p'}`, keepaliveInterval: KEEPALIVE_S });
      gwA = start('gwA', lab.configA, lab.ns.gwA);
      gwB = start('gwB', lab.configB, lab.ns.gwB);
      await waitForTunnel(lab, performance.now());
    }, 60_000);

    afterAll(() => {
      gwA?.close();
      gwB?.close();
      lab?.cleanup();
    });

    it('carries ping both ways and TCP through the NAT; B learned the NAT\'s port from A\'s ESP', async () => {
      expect(await ping(lab.ns.hostA, NAT_ADDR.hostB, 3)).toBe(3);
      expect(await ping(lab.ns.hostB, NAT_ADDR.hostA, 3)).toBe(3);
      const e = endpointOfB();
      expect(e).toMatchObject({ learned: true, address: NAT_ADDR.natOutside });
      expect(e.changes).toBeGreaterThanOrEqual(1);
      // B's ESP comes from where A expects it: nothing moved there.
      expect(gwA.dataplane.counters().endpoint_changes).toBe(0);
      for (const gw of [gwA, gwB]) {
        expect(gw.sas().find((s) => s.direction === 'outbound')).toMatchObject({ udpSourcePort: 4500, udpDestinationPort: 4500 });
      }
      const tcp = await tcpTransfer(lab, 2);
      expect(tcp).toMatchObject({ megabytes: 2, sha256Match: true });
    }, 60_000);

    it('follows a rebinding: the NAT forgets its bindings and moves to another address; A\'s next packet moves B\'s endpoint', async () => {
      const before = endpointOfB().changes;
      lab.rebind(NAT_ADDR.natOutside2);
      // One echo request from A: its ESP, the first B sees from the new binding, moves the endpoint; the reply takes it.
      expect(await ping(lab.ns.hostA, NAT_ADDR.hostB)).toBe(1);
      const e = endpointOfB();
      expect(e).toMatchObject({ learned: true, address: NAT_ADDR.natOutside2 });
      expect(e.changes).toBe(before + 1);
      expect(await ping(lab.ns.hostB, NAT_ADDR.hostA, 2)).toBe(2);
    }, 30_000);

    it('keepalives keep an idle tunnel\'s binding; without them it expires', async () => {
      lab.udpTimeout(NAT_UDP_TIMEOUT_S);
      await ping(lab.ns.hostA, NAT_ADDR.hostB); // the binding now has the short timeout
      const sentBefore = gwA.keepalives.sent;
      await sleep(2 * NAT_UDP_TIMEOUT_S * 1000);
      expect(gwA.keepalives.sent - sentBefore).toBeGreaterThanOrEqual(NAT_UDP_TIMEOUT_S);
      expect(lab.bindings().length).toBeGreaterThan(0);
      expect(await ping(lab.ns.hostB, NAT_ADDR.hostA)).toBe(1);

      // Keepalives off at both ends (a live setting).
      for (const gw of [gwA, gwB]) gw.apply(parseConfig({ 'vitesse-gateway:gateway': { ...configOf(gw), 'nat-keepalive-interval': 0 } }));
      await ping(lab.ns.hostA, NAT_ADDR.hostB);
      const quiet = gwA.keepalives.sent + gwB.keepalives.sent;
      await sleep(2 * NAT_UDP_TIMEOUT_S * 1000 + 1000);
      expect(gwA.keepalives.sent + gwB.keepalives.sent).toBe(quiet);
      expect(lab.bindings()).toEqual([]);
      expect(await ping(lab.ns.hostB, NAT_ADDR.hostA)).toBe(0);
      // A speaks again: a new binding, learned from its ESP.
      expect(await ping(lab.ns.hostA, NAT_ADDR.hostB)).toBe(1);
      expect(await ping(lab.ns.hostB, NAT_ADDR.hostA)).toBe(1);
    }, 60_000);
  });
}

/** A running gateway's configuration as RFC 7951 JSON (the gateway member's content), secrets included. */
function configOf(gw: Gateway): Record<string, unknown> {
  return (toJson(gw.currentConfig, { secrets: true }) as Record<string, Record<string, unknown>>)['vitesse-gateway:gateway'];
}

// Key-manager mode: public-key routes (Noise IKpsk2) with nat-traversal
// "force"; B's route names A's public key and no endpoint (A is behind the
// NAT). B learns A's endpoint from A's authenticated proposal, then from its
// ESP; after the NAT forgets its bindings and moves to another address, A's
// next authenticated packet moves B's endpoint, in the data plane and in B's
// key manager (whose own rekeys and probes then go there).
for (const driver of ['af-packet', 'af-xdp'] as Driver[]) {
  describe.skipIf(why)(`public-key peer behind a NAT, key-manager mode (${driver})${why ? ` [skipped: ${why}]` : ''}`, () => {
    let lab: NatSiteLab;
    let gwA: Gateway;
    let gwB: Gateway;
    let dir: string;
    const logger = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });
    const start = (name: string, config: object, ns: string) => {
      const link = (device: string) => ({ driver, ifname: device, netns: ns });
      const gw = new Gateway(parseConfig(config), { logger: logger.child({ gw: name }), links: { private: link('private'), public: link('public') } });
      gw.start();
      return gw;
    };
    const ping = async (ns: string, dst: string, count = 1) => {
      let out: string;
      try {
        out = await lab.lab.execAsync(ns, ['ping', '-c', String(count), '-W', '1', dst]);
      } catch (e) {
        out = (e as { stdout?: string }).stdout ?? '';
      }
      return Number(/(\d+) received/.exec(out)?.[1] ?? 0);
    };
    const dataplaneEndpointOfB = () => gwB.dataplane.endpoints().find((e) => e.route === 'site-a')!;
    const keyManagerEndpointOfB = () => gwB.keymanager!.learnedEndpoint(RouteId('site-a'), QueueNumber(1));

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-natkm-'));
      const keys = (me: string) => {
        const priv = crypto.randomBytes(32);
        const file = path.join(dir, `${me}.key`);
        fs.writeFileSync(file, `${priv.toString('base64')}\n`, { mode: 0o600 });
        return { privateKeyFile: file, publicKey: rawPublicKey(priv).toString('base64') };
      };
      lab = buildNatSites({ driver, prefix: `vnk${driver === 'af-xdp' ? 'x' : 'p'}`, publicKeys: { a: keys('a'), b: keys('b') } });
      gwA = start('gwA', lab.configA, lab.ns.gwA);
      gwB = start('gwB', lab.configB, lab.ns.gwB);
      await waitForTunnel(lab, performance.now());
    }, 60_000);

    afterAll(() => {
      gwA?.close();
      gwB?.close();
      lab?.cleanup();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('negotiates through the NAT: ping both ways; B learned A\'s endpoint (the NAT\'s address and port) from the key exchange', async () => {
      expect(await ping(lab.ns.hostA, NAT_ADDR.hostB, 3)).toBe(3);
      expect(await ping(lab.ns.hostB, NAT_ADDR.hostA, 3)).toBe(3);
      const learned = keyManagerEndpointOfB();
      expect(learned?.address).toBe(NAT_ADDR.natOutside);
      expect(gwB.keymanager!.counters.keypairs_offered + gwB.keymanager!.counters.keypairs_negotiated).toBeGreaterThan(0);
      for (const gw of [gwA, gwB]) expect(gw.sas().find((s) => s.direction === 'outbound')).toMatchObject({ udpSourcePort: 4500 });
      // B sends its ESP to the port the NAT gave A (random, not 4500).
      expect(gwB.sas().find((s) => s.direction === 'outbound')!.udpDestinationPort).toBe(learned!.port);
      expect(await tcpTransfer(lab, 2)).toMatchObject({ megabytes: 2, sha256Match: true });
    }, 60_000);

    it('conntrack flush and a new masquerade address: A\'s next authenticated packet moves B\'s endpoint; traffic resumes', async () => {
      const before = dataplaneEndpointOfB().changes;
      lab.rebind(NAT_ADDR.natOutside2);
      // A's echo request, the first ESP B sees from the new binding, moves the endpoint; the reply takes it.
      expect(await ping(lab.ns.hostA, NAT_ADDR.hostB)).toBe(1);
      const e = dataplaneEndpointOfB();
      expect(e).toMatchObject({ learned: true, address: NAT_ADDR.natOutside2 });
      expect(e.changes).toBe(before + 1);
      expect(await ping(lab.ns.hostB, NAT_ADDR.hostA, 2)).toBe(2);
      // The key manager follows the data plane's endpoint (handed over on its poll), never anything unauthenticated.
      for (let i = 0; i < 50 && keyManagerEndpointOfB()?.address !== NAT_ADDR.natOutside2; i++) await sleep(100);
      expect(keyManagerEndpointOfB()).toEqual({ address: e.address, port: e.port });
    }, 30_000);
  });
}

const rawPublicKey = (priv: Buffer) => {
  const key = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]), format: 'der', type: 'pkcs8' });
  return Buffer.from(crypto.createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');
};
