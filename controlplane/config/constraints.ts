// The model's constraints between nodes: list keys, `unique`, leafrefs and
// `must` expressions of yang/vitesse-gateway.yang, checked on the draft.
// Values are compared as values, not as text: yanglint (libyang) compares
// addresses and prefixes in canonical form but hex strings as written, so it
// takes a pre-shared key in upper case for a different key; here it is the
// same key (test/configs marks such cases).
import { AEAD_KEY_OCTETS, LIMITS } from './defaults.js';
import type { Draft, DraftInterface, DraftRoute, DraftSa } from './decode.js';
import { child, entry, Problems, show } from './errors.js';
import { addressKey } from './ip.js';
import type { Address } from './leaf-types.js';

const v = (a: Address) => `IPv${a.version}`;

/** Reports entries whose key repeats an earlier entry's; returns the first entry for each key. */
function firstByKey<E extends { path: string }>(entries: readonly E[], key: (e: E) => string | undefined, why: string, problems: Problems): Map<string, E> {
  const seen = new Map<string, E>();
  for (const e of entries) {
    const k = key(e);
    if (k === undefined) continue;
    if (seen.has(k)) problems.add(e.path, `listed twice (${why})`);
    else seen.set(k, e);
  }
  return seen;
}

function checkTimers(d: Draft, problems: Problems, root: string): void {
  if (d.saTtl == null || d.negotiationTtl == null) return;
  if (d.saTtl < 2 * d.negotiationTtl) {
    problems.add(child(root, 'sa-ttl'), `${d.saTtl} is less than twice negotiation-ttl (${d.negotiationTtl}): rekeying starts at half of sa-ttl, and a negotiation must be able to time out before the SA expires`);
  }
}

function checkInterface(i: DraftInterface, problems: Problems): void {
  if ((i.driver === 'memory' || i.driver === 'pcap') && i.mac === null) {
    problems.add(child(i.path, 'mac'), `missing: the ${i.driver} driver needs the interface's own MAC address`);
  }
  // IFNAMSIZ is 16 with the terminating NUL.
  if ((i.driver === 'af-packet' || i.driver === 'af-xdp') && i.device && (i.device.length > 15 || /[/ ]/.test(i.device))) {
    problems.add(child(i.path, 'device'), `${show(i.device)} is not a Linux interface name (at most 15 characters, no "/" or space)`);
  }
}

function checkPrivate(d: Draft, problems: Problems): void {
  const p = d.privateInterface;
  if (!p) return;
  checkInterface(p, problems);
  const distinct: Address[] = [];
  const seen = new Set<string>();
  for (const a of p.addresses) {
    if (!a.value) continue;
    const key = addressKey(a.value);
    if (seen.has(key)) problems.add(a.path, 'listed twice');
    else {
      seen.add(key);
      distinct.push(a.value);
    }
  }
  for (const version of [4, 6] as const) {
    const same = distinct.filter((a) => a.version === version);
    if (same.length > 1) {
      problems.add(child(p.path, 'address'), `${same.length} IPv${version} addresses (${same.map((a) => show(a.written)).join(', ')}); at most one IPv4 and one IPv6 address`);
    }
  }
  const nh = p.nextHop.address;
  if (nh && p.addresses.length && p.addresses.every((a) => a.value) && !distinct.some((a) => a.version === nh.version)) {
    problems.add(child(p.nextHop.path, 'address'), `${show(nh.written)} is ${v(nh)}, but the interface has no ${v(nh)} address to resolve it from`);
  }
}

/** The public interface's queues as far as they could be read; null if they cannot be judged. */
interface Queues {
  /** The queue ids 1..queues (every one present). */
  ids: Set<number>;
  /** The addresses that passed every check, by queue id. */
  addresses: Map<number, Address>;
}

function checkPublic(d: Draft, problems: Problems): Queues | null {
  const p = d.publicInterface;
  if (!p) return null;
  checkInterface(p, problems);
  if (!p.queues) return null;
  const queueList = p.queues;
  const byId = firstByKey(queueList, (q) => (q.id == null ? undefined : String(q.id)), 'one public address per queue', problems);
  if (d.queues != null) {
    for (const q of byId.values()) {
      if (q.id! > d.queues) problems.add(child(q.path, 'id'), `${q.id} is greater than queues (${d.queues})`);
    }
    for (let id = 1; id <= d.queues; id++) {
      if (!byId.has(String(id))) problems.add(entry(p.path, 'queue', [['id', id]]), `missing: every queue needs a public address (queues is ${d.queues})`);
    }
  }
  const addresses = new Map<number, Address>();
  const owners = new Map<string, number>();
  let reference: { id: number; address: Address } | null = null;
  for (const q of byId.values()) {
    if (!q.address) continue;
    const at = child(q.path, 'address');
    const owner = owners.get(addressKey(q.address));
    if (owner !== undefined) {
      problems.add(at, `${show(q.address.written)} is also queue ${owner}'s address`);
      continue;
    }
    owners.set(addressKey(q.address), q.id!);
    if (reference && reference.address.version !== q.address.version) {
      problems.add(at, `${show(q.address.written)} is ${v(q.address)}, but queue ${reference.id}'s address is ${v(reference.address)}: all public addresses must be of one IP version`);
      continue;
    }
    reference ??= { id: q.id!, address: q.address };
    addresses.set(q.id!, q.address);
  }
  const nh = p.nextHop.address;
  if (nh && reference && nh.version !== reference.address.version) {
    problems.add(child(p.nextHop.path, 'address'), `${show(nh.written)} is ${v(nh)}, but the public addresses are ${v(reference.address)}`);
  }
  if (d.queues == null || !queueList.every((q) => q.id != null)) return null;
  const ids = new Set<number>();
  for (let id = 1; id <= d.queues; id++) if (byId.has(String(id))) ids.add(id);
  return { ids, addresses };
}

function checkRoutes(d: Draft, queues: Queues | null, problems: Problems): Set<string> | null {
  const routes = firstByKey(d.routes, (r) => r.id ?? undefined, 'route ids are unique', problems);
  const nets = new Map<string, string>();
  const spis = new Map<number, string>();
  // By value (hex of the octets), so that a key is found in one lookup: a
  // search through the keys seen so far made loading quadratic in routes.
  const keys = new Map<string, string>();
  for (const r of routes.values()) {
    const id = r.id!;
    if (r.net) {
      const other = nets.get(r.net.text);
      if (other !== undefined) problems.add(child(r.path, 'net'), `${show(r.net.written)} is also route "${other}"'s net`);
      else nets.set(r.net.text, id);
    }
    if (r.spi != null) {
      const other = spis.get(r.spi);
      if (other !== undefined) problems.add(child(r.path, 'spi'), `${r.spi} is also route "${other}"'s spi`);
      else spis.set(r.spi, id);
    }
    if (r.presharedKey) {
      const key = r.presharedKey.toString('hex');
      const other = keys.get(key);
      if (other !== undefined) problems.add(child(r.path, 'preshared-key'), `is the same as route "${other}"'s (every route needs its own key)`);
      else keys.set(key, id);
    }
    const peered = !!r.peers?.length;
    if (!d.dataPlane) {
      if (r.spi === null) problems.add(child(r.path, 'spi'), 'missing: required unless in data-plane mode');
      if (r.presharedKey === null && r.peers && !peered) problems.add(child(r.path, 'preshared-key'), 'missing: required unless in data-plane mode');
    }
    if (r.protocol === 'vita-ske-v5') checkVitaSke(r, peered, problems);
    // NAT detection travels in the public-key exchange's payloads (exchange/nat-detection.ts):
    // NNpsk0's prologue binds the configured addresses, explicit SAs have no exchange.
    if (r.natTraversal === 'auto' && !peered) problems.add(child(r.path, 'nat-traversal'), 'is auto, which needs NAT detection: only a route with a peer (public-key key exchange) has it; use force or off');
    if (peered) {
      checkPeers(d, r, queues, problems);
      continue;
    }
    if (!r.gateways) continue;
    const gateways = firstByKey(r.gateways, (g) => (g.queue == null ? undefined : String(g.queue)), 'one gateway address per queue', problems);
    if (!queues) continue;
    for (const g of gateways.values()) {
      const local = queues.addresses.get(g.queue!);
      if (!queues.ids.has(g.queue!)) {
        problems.add(child(g.path, 'queue'), `${g.queue} is not a queue of the public interface`);
      } else if (local && g.address && g.address.version !== local.version) {
        problems.add(child(g.path, 'address'), `${show(g.address.written)} is ${v(g.address)}, but queue ${g.queue}'s public address is ${v(local)}`);
      }
    }
    for (const q of queues.ids) {
      if (!gateways.has(String(q))) problems.add(entry(r.path, 'gateway', [['queue', q]]), 'missing: a route needs a gateway address for every queue');
    }
  }
  return d.routes.every((r) => r.id != null) ? new Set(routes.keys()) : null;
}

// What vita-ske v5 cannot do, as the key manager's configure refuses it
// (exchange/config.ts), so that run --check and a reload refuse it too.
function checkVitaSke(r: DraftRoute, peered: boolean, problems: Problems): void {
  if (r.aead != null && r.aead !== 'aes-gcm-16-icv') {
    problems.add(child(r.path, 'aead'), `is ${r.aead}, but vita-ske-v5 negotiates aes-gcm-16-icv only`);
  }
  // NNpsk0: no static keys.
  if (peered) problems.add(child(r.path, 'peer'), 'not allowed with protocol vita-ske-v5: it authenticates by the route\'s preshared-key alone, not by a peer\'s public key');
  // Vita has no NAT traversal: its key exchange runs on protocol-port, its ESP is plain.
  if (r.natTraversal === 'force') problems.add(child(r.path, 'nat-traversal'), 'is force, but vita-ske-v5 runs on protocol-port with plain ESP, as Vita does (no NAT traversal)');
}

// The `peer` list of a public-key route: the model's musts. One peer gateway
// may serve several routes (e.g. its IPv4 and its IPv6 net): the same key on
// two routes is fine, each route's SPI tells the exchanges apart.
function checkPeers(d: Draft, r: DraftRoute, queues: Queues | null, problems: Problems): void {
  const peers = r.peers!;
  if (peers.length > LIMITS.peersPerRoute.max) problems.add(child(r.path, 'peer'), `${peers.length} peers; a route has at most ${LIMITS.peersPerRoute.max}`);
  // The data plane learns one endpoint per route and queue from ESP in UDP.
  // (auto too: once it detects a NAT, the route's SAs send ESP in UDP.)
  if (peers.length > 1 && r.natTraversal != null && r.natTraversal !== 'off') problems.add(child(r.path, 'nat-traversal'), `is ${r.natTraversal}, but a route with several peers has no NAT traversal yet (docs/scale-out.md, limits)`);
  // The key manager tells the pairs apart by the peer's address (and checks its key).
  const taken = new Map<string, string>();
  for (const p of peers) {
    for (const e of p.endpoints ?? []) {
      if (!e.address || e.queue == null) continue;
      const k = `${e.queue}/${e.address.text}`;
      const other = taken.get(k);
      if (other !== undefined && other !== p.path) problems.add(child(e.path, 'address'), `${show(e.address.written)} is also another peer's address on queue ${e.queue} (each peer of a route is its own gateway)`);
      else taken.set(k, p.path);
    }
  }
  if (r.gateways?.length) problems.add(child(r.path, 'gateway'), 'not allowed with a peer (the peer\'s endpoint takes its place)');
  if (r.presharedKey) problems.add(child(r.path, 'preshared-key'), 'not allowed with a peer (use the peer\'s preshared-key-file); the value is not shown');
  if (d.privateKeyFile === null) problems.add(child(r.path, 'peer'), 'needs the gateway\'s private-key-file (its static key)');
  if (d.dataPlane) problems.add(child(r.path, 'peer'), 'a route with a peer is for key-manager mode, not data-plane mode');
  firstByKey(peers, (p) => p.publicKey?.toString('hex'), 'one entry per public key', problems);
  for (const p of peers) {
    if (!p.endpoints) continue;
    if (!p.endpoints.length) {
      // A peer behind NAT: its endpoint is learned from its authenticated messages, over ESP in UDP.
      if (r.natTraversal !== 'force' && r.natTraversal !== 'auto') problems.add(child(r.path, 'nat-traversal'), 'a peer without endpoint (behind NAT) needs nat-traversal force or auto');
      continue;
    }
    const endpoints = firstByKey(p.endpoints, (e) => (e.queue == null ? undefined : String(e.queue)), 'one endpoint per queue', problems);
    if (!queues) continue;
    for (const e of endpoints.values()) {
      const local = queues.addresses.get(e.queue!);
      if (!queues.ids.has(e.queue!)) problems.add(child(e.path, 'queue'), `${e.queue} is not a queue of the public interface`);
      else if (local && e.address && e.address.version !== local.version) {
        problems.add(child(e.path, 'address'), `${show(e.address.written)} is ${v(e.address)}, but queue ${e.queue}'s public address is ${v(local)}`);
      }
    }
    for (const q of queues.ids) {
      if (!endpoints.has(String(q))) problems.add(entry(p.path, 'endpoint', [['queue', q]]), 'missing: a peer\'s endpoint needs an address for every queue, or none at all');
    }
  }
}

function checkSa(sa: DraftSa, routes: Set<string> | null, queues: Queues | null, problems: Problems): void {
  if (sa.route != null && routes && !routes.has(sa.route)) problems.add(child(sa.path, 'route'), `${show(sa.route)} is not a configured route`);
  if (sa.queue != null && queues && !queues.ids.has(sa.queue)) problems.add(child(sa.path, 'queue'), `${sa.queue} is not a queue of the public interface`);
  if (sa.key && sa.aead) {
    const want = AEAD_KEY_OCTETS[sa.aead];
    if (sa.key.length !== want) problems.add(child(sa.path, 'key'), `is a ${sa.key.length}-octet key, but ${sa.aead} takes a ${want}-octet key; the value is not shown`);
  }
  if (sa.esn === false && sa.initialSequence != null && sa.initialSequence > LIMITS.sequence.maxWithoutEsn) {
    problems.add(child(sa.path, 'initial-sequence'), `${sa.initialSequence} is beyond ${LIMITS.sequence.maxWithoutEsn}: without ESN, sequence numbers are 32 bits`);
  }
}

function checkDataPlane(d: Draft, routes: Set<string> | null, queues: Queues | null, problems: Problems): void {
  if (!d.dataPlane) return;
  const { inbound, outbound } = d.dataPlane;
  firstByKey(inbound, (sa) => (sa.spi == null ? undefined : String(sa.spi)), 'the data plane finds an inbound SA by its SPI alone', problems);
  firstByKey(outbound, (sa) => (sa.route == null || sa.queue == null ? undefined : `${sa.route}\u0000${sa.queue}`), 'one outbound SA per route and queue', problems);
  for (const sa of [...inbound, ...outbound]) checkSa(sa, routes, queues, problems);
  // The model says so per list (`unique "key"`); an inbound and an outbound SA
  // under one key are as bad (the two gateways would encrypt under one key
  // from sequence number 1 each), and the same digits in another case are the
  // same key.
  const owners = new Map<string, string>(); // hex of the key → the SA's path below data-plane
  for (const sa of [...inbound, ...outbound]) {
    if (!sa.key) continue;
    const key = sa.key.toString('hex');
    const other = owners.get(key);
    if (other !== undefined) problems.add(child(sa.path, 'key'), `is the same key as ${other}'s: AES-GCM would repeat nonces (every SA's sequence numbers start at 1); every SA needs its own key`);
    else owners.set(key, sa.path.slice(d.dataPlane.path.length + 1));
  }
}

export function checkConstraints(d: Draft, root: string, problems: Problems): void {
  checkTimers(d, problems, root);
  checkPrivate(d, problems);
  const queues = checkPublic(d, problems);
  const routes = checkRoutes(d, queues, problems);
  checkDataPlane(d, routes, queues, problems);
}
