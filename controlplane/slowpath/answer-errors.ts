// Packets the data plane could not forward: ICMP errors about them (time
// exceeded, fragmentation needed / packet too big, port or protocol
// unreachable), always from our private address and rate-limited (per side
// and source, fair-budget.ts), and IPv4 fragmentation for packets over the
// tunnel MTU that allow it.
import type { Outbox, SlowPathContext } from './context.js';
import { bump } from './counters.js';
import { fragmentIpv4 } from './fragment.js';
import { errorPacket, errorTypeCode, icmpKey, type IcmpError } from './icmp.js';
import { errorSuppressedBecause } from './icmp-policy.js';
import { ETHERTYPE_IPV4, ethernetFrame, etherTypeOf, type EthernetView, type IpView } from './packet.js';
import type { Punt } from './types.js';
import { UDP_ENCAP_OVERHEAD } from '../nat-t.js';

/**
 * An ICMP error about `ip` from our private address. With `eth` (the frame it
 * arrived in on the private side) the error goes straight back to that
 * frame's sender; without (the packet came out of the tunnel) it is injected
 * as received on the private side, so the data plane routes it back into the
 * tunnel towards the sender.
 */
export function sendIcmpError(ctx: SlowPathContext, kind: IcmpError, p: Punt, ip: IpView, eth: EthernetView | null, out: Outbox, mtu = ctx.mtu): void {
  const suppressed = errorSuppressedBecause(ip, eth ? eth.dst : null, (a) => ctx.isOurs(a));
  if (suppressed) return ctx.drop(suppressed);
  const src = ip.version === 4 ? ctx.private.v4 : ctx.private.v6;
  if (!src) return ctx.drop('no-source-address');
  const counters = ip.version === 4 ? ctx.counters.icmp : ctx.counters.icmpv6;
  const typeCode = icmpKey(...errorTypeCode(kind, ip.version));
  // Charged to the side the offending packet came from and to its source.
  if (!ctx.buckets.errors[p.side].take(ip.src, ctx.now())) {
    bump(counters.rateLimited, typeCode);
    return;
  }
  const packet = errorPacket(kind, ip, src, ctx.nextId(), mtu);
  const mac = ctx.private.mac;
  const type = etherTypeOf(src);
  if (eth) out.add(p.queue, 'private', 'transmit', ethernetFrame(eth.src, mac, type, packet));
  else out.add(p.queue, 'private', 'receive', ethernetFrame(mac, mac, type, packet));
  bump(counters.sent, typeCode);
}

/** A private-side packet over the tunnel MTU. */
export function answerTooBig(ctx: SlowPathContext, p: Punt, eth: EthernetView, ip: IpView, out: Outbox): void {
  // A packet within the MTU, but not within 8 octets of it, was bound for an
  // SA using ESP in UDP, whose UDP header the MTU includes (the data plane
  // punts it so, dataplane/pipeline/outbound.cc).
  const mtu = ip.length <= ctx.mtu && ip.length > ctx.mtu - UDP_ENCAP_OVERHEAD ? ctx.mtu - UDP_ENCAP_OVERHEAD : ctx.mtu;
  if (ip.length <= mtu) return ctx.drop('unhandled'); // our MTU and the data plane's disagree for a moment
  if (ip.version === 6 || ip.dontFragment) return sendIcmpError(ctx, 'too-big', p, ip, eth, out, mtu);
  // IPv4 without DF: the sender allowed fragmentation and would ignore an
  // ICMP error (RFC 1191 reacts to DF packets only), so dropping would
  // black-hole the flow. We fragment (RFC 791) and put the fragments back into
  // the pipeline as if received. Packets above the punt limit (2048 octets)
  // are not whole here: those are dropped and counted as truncated.
  if (!ip.complete || p.frameLength > p.frame.length) return ctx.drop('truncated');
  if (!ctx.buckets.fragmentation.take(ctx.now())) return ctx.drop('fragmentation-ratelimited');
  const fragments = fragmentIpv4(ip, mtu);
  if (!fragments) return ctx.drop('malformed');
  for (const f of fragments) out.add(p.queue, 'private', 'receive', ethernetFrame(eth.dst, eth.src, ETHERTYPE_IPV4, f));
  ctx.counters.fragmentation.packets++;
  ctx.counters.fragmentation.fragments += fragments.length;
}
