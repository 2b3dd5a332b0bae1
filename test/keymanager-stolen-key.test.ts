// An attacker who stole a gateway's static private key but not the route's
// psk (public-key route with a psk on top, the defence in depth IKpsk2's
// psk2 gives): it can write a proposal the responder accepts (message 1 is
// authenticated by es and ss only), but the responder's SAs of that pair stay
// unconfirmed and must never disturb the working SAs. docs/security.md,
// "Key confirmation". Also: a route naming our own public key as its peer's,
// which a reflecting attacker would make us negotiate with ourselves.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compileConfig, type ExchangeParams } from '../controlplane/exchange/config.js';
import { Initiator } from '../controlplane/exchange/initiator.js';
import { MessageType } from '../controlplane/exchange/messages.js';
import { MAX_UNCONFIRMED_INBOUND_SAS } from '../controlplane/exchange/protocol.js';
import { dh, keyPairFromPrivate } from '../controlplane/exchange/primitives.js';
import { SpiAllocator } from '../controlplane/exchange/spi.js';
import { QueueNumber, RouteId, Spi } from '../controlplane/exchange/types.js';
import { ConfigError, KeyManager } from '../controlplane/keymanager.js';
import { FakeClock, Network, RecordingSink, outboundWorks, routeTo, silent, world, type Side, type World } from './keymanager-harness.js';

const privA = crypto.randomBytes(32);
const privB = crypto.randomBytes(32);
const pubA = keyPairFromPrivate(privA).publicKey;
const pubB = keyPairFromPrivate(privB).publicKey;
const psk = crypto.randomBytes(32);

function pkWorld(): World {
  return world({
    configA: { saTtl: 2, negotiationTtl: 0.5, privateKey: privA },
    configB: { saTtl: 2, negotiationTtl: 0.5, privateKey: privB },
    routeA: { peerPublicKey: pubB, preSharedKey: psk },
    routeB: { peerPublicKey: pubA, preSharedKey: Buffer.from(psk) },
  });
}

/** SPIs handed out in the order given (the attacker chooses what it proposes). */
class ChosenSpis extends SpiAllocator {
  constructor(private readonly next: number[]) { super(); }
  override allocate(): Spi { return Spi(this.next.shift()!); }
}

/** Mallory's side of the route: A's static key (stolen), a psk of its own. */
function stolenA(): ExchangeParams {
  return compileConfig({
    privateKey: privA,
    routes: [routeTo('198.51.100.2', '192.0.2.1', { peerPublicKey: pubB, preSharedKey: crypto.randomBytes(32) })],
  }).exchanges[0];
}

/**
 * Key-compromise impersonation: Mallory holds B's own static key and poses as
 * A to B. Message 1 authenticates (es and ss are DH(e, B) and DH(B, A), both
 * computable with B's key); only key confirmation stops it, since the keys
 * after message 2 need A's key or B's ephemeral (se).
 */
function kciAsA(): ExchangeParams {
  const params = compileConfig({ privateKey: privB, routes: [routeTo('198.51.100.2', '192.0.2.1', { peerPublicKey: pubA })] }).exchanges[0];
  const b = keyPairFromPrivate(privB);
  return { ...params, peerPublicKey: pubB, staticKey: { privateKey: b.privateKey, publicKey: pubA }, staticShared: dh(b, pubA) };
}

/**
 * Mallory holds A's static private key but not the psk; it sits on A's path
 * (it sees B's challenge to A's address) and sends B one proposal under A's
 * address, proposing `spi` as its inbound SPI (B's outbound SPI).
 */
function forgedProposal(w: World, spi: number, mallory = stolenA()): void {
  const ini = new Initiator(mallory);
  const from = { address: w.a.address, port: 303 };
  const to = { address: w.b.address, port: 303 };
  const queued = w.net.queue.length;
  w.b.km.receive(from, ini.initiate(w.clock.now(), 500), to);
  // B's challenge, taken off the wire before it reaches A.
  const [challenge] = w.net.queue.splice(queued);
  expect(challenge?.payload[4]).toBe(MessageType.challenge);
  const nonce = ini.checkChallenge(challenge.payload);
  if (!nonce.ok) throw new Error('challenge refused');
  const proposal = ini.receiveChallenge(nonce.value, to, w.clock.now(), new ChosenSpis([spi]), true)!;
  w.b.km.receive(from, proposal.message, to);
  w.net.queue.splice(queued); // B's agreement: useless to Mallory without the psk
}

const established = (w: World) => outboundWorks(w.a, w.b) && outboundWorks(w.b, w.a);
const activeSpi = (s: Side) => s.sink.outbound.get('peer/1')!.spi;

describe('a stolen static key without the psk', () => {
  it('a proposal reusing the SPI of B\'s active outbound SA leaves B\'s SAs working', () => {
    const w = pkWorld();
    // Only A initiates (B learns of the route once A's knock is out), so B's
    // active outbound SA is the one paired with the inbound SA A sends on.
    const used = new Set<number>();
    w.b.sink.inboundUsed = (_q, spi) => used.has(spi);
    w.b.km.configure({ saTtl: 2, negotiationTtl: 0.5, privateKey: privB, routes: [] });
    w.a.km.tick();
    w.b.km.configure({ saTtl: 2, negotiationTtl: 0.5, privateKey: privB, routes: [routeTo(w.a.address, w.b.address, { peerPublicKey: pubA, preSharedKey: Buffer.from(psk) })] });
    w.net.flush();
    used.add(activeSpi(w.a)); // A's first ESP packet arrives at B: B's side is confirmed
    w.b.km.tick();
    w.net.queue.length = 0; // B's own knock: not needed here
    expect(established(w)).toBe(true);
    const offered = w.b.km.counters.keypairs_offered;
    forgedProposal(w, activeSpi(w.b));
    expect(w.b.km.counters.keypairs_offered).toBe(offered + 1); // psk2: B cannot tell yet
    expect(established(w)).toBe(true);
  });

  it('a burst of proposals does not push the working inbound SA out', () => {
    const w = pkWorld();
    // Traffic flows both ways: each end sends on its active outbound SA (which confirms it at the other end).
    w.a.sink.inboundUsed = (_q, spi) => spi === w.b.sink.outbound.get('peer/1')?.spi;
    w.b.sink.inboundUsed = (_q, spi) => spi === w.a.sink.outbound.get('peer/1')?.spi;
    w.run(50);
    expect(established(w)).toBe(true);
    const queued = w.b.km.state()[0].queued.length;
    for (let i = 0; i < 10; i++) {
      forgedProposal(w, 0x1000_0000 + i);
      expect(established(w)).toBe(true);
    }
    // What the attacker's pairs hold is bounded by the inbound slots (their
    // queued halves go with their displaced inbound SAs).
    expect(w.b.km.state()[0].queued.length).toBeLessThanOrEqual(queued + MAX_UNCONFIRMED_INBOUND_SAS);
    // And the tunnel rolls over as usual afterwards.
    let broken = 0;
    w.run(5000, 10, () => {
      if (!established(w)) broken++;
    });
    expect(broken).toBe(0);
  });

  it('does not make a dead peer look alive (liveness counts only confirmed pairs)', () => {
    deadPeerStaysDown(psk, stolenA);
  });
});

describe('key-compromise impersonation (B\'s own key stolen, no psk)', () => {
  it('a proposal posing as A is accepted unconfirmed, and never disturbs the working SAs', () => {
    const w = world({
      configA: { saTtl: 2, negotiationTtl: 0.5, privateKey: privA },
      configB: { saTtl: 2, negotiationTtl: 0.5, privateKey: privB },
      routeA: { peerPublicKey: pubB },
      routeB: { peerPublicKey: pubA },
    });
    w.a.sink.inboundUsed = (_q, spi) => spi === w.b.sink.outbound.get('peer/1')?.spi;
    w.b.sink.inboundUsed = (_q, spi) => spi === w.a.sink.outbound.get('peer/1')?.spi;
    w.run(50);
    expect(established(w)).toBe(true);
    const offered = w.b.km.counters.keypairs_offered;
    forgedProposal(w, activeSpi(w.b), kciAsA());
    for (let i = 0; i < 10; i++) forgedProposal(w, 0x2000_0000 + i, kciAsA());
    expect(w.b.km.counters.keypairs_offered).toBe(offered + 11); // message 1 is KCI-vulnerable, as in Noise IK
    expect(established(w)).toBe(true);
  });

  it('nor makes a dead A look alive to B', () => {
    deadPeerStaysDown(undefined, kciAsA);
  });
});

function deadPeerStaysDown(psk: Buffer | undefined, mallory: () => ExchangeParams): void {
  {
    const c = { inbound: 0, outbound: 0 };
    const live = { saTtl: 600, negotiationTtl: 0.5, livenessInterval: 1, livenessFailures: 3 };
    const w = world({
      configA: { ...live, privateKey: privA },
      configB: { ...live, privateKey: privB },
      routeA: { peerPublicKey: pubB, preSharedKey: psk },
      routeB: { peerPublicKey: pubA, preSharedKey: psk && Buffer.from(psk) },
      optionsB: { traffic: () => [{ route: RouteId('peer'), queue: QueueNumber(1), ...c }] },
    });
    const peer = () => w.b.km.liveness.snapshot('peer/1')!;
    w.run(100);
    expect(peer().status).toBe('up');
    w.net.lose = () => true; // A is gone; B keeps sending
    w.run(20_000, 10, () => { c.outbound += 1; });
    expect(peer()).toMatchObject({ status: 'down', peerUp: false });
    const { lastHandshake } = peer();
    const offered = w.b.km.counters.keypairs_offered;
    forgedProposal(w, 0x1000_0000, mallory());
    expect(w.b.km.counters.keypairs_offered).toBe(offered + 1);
    expect(peer()).toMatchObject({ status: 'down', peerUp: false, lastHandshake });
    // Not proof, but a reason to try now rather than after the backoff: one knock.
    const knocks = w.net.log.length;
    w.clock.t += 10;
    w.b.km.tick();
    expect(w.net.log.slice(knocks).filter((d) => d.payload[4] === MessageType.knock)).toHaveLength(1);
    w.b.km.tick();
    expect(w.net.log.length).toBe(knocks + 1);
    w.clock.t += 1000; // that knock goes unanswered (A is gone): still down
    w.b.km.tick();
    expect(peer().status).toBe('down');
    // The genuine A, back: its first authenticated ESP packet brings it up.
    c.inbound += 1;
    w.clock.t += 1000;
    w.b.km.tick();
    expect(peer().status).toBe('up');
  }
}

describe('public-key route configuration', () => {
  it('a route whose peer key is our own is refused (our proposals reflected to us would authenticate)', () => {
    const clock = new FakeClock();
    const net = new Network(clock);
    const A = '192.0.2.1';
    const B = '198.51.100.2';
    const cfg = { saTtl: 2, negotiationTtl: 0.5, privateKey: privA, routes: [routeTo(B, A, { peerPublicKey: pubA })] };
    expect(() => new KeyManager(cfg, { sink: new RecordingSink(clock), transport: net.transport(), clock, logger: silent }))
      .toThrow(/route\[id=peer\]\/peer\/public-key: is this gateway's own public key/);
    // And on reconfiguration of a running key manager: refused, SAs kept.
    const w = pkWorld();
    w.run(50);
    expect(() => w.a.km.configure({ ...cfg, routes: [routeTo(w.b.address, w.a.address, { peerPublicKey: pubA })] })).toThrow(ConfigError);
    expect(established(w)).toBe(true);
  });

  it('a low-order peer key (all-zero DH result) is refused, naming the path', () => {
    const clock = new FakeClock();
    const net = new Network(clock);
    // 0 and 1, and a point of order 8 (RFC 7748 implementations' test set, Wycheproof).
    for (const hex of ['00'.repeat(32), '01' + '00'.repeat(31), 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800']) {
      const cfg = { privateKey: privA, routes: [routeTo('198.51.100.2', '192.0.2.1', { peerPublicKey: Buffer.from(hex, 'hex') })] };
      expect(() => new KeyManager(cfg, { sink: new RecordingSink(clock), transport: net.transport(), clock, logger: silent }))
        .toThrow(/route\[id=peer\]\/peer\/public-key: not a usable X25519 public key/);
    }
  });

  it('a peer psk that is the gateway\'s private key (one file named twice) is refused', () => {
    const clock = new FakeClock();
    const net = new Network(clock);
    const cfg = { privateKey: privA, routes: [routeTo('198.51.100.2', '192.0.2.1', { peerPublicKey: pubB, preSharedKey: Buffer.from(privA) })] };
    expect(() => new KeyManager(cfg, { sink: new RecordingSink(clock), transport: net.transport(), clock, logger: silent }))
      .toThrow(/route\[id=peer\]\/peer\/preshared-key-file: holds this gateway's private key/);
  });

  it('replayed proposals and agreements of public-key routes change nothing', () => {
    const w = pkWorld();
    w.run(3000);
    expect(established(w)).toBe(true);
    const recorded = w.net.log.filter((d) => d.payload[4] === MessageType.proposal || d.payload[4] === MessageType.agreement);
    expect(recorded.length).toBeGreaterThan(4);
    const before = [w.a.km.state(), w.b.km.state()];
    const offered = w.a.km.counters.keypairs_offered + w.b.km.counters.keypairs_offered;
    const negotiated = w.a.km.counters.keypairs_negotiated + w.b.km.counters.keypairs_negotiated;
    for (const d of recorded) (d.to.address === w.a.address ? w.a : w.b).km.receive(d.from, d.payload, d.to);
    expect(w.net.queue.length).toBe(0); // nothing answered
    expect(w.a.km.counters.keypairs_offered + w.b.km.counters.keypairs_offered).toBe(offered);
    expect(w.a.km.counters.keypairs_negotiated + w.b.km.counters.keypairs_negotiated).toBe(negotiated);
    expect([w.a.km.state(), w.b.km.state()]).toEqual(before);
  });

  it('an all-zero private key (a placeholder) is refused', () => {
    const clock = new FakeClock();
    const net = new Network(clock);
    const cfg = { privateKey: Buffer.alloc(32), routes: [routeTo('198.51.100.2', '192.0.2.1', { peerPublicKey: pubB })] };
    expect(() => new KeyManager(cfg, { sink: new RecordingSink(clock), transport: net.transport(), clock, logger: silent }))
      .toThrow(/\/private-key-file: the private key is all zero/);
  });
});
