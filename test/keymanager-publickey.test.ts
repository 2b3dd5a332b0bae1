// Public-key routes (Noise IKpsk2) between two key managers over the
// in-memory network: SAs that match, rollover, the refusals (a peer key the
// route does not name, a wrong psk, a missing static key) and the mode
// switch on reconfiguration. docs/key-exchange.md, "Public-key mode".
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IK_PROPOSAL_LENGTH, MessageType } from '../controlplane/exchange/messages.js';
import { generateKeyPair } from '../controlplane/exchange/primitives.js';
import { ConfigError, KeyManager } from '../controlplane/keymanager.js';
import { RouteId, RouteSpi } from '../controlplane/exchange/types.js';
import { FakeClock, Network, RecordingSink, outboundWorks, routeTo, silent, world, type Datagram, type World } from './keymanager-harness.js';

const type = (d: Datagram) => d.payload[4];

// Raw private keys, as the key files hold them (base64 there).
const privA = crypto.randomBytes(32);
const privB = crypto.randomBytes(32);
const pubOf = (priv: Buffer) => {
  const kp = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]), format: 'der', type: 'pkcs8' });
  return Buffer.from(crypto.createPublicKey(kp).export({ format: 'jwk' }).x!, 'base64url');
};
const pubA = pubOf(privA);
const pubB = pubOf(privB);

function pkWorld(o: { pskA?: Buffer; pskB?: Buffer; peerOfB?: Buffer } = {}): World {
  return world({
    config: { saTtl: 2, negotiationTtl: 0.5 },
    configA: { saTtl: 2, negotiationTtl: 0.5, privateKey: privA },
    configB: { saTtl: 2, negotiationTtl: 0.5, privateKey: privB },
    routeA: { peerPublicKey: pubB, preSharedKey: o.pskA },
    routeB: { peerPublicKey: o.peerOfB ?? pubA, preSharedKey: o.pskB },
  });
}

const established = (w: World) => outboundWorks(w.a, w.b) && outboundWorks(w.b, w.a);

describe('key manager, public-key routes (IKpsk2)', () => {
  it('negotiates SAs whose keys match, with 176-octet proposals, without a psk', () => {
    const w = pkWorld();
    w.run(20);
    expect(established(w)).toBe(true);
    const proposals = w.net.log.filter((d) => type(d) === MessageType.proposal);
    expect(proposals.length).toBeGreaterThan(0);
    for (const p of proposals) expect(p.payload.length).toBe(IK_PROPOSAL_LENGTH);
    expect(IK_PROPOSAL_LENGTH).toBe(176);
    // Nothing in a proposal is either gateway's static public key in clear (identity hiding).
    for (const p of proposals) for (const k of [pubA, pubB]) expect(p.payload.includes(k)).toBe(false);
    for (const d of w.net.log.filter((x) => type(x) === MessageType.agreement)) expect(d.payload.length).toBe(92);
    expect(w.a.km.counters.rxerrors + w.b.km.counters.rxerrors).toBe(0);
  });

  it('with a psk on top, and through rollovers for 20 s, never loses its SAs', () => {
    const psk = crypto.randomBytes(32);
    const w = pkWorld({ pskA: psk, pskB: Buffer.from(psk) });
    w.run(50);
    expect(established(w)).toBe(true);
    let broken = 0;
    w.run(20_000, 10, () => {
      if (!established(w)) broken++;
    });
    expect(broken).toBe(0);
    expect(w.a.km.counters.keypairs_negotiated + w.b.km.counters.keypairs_negotiated).toBeGreaterThanOrEqual(19);
    expect(w.a.km.counters.rxerrors + w.b.km.counters.rxerrors).toBe(0);
  });

  it('refuses a proposal whose static key is not the route peer\'s: authentication errors, no SA at the responder', () => {
    const w = pkWorld({ peerOfB: generateKeyPair().publicKey });
    w.run(3000);
    // A's proposals reach B, which reads A's genuine static key and refuses it.
    expect(w.b.km.counters.authentication_errors).toBeGreaterThan(0);
    expect(w.b.km.counters.keypairs_offered).toBe(0);
    expect(w.a.km.counters.keypairs_negotiated).toBe(0);
    // B's own proposals are for a key A's does not hold: A refuses them too.
    expect(w.a.km.counters.authentication_errors).toBeGreaterThan(0);
    expect(w.a.sink.outbound.size + w.b.sink.outbound.size).toBe(0);
  });

  it('a wrong psk: the initiator refuses every agreement and installs nothing', () => {
    const w = pkWorld({ pskA: crypto.randomBytes(32), pskB: crypto.randomBytes(32) });
    w.run(3000);
    expect(w.a.km.counters.keypairs_negotiated + w.b.km.counters.keypairs_negotiated).toBe(0);
    // psk2: the responder cannot tell before it answers; the initiator can.
    expect(w.a.km.counters.authentication_errors).toBeGreaterThan(0);
    expect(w.b.km.counters.authentication_errors).toBeGreaterThan(0);
    expect(established(w)).toBe(false);
    // Each responder holds its side unconfirmed: it never sends on it.
    expect(w.a.sink.outbound.size + w.b.sink.outbound.size).toBe(0);
    // What each responder accepted never pairs with anything the initiator holds.
    for (const [from, to] of [[w.a, w.b], [w.b, w.a]] as const) {
      for (const out of from.sink.outbound.values()) expect(to.sink.inbound.get(out.spi)?.keymat.equals(out.keymat) ?? false).toBe(false);
    }
  });

  it('the responder sends only once the initiator has sent on the pair (key confirmation)', () => {
    const w = pkWorld();
    const used = new Set<number>();
    w.b.sink.inboundUsed = (_q, spi) => used.has(spi);
    // Only A initiates: B learns of the route once A's knock is out.
    w.b.km.configure({ saTtl: 2, negotiationTtl: 0.5, privateKey: privB, routes: [] });
    w.a.km.tick();
    w.b.km.configure({ saTtl: 2, negotiationTtl: 0.5, privateKey: privB, routes: [routeTo(w.a.address, w.b.address, { peerPublicKey: pubA })] });
    w.net.flush();
    expect(w.b.km.counters.keypairs_offered).toBe(1);
    expect(w.a.sink.outbound.size).toBe(1);
    expect(w.b.km.state()[0].queued.length).toBe(1);
    w.clock.t += 5;
    w.b.km.tick();
    expect(w.b.sink.outbound.size).toBe(0); // no activation by delay, not even with none active
    used.add(w.a.sink.outbound.get('peer/1')!.spi); // A's first ESP packet arrives at B
    w.b.km.tick();
    // (B's own knock, sent meanwhile since nothing of its was confirmed, is still in flight.)
    expect(established(w)).toBe(true);
  });

  it('one end in psk mode, the other in public-key mode: nothing is agreed', () => {
    const w = world({
      configA: { saTtl: 2, negotiationTtl: 0.5, privateKey: privA },
      routeA: { peerPublicKey: pubB },
    });
    w.run(3000);
    expect(w.a.km.counters.keypairs_negotiated + w.b.km.counters.keypairs_negotiated).toBe(0);
    expect(w.a.km.counters.protocol_errors + w.b.km.counters.protocol_errors).toBeGreaterThan(0);
  });

  it('refuses a public-key route without the gateway\'s private key; one peer may serve two routes', () => {
    const clock = new FakeClock();
    const net = new Network(clock);
    const make = (cfg: ConstructorParameters<typeof KeyManager>[0]) =>
      new KeyManager(cfg, { sink: new RecordingSink(clock), transport: net.transport(), clock, logger: silent });
    expect(() => make({ routes: [routeTo('198.51.100.2', '192.0.2.1', { peerPublicKey: pubB })] }))
      .toThrow(/route\[id=peer\]\/peer: a public-key route needs the gateway's private-key-file/);
    expect(() => make({ privateKey: Buffer.alloc(31), routes: [] })).toThrow(ConfigError);
  });

  it('two routes to one peer gateway (its IPv4 and IPv6 nets): each negotiates, a proposal moved to the other route fails', () => {
    const second = (gw: string, local: string, peer: Buffer) => routeTo(gw, local, { id: RouteId('v6'), spi: RouteSpi(1002), peerPublicKey: peer });
    const w = pkWorld();
    w.a.km.configure({ saTtl: 2, negotiationTtl: 0.5, privateKey: privA, routes: [routeTo(w.b.address, w.a.address, { peerPublicKey: pubB }), second(w.b.address, w.a.address, pubB)] });
    w.b.km.configure({ saTtl: 2, negotiationTtl: 0.5, privateKey: privB, routes: [routeTo(w.a.address, w.b.address, { peerPublicKey: pubA }), second(w.a.address, w.b.address, pubA)] });
    w.run(20);
    expect(established(w)).toBe(true);
    expect(outboundWorks(w.a, w.b, 'v6/1') && outboundWorks(w.b, w.a, 'v6/1')).toBe(true);
    // A proposal for route 1001 with its route SPI rewritten to 1002: the
    // nonce was issued for 1001 (and the prologue binds the route SPI).
    const proposal = w.net.log.find((d) => type(d) === MessageType.proposal && d.payload.readUInt32BE(0) === 1001)!;
    const moved = Buffer.from(proposal.payload);
    moved.writeUInt32BE(1002, 0);
    const to = proposal.to.address === w.a.address ? w.a : w.b;
    const before = to.km.counters.authentication_errors;
    to.km.receive(proposal.from, moved, proposal.to);
    expect(to.km.counters.authentication_errors).toBe(before + 1);
  });

  it('switching a route between psk and public-key mode drops its SAs and negotiates again', () => {
    const w = world();
    w.run(20);
    expect(established(w)).toBe(true);
    const before = w.a.sink.outbound.get('peer/1')!.spi;
    w.a.km.configure({ saTtl: 2, negotiationTtl: 0.5, privateKey: privA, routes: [routeTo(w.b.address, w.a.address, { peerPublicKey: pubB })] });
    w.b.km.configure({ saTtl: 2, negotiationTtl: 0.5, privateKey: privB, routes: [routeTo(w.a.address, w.b.address, { peerPublicKey: pubA })] });
    expect(w.a.sink.outbound.has('peer/1')).toBe(false);
    w.run(20);
    expect(established(w)).toBe(true);
    expect(w.a.sink.outbound.get('peer/1')!.spi).not.toBe(before);
    // A new gateway key (same peers) renegotiates too.
    const events = w.a.sink.events.length;
    w.a.km.configure({ saTtl: 2, negotiationTtl: 0.5, privateKey: privA, routes: [routeTo(w.b.address, w.a.address, { peerPublicKey: pubB })] });
    expect(w.a.sink.events.length).toBe(events); // the same configuration again: nothing
  });
});
