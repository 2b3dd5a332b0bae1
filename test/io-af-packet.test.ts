// The af-packet driver (dataplane/io/af_packet_*) on real veth pairs between
// two network namespaces: frames cross byte for byte with either transmit
// method, the kernel on the far end answers what we send, a hash fanout group
// spreads flows over queues without losing or duplicating any, a public
// interface's queues each get the frames for their own address (and queue 0
// everything else), links close and reopen cleanly, and errors say what is
// wrong. Needs root; skipped with the reason otherwise.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as testkit from '../controlplane/testkit.js';
import { arpRequest, collect, drain, ethernet, icmpEchoFrame, isArp, tagged, tagOf, udpFrame } from './support/io-frames.js';
import { Lab, type Veth } from '../controlplane/demo/lab.js';
import { describeNeeding } from './support/requires.js';


type Link = ReturnType<typeof testkit.io.open>;
const TEST_ETHERTYPE = 0x88b5; // IEEE local experimental

describeNeeding(['root', 'ip'], 'af-packet driver on veth', () => {
  let lab: Lab;
  let nsA: string;
  let nsB: string;
  let pair: Veth;
  const open: Link[] = [];
  const link = (spec: Record<string, unknown>): Link => {
    const l = testkit.io.open({ driver: 'af-packet', ...spec });
    open.push(l);
    return l;
  };
  const end = (side: 'a' | 'b', extra: Record<string, unknown> = {}) =>
    link({ ifname: side === 'a' ? pair.a : pair.b, netns: side === 'a' ? nsA : nsB, ...extra });

  beforeAll(() => {
    lab = new Lab('vtio');
    nsA = lab.namespace('a', { ipv6: false });
    nsB = lab.namespace('b', { ipv6: false });
    pair = lab.veth(nsA, 'va0', nsB, 'vb0', { kernelOffloads: true });
  });
  // Links a test leaves open (when it fails half-way) must not hold the
  // interface for the next test.
  afterEach(() => {
    for (const l of open.splice(0)) l.close();
  });
  afterAll(() => lab?.cleanup());

  it.each(['sendmmsg', 'ring'])('frames sent with tx %s arrive byte for byte at the other end, in order', (txMethod) => {
    const test = txMethod === 'sendmmsg' ? 1 : 2;
    const a = end('a', { txMethod });
    const b = end('b');
    const sizes = [60, 61, 64, 128, 577, 1000, 1499, 1514];
    const frames = Array.from({ length: 200 }, (_, i) =>
      ethernet(pair.macB, pair.macA, TEST_ETHERTYPE, tagged(test, i, sizes[i % sizes.length] - 14)),
    );
    expect(a.send(frames)).toBe(frames.length);
    const got = collect(b, frames.length, (f) => tagOf(f)?.test === test);
    expect(got.length).toBe(frames.length);
    got.forEach((f, i) => expect(f.equals(frames[i]), `frame ${i}`).toBe(true));
    // A frame longer than the MTU allows is dropped with a reason; the rest go.
    const oversize = ethernet(pair.macB, pair.macA, TEST_ETHERTYPE, tagged(test, 9999, 1600));
    expect(a.send([frames[0], oversize, frames[1]])).toBe(3);
    expect(collect(b, 2, (f) => tagOf(f)?.test === test).map((f) => tagOf(f)!.index)).toEqual([0, 1]);
    expect(a.counters().tx_oversize).toBe(1);
    // The sender does not see its own frames (PACKET_IGNORE_OUTGOING).
    expect(drain(a, (f) => tagOf(f)?.test === test)).toEqual([]);
    expect(a.counters().tx_packets).toBe(frames.length + 2);
    expect(b.counters().rx_packets).toBeGreaterThanOrEqual(frames.length + 2);
    a.close();
    b.close();
  });

  it('the kernel on the far end answers an ICMP echo sent through the driver', () => {
    lab.address(nsB, pair.b, '10.71.0.2/24');
    lab.neighbour(nsB, pair.b, '10.71.0.1', pair.macA);
    const before = lab.stats(nsB, pair.b).rxPackets;
    const a = end('a');
    const payload = tagged(3, 0, 56);
    const request = icmpEchoFrame({ srcMac: pair.macA, dstMac: pair.macB, src: '10.71.0.1', dst: '10.71.0.2', id: 0x7654, seq: 3, payload });
    expect(a.send([request])).toBe(1);
    const [reply] = collect(a, 1, (f) => tagOf(f)?.test === 3);
    expect(reply, 'echo reply').toBeDefined();
    expect(reply.subarray(0, 6).equals(request.subarray(6, 12))).toBe(true); // back to us
    expect(reply[14 + 9]).toBe(1); // ICMP
    expect(reply[34]).toBe(0); // echo reply
    expect(reply.readUInt16BE(38)).toBe(0x7654);
    expect(reply.readUInt16BE(40)).toBe(3);
    expect(reply.subarray(42).equals(payload)).toBe(true);
    expect(lab.stats(nsB, pair.b).rxPackets).toBeGreaterThan(before);
    a.close();
  });

  it('a fanout group spreads flows over the queues: each flow on one queue, none lost or duplicated', () => {
    const q = [0, 1].map((queue) => end('a', { queue, queues: 2 }));
    const b = end('b');
    const flows = 64;
    const perFlow = 4;
    const frames: Buffer[] = [];
    for (let i = 0; i < flows * perFlow; i++) {
      const flow = i % flows;
      frames.push(
        udpFrame({ srcMac: pair.macB, dstMac: pair.macA, src: '10.72.0.2', dst: '10.72.0.1', sport: 10000 + flow, dport: 4000, payload: tagged(4, i, 32) }),
      );
    }
    expect(b.send(frames)).toBe(frames.length);
    const seen = new Map<number, number>(); // index → queue
    const deadline = Date.now() + 3000;
    while (seen.size < frames.length && Date.now() < deadline) {
      q.forEach((l, queue) => {
        for (const f of l.receive(64, 5)) {
          const t = tagOf(f);
          if (t?.test !== 4) continue;
          expect(seen.has(t.index), `frame ${t.index} delivered twice`).toBe(false);
          expect(f.equals(frames[t.index])).toBe(true);
          seen.set(t.index, queue);
        }
      });
    }
    expect(seen.size).toBe(frames.length);
    const queueOfFlow = new Map<number, number>();
    for (const [index, queue] of seen) {
      const flow = index % flows;
      expect(queueOfFlow.get(flow) ?? queue, `flow ${flow} split over queues`).toBe(queue);
      queueOfFlow.set(flow, queue);
    }
    expect(new Set(queueOfFlow.values()).size).toBe(2); // 64 flows all on one queue: 2^-63
    for (const l of q) l.close();
    b.close();
  });

  it('public side: each queue receives the frames for its own address, queue 0 the rest', () => {
    const addresses = ['10.73.0.1', '10.73.0.2', 'fd00:73::3'];
    const q = addresses.map((_, queue) => end('a', { queue, queues: 3, steerByDestination: true, queueAddresses: addresses }));
    const b = end('b');
    const to = (dst: string, index: number) =>
      udpFrame({ srcMac: pair.macB, dstMac: pair.macA, src: dst.includes(':') ? 'fd00:73::99' : '10.73.0.99', dst, sport: 5000 + index, dport: 4500, payload: tagged(5, index, 40) });
    const cases: { frame: Buffer; queue: number; what: string }[] = [
      { frame: to('10.73.0.1', 0), queue: 0, what: 'IPv4 to queue 0' },
      { frame: to('10.73.0.2', 1), queue: 1, what: 'IPv4 to queue 1' },
      { frame: to('fd00:73::3', 2), queue: 2, what: 'IPv6 to queue 2' },
      { frame: to('10.73.0.9', 3), queue: 0, what: 'IPv4, nobody\'s' },
      { frame: to('fd00:73::2', 4), queue: 0, what: 'IPv6, nobody\'s' },
      { frame: Buffer.concat([arpRequest(pair.macB, '10.73.0.99', '10.73.0.2'), tagged(5, 5, 20)]), queue: 0, what: 'ARP' },
      { frame: to('10.73.0.2', 6), queue: 1, what: 'IPv4 to queue 1 again' },
    ];
    expect(b.send(cases.map((c) => c.frame))).toBe(cases.length);
    const arrived = new Map<number, number[]>();
    const deadline = Date.now() + 2000;
    while ([...arrived.values()].flat().length < cases.length && Date.now() < deadline) {
      q.forEach((l, queue) => {
        for (const f of l.receive(64, 5)) {
          const t = tagOf(f);
          if (t?.test === 5) arrived.set(t.index, [...(arrived.get(t.index) ?? []), queue]);
        }
      });
    }
    for (const l of q) expect(drain(l, (f) => tagOf(f)?.test === 5, 50)).toEqual([]);
    cases.forEach((c, i) => expect(arrived.get(i), c.what).toEqual([c.queue]));
    expect(isArp(cases[5].frame)).toBe(true);
    for (const l of q) l.close();
    b.close();
  });

  it('closes cleanly and reopens, alone and in a fanout group', () => {
    const b = end('b');
    const send = (i: number) => b.send([ethernet(pair.macA, pair.macB, TEST_ETHERTYPE, tagged(6, i, 50))]);
    for (let round = 0; round < 3; round++) {
      const a = end('a', round === 0 ? {} : { queue: round - 1, queues: 2 });
      expect(send(round)).toBe(1);
      const got = collect(a, 1, (f) => tagOf(f)?.test === 6);
      expect(got.map((f) => tagOf(f)?.index)).toEqual([round]);
      a.close();
      a.close(); // idempotent
      expect(() => a.receive(1)).toThrow('io: link is closed');
    }
    b.close();
  });

  it('refuses bad specs with a precise message', () => {
    expect(() => testkit.io.open({ driver: 'af-packet', ifname: 'nosuch0', netns: nsA })).toThrow('af-packet: nosuch0: interface "nosuch0" not found');
    expect(() => testkit.io.open({ driver: 'af-packet', ifname: pair.a, netns: 'vitesse-no-such-ns' })).toThrow(
      'netns "vitesse-no-such-ns": cannot open /run/netns/vitesse-no-such-ns',
    );
    expect(() => testkit.io.open({ driver: 'af-packet', ifname: pair.a, netns: nsA, txMethod: 'carrier-pigeon' })).toThrow(
      `af-packet: ${pair.a}: tx_method "carrier-pigeon": want "ring" or "sendmmsg"`,
    );
    expect(() => testkit.io.open({ driver: 'af-packet', ifname: pair.a, netns: nsA, queue: 2, queues: 2 })).toThrow(
      `af-packet: ${pair.a}: queue 2 out of range (queues = 2)`,
    );
    expect(() =>
      testkit.io.open({ driver: 'af-packet', ifname: pair.a, netns: nsA, queues: 2, steerByDestination: true, queueAddresses: ['10.0.0.1'] }),
    ).toThrow(`af-packet: ${pair.a}: steer_by_destination needs one queue address per queue (2 queues, 1 addresses)`);
    expect(() =>
      testkit.io.open({ driver: 'af-packet', ifname: pair.a, netns: nsA, queues: 2, steerByDestination: true, queueAddresses: ['10.0.0.1', '10.0.0.300'] }),
    ).toThrow(`af-packet: ${pair.a}: queue_addresses[1]: not an IPv4 or IPv6 address: "10.0.0.300"`);
    expect(() => testkit.io.open({ driver: 'af-packet' })).toThrow('af-packet: no interface named (spec.ifname is empty)');
  });
});
