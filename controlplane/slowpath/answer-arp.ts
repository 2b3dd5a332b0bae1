// ARP punted from either side: answer requests for our addresses (the
// private one, or any queue's public one) and pass what names the side's next
// hop to its resolver: a reply addressed to us (our MAC and one of our
// addresses as target) as a possible answer to our request, anything else
// (gratuitous ARP, requests, replies to others) as an unsolicited claim.
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
    const toUs = arp.op === ARP_REPLY && arp.targetMac.equals(side.mac) && side.addresses.some((a) => a.equals(arp.targetIp));
    if (toUs) resolver!.answer(arp.senderMac);
    else resolver!.claim(arp.senderMac);
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
