// Neighbour Discovery punted from either side (RFC 4861): answer
// solicitations for our addresses, defend them against duplicate address
// detection (RFC 4862 §5.4.3), and pass what names the side's next hop to its
// resolver: solicited advertisements to our address as possible answers to our
// solicitation, unsolicited ones, its solicitations and router adverts as
// claims (neighbours.ts decides what they may change).
import { ALL_NODES_V6, ipv6MulticastMac, isMulticastMac, isUnicastIp, isUnspecifiedIp, solicitedNodeAddress, type IpBytes } from './address.js';
import type { Outbox, SlowPathContext } from './context.js';
import { bump } from './counters.js';
import { icmpKey, type IcmpMessage } from './icmp.js';
import {
  ND_NEIGHBOUR_ADVERTISEMENT,
  ND_NEIGHBOUR_SOLICITATION,
  ND_REDIRECT,
  ND_ROUTER_ADVERTISEMENT,
  ND_ROUTER_SOLICITATION,
  neighbourAdvertisementFrame,
  parseNd,
} from './nd.js';
import type { EthernetView, Ipv6View } from './packet.js';
import type { Punt } from './types.js';

export function answerNd(ctx: SlowPathContext, p: Punt, eth: EthernetView, ip: Ipv6View, msg: IcmpMessage, out: Outbox): void {
  if (msg.type === ND_REDIRECT) return ctx.drop('unhandled'); // a router does not take redirects
  const nd = parseNd(ip, msg);
  if (!nd) return ctx.drop('malformed');
  const side = ctx[p.side];
  const resolver = ctx.resolvers[p.side];
  const isNextHop = (a: IpBytes) => resolver !== undefined && a.equals(resolver.address);
  const c = ctx.counters.nd;

  switch (nd.type) {
    case ND_NEIGHBOUR_SOLICITATION: {
      c.solicitationsReceived++;
      const target = nd.target!;
      const dad = isUnspecifiedIp(ip.src);
      if (!dad && !isUnicastIp(ip.src)) return ctx.drop('bad-source');
      if (!dad && nd.sourceLinkAddress && isNextHop(ip.src)) resolver!.claim(nd.sourceLinkAddress);
      const ourIp = side.addresses.find((a) => a.equals(target));
      if (!ourIp || !(ip.dst.equals(target) || ip.dst.equals(solicitedNodeAddress(target)))) return ctx.drop('not-for-us');
      let frame: Buffer;
      if (dad) {
        // Someone is about to take our address: tell everyone it is in use.
        ctx.warnConflict(p.side, target, eth.src);
        const flags = { router: true, solicited: false, override: true };
        frame = neighbourAdvertisementFrame(side.mac, ourIp, ALL_NODES_V6, ipv6MulticastMac(ALL_NODES_V6), flags);
      } else {
        const dstMac = nd.sourceLinkAddress ?? eth.src;
        if (isMulticastMac(dstMac)) return ctx.drop('bad-source');
        frame = neighbourAdvertisementFrame(side.mac, ourIp, ip.src, dstMac, { router: true, solicited: true, override: true });
      }
      out.add(p.queue, p.side, 'transmit', frame);
      c.advertisementsSent++;
      bump(ctx.counters.icmpv6.sent, icmpKey(ND_NEIGHBOUR_ADVERTISEMENT, 0));
      return;
    }
    case ND_NEIGHBOUR_ADVERTISEMENT: {
      c.advertisementsReceived++;
      const target = nd.target!;
      if (isNextHop(target)) {
        // parseNd refused solicited advertisements to a multicast group.
        if (nd.solicited && side.addresses.some((a) => a.equals(ip.dst))) resolver!.answer(nd.targetLinkAddress, nd.override);
        else if (nd.targetLinkAddress) resolver!.claim(nd.targetLinkAddress, nd.override);
        return;
      }
      const claimed = nd.targetLinkAddress ?? eth.src;
      if (ctx.isOurs(target) && !claimed.equals(side.mac)) ctx.warnConflict(p.side, target, claimed);
      return ctx.drop('not-for-us');
    }
    case ND_ROUTER_SOLICITATION:
      c.routerSolicitationsReceived++;
      return ctx.drop('unhandled'); // we route, but advertise no prefixes
    case ND_ROUTER_ADVERTISEMENT:
      c.routerAdvertisementsReceived++;
      if (nd.sourceLinkAddress && isNextHop(ip.src)) return resolver!.claim(nd.sourceLinkAddress);
      return ctx.drop('unhandled');
  }
}
