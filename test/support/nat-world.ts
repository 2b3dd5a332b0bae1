// Two key managers with public-key routes (IKpsk2) and, in front of A, a
// masquerading NAT: A's datagrams leave from `outside` (address, port);
// answers to that are delivered to A, anything else to A is lost. Without
// the NAT (`nat: false`), datagrams pass as they are, and B names A's
// address. Shared by test/keymanager-nat-peer.test.ts and
// test/keymanager-nat-detection.test.ts.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { KeyManager } from '../../controlplane/keymanager.js';
import { QueueNumber, RouteId, RouteSpi, type Endpoint, type KeyManagerConfig, type Transport } from '../../controlplane/exchange/types.js';
import { FakeClock, RecordingSink, silent, type Side } from '../keymanager-harness.js';

export const pubOf = (priv: Buffer) => {
  const kp = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]), format: 'der', type: 'pkcs8' });
  return Buffer.from(crypto.createPublicKey(kp).export({ format: 'jwk' }).x!, 'base64url');
};
export const privA = crypto.randomBytes(32);
export const privB = crypto.randomBytes(32);
export const A = '10.0.0.2'; // A's own address (behind the NAT, if there is one)
export const B = '198.51.100.2';
export const NAT_T = 4500;
export const ROUTE = RouteId('peer');

export interface Wire { from: Endpoint; to: Endpoint; payload: Buffer }

type NatTraversal = 'force' | 'auto';

export interface NatWorldOptions {
  /** A masquerading NAT in front of A (default true). */
  nat?: boolean;
  /** Each end's nat-traversal (default force). */
  natTraversal?: { a: NatTraversal; b: NatTraversal };
  /** Sees (and may change, or drop: null) every datagram after the NAT, before delivery. */
  tamper?: (w: Wire) => Wire | null;
  /** The key managers' logger (default silent). */
  logger?: Logger;
}

export class NatWorld {
  readonly clock = new FakeClock();
  readonly log: Wire[] = [];
  outside: Endpoint = { address: '203.0.113.7', port: 40001 };
  nat: boolean;
  private q: Wire[] = [];
  a: Side;
  b: Side;

  constructor(private readonly o: NatWorldOptions = {}) {
    this.nat = o.nat ?? true;
    const config = (priv: Buffer): Omit<KeyManagerConfig, 'routes'> => ({ saTtl: 2, negotiationTtl: 0.5, privateKey: priv, natTPort: NAT_T });
    const sa = new RecordingSink(this.clock);
    const sb = new RecordingSink(this.clock);
    const route = (peer: Buffer, natTraversal: NatTraversal, queue: KeyManagerConfig['routes'][number]['queues'][number]) =>
      ({ id: ROUTE, spi: RouteSpi(7), aead: 'aes-gcm-16-icv' as const, peerPublicKey: pubOf(peer), natTraversal, queues: [queue] });
    const ka = new KeyManager(
      { ...config(privA), routes: [route(privB, o.natTraversal?.a ?? 'force', { queue: QueueNumber(1), localAddress: A, gatewayAddress: B })] },
      { sink: sa, transport: this.transport(), clock: this.clock, logger: (o.logger ?? silent).child({ gw: 'A' }) },
    );
    // Behind a NAT, B cannot name A's address; without one it does.
    const kb = new KeyManager(
      { ...config(privB), routes: [route(privA, o.natTraversal?.b ?? 'force', { queue: QueueNumber(1), localAddress: B, ...(this.nat ? {} : { gatewayAddress: A }) })] },
      { sink: sb, transport: this.transport(), clock: this.clock, logger: (o.logger ?? silent).child({ gw: 'B' }) },
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
      let w: Wire | null = this.q.shift()!;
      if (this.nat && w.from.address === A) w.from = { ...this.outside }; // masquerade
      if (this.o.tamper) w = this.o.tamper(w);
      if (!w) continue;
      this.log.push(w);
      if (w.to.address === B) this.b.km.receive(w.from, w.payload, w.to);
      else if (!this.nat && w.to.address === A) this.a.km.receive(w.from, w.payload, w.to);
      else if (this.nat && w.to.address === this.outside.address && w.to.port === this.outside.port) this.a.km.receive({ address: B, port: w.from.port }, w.payload, { address: A, port: NAT_T });
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
