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
import { QueueNumber, RouteId, RouteSpi, type Endpoint, type KeyManagerConfig, type Transport } from '../controlplane/exchange/types.js';
import { FakeClock, RecordingSink, outboundWorks, silent, type Side } from './keymanager-harness.js';

const pubOf = (priv: Buffer) => {
  const kp = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]), format: 'der', type: 'pkcs8' });
  return Buffer.from(crypto.createPublicKey(kp).export({ format: 'jwk' }).x!, 'base64url');
};
const privA = crypto.randomBytes(32);
const privB = crypto.randomBytes(32);
const A = '10.0.0.2'; // A's own address, behind the NAT
const B = '198.51.100.2';
const NAT_T = 4500;
const ROUTE = RouteId('peer');

interface Wire { from: Endpoint; to: Endpoint; payload: Buffer }

// A masquerading NAT in front of A: A's datagrams leave from `outside`
// (address, port); answers to that are delivered to A, anything else to A is lost.
class NatWorld {
  readonly clock = new FakeClock();
  readonly log: Wire[] = [];
  outside: Endpoint = { address: '203.0.113.7', port: 40001 };
  private q: Wire[] = [];
  a: Side;
  b: Side;

  constructor() {
    const config = (priv: Buffer): Omit<KeyManagerConfig, 'routes'> => ({ saTtl: 2, negotiationTtl: 0.5, privateKey: priv, natTPort: NAT_T });
    const sa = new RecordingSink(this.clock);
    const sb = new RecordingSink(this.clock);
    const ka = new KeyManager(
      { ...config(privA), routes: [{ id: ROUTE, spi: RouteSpi(7), aead: 'aes-gcm-16-icv', peerPublicKey: pubOf(privB), natTraversal: 'force', queues: [{ queue: QueueNumber(1), localAddress: A, gatewayAddress: B }] }] },
      { sink: sa, transport: this.transport(), clock: this.clock, logger: silent },
    );
    const kb = new KeyManager(
      { ...config(privB), routes: [{ id: ROUTE, spi: RouteSpi(7), aead: 'aes-gcm-16-icv', peerPublicKey: pubOf(privA), natTraversal: 'force', queues: [{ queue: QueueNumber(1), localAddress: B }] }] },
      { sink: sb, transport: this.transport(), clock: this.clock, logger: silent },
    );
    this.a = { km: ka, sink: sa, address: A };
    this.b = { km: kb, sink: sb, address: B };
  }

  transport(): Transport {
    return { send: (to, payload, from) => { this.q.push({ to: { ...to }, from: { ...from }, payload: Buffer.from(payload) }); } };
  }

  /** A datagram to B from anyone (a forgery, a replay). */
  inject(w: Wire): void {
    this.q.push(w);
  }

  flush(): void {
    while (this.q.length) {
      const w = this.q.shift()!;
      if (w.from.address === A) w.from = { ...this.outside }; // masquerade
      this.log.push(w);
      if (w.to.address === B) this.b.km.receive(w.from, w.payload, w.to);
      else if (w.to.address === this.outside.address && w.to.port === this.outside.port) this.a.km.receive({ address: B, port: w.from.port }, w.payload, { address: A, port: NAT_T });
    }
  }

  run(ms: number): void {
    for (let t = 0; t < ms; t += 10) {
      this.clock.t += 10;
      this.a.km.tick();
      this.b.km.tick();
      this.flush();
    }
  }
}

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
