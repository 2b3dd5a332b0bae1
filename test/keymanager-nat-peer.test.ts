// A public-key peer behind NAT (no configured address) in key-manager mode:
// B's route only responds, learns A's endpoint (the NAT's address and port)
// from A's authenticated proposal, sends its outbound SAs and its own later
// exchanges there, follows A when the NAT rebinds (on the next authenticated
// message, never on a knock), and takes the data plane's ESP endpoint.
// docs/key-exchange.md, "Peers behind NAT"; controlplane/exchange/peer-endpoint.ts.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeKnock, MessageType } from '../controlplane/exchange/messages.js';
import { ConfigError, KeyManager } from '../controlplane/keymanager.js';
import { QueueNumber, RouteSpi, type KeyManagerConfig } from '../controlplane/exchange/types.js';
import { FakeClock, RecordingSink, outboundWorks, silent, type Side } from './keymanager-harness.js';
import { A, B, NAT_T, NatWorld, ROUTE, privA, privB, pubOf } from './support/nat-world.js';

// The sink records the whole spec (ESP-in-UDP ports included).
const outOf = (s: Side) => s.sink.outbound.get('peer/1') as unknown as { gatewayAddress: string; udpSourcePort?: number; udpDestinationPort?: number };
const up = (w: NatWorld) => outboundWorks(w.a, w.b) && outboundWorks(w.b, w.a);

describe('key manager: a public-key peer behind NAT', () => {
  it('B never initiates before A shows up; then learns A\'s NAT endpoint from the authenticated proposal and sends its SAs there', () => {
    const w = new NatWorld();
    // A silent: B sends nothing at all (it has nowhere to send to).
    w.b.km.tick();
    w.flush();
    expect(w.log.filter((x) => x.from.address === B)).toHaveLength(0);
    w.run(50);
    expect(up(w)).toBe(true);
    expect(w.b.km.learnedEndpoint(ROUTE, QueueNumber(1))).toEqual(w.outside);
    const out = outOf(w.b);
    expect(out.gatewayAddress).toBe(w.outside.address);
    expect(out.udpDestinationPort).toBe(w.outside.port);
    expect(out.udpSourcePort).toBe(NAT_T);
    // A configured address is never replaced.
    expect(w.a.km.learnedEndpoint(ROUTE, QueueNumber(1))).toBeNull();
    expect(w.a.km.counters.rxerrors + w.b.km.counters.rxerrors).toBe(0);
  });

  it('roams: after the NAT rebinds, B follows on A\'s next authenticated proposal; B\'s own rekeys then go to the new endpoint', () => {
    const w = new NatWorld();
    w.run(50);
    expect(up(w)).toBe(true);
    const before = { ...w.outside };
    w.outside = { address: '203.0.113.99', port: 51234 };
    // Until A's next exchange, B still talks to the old binding (lost): run through rollovers.
    w.run(6000);
    expect(w.b.km.learnedEndpoint(ROUTE, QueueNumber(1))).toEqual(w.outside);
    expect(w.b.km.learnedEndpoint(ROUTE, QueueNumber(1))).not.toEqual(before);
    // The cause: a proposal from the new endpoint that B answered with an agreement.
    const fromNew = w.log.filter((x) => x.to.address === B && x.from.address === w.outside.address && x.payload[4] === MessageType.proposal);
    expect(fromNew.length).toBeGreaterThan(0);
    expect(outOf(w.b).gatewayAddress).toBe(w.outside.address);
    expect(outOf(w.b).udpDestinationPort).toBe(w.outside.port);
    expect(up(w)).toBe(true);
    // B initiates too once it knows A (its rekeys), and only towards the learned endpoint.
    const knocksOfB = w.log.filter((x) => x.from.address === B && x.payload[4] === MessageType.knock);
    for (const k of knocksOfB) expect(k.to.address).not.toBe(A);
    expect(knocksOfB.some((k) => k.to.address === w.outside.address && k.to.port === w.outside.port)).toBe(true);
  });

  it('knocks and forged or replayed proposals from elsewhere never move the endpoint', () => {
    const w = new NatWorld();
    w.run(50);
    const learned = w.b.km.learnedEndpoint(ROUTE, QueueNumber(1));
    const proposal = w.log.find((x) => x.to.address === B && x.payload[4] === MessageType.proposal)!;
    const evil = { address: '192.0.2.66', port: 666 };
    w.inject({ from: evil, to: { address: B, port: NAT_T }, payload: encodeKnock(RouteSpi(7), { cookie: crypto.randomBytes(16) }) });
    w.inject({ from: evil, to: { address: B, port: NAT_T }, payload: proposal.payload });
    const forged = Buffer.from(proposal.payload);
    forged[forged.length - 1] ^= 1;
    w.inject({ from: evil, to: { address: B, port: NAT_T }, payload: forged });
    w.flush();
    expect(w.b.km.learnedEndpoint(ROUTE, QueueNumber(1))).toEqual(learned);
    expect(w.b.km.counters.rxerrors).toBeGreaterThanOrEqual(2);
  });

  it('the data plane\'s ESP endpoint moves it too (and a configured address never moves)', () => {
    const w = new NatWorld();
    w.run(50);
    const moved = { address: '203.0.113.50', port: 1234 };
    expect(w.b.km.peerEndpoint(ROUTE, QueueNumber(1), moved)).toBe(true);
    expect(w.b.km.peerEndpoint(ROUTE, QueueNumber(1), moved)).toBe(false);
    expect(w.b.km.learnedEndpoint(ROUTE, QueueNumber(1))).toEqual(moved);
    expect(w.a.km.peerEndpoint(ROUTE, QueueNumber(1), moved)).toBe(false);
    expect(w.a.km.learnedEndpoint(ROUTE, QueueNumber(1))).toBeNull();
  });

  it('refuses a peer without address on a pre-shared-key route or without nat-traversal force', () => {
    const base = { saTtl: 2, negotiationTtl: 0.5, privateKey: privB };
    const q = [{ queue: QueueNumber(1), localAddress: B }];
    const mk = (r: object) => new KeyManager({ ...base, routes: [{ id: ROUTE, spi: RouteSpi(7), aead: 'aes-gcm-16-icv', queues: q, ...r }] as KeyManagerConfig['routes'] }, { sink: new RecordingSink(new FakeClock()), transport: { send() {} }, logger: silent });
    expect(() => mk({ preSharedKey: crypto.randomBytes(32), natTraversal: 'force' })).toThrow(ConfigError);
    expect(() => mk({ peerPublicKey: pubOf(privA) })).toThrow(/nat-traversal force/);
    expect(() => mk({ peerPublicKey: pubOf(privA), natTraversal: 'force' })).not.toThrow();
  });
});
