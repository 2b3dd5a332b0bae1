// ARP punted from either side: answer requests for our addresses (the
// private one, or any queue's public one) and let the side's next-hop
// resolver learn from whatever its next hop says.
import { isMulticastMac } from './address.js';
import { ARP_REPLY, ARP_REQUEST, arpReplyFrame, parseArp } from './arp.js';
import type { Outbox, SlowPathContext } from './context.js';
import type { EthernetView } from './packet.js';
import type { Punt } from './types.js';

export function answerArp(ctx: SlowPathContext, p: Punt, eth: EthernetView, out: Outbox): void {
  const arp = parseArp(eth.payload);
  if (!arp) return ctx.drop('malformed');
  if (isMulticastMac(arp.senderMac)) return ctx.drop('bad-source');
  const side = ctx[p.side];
  if (arp.op === ARP_REQUEST) ctx.counters.arp.requestsReceived++;
  else ctx.counters.arp.repliesReceived++;

  if (ctx.isOurs(arp.senderIp) && !arp.senderMac.equals(side.mac)) {
    ctx.warnConflict(p.side, arp.senderIp, arp.senderMac);
    return ctx.drop('bad-source');
  }
  const resolver = ctx.resolvers[p.side];
  const fromNextHop = resolver !== undefined && arp.senderIp.equals(resolver.address);
  if (fromNextHop) {
    if (arp.op === ARP_REPLY) resolver!.confirmed(arp.senderMac);
    else resolver!.heard(arp.senderMac);
  }

  const ourIp = arp.op === ARP_REQUEST ? side.addresses.find((a) => a.equals(arp.targetIp)) : undefined;
  // A request for an address from that same address is an announcement, not a question.
  if (ourIp && !arp.senderIp.equals(arp.targetIp)) {
    out.add(p.queue, p.side, 'transmit', arpReplyFrame(arp, side.mac, ourIp));
    ctx.counters.arp.repliesSent++;
    return;
  }
  if (!fromNextHop) ctx.drop('not-for-us');
}
