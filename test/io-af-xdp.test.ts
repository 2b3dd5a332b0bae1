// The af-xdp driver (dataplane/io/af_xdp_link.*, xsk_group.*, xdp_program.*)
// on real veth pairs between two network namespaces, with native XDP:
// frames cross byte for byte, the kernel on the far end answers what we send
// and its frames reach our sockets, the private side steers by receive queue,
// the public side by destination address (ARP and other addresses to queue
// 0) including frames that land on another queue's receive queue, links close
// and reopen, the program is detached on close and a program left by a
// killed process is replaced, and errors say what is wrong. Needs root;
// skipped with the reason otherwise.
import { execFileSync, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addonPath, packageRoot } from '../controlplane/native.js';
import * as testkit from '../controlplane/testkit.js';
import { arpRequest, collect, drain, ethernet, icmpEchoFrame, isArp, tagged, tagOf, udpFrame } from './support/io-frames.js';
import { Lab, type Veth } from '../controlplane/demo/lab.js';
import { describeNeeding } from './support/requires.js';


type Link = ReturnType<typeof testkit.io.open>;
const TEST_ETHERTYPE = 0x88b5;

interface XdpState {
  mode?: number; // 1 native (driver), 2 generic (skb)
  prog?: { id: number; name: string };
}

describeNeeding(['root', 'ip'], 'af-xdp driver on veth (native XDP, copy mode)', () => {
  let lab: Lab;
  let nsA: string;
  let nsB: string;
  let one: Veth; // one queue per end
  let two: Veth; // two queues per end
  const open: Link[] = [];
  const xdp = (ns: string, dev: string, extra: Record<string, unknown> = {}): Link => {
    const l = testkit.io.open({ driver: 'af-xdp', ifname: dev, netns: ns, ...extra });
    open.push(l);
    return l;
  };
  const attached = (ns: string, dev: string): XdpState | undefined =>
    (JSON.parse(lab.exec(ns, ['ip', '-j', '-d', 'link', 'show', dev])) as { xdp?: XdpState }[])[0].xdp;

  beforeAll(() => {
    lab = new Lab('vtio');
    nsA = lab.namespace('a', { ipv6: false });
    nsB = lab.namespace('b', { ipv6: false });
    one = lab.veth(nsA, 'va0', nsB, 'vb0', { kernelOffloads: true });
    two = lab.veth(nsA, 'va1', nsB, 'vb1', { queues: 2, kernelOffloads: true });
  });
  // Links a test leaves open (when it fails half-way) must not hold the
  // interface for the next test.
  afterEach(() => {
    for (const l of open.splice(0)) l.close();
  });
  afterAll(() => lab?.cleanup());

  it('frames sent on one end arrive byte for byte at the other, in order', () => {
    const a = xdp(nsA, one.a);
    const b = xdp(nsB, one.b);
    const sizes = [60, 61, 64, 128, 577, 1000, 1499, 1514];
    const frames = Array.from({ length: 300 }, (_, i) => ethernet(one.macB, one.macA, TEST_ETHERTYPE, tagged(1, i, sizes[i % sizes.length] - 14)));
    let sent = 0;
    for (let i = 0; i < frames.length; i += 100) sent += a.send(frames.slice(i, i + 100));
    expect(sent).toBe(frames.length);
    const got = collect(b, frames.length, (f) => tagOf(f)?.test === 1);
    expect(got.length).toBe(frames.length);
    got.forEach((f, i) => expect(f.equals(frames[i]), `frame ${i}`).toBe(true));
    expect(drain(a, (f) => tagOf(f)?.test === 1)).toEqual([]);
    const ca = a.counters();
    expect(ca.xdp_native).toBe(1);
    expect(ca.zero_copy, 'veth has no zero-copy AF_XDP: copy mode is the fallback').toBe(0);
    // One kick per burst: Linux 6.17+ takes a TX budget of 4 bursts per
    // kick (XDP_MAX_TX_SKB_BUDGET); older kernels keep their 32.
    const [major, minor] = os.release().split('.').map(Number);
    expect(ca.tx_budget).toBe(major > 6 || (major === 6 && minor >= 17) ? 256 : 32);
    expect(ca.busy_poll, 'asked for only with busywait').toBe(0);
    expect(ca.tx_packets).toBe(frames.length);
    expect(attached(nsA, one.a)?.prog?.name).toBe('vitesse_xsk');
    a.close();
    b.close();
    expect(attached(nsA, one.a), 'detached on close').toBeUndefined();
    expect(attached(nsB, one.b), 'detached on close').toBeUndefined();
  });

  it('takes frames up to a 3000-byte MTU (4 KiB UMEM frames), and refuses an MTU it cannot take', () => {
    const big = lab.veth(nsA, 'va2', nsB, 'vb2', { mtu: 3000, kernelOffloads: true });
    const a = xdp(nsA, big.a);
    const b = xdp(nsB, big.b);
    const frames = [3014, 2000, 1515, 60].map((len, i) => ethernet(big.macB, big.macA, TEST_ETHERTYPE, tagged(9, i, len - 14)));
    expect(a.send(frames)).toBe(frames.length);
    const got = collect(b, frames.length, (f) => tagOf(f)?.test === 9);
    expect(got.map((f) => f.length)).toEqual(frames.map((f) => f.length));
    got.forEach((f, i) => expect(f.equals(frames[i])).toBe(true));
    a.close();
    b.close();
    const jumbo = lab.veth(nsA, 'va3', nsB, 'vb3', { mtu: 9000, kernelOffloads: true });
    expect(() => testkit.io.open({ driver: 'af-xdp', ifname: jumbo.a, netns: nsA })).toThrow(
      `af-xdp: ${jumbo.a}: MTU 9000 is too large for XDP sockets without multi-buffer frames (at most 3822)`,
    );
  });

  it('the kernel on the far end answers an ICMP echo, and its reply reaches our socket', () => {
    lab.address(nsB, one.b, '10.81.0.2/24');
    lab.neighbour(nsB, one.b, '10.81.0.1', one.macA);
    const a = xdp(nsA, one.a);
    const payload = tagged(2, 0, 56);
    const request = icmpEchoFrame({ srcMac: one.macA, dstMac: one.macB, src: '10.81.0.1', dst: '10.81.0.2', id: 0x4321, seq: 9, payload });
    expect(a.send([request])).toBe(1);
    const [reply] = collect(a, 1, (f) => tagOf(f)?.test === 2);
    expect(reply, 'echo reply').toBeDefined();
    expect(reply[34]).toBe(0); // echo reply
    expect(reply.readUInt16BE(38)).toBe(0x4321);
    expect(reply.readUInt16BE(40)).toBe(9);
    expect(reply.subarray(42).equals(payload)).toBe(true);
    a.close();
  });

  it('generic XDP works too, when asked for', () => {
    const a = xdp(nsA, one.a, { xdpMode: 'generic' });
    const b = xdp(nsB, one.b);
    const frames = Array.from({ length: 20 }, (_, i) => ethernet(one.macA, one.macB, TEST_ETHERTYPE, tagged(3, i, 100)));
    expect(b.send(frames)).toBe(20);
    expect(collect(a, 20, (f) => tagOf(f)?.test === 3).length).toBe(20);
    expect(a.counters().xdp_native).toBe(0);
    expect(attached(nsA, one.a)?.mode).toBe(2);
    a.close();
    b.close();
    expect(attached(nsA, one.a)).toBeUndefined();
  });

  it('private side: frames arriving on receive queue q reach queue q\'s socket', () => {
    const a = [0, 1].map((queue) => xdp(nsA, two.a, { queue, queues: 2 }));
    const b = [0, 1].map((queue) => xdp(nsB, two.b, { queue, queues: 2 }));
    // A veth frame sent on transmit queue q arrives on the peer's receive queue q.
    const frames = (q: number) => Array.from({ length: 30 }, (_, i) => ethernet(two.macA, two.macB, TEST_ETHERTYPE, tagged(4, q * 100 + i, 80)));
    expect(b[0].send(frames(0))).toBe(30);
    expect(b[1].send(frames(1))).toBe(30);
    for (const q of [0, 1]) {
      const got = collect(a[q], 30, (f) => tagOf(f)?.test === 4);
      expect(got.map((f) => tagOf(f)!.index), `queue ${q}`).toEqual(frames(q).map((f) => tagOf(f)!.index));
      got.forEach((f, i) => expect(f.equals(frames(q)[i])).toBe(true));
    }
    for (const l of [...a, ...b]) l.close();
  });

  it('public side: frames for a queue\'s address reach it from any receive queue; ARP and others go to queue 0', () => {
    const addresses = ['10.82.0.1', 'fd00:82::2'];
    const a = [0, 1].map((queue) => xdp(nsA, two.a, { queue, queues: 2, steerByDestination: true, queueAddresses: addresses }));
    const b = [0, 1].map((queue) => xdp(nsB, two.b, { queue, queues: 2 }));
    const to = (dst: string, index: number) =>
      udpFrame({ srcMac: two.macB, dstMac: two.macA, src: dst.includes(':') ? 'fd00:82::99' : '10.82.0.99', dst, sport: 7000 + index, dport: 4500, payload: tagged(5, index, 40) });
    // [frame, transmit queue on B (= receive queue on A), queue expected on A]
    const cases: { frame: Buffer; via: number; queue: number; what: string }[] = [
      { frame: to('10.82.0.1', 0), via: 0, queue: 0, what: 'IPv4 to queue 0 via rx 0' },
      { frame: to('10.82.0.1', 1), via: 1, queue: 0, what: 'IPv4 to queue 0 via rx 1' },
      { frame: to('fd00:82::2', 2), via: 0, queue: 1, what: 'IPv6 to queue 1 via rx 0' },
      { frame: to('fd00:82::2', 3), via: 1, queue: 1, what: 'IPv6 to queue 1 via rx 1' },
      { frame: Buffer.concat([arpRequest(two.macB, '10.82.0.99', '10.82.0.1'), tagged(5, 4, 20)]), via: 0, queue: 0, what: 'ARP via rx 0' },
      { frame: Buffer.concat([arpRequest(two.macB, '10.82.0.99', '10.82.0.1'), tagged(5, 5, 20)]), via: 1, queue: 0, what: 'ARP via rx 1' },
      { frame: to('10.82.0.7', 6), via: 1, queue: 0, what: 'IPv4, nobody\'s, via rx 1' },
      { frame: to('fd00:82::1', 7), via: 1, queue: 0, what: 'IPv6, nobody\'s, via rx 1' },
      { frame: ethernet(two.macA, two.macB, TEST_ETHERTYPE, tagged(5, 8, 30)), via: 1, queue: 0, what: 'not IP, via rx 1' },
      { frame: to('10.82.0.1', 9).subarray(0, 30), via: 0, queue: 0, what: 'IPv4 header cut short' },
    ];
    for (const c of cases) expect(b[c.via].send([c.frame]), c.what).toBe(1);
    const arrived = new Map<number, number[]>();
    let short: number[] = [];
    const deadline = Date.now() + 2000;
    const done = () => [...arrived.values()].flat().length + short.length >= cases.length;
    while (!done() && Date.now() < deadline) {
      a.forEach((l, queue) => {
        for (const f of l.receive(64, 5)) {
          const t = tagOf(f);
          if (t?.test === 5) arrived.set(t.index, [...(arrived.get(t.index) ?? []), queue]);
          else if (f.equals(cases[9].frame)) short = [...short, queue]; // cut before its tag
        }
      });
    }
    cases.slice(0, 9).forEach((c, i) => expect(arrived.get(i), c.what).toEqual([c.queue]));
    expect(short, cases[9].what).toEqual([0]);
    expect(isArp(cases[4].frame)).toBe(true);
    // Frames for queue 1 that arrived on receive queue 0 used queue 0's memory
    // and went back to it: queue 0 keeps receiving afterwards.
    for (let round = 0; round < 3; round++) {
      const burst = Array.from({ length: 64 }, (_, i) => to('fd00:82::2', 100 + round * 64 + i));
      expect(b[0].send(burst)).toBe(64);
      expect(collect(a[1], 64, (f) => tagOf(f)?.test === 5).length).toBe(64);
    }
    expect(b[0].send([to('10.82.0.1', 999)])).toBe(1);
    expect(collect(a[0], 1, (f) => tagOf(f)?.index === 999).length).toBe(1);
    for (const l of [...a, ...b]) l.close();
  });

  it('ARP from the peer\'s kernel reaches queue 0 of a public interface', () => {
    const addresses = ['10.83.0.1', '10.83.0.2'];
    const a = [0, 1].map((queue) => xdp(nsA, two.a, { queue, queues: 2, steerByDestination: true, queueAddresses: addresses }));
    lab.address(nsB, two.b, '10.83.0.9/24');
    // A datagram to 10.83.0.2 (queue 1's address) makes the kernel ask who has it.
    lab.exec(nsB, ['bash', '-c', 'echo hello > /dev/udp/10.83.0.2/9']);
    const isQuery = (f: Buffer) => isArp(f) && f.subarray(38, 42).equals(Buffer.from([10, 83, 0, 2]));
    expect(collect(a[0], 1, isQuery).length).toBe(1);
    expect(drain(a[1], isQuery)).toEqual([]);
    for (const l of a) l.close();
  });

  it('closes and reopens one queue while the other runs, and the whole interface', () => {
    const addresses = ['10.84.0.1', '10.84.0.2'];
    const spec = { queues: 2, steerByDestination: true, queueAddresses: addresses };
    const b = xdp(nsB, two.b, { queue: 0, queues: 2 });
    const to = (dst: string, index: number) => udpFrame({ srcMac: two.macB, dstMac: two.macA, src: '10.84.0.99', dst, sport: 1, dport: 2, payload: tagged(7, index, 40) });
    const a0 = xdp(nsA, two.a, { queue: 0, ...spec });
    let a1 = xdp(nsA, two.a, { queue: 1, ...spec });
    expect(() => xdp(nsA, two.a, { queue: 1, ...spec })).toThrow(`af-xdp: ${two.a}: queue 1 is already open`);
    a1.close();
    // While queue 1 is closed, its frames wait in no one's queue; reopened, it
    // starts afresh and receives what comes next.
    expect(b.send([to('10.84.0.2', 1)])).toBe(1);
    drain(a0, () => true, 50);
    a1 = xdp(nsA, two.a, { queue: 1, ...spec });
    expect(b.send([to('10.84.0.2', 2), to('10.84.0.1', 3)])).toBe(2);
    expect(collect(a1, 1, (f) => tagOf(f)?.test === 7).map((f) => tagOf(f)!.index)).toEqual([2]);
    expect(collect(a0, 1, (f) => tagOf(f)?.test === 7).map((f) => tagOf(f)!.index)).toEqual([3]);
    a0.close();
    expect(attached(nsA, two.a), 'still attached: queue 1 is open').toBeDefined();
    a1.close();
    expect(attached(nsA, two.a)).toBeUndefined();
    for (let round = 0; round < 2; round++) {
      const again = xdp(nsA, two.a, { queue: 0, ...spec });
      expect(b.send([to('10.84.0.1', 10 + round)])).toBe(1);
      expect(collect(again, 1, (f) => tagOf(f)?.test === 7).map((f) => tagOf(f)!.index)).toEqual([10 + round]);
      again.close();
    }
    b.close();
  });

  it('replaces the program a killed process left attached', () => {
    const addon = addonPath('vitesse_testkit');
    const script = `require(${JSON.stringify(addon)}).io.open({ driver: 'af-xdp', ifname: ${JSON.stringify(one.a)}, netns: ${JSON.stringify(nsA)} }); process.kill(process.pid, 'SIGKILL');`;
    const child = spawnSync(process.execPath, ['-e', script], { stdio: 'pipe' });
    expect(child.signal).toBe('SIGKILL');
    const stale = attached(nsA, one.a);
    expect(stale?.prog?.name, 'left attached by the killed process').toBe('vitesse_xsk');
    const a = xdp(nsA, one.a);
    const b = xdp(nsB, one.b);
    const now = attached(nsA, one.a);
    expect(now?.prog?.name).toBe('vitesse_xsk');
    expect(now?.prog?.id).not.toBe(stale?.prog?.id);
    expect(b.send([ethernet(one.macA, one.macB, TEST_ETHERTYPE, tagged(8, 0, 60))])).toBe(1);
    expect(collect(a, 1, (f) => tagOf(f)?.test === 8).length).toBe(1);
    a.close();
    b.close();
    expect(attached(nsA, one.a)).toBeUndefined();
  });

  it('refuses bad specs with a precise message', () => {
    expect(() => testkit.io.open({ driver: 'af-xdp', ifname: 'nosuch0', netns: nsA })).toThrow('af-xdp: nosuch0: interface "nosuch0" not found');
    expect(() => testkit.io.open({ driver: 'af-xdp', ifname: one.a, netns: nsA, queues: 2 })).toThrow(
      `af-xdp: ${one.a}: 2 queues wanted, but the interface has 1 receive and 1 transmit queues`,
    );
    expect(() => testkit.io.open({ driver: 'af-xdp', ifname: one.a, netns: nsA, xdpMode: 'turbo' })).toThrow(
      `af-xdp: ${one.a}: xdp_mode "turbo": want "auto", "native" or "generic"`,
    );
    expect(() => testkit.io.open({ driver: 'af-xdp', ifname: one.a, netns: nsA, xdpBind: 'zero-copy' })).toThrow(
      /af-xdp: va0: queue 0: binding to queue 0 in zero-copy mode \(not supported by the driver; use xdp_bind copy\)/,
    );
    expect(attached(nsA, one.a), 'a failed open leaves no program behind').toBeUndefined();
    const a0 = xdp(nsA, two.a, { queue: 0, queues: 2 });
    expect(() => testkit.io.open({ driver: 'af-xdp', ifname: two.a, netns: nsA, queue: 1, queues: 2, steerByDestination: true, queueAddresses: ['10.0.0.1', '10.0.0.2'] })).toThrow(
      `af-xdp: ${two.a}: already open with another setup`,
    );
    a0.close();
    // The loopback device has no native XDP: "native" says so, "auto" falls back to generic.
    lab.exec(nsA, ['ip', 'link', 'set', 'lo', 'mtu', '1500']);
    expect(() => testkit.io.open({ driver: 'af-xdp', ifname: 'lo', netns: nsA, xdpMode: 'native' })).toThrow(
      /af-xdp: lo: attaching the XDP program in native mode: Operation not supported.*set xdp_mode to generic/,
    );
    const lo = xdp(nsA, 'lo');
    expect(lo.counters().xdp_native).toBe(0);
    lo.close();
    expect(execFileSync('ip', ['netns', 'exec', nsA, 'ip', '-d', 'link', 'show', 'lo'], { encoding: 'utf8' })).not.toMatch(/prog\/xdp/);
  });
});
