// bench/worker-profile.ts: perf's report of the gateway workers is split into
// the buckets docs/drivers.md quotes (vitesse, copy, xsk_veth, skb, stack,
// syscall_poll, other_kernel). Checked on a report as `perf report -n
// --stdio -q --percentage relative --sort sym` prints it.
import { describe, expect, it } from 'vitest';
import { bucketOf, classify } from '../bench/worker-profile.js';

const REPORT = [
  '    31.85%          2700  [k] __pi_memcpy',
  '     8.12%           690  [k] ip_route_input_slow',
  '     4.10%           350  [k] ip_forward',
  '     4.07%           359  [k] veth_xmit',
  '     4.02%           355  [k] xp_alloc',
  '     2.50%           210  [.] vitesse::AfXdpLink::restock',
  '     1.81%           150  [.] vitesse::crypto::detail::avx512::(anonymous namespace)::crypt<10, true>',
  '     1.63%           140  [k] do_sys_poll',
  '     1.34%           110  [k] tcp_v4_rcv',
  '     0.80%            70  [k] ___slab_alloc',
  '     0.65%            50  [k] do_softirq.part.0',
  '',
  '# a comment line',
].join('\n');

describe('worker profile buckets', () => {
  it('puts user-space samples in vitesse and kernel symbols by what they do', () => {
    expect(bucketOf('vitesse::Worker::poll', true)).toBe('vitesse');
    expect(bucketOf('memcpy', true)).toBe('vitesse'); // libc's, called by the addon
    expect(bucketOf('__pi_memcpy', false)).toBe('copy');
    expect(bucketOf('skb_pp_cow_data', false)).toBe('copy');
    expect(bucketOf('__xsk_generic_xmit', false)).toBe('xsk_veth');
    expect(bucketOf('veth_xdp_rcv_skb', false)).toBe('xsk_veth');
    expect(bucketOf('ip_route_input_slow', false)).toBe('stack');
    expect(bucketOf('tcp_v4_rcv', false)).toBe('stack');
    expect(bucketOf('fib_table_lookup', false)).toBe('stack');
    expect(bucketOf('kmem_cache_alloc_node', false)).toBe('skb');
    expect(bucketOf('do_sys_poll', false)).toBe('syscall_poll');
    expect(bucketOf('do_softirq.part.0', false)).toBe('other_kernel');
  });

  it('sums each bucket\'s share (relative to the lines read) and counts the samples', () => {
    const c = classify(REPORT);
    const total = 31.85 + 8.12 + 4.1 + 4.07 + 4.02 + 2.5 + 1.81 + 1.63 + 1.34 + 0.8 + 0.65;
    expect(c.samples).toBe(2700 + 690 + 350 + 359 + 355 + 210 + 150 + 140 + 110 + 70 + 50);
    expect(c.shares.copy).toBeCloseTo(31.85 / total, 6);
    expect(c.shares.stack).toBeCloseTo((8.12 + 4.1 + 1.34) / total, 6);
    expect(c.shares.xsk_veth).toBeCloseTo((4.07 + 4.02) / total, 6);
    expect(c.shares.vitesse).toBeCloseTo((2.5 + 1.81) / total, 6);
    expect(Object.values(c.shares).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(c.top[0]).toEqual({ symbol: '__pi_memcpy', pct: 31.85, bucket: 'copy' });
  });

  it('reads a report without the sample column, and an empty one as all zero', () => {
    expect(classify('    50.00%  [k] ip_forward\n    50.00%  [.] main').shares).toMatchObject({ stack: 0.5, vitesse: 0.5 });
    const empty = classify('');
    expect(empty.samples).toBe(0);
    expect(Object.values(empty.shares).every((x) => x === 0)).toBe(true);
  });
});
