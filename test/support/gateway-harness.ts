// Builds gateways wired to in-memory wires for tests: the test holds the far
// end of each wire, so it sends frames into the gateway and reads what comes
// out, exactly as a host on each side would.
import crypto from 'node:crypto';
import { Dataplane, wires, type GatewayOptions } from '../../controlplane/dataplane.js';

let serial = 0;

export interface Harness {
  gw: Dataplane;
  privateWire: string;
  publicWire: string;
  /** Frames into the gateway's private side. */
  sendPrivate(frames: Buffer[]): number;
  /** Frames into the gateway's public side (not for loopback harnesses). */
  sendPublic(frames: Buffer[]): number;
  /** Frames the gateway sent out of its private side. */
  receivePrivate(queue?: number): Buffer[];
  /** Frames the gateway sent out of its public side. */
  receivePublic(queue?: number): Buffer[];
  close(): void;
}

export function ethernet(dst: string, src: string, type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  Buffer.from(dst.replaceAll(':', ''), 'hex').copy(h, 0);
  Buffer.from(src.replaceAll(':', ''), 'hex').copy(h, 6);
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, payload]);
}

/**
 * A gateway whose private and public links are memory wires. With
 * `loopbackPublic`, the public wire returns what the gateway sends into its own
 * public input (a gateway tunnelling to itself, as in Vita's self-test).
 */
export function makeHarness(
  opts: Omit<GatewayOptions, 'private' | 'public'> & {
    private: Omit<GatewayOptions['private'], 'link'>;
    public: Omit<GatewayOptions['public'], 'link'>;
    loopbackPublic?: boolean;
  },
): Harness {
  const id = `${process.pid}-${serial++}-${crypto.randomBytes(3).toString('hex')}`;
  const privateWire = `priv-${id}`;
  const publicWire = `pub-${id}`;
  const queues = opts.queues ?? 1;
  wires.create(privateWire, { ends: [{ queues, steering: 'flow-hash' }, { queues: 1 }] });
  const pubEnd = { queues, steering: 'destination' as const, addresses: opts.public.addresses };
  if (opts.loopbackPublic) wires.create(publicWire, { loopback: true, ends: [pubEnd] });
  else wires.create(publicWire, { ends: [pubEnd, { queues: 1 }] });
  const { loopbackPublic: _, ...rest } = opts;
  const gw = new Dataplane({
    ...rest,
    private: { ...opts.private, link: { driver: 'memory', wire: privateWire, end: 0 } },
    public: { ...opts.public, link: { driver: 'memory', wire: publicWire, end: 0 } },
  });
  const drain = (wire: string, queue = 0) => {
    const out: Buffer[] = [];
    for (;;) {
      const got = wires.receive(wire, 1, queue);
      if (got.length === 0) return out;
      out.push(...got);
    }
  };
  return {
    gw,
    privateWire,
    publicWire,
    sendPrivate: (frames) => wires.send(privateWire, 1, frames),
    sendPublic: (frames) => wires.send(publicWire, 1, frames),
    receivePrivate: (queue) => drain(privateWire, queue),
    receivePublic: (queue) => drain(publicWire, queue),
    close() {
      gw.close();
      wires.destroy(privateWire);
      wires.destroy(publicWire);
    },
  };
}

/** Runs the workers on this thread until they have nothing left to do. */
export function pollUntilIdle(gw: Dataplane): void {
  gw.commit();
  for (let idle = 0; idle < 3; ) idle = gw.pollOnce() === 0 ? idle + 1 : 0;
}
