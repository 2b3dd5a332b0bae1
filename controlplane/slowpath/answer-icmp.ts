// ICMP and ICMPv6 for us: every message is counted by type and code; echo
// requests to one of our unicast addresses get replies (rate-limited per
// side and source; a request out of the tunnel is answered back into it);
// Neighbour Discovery goes to answer-nd.ts; errors and replies addressed to
// us are only counted.
import { isMulticastIp, isUnicastIp } from './address.js';
import { answerNd } from './answer-nd.js';
import type { Outbox, SlowPathContext } from './context.js';
import { bump } from './counters.js';
import { echoReply, icmpKey, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, parseIcmp } from './icmp.js';
import { isNdType } from './nd.js';
import { ethernetFrame, type EthernetView, type IpView } from './packet.js';
import type { Punt } from './types.js';

export function answerIcmp(ctx: SlowPathContext, p: Punt, eth: EthernetView, ip: IpView, out: Outbox): void {
  const msg = parseIcmp(ip);
  if (typeof msg === 'string') return ctx.drop(msg);
  const counters = ip.version === 4 ? ctx.counters.icmp : ctx.counters.icmpv6;
  bump(counters.received, icmpKey(msg.type, msg.code));
  const tunnel = p.reason === 'tunnel';
  if (ip.version === 6 && isNdType(msg.type)) return tunnel ? ctx.drop('unhandled') : answerNd(ctx, p, eth, ip, msg, out);
  if (isMulticastIp(ip.dst)) return ctx.drop('unhandled');
  if (msg.type !== (ip.version === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST)) return;
  if (!isUnicastIp(ip.src) || ctx.isOurs(ip.src)) return ctx.drop('bad-source');
  const replyType = icmpKey(ip.version === 4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY, 0);
  // Each side has its own budget, shared fairly among its sources: a flood
  // at the public address starves neither the private side nor other hosts.
  // (Requests out of the tunnel arrived on the public side, as ICMP errors
  // about tunnelled packets are charged.)
  if (!ctx.buckets.echo[p.side].take(ip.src, ctx.now())) {
    bump(counters.rateLimited, replyType);
    return;
  }
  const reply = echoReply(ip, msg, ctx.nextId());
  // From the tunnel: back into it, as if the LAN had sent the reply.
  if (tunnel) out.add(p.queue, 'private', 'receive', ethernetFrame(ctx.private.mac, ctx.private.mac, eth.type, reply));
  // Back to the neighbour that handed us the request: it knows the way.
  else out.add(p.queue, p.side, 'transmit', ethernetFrame(eth.src, ctx[p.side].mac, eth.type, reply));
  bump(counters.sent, replyType);
}
