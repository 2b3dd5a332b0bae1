// The typed wrapper around the testkit addon (build/<variant>/vitesse_testkit.node):
// the N-API that tests and benchmarks call and a running gateway never does —
// SA handles that can be rewound (esp.setCounter), AES-GCM by path and the
// OpenSSL comparison (crypto), route tables (route), raw packet I/O and traffic
// threads (io), and the software benchmark (softbench). `vitesse bench` loads
// it; `vitesse run` loads only the product addon (controlplane/native.ts).
// docs/dataplane.md, "The N-API surface", lists which part is in which addon.
import { loadAddon } from './native.js';

// ---- esp (dataplane/esp/esp_napi.cc) ----

export type Aead = 'aes-gcm-16-icv' | 'aes-256-gcm-16-icv';
export type DecapResultName = 'ok' | 'truncated' | 'replay' | 'authentication' | 'bad_trailer' | 'bad_next_header';
/** One per packet, as pipeline/outbound.cc counts them: encapsulated, or the drop reason. */
export type EncapResultName = 'ok' | 'no_room' | 'sequence_exhausted' | 'sequence_unreserved';

export interface Decapsulated {
  result: DecapResultName;
  inner: Buffer | null;
}

export interface Encapsulated {
  result: EncapResultName;
  esp: Buffer | null;
}

export interface EspCounters {
  packets: number;
  bytes: number;
  decryptErrors: number;
  replayErrors: number;
  truncatedErrors: number;
  trailerErrors: number;
  nextHeaderErrors: number;
  encapErrors: number;
  sequenceExhausted: number;
  sequenceUnreserved: number;
  seq: bigint; // outbound: last number used; inbound: top of the window
  limit?: bigint; // outbound: the highest number it may send
  windowSize?: number;
  esn: boolean;
}

declare const saBrand: unique symbol;
export type SaHandle = { readonly [saBrand]: true };

export interface EspPart {
  createOutbound(aead: Aead, spi: number, keymat: Buffer, initialSeq?: number | bigint, options?: { esn?: boolean; limit?: bigint }): SaHandle;
  createInbound(aead: Aead, spi: number, keymat: Buffer, windowSize?: number, initialTop?: number | bigint, options?: { esn?: boolean; startAt?: bigint }): SaHandle;
  /** One SA for the batch, or one per packet. */
  encapsulate(sa: SaHandle | SaHandle[], inner: Buffer[], tfcPadTo?: number): Encapsulated[];
  decapsulate(sa: SaHandle | SaHandle[], esp: Buffer[]): Decapsulated[];
  counters(sa: SaHandle): EspCounters;
  /** Test hook: outbound, the last number used; inbound, the window's top. */
  setCounter(sa: SaHandle, seq: number | bigint): void;
  setLimit(sa: SaHandle, limit: bigint): void;
  wipe(sa: SaHandle): boolean;
  encapsulatedLength(innerLen: number, tfcPadTo?: number): number;
  // The SA arena on its own (dataplane/esp/sa_arena_napi.cc).
  arenaCreate(kind: 'inbound' | 'outbound'): SaArenaHandle;
  /** An SA keyed with aes-gcm-16-icv (20 octets of key ‖ salt); its slot number. */
  arenaAllocate(arena: SaArenaHandle, keymat: Buffer): number;
  arenaFree(arena: SaArenaHandle, slot: number): void;
  arenaSlot(arena: SaArenaHandle, slot: number): SaArenaSlot;
  arenaInfo(arena: SaArenaHandle): SaArenaInfo;
}

declare const arenaBrand: unique symbol;
export type SaArenaHandle = { readonly [arenaBrand]: true };

export interface SaArenaSlot {
  address: bigint;
  /** The lines a packet reads of this SA (pipeline/prefetch_sa.h), line addresses. */
  lines: bigint[];
  /** Key schedule and salt read back as zeros. */
  keyZero: boolean;
  /** AddressSanitizer's view of the slot's first octet; null without ASan. */
  poisoned: boolean | null;
}

export interface SaArenaInfo {
  stride: number;
  objectSize: number;
  slotsPerChunk: number;
  chunks: number;
  inUse: number;
  asan: boolean;
}

// ---- crypto (dataplane/crypto/crypto_napi.cc) ----

export type GcmBatchItem = { key: Buffer; iv: Buffer; aad: Buffer; data: Buffer };

export interface GcmBenchRow {
  size: number;
  keyBits: number;
  path: string;
  oursNs: number;
  oursBatchNs: number;
  opensslNs: number;
  oursOpenNs?: number;
  oursOpenBatchNs?: number;
  opensslOpenNs?: number;
}

export interface CryptoPart {
  paths(): string[];
  defaultPath(): string;
  bestPath(): string;
  seal(path: string, key: Buffer, iv: Buffer, aad: Buffer, pt: Buffer): { ciphertext: Buffer; tag: Buffer };
  open(path: string, key: Buffer, iv: Buffer, aad: Buffer, ct: Buffer, tag: Buffer): Buffer | null;
  sealInPlace(path: string, key: Buffer, iv: Buffer, aad: Buffer, data: Buffer): Buffer;
  openInPlace(path: string, key: Buffer, iv: Buffer, aad: Buffer, data: Buffer, tag: Buffer): boolean;
  sealBatch(path: string, items: GcmBatchItem[]): { ciphertext: Buffer; tag: Buffer }[];
  openBatch(path: string, items: (GcmBatchItem & { tag: Buffer })[]): (Buffer | null)[];
  openBatchInPlace(path: string, items: (GcmBatchItem & { tag: Buffer })[]): boolean[];
  /** Ours against OpenSSL EVP (dataplane/crypto/gcm_bench.cc). */
  bench(options: { sizes?: number[]; keyBits?: number[]; path?: string; batch?: number; minMs?: number; samples?: number; decrypt?: boolean }): GcmBenchRow[];
}

// ---- route (dataplane/route/route_napi.cc) ----

export interface RouteTable {
  lookup(address: string | Uint8Array | number): number;
  lookupMany(addresses: Uint8Array, path?: 'auto' | 'popcnt' | 'portable'): Uint16Array;
  readonly bytes: number;
  readonly family: 4 | 6;
  readonly engine: 'poptrie' | 'binaryTrie';
  readonly nodes: number;
  readonly leaves: number;
}

export type RouteBuild = (prefixes: string[] | Uint8Array, values: number[] | Uint16Array) => RouteTable;

export interface RoutePart {
  build4: RouteBuild;
  build6: RouteBuild;
  binaryTrie4: RouteBuild;
  binaryTrie6: RouteBuild;
  bench(table: RouteTable, addresses: Uint8Array, minSeconds: number): { lookups: number; seconds: number; checksum: number };
  readonly popcount: 'popcnt' | 'portable';
}

// ---- io (dataplane/io/io_napi.cc) ----

/** A raw link (io.open): the keys are checked, an unknown one is a TypeError. */
export interface IoLinkSpec {
  driver: 'af-packet' | 'af-xdp' | 'pcap';
  ifname?: string;
  queue?: number;
  queues?: number;
  steerByDestination?: boolean;
  queueAddresses?: string[];
  pcapIn?: string;
  pcapOut?: string;
  netns?: string;
  txMethod?: string;
  qdiscBypass?: boolean;
  /** af-packet: coalesce TCP segments into super-frames where the interface takes TSO (default true). */
  txGso?: boolean;
  xdpMode?: string;
  xdpBind?: string;
}

export interface IoLink {
  send(frames: Buffer[]): number;
  receive(max?: number, timeoutMs?: number): Buffer[];
  counters(): Record<string, number>;
  close(): void;
  waitFd(): number;
}

export interface TrafficResult {
  packets: number;
  bytes: number;
  activeSeconds: number;
  elapsedSeconds: number;
  cpuSeconds: number;
  counters: Record<string, number>;
}

export interface IoPart {
  open(spec: IoLinkSpec): IoLink;
  blast(options: { spec: IoLinkSpec; frame: Buffer; seconds: number; burst?: number; pps?: number }): Promise<TrafficResult>;
  sink(options: { spec: IoLinkSpec; seconds: number; busyPoll?: boolean; idleStop?: number }): Promise<TrafficResult>;
}

// ---- softbench (dataplane/pipeline/softbench_napi.cc) ----

export interface SoftbenchOptions {
  packetSize: number | 'IMIX'; packets: number; routes: number; queues: number; cpus?: number[];
  /** ESP in UDP (RFC 3948, port 4500) instead of plain ESP. */
  natT?: boolean;
  /** The public side's loop: buffers exchanged (default, like Vita's test.snabb) or the copying memory wire (before 2026-12-07). */
  publicLink?: PublicLink;
}
export type PublicLink = 'loopback' | 'memory';
export interface SoftbenchResult {
  seconds: number; cpuSeconds: number; packets: number; bytes: number; sent: number; cryptoPath: string;
  /** Wall-clock after the warm-up (as Vita's gauge): from the first packets out to the last. */
  steadySeconds: number; steadyPackets: number;
  perQueue: SoftbenchQueue[];
}
/** One worker's packets, its thread's CPU seconds and wall seconds until its last packet. */
export interface SoftbenchQueue { packets: number; cpuSeconds: number; seconds: number }

// ---- ceiling (dataplane/pipeline/cpu_ceiling_napi.cc) ----

export interface CeilingThread { cpu: number; iterations: number; cpuSeconds: number; seconds: number }
export interface CeilingPart { run(options: { loop: 'aes' | 'alu' | 'latency'; cpus: number[]; iterations: number }): CeilingThread[] }

export interface Testkit {
  esp: EspPart;
  crypto: CryptoPart;
  route: RoutePart;
  io: IoPart;
  softbench: { run(options: SoftbenchOptions): SoftbenchResult };
  ceiling: CeilingPart;
}

const addon = loadAddon('vitesse_testkit') as Testkit;

export const esp: EspPart = addon.esp;
export const gcm: CryptoPart = addon.crypto;
export const route: RoutePart = addon.route;
export const io: IoPart = addon.io;
export const ceiling: CeilingPart = addon.ceiling;

export function softbench(options: SoftbenchOptions): SoftbenchResult {
  return addon.softbench.run(options);
}
