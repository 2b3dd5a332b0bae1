// Rules the YANG model cannot express (XPath 1.0 has no bit arithmetic and no
// notion of an address's kind), so yanglint passes these configurations and
// only the loader refuses them. test/configs/expected.json marks each such
// case "semantic".
//
// Deliberately not a rule: a next hop need not be on the subnet of the
// interface's addresses (the gateway has no subnet lengths to judge by, and
// point-to-point and on-link routes make it legitimate).
import type { Draft } from './decode.js';
import { child, Problems, show } from './errors.js';
import { addressKey, formatPrefix, hasHostBits, isUnicast, networkOf } from './ip.js';
import type { Address } from './leaf-types.js';

function unicast(a: Address | null | undefined, path: string, problems: Problems): void {
  if (a && !isUnicast(a)) problems.add(path, `${show(a.written)} is not a unicast address`);
}

/** Our public addresses (canonical form → queue id). */
function ownAddresses(d: Draft): Map<string, number> {
  const own = new Map<string, number>();
  for (const q of d.publicInterface?.queues ?? []) if (q.address && q.id != null) own.set(addressKey(q.address), q.id);
  return own;
}

const sameMap = <K, V>(a: ReadonlyMap<K, V>, b: ReadonlyMap<K, V>) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

/**
 * `passed`: routes of `d` that passed these rules in `draft` (a change's
 * reused drafts, parse.ts). A route's rules read only the route and our
 * public addresses: while those are the same, they pass again and are not
 * read (a change of one route among 20,000 reads one).
 */
export function checkSemantics(d: Draft, problems: Problems, passed?: { draft: Draft; routes: ReadonlySet<object> }): void {
  const priv = d.privateInterface;
  if (priv) {
    for (const a of priv.addresses) unicast(a.value, a.path, problems);
    unicast(priv.nextHop.address, child(priv.nextHop.path, 'address'), problems);
  }
  // A live tunnel is an SA the key manager negotiated and a peer that answers.
  if (d.bgp && d.dataPlane) problems.add(d.bgp.path, 'needs key-manager mode (announces prefixes the key manager has live tunnels for); remove data-plane or bgp');
  const own = new Map<string, number>();
  const pub = d.publicInterface;
  if (pub) {
    for (const q of pub.queues ?? []) {
      unicast(q.address, child(q.path, 'address'), problems);
      if (q.address && q.id != null) own.set(addressKey(q.address), q.id);
    }
    unicast(pub.nextHop.address, child(pub.nextHop.path, 'address'), problems);
  }
  const skip = passed && sameMap(own, ownAddresses(passed.draft)) ? passed.routes : null;
  for (const r of d.routes) {
    if (skip?.has(r)) continue;
    // A prefix with host bits set is almost always a typo for another network.
    if (r.net && hasHostBits(r.net)) {
      problems.add(child(r.path, 'net'), `${show(r.net.written)} has host bits set (the network would be "${formatPrefix(networkOf(r.net))}")`);
    }
    const endpoints = (r.peers ?? []).flatMap((p) => p.endpoints ?? []);
    for (const g of [...(r.gateways ?? []), ...endpoints]) {
      const at = child(g.path, 'address');
      unicast(g.address, at, problems);
      const queue = g.address ? own.get(addressKey(g.address)) : undefined;
      if (queue !== undefined) problems.add(at, `${show(g.address!.written)} is our own public address (queue ${queue}), not a remote gateway's`);
    }
  }
}
