// Reads an RFC 7951 JSON document into a draft configuration, node by node as
// the model lays them out: unknown members, wrong JSON types, values outside
// their type, missing mandatory nodes and nodes whose `when` is false are all
// reported with their path, and reading goes on so that every problem is
// found. A value that was refused is left undefined in the draft; later checks
// skip what they cannot judge, so one mistake is reported once.
import { DEFAULTS, LIMITS, MODULE, PRESHARED_KEY_OCTETS, ROOT_PATH, SALT_OCTETS, TOP } from './defaults.js';
import { child, entry, item, Problems, show } from './errors.js';
import type { JsonPointer } from './json-text.js';
import * as T from './leaf-types.js';
import type { Aead, Driver, MacAddress } from './types.js';
import type { NatTraversal } from './defaults.js';
import type { KeyExchangeProtocol } from '../exchange/types.js';

/** A leaf: its value, null if absent (optional leaves), undefined if refused or missing. */
type V<T> = T | null | undefined;

export interface DraftInterface {
  path: string;
  device: V<string>;
  driver: V<Driver>;
  mac: V<MacAddress>;
  wireEnd: V<number>;
  pcap: { input: V<string>; output: V<string> } | null;
  nextHop: { path: string; address: V<T.Address>; mac: V<MacAddress> };
}

export interface DraftPrivateInterface extends DraftInterface {
  addresses: Array<{ path: string; value: V<T.Address> }>;
}

export interface DraftQueue {
  path: string;
  id: V<number>;
  address: V<T.Address>;
}

export interface DraftPublicInterface extends DraftInterface {
  /** Undefined if the list itself was refused (so nothing is missing from it either). */
  queues: DraftQueue[] | undefined;
}

export interface DraftGateway {
  path: string;
  queue: V<number>;
  address: V<T.Address>;
}

export interface DraftEndpoint {
  path: string;
  queue: V<number>;
  address: V<T.Address>;
  port: V<number>;
}

export interface DraftPeer {
  path: string;
  publicKey: V<Buffer>;
  /** Undefined if the list itself was refused. */
  endpoints: DraftEndpoint[] | undefined;
  presharedKeyFile: V<string>;
}

export interface DraftRoute {
  path: string;
  id: V<string>;
  net: V<T.PrefixValue>;
  /** Undefined if the list itself was refused. */
  gateways: DraftGateway[] | undefined;
  /** Undefined if the list itself was refused; [] when absent. */
  peers: DraftPeer[] | undefined;
  spi: V<number>;
  presharedKey: V<Buffer>;
  aead: V<Aead>;
  livenessInterval: V<number>;
  livenessFailures: V<number>;
  natTraversal: V<NatTraversal>;
  protocol: V<KeyExchangeProtocol>;
}

export interface DraftSa {
  path: string;
  route: V<string>;
  queue: V<number>;
  spi: V<number>;
  aead: V<Aead>;
  key: V<Buffer>;
  salt: V<Buffer>;
  esn: V<boolean>;
  initialSequence: V<bigint>;
}

export interface Draft {
  queues: V<number>;
  mtu: V<number>;
  tfc: V<boolean>;
  saTtl: V<number>;
  negotiationTtl: V<number>;
  livenessInterval: V<number>;
  livenessFailures: V<number>;
  protocolPort: V<number>;
  natTPort: V<number>;
  natKeepaliveInterval: V<number>;
  replayWindow: V<number>;
  privateKeyFile: V<string>;
  privateInterface: DraftPrivateInterface | undefined;
  publicInterface: DraftPublicInterface | undefined;
  routes: DraftRoute[];
  dataPlane: { path: string; inbound: DraftSa[]; outbound: DraftSa[] } | null;
  bgp: { path: string; birdConfig: V<string>; routesFile: V<string>; controlSocket: V<string> } | null;
}

/** The members of one JSON object, by their simple names. */
class Members {
  private readonly values = new Map<string, unknown>();

  constructor(
    json: Record<string, unknown>,
    readonly path: string,
    known: readonly string[],
    private readonly problems: Problems,
  ) {
    for (const [member, value] of Object.entries(json)) {
      // RFC 7951 §4 allows the module-qualified form as well; yanglint accepts both.
      const name = member.startsWith(`${MODULE}:`) ? member.slice(MODULE.length + 1) : member;
      if (!known.includes(name)) {
        problems.add(child(path, member), `unknown member (the model has no "${member}" here)`);
      } else if (this.values.has(name)) {
        problems.add(child(path, name), 'given twice');
      } else {
        this.values.set(name, value);
      }
    }
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  raw(name: string): unknown {
    return this.values.get(name);
  }

  /** An optional leaf: the default (or null) when absent. */
  leaf<X>(name: string, type: T.LeafType<X>, fallback: X | null = null): V<X> {
    if (!this.values.has(name)) return fallback;
    return this.check(name, type);
  }

  mandatory<X>(name: string, type: T.LeafType<X>): V<X> {
    if (!this.values.has(name)) {
      this.problems.add(child(this.path, name), 'missing (mandatory)');
      return undefined;
    }
    return this.check(name, type);
  }

  private check<X>(name: string, type: T.LeafType<X>): V<X> {
    const d = type.decode(this.values.get(name));
    if (d.ok) return d.value;
    this.problems.add(child(this.path, name), d.reason);
    return undefined;
  }
}

function isObject(json: unknown): json is Record<string, unknown> {
  return typeof json === 'object' && json !== null && !Array.isArray(json);
}

/** Keys of the model's lists, to name entries in paths. */
const LIST_KEYS: Record<string, readonly string[]> = {
  route: ['id'],
  gateway: ['queue'],
  peer: ['public-key'],
  endpoint: ['queue'],
  queue: ['id'],
  'inbound-sa': ['spi'],
  'outbound-sa': ['route', 'queue'],
};

/** A list entry's path: by its keys if they are plain strings or numbers, else by position. */
function entryPath(path: string, name: string, json: unknown, index: number): string {
  const keys = Object.hasOwn(LIST_KEYS, name) ? LIST_KEYS[name] : [];
  if (isObject(json)) {
    const values = keys.map((k) => json[k]);
    if (keys.length && values.every((v) => typeof v === 'string' || typeof v === 'number')) {
      return entry(path, name, keys.map((k, i) => [k, values[i] as string | number] as const));
    }
  }
  return entry(path, name, index + 1);
}

/** A list's entries ([] if absent), or undefined if it is not a JSON array. */
function listOf(m: Members, name: string, problems: Problems): Array<{ path: string; json: Record<string, unknown> }> | undefined {
  if (!m.has(name)) return [];
  const json = m.raw(name);
  if (!Array.isArray(json)) {
    problems.add(child(m.path, name), `${show(json)} is not a list (a JSON array of objects)`);
    return undefined;
  }
  const out: Array<{ path: string; json: Record<string, unknown> }> = [];
  json.forEach((e, i) => {
    const path = entryPath(m.path, name, e, i);
    if (isObject(e)) out.push({ path, json: e });
    else problems.add(path, `${show(e)} is not an object`);
  });
  return out;
}

function container(m: Members, name: string, problems: Problems): { path: string; json: Record<string, unknown> } | null {
  const path = child(m.path, name);
  if (!m.has(name)) return null;
  const json = m.raw(name);
  if (isObject(json)) return { path, json };
  problems.add(path, `${show(json)} is not an object`);
  return null;
}

const INTERFACE_MEMBERS = ['device', 'driver', 'mac', 'wire-end', 'pcap', 'next-hop'];

function readInterface(m: Members, problems: Problems): DraftInterface {
  const driver = m.leaf('driver', T.driver, DEFAULTS.driver);
  // `when` conditions: these nodes belong to one driver each.
  let wireEnd: V<number> = null;
  if (driver === 'memory') wireEnd = m.leaf('wire-end', T.uint(8, 0, 1), DEFAULTS.wireEnd);
  else if (m.has('wire-end') && driver !== undefined) problems.add(child(m.path, 'wire-end'), 'only allowed with the memory driver');
  let pcap: DraftInterface['pcap'] = null;
  const p = container(m, 'pcap', problems);
  if (p && driver !== 'pcap' && driver !== undefined) {
    problems.add(p.path, 'only allowed with the pcap driver');
  } else if (driver === 'pcap') {
    const pm = new Members(p?.json ?? {}, child(m.path, 'pcap'), ['input', 'output'], problems);
    const file = T.text(LIMITS.pathLength.min, LIMITS.pathLength.max);
    pcap = { input: pm.leaf('input', file), output: pm.leaf('output', file) };
  }
  const nh = container(m, 'next-hop', problems);
  const nhPath = child(m.path, 'next-hop');
  // A next-hop that is not an object was reported; its address is not missing as well.
  const nm = new Members(nh?.json ?? {}, nhPath, ['address', 'mac'], m.has('next-hop') && !nh ? new Problems() : problems);
  return {
    path: m.path,
    device: m.mandatory('device', T.text(LIMITS.deviceLength.min, LIMITS.deviceLength.max)),
    driver,
    mac: m.leaf('mac', T.mac),
    wireEnd,
    pcap,
    nextHop: { path: nhPath, address: nm.mandatory('address', T.ipAddress), mac: nm.leaf('mac', T.mac) },
  };
}

function readPrivate(g: Members, problems: Problems): DraftPrivateInterface | undefined {
  const c = container(g, 'private-interface', problems);
  if (!c) {
    if (!g.has('private-interface')) problems.add(child(g.path, 'private-interface'), 'missing (mandatory)');
    return undefined;
  }
  const m = new Members(c.json, c.path, [...INTERFACE_MEMBERS, 'address'], problems);
  const base = readInterface(m, problems);
  const addresses: DraftPrivateInterface['addresses'] = [];
  const json = m.raw('address');
  const path = child(c.path, 'address');
  if (!m.has('address')) {
    problems.add(path, 'missing (at least one address is needed)');
  } else if (!Array.isArray(json)) {
    problems.add(path, `${show(json)} is not a leaf-list (a JSON array)`);
  } else {
    const { min, max } = LIMITS.privateAddresses;
    if (json.length < min || json.length > max) problems.add(path, `${json.length} addresses; ${min}..${max} are allowed (one IPv4, one IPv6)`);
    json.forEach((a, i) => {
      const at = item(c.path, 'address', typeof a === 'string' ? a : null, i + 1);
      const d = T.ipAddress.decode(a);
      if (!d.ok) problems.add(at, d.reason);
      addresses.push({ path: at, value: d.ok ? d.value : undefined });
    });
  }
  return { ...base, addresses };
}

function readPublic(g: Members, problems: Problems): DraftPublicInterface | undefined {
  const c = container(g, 'public-interface', problems);
  if (!c) {
    if (!g.has('public-interface')) problems.add(child(g.path, 'public-interface'), 'missing (mandatory)');
    return undefined;
  }
  const m = new Members(c.json, c.path, [...INTERFACE_MEMBERS, 'queue'], problems);
  const base = readInterface(m, problems);
  const queues = listOf(m, 'queue', problems)?.map(({ path, json }) => {
    const q = new Members(json, path, ['id', 'address'], problems);
    return { path, id: q.mandatory('id', T.uint(8, LIMITS.queues.min, LIMITS.queues.max)), address: q.mandatory('address', T.ipAddress) };
  });
  return { ...base, queues };
}

// The leaf types of list entries, made once rather than per entry (a
// configuration may have tens of thousands of routes).
const QUEUE_ID = T.uint(8, LIMITS.queues.min, LIMITS.queues.max);
const SPI = T.uint(32, LIMITS.spi.min, LIMITS.spi.max);
const PRESHARED_KEY = T.hexKey([PRESHARED_KEY_OCTETS], `a ${PRESHARED_KEY_OCTETS}-octet pre-shared key`);
const SA_KEY = T.hexKey([16, 32], 'a 16- or 32-octet AES key');
const SALT = T.hexKey([SALT_OCTETS], `a ${SALT_OCTETS}-octet salt`);
const SEQUENCE = T.uint64(LIMITS.sequence.min, LIMITS.sequence.max);
const PORT = T.uint(16, 1, 65535);
const KEY_FILE = T.text(LIMITS.pathLength.min, LIMITS.pathLength.max);

function readPeer(path: string, json: Record<string, unknown>, problems: Problems): DraftPeer {
  const m = new Members(json, path, ['public-key', 'endpoint', 'preshared-key-file'], problems);
  const endpoints = listOf(m, 'endpoint', problems)?.map(({ path: at, json: e }) => {
    const em = new Members(e, at, ['queue', 'address', 'port'], problems);
    return { path: at, queue: em.mandatory('queue', QUEUE_ID), address: em.mandatory('address', T.ipAddress), port: em.leaf('port', PORT) };
  });
  return { path, publicKey: m.mandatory('public-key', T.publicKey), endpoints, presharedKeyFile: m.leaf('preshared-key-file', KEY_FILE) };
}

function readRoute(path: string, json: Record<string, unknown>, problems: Problems): DraftRoute {
  const m = new Members(json, path, ['id', 'net', 'gateway', 'peer', 'spi', 'preshared-key', 'aead', 'liveness-interval', 'liveness-failures', 'nat-traversal', 'protocol'], problems);
  const id = m.mandatory('id', T.routeId);
  const net = m.mandatory('net', T.ipPrefix);
  const gateways = listOf(m, 'gateway', problems)?.map(({ path: at, json: gw }) => {
    const gm = new Members(gw, at, ['queue', 'address'], problems);
    return { path: at, queue: gm.mandatory('queue', QUEUE_ID), address: gm.mandatory('address', T.ipAddress) };
  });
  const peers = listOf(m, 'peer', problems)?.map(({ path: at, json: p }) => readPeer(at, p, problems));
  return {
    path,
    id,
    net,
    gateways,
    peers,
    spi: m.leaf('spi', SPI),
    presharedKey: m.leaf('preshared-key', PRESHARED_KEY),
    aead: m.leaf('aead', T.aead, DEFAULTS.aead),
    livenessInterval: m.leaf('liveness-interval', T.uint(32, LIMITS.livenessInterval.min, LIMITS.livenessInterval.max)),
    livenessFailures: m.leaf('liveness-failures', T.uint(8, LIMITS.livenessFailures.min, LIMITS.livenessFailures.max)),
    natTraversal: m.leaf('nat-traversal', T.natTraversal, DEFAULTS.natTraversal),
    protocol: m.leaf('protocol', T.keyExchangeProtocol, DEFAULTS.protocol),
  };
}

function readSa(path: string, json: Record<string, unknown>, problems: Problems): DraftSa {
  const m = new Members(json, path, ['route', 'queue', 'spi', 'aead', 'key', 'salt', 'esn', 'initial-sequence'], problems);
  return {
    path,
    route: m.mandatory('route', T.routeId),
    queue: m.mandatory('queue', QUEUE_ID),
    spi: m.mandatory('spi', SPI),
    aead: m.mandatory('aead', T.aead),
    key: m.mandatory('key', SA_KEY),
    salt: m.mandatory('salt', SALT),
    esn: m.leaf('esn', T.boolean, DEFAULTS.esn),
    initialSequence: m.leaf('initial-sequence', SEQUENCE),
  };
}

/** Drafts of list entries already read (and found valid) from an equal entry: read again, they would come out the same. */
export type Reusable = ReadonlyMap<object, DraftRoute | DraftSa>;

export function decode(json: unknown, problems: Problems, reuse?: Reusable): Draft | undefined {
  if (!isObject(json)) {
    problems.add('/', `${show(json)} is not a JSON object with a "${TOP}" member`);
    return undefined;
  }
  for (const member of Object.keys(json)) {
    if (member === `${MODULE}:gateway-state`) problems.add(`/${member}`, 'operational state, not configuration');
    else if (member !== TOP) problems.add(`/${member}`, `unknown member (a configuration has only "${TOP}")`);
  }
  if (!(TOP in json)) {
    problems.add(ROOT_PATH, 'missing (mandatory)');
    return undefined;
  }
  const top = json[TOP];
  if (!isObject(top)) {
    problems.add(ROOT_PATH, `${show(top)} is not an object`);
    return undefined;
  }
  const g = new Members(top, ROOT_PATH, [
    'queues', 'mtu', 'tfc', 'sa-ttl', 'negotiation-ttl', 'protocol-port', 'replay-window', 'private-key-file',
    'liveness-interval', 'liveness-failures',
    'queues', 'mtu', 'tfc', 'sa-ttl', 'negotiation-ttl', 'protocol-port', 'replay-window',
    'nat-t-port', 'nat-keepalive-interval',
    'private-interface', 'public-interface', 'route', 'data-plane', 'bgp',
  ], problems);

  const draft: Draft = {
    queues: g.leaf('queues', T.uint(8, LIMITS.queues.min, LIMITS.queues.max), DEFAULTS.queues),
    mtu: g.leaf('mtu', T.uint(16, LIMITS.mtu.min, LIMITS.mtu.max), DEFAULTS.mtu),
    tfc: g.leaf('tfc', T.boolean, DEFAULTS.tfc),
    saTtl: g.leaf('sa-ttl', T.uint(32, LIMITS.saTtl.min, LIMITS.saTtl.max), DEFAULTS.saTtl),
    negotiationTtl: g.leaf('negotiation-ttl', T.uint(32, LIMITS.negotiationTtl.min, LIMITS.negotiationTtl.max), DEFAULTS.negotiationTtl),
    protocolPort: g.leaf('protocol-port', T.uint(16, LIMITS.protocolPort.min, LIMITS.protocolPort.max), DEFAULTS.protocolPort),
    replayWindow: g.leaf('replay-window', T.replayWindow, DEFAULTS.replayWindow),
    livenessInterval: g.leaf('liveness-interval', T.uint(32, LIMITS.livenessInterval.min, LIMITS.livenessInterval.max), DEFAULTS.livenessInterval),
    livenessFailures: g.leaf('liveness-failures', T.uint(8, LIMITS.livenessFailures.min, LIMITS.livenessFailures.max), DEFAULTS.livenessFailures),
    privateKeyFile: g.leaf('private-key-file', KEY_FILE),
    natTPort: g.leaf('nat-t-port', T.uint(16, LIMITS.natTPort.min, LIMITS.natTPort.max), DEFAULTS.natTPort),
    natKeepaliveInterval: g.leaf('nat-keepalive-interval', T.uint(32, LIMITS.natKeepaliveInterval.min, LIMITS.natKeepaliveInterval.max), DEFAULTS.natKeepaliveInterval),
    privateInterface: readPrivate(g, problems),
    publicInterface: readPublic(g, problems),
    routes: (listOf(g, 'route', problems) ?? []).map(({ path, json: r }) => (reuse?.get(r) as DraftRoute | undefined) ?? readRoute(path, r, problems)),
    dataPlane: null,
    bgp: readBgp(g, problems),
  };

  const dp = container(g, 'data-plane', problems);
  if (dp) {
    const m = new Members(dp.json, dp.path, ['inbound-sa', 'outbound-sa'], problems);
    draft.dataPlane = {
      path: dp.path,
      inbound: (listOf(m, 'inbound-sa', problems) ?? []).map(({ path, json: sa }) => (reuse?.get(sa) as DraftSa | undefined) ?? readSa(path, sa, problems)),
      outbound: (listOf(m, 'outbound-sa', problems) ?? []).map(({ path, json: sa }) => (reuse?.get(sa) as DraftSa | undefined) ?? readSa(path, sa, problems)),
    };
  }
  return draft;
}

/** The instance path of a JSON member found by the text reader (duplicate members). */
export function pathOf(root: unknown, pointer: JsonPointer): string {
  let path = '';
  let json: unknown = root;
  let name = '';
  for (const step of pointer) {
    if (typeof step === 'number') {
      const e = Array.isArray(json) ? json[step] : undefined;
      path = Object.hasOwn(LIST_KEYS, name) ? entryPath(path.slice(0, path.lastIndexOf('/')), name, e, step)
        : item(path.slice(0, path.lastIndexOf('/')), name, typeof e === 'string' || typeof e === 'number' ? e : null, step + 1);
      json = e;
    } else {
      name = step.startsWith(`${MODULE}:`) && path !== '' ? step.slice(MODULE.length + 1) : step;
      path = `${path}/${name}`;
      json = isObject(json) && Object.hasOwn(json, step) ? json[step] : undefined;
    }
  }
  return path;
}

// Scale-out over BGP (docs/scale-out.md): absent, it is off.
function readBgp(g: Members, problems: Problems): Draft['bgp'] {
  const c = container(g, 'bgp', problems);
  if (!c) return null;
  const m = new Members(c.json, c.path, ['bird-config', 'routes-file', 'control-socket'], problems);
  const file = T.text(LIMITS.pathLength.min, LIMITS.pathLength.max);
  return { path: c.path, birdConfig: m.mandatory('bird-config', file), routesFile: m.mandatory('routes-file', file), controlSocket: m.mandatory('control-socket', file) };
}
