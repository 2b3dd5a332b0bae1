#!/usr/bin/env node
// Writes the seed corpora in fuzz/corpus/<target>/ (committed; run again only
// to change them): frames from Vita's self-test captures and ESP packets
// sealed with Node's crypto, each in its target's input format (see the
// comment at the top of each *_fuzz.cc).
//
//   node fuzz/seeds.mjs [VECTORS_DIR]    (default test/vectors, in the repository)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vectors = process.argv[2] ?? path.join(root, 'test/vectors');
const vita = (name) => readPcap(path.join(vectors, 'vita', name));

// Classic pcap, either byte order; only what the seeds need.
function readPcap(file) {
  const b = fs.readFileSync(file);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  const u32 = (at) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const frames = [];
  for (let at = 24; at + 16 <= b.length; ) {
    const len = u32(at + 8);
    frames.push(b.subarray(at + 16, at + 16 + len));
    at += 16 + len;
  }
  return frames;
}

function write(target, name, bytes) {
  const dir = path.join(root, 'fuzz', 'corpus', target);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), bytes);
}

// --- pipeline_fuzz: settings byte, then (flags, 2-byte length, frame)… ------
// flags: bit 0 side (0 private, 1 public), bit 1 queue (0: Vita's IPv4 setup,
// 1: its IPv6 one), bits 2-3 how it arrives (0 link, 2 injected to process,
// 3 injected to send). Settings 0: MTU 500 with TFC, as Vita's self-test.
const pipelineInput = (settings, frames) =>
  Buffer.concat([Buffer.from([settings]), ...frames.flatMap(([flags, f]) => {
    const h = Buffer.alloc(3);
    h[0] = flags;
    h.writeUInt16BE(f.length, 1);
    return [h, f];
  })]);

// Groups of frames of at most `bytes` in all (the targets' -max_len is 4096, 10000 for pipeline_fuzz).
function chunks(list, bytes) {
  const groups = [[]];
  let size = 0;
  for (const f of list) {
    if (size + f.length + 3 > bytes && groups.at(-1).length) {
      groups.push([]);
      size = 0;
    }
    groups.at(-1).push(f);
    size += f.length + 3;
  }
  return groups;
}

for (const { v, queue } of [{ v: '', queue: 0 }, { v: '6', queue: 1 }]) {
  const sides = { private: 0, public: 1 };
  for (const [side, bit] of Object.entries(sides)) {
    const frames = vita(`selftest${v}-${side}-in.pcap`);
    chunks(frames, 4000).forEach((group, i) => {
      write('pipeline_fuzz', `vita${v || '4'}-${side}-in-${i}`, pipelineInput(0, group.map((f) => [bit | (queue << 1), f])));
    });
  }
  // The gateway's own output, fed to the public side (ESP for SPI 1001 and ICMP).
  const out = vita(`selftest${v}-public-out.pcap`);
  write('pipeline_fuzz', `vita${v || '4'}-public-out`, pipelineInput(0, chunks(out, 4000)[0].map((f) => [1 | (queue << 1), f])));
  // Both sides at once, some injected, other settings (MTU 1440, no TFC; one frame sent per burst).
  const mixed = [
    ...vita(`selftest${v}-private-in.pcap`).slice(0, 4).map((f, i) => [(queue << 1) | (i % 2 ? 8 : 0), f]),
    ...out.slice(0, 3).map((f, i) => [1 | (queue << 1) | (i === 2 ? 12 : 0), f]),
  ];
  write('pipeline_fuzz', `vita${v || '4'}-mixed`, pipelineInput(1 | 12, mixed));
}

// ESP in UDP (settings bit 5: the loop SAs send it). Vita's own ESP (SPI
// 1001, authentic) arrives wrapped in UDP to the NAT-T port from a NAT's
// address and port, which moves the route's endpoint; with a NAT keepalive,
// a key-exchange message behind the non-ESP marker, and private traffic to
// encapsulate in UDP and feed back.
function inUdp(frame, src, srcPort, payload) {
  const ip = Buffer.from(frame.subarray(14, 34));
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(srcPort, 0);
  udp.writeUInt16BE(4500, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  ip[9] = 17;
  ip.writeUInt16BE(20 + 8 + payload.length, 2);
  Buffer.from(src.split('.').map(Number)).copy(ip, 12);
  ip.writeUInt16BE(0, 10);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  return Buffer.concat([frame.subarray(0, 14), ip, udp, payload]);
}
{
  const esp = vita('selftest-public-out.pcap').filter((f) => f.readUInt16BE(12) === 0x0800 && f[14 + 9] === 50);
  const wrapped = esp.slice(0, 6).map((f, i) => inUdp(f, i < 3 ? '198.51.100.7' : '198.51.100.8', 31000 + i, f.subarray(34)));
  const template = esp[0];
  const frames = [
    ...vita('selftest-private-in.pcap').slice(0, 4).map((f) => [0, f]),
    ...wrapped.map((f) => [1, f]),
    [1, inUdp(template, '198.51.100.7', 31000, Buffer.from([0xff]))],
    [1, inUdp(template, '198.51.100.7', 31000, Buffer.concat([Buffer.alloc(4), Buffer.from('knock')]))],
    [1, inUdp(template, '198.51.100.7', 31000, Buffer.from([1, 2]))],
    ...vita('selftest-private-in.pcap').slice(4, 8).map((f) => [0, f]),
  ];
  write('pipeline_fuzz', 'nat-t-mixed', pipelineInput(0x20 | 1, frames));
}

// --- decap_fuzz: mode byte, then packets separated by "ES" ------------------
// Its SA: SPI 0x1001, key 01..10, salt 0a0b0c0d. Odd mode: each packet is a
// plaintext (inner packet ‖ padding ‖ pad length ‖ next header) the harness
// seals itself; even mode: raw ESP.
function espPlaintexts(frames) {
  const out = [];
  for (const f of frames) {
    const type = f.readUInt16BE(12);
    const ipLen = type === 0x0800 ? 20 : type === 0x86dd ? 40 : 0;
    if (!ipLen || f.length < 14 + ipLen + 32) continue;
    const esp = f.subarray(14 + ipLen);
    if (esp.readUInt32BE(0) !== 1001) continue;
    // Vita's SA: all-zero key and salt; AAD SPI ‖ seq-high (0) ‖ seq-low.
    const aad = Buffer.concat([esp.subarray(0, 4), Buffer.alloc(4), esp.subarray(4, 8)]);
    const d = crypto.createDecipheriv('aes-128-gcm', Buffer.alloc(16), Buffer.concat([Buffer.alloc(4), esp.subarray(8, 16)]));
    d.setAAD(aad);
    d.setAuthTag(esp.subarray(esp.length - 16));
    try {
      out.push(Buffer.concat([d.update(esp.subarray(16, esp.length - 16)), d.final()]));
    } catch {
      // not authentic: not a seed
    }
  }
  return out;
}

const join = (parts) => Buffer.concat(parts.flatMap((p, i) => (i ? [Buffer.from('ES'), p] : [p])));
for (const v of ['', '6']) {
  const out = vita(`selftest${v}-public-out.pcap`);
  const plain = espPlaintexts(out);
  if (!plain.length) throw new Error(`no authentic ESP in selftest${v}-public-out.pcap (is ${vectors} right?)`);
  write('decap_fuzz', `vita${v || '4'}-sealed`, Buffer.concat([Buffer.from([1]), join(plain.slice(0, 6))]));
  const ipLen = v ? 40 : 20;
  const esp = out.filter((f) => f.readUInt16BE(12) === (v ? 0x86dd : 0x0800)).map((f) => f.subarray(14 + ipLen));
  write('decap_fuzz', `vita${v || '4'}-raw`, Buffer.concat([Buffer.from([0]), join(esp.slice(0, 6))]));
}

// The replay window's fast paths against its general ones
// (check_window_fast_paths in decap_fuzz.cc): two inputs the fuzzer found
// while they were written (a pending top below the top; settled() wrapping
// near 2^64).
write('decap_fuzz', 'window-pending-behind', Buffer.from('016048388012455300e18ca84553600e80387812455310bb00000000', 'hex'));
write('decap_fuzz', 'window-near-2to64', Buffer.from('780000000000004553004553e900000229669756bae9000000022945530304455345000045532a000204455345003e45533a', 'hex'));
// The top's block in the window's state (docs/dataplane.md "Round six,
// window line"): jumps of the top (bytes 0xe0-0xff, check_window_fast_paths)
// by blocks, windows, the ring, 2^31 and 2^32 + 1, forward and back, for
// windows of 1024 from 0, of 32 just below 2^32 and of 64 just below 2^64.
write('decap_fuzz', 'window-jumps', Buffer.from('0080010203f30102f705e2fb11fe01ff21e931f4f5f6f8f9fafcfd0102', 'hex'));
write('decap_fuzz', 'window-jumps-32', Buffer.from('8170010203f3f7e6e7e8f8f9fafbfc01020304e3e4f1f2', 'hex'));
write('decap_fuzz', 'window-jumps-near-2to64', Buffer.from('0440010203f301f7f3f2ffe5e2f1f1f1f1f1f1f1f1f3f3', 'hex'));

// --- gcm_fuzz: flags, key (32), IV (12), AAD length, AAD, plaintext ---------
const gcm = (flags, aadLen, ptLen) => Buffer.concat([
  Buffer.from([flags]), Buffer.alloc(32, 0x11), Buffer.alloc(12, 0x22), Buffer.from([aadLen]),
  Buffer.alloc(aadLen, 0x33), Buffer.from(Array.from({ length: ptLen }, (_, i) => i & 0xff)),
]);
write('gcm_fuzz', 'esp-aad-64', gcm(0, 12, 64));
write('gcm_fuzz', 'esp-aad-1400-aes256', gcm(1, 12, 1400));
write('gcm_fuzz', 'odd-lengths', gcm(6, 13, 257));
write('gcm_fuzz', 'empty-plaintext', gcm(3, 0, 0));

// --- poptrie_fuzz: (family | routes/4 << 1), then routes (length, 2-byte value, address) and addresses ---
const route4 = (len, value, a) => Buffer.from([len, value >> 8, value & 0xff, ...a]);
write('poptrie_fuzz', 'ipv4-nested', Buffer.concat([
  Buffer.from([1 << 1]),
  route4(8, 1, [10, 0, 0, 0]), route4(24, 2, [10, 1, 2, 0]), route4(32, 3, [10, 1, 2, 3]), route4(0, 4, [0, 0, 0, 0]),
  Buffer.from([10, 1, 2, 3, 10, 1, 2, 4, 11, 0, 0, 0]),
]));
const route6 = (len, value, a) => Buffer.concat([Buffer.from([len, value >> 8, value & 0xff]), Buffer.from(a.padEnd(32, '0'), 'hex')]);
write('poptrie_fuzz', 'ipv6-nested', Buffer.concat([
  Buffer.from([1 | (1 << 1)]),
  route6(32, 1, '20010db8'), route6(48, 2, '20010db80001'), route6(128, 3, '20010db8000100000000000000000001'), route6(64, 4, 'fe80'),
  Buffer.from('20010db8000100000000000000000001' + '20010db8000200000000000000000000', 'hex'),
]));
// --- pair_choice_fuzz: settings (IPv6 | (pairs - 1) << 1 | usable mask << 4), then an IP packet ---
write('pair_choice_fuzz', 'ipv4-udp-two-pairs', Buffer.concat([
  Buffer.from([(1 << 1) | (0b0011 << 4)]),
  Buffer.from('450000300000000040110000c0a80a02c0a80a039c400fa1001c0000', 'hex'), Buffer.alloc(20, 0x61),
]));
const v6tcp = Buffer.alloc(48);
v6tcp[0] = 0x60; v6tcp.writeUInt16BE(8, 4); v6tcp[6] = 6; v6tcp[7] = 64; v6tcp[8] = 0xfd; v6tcp[24] = 0xfd;
v6tcp.writeUInt16BE(40001, 40); v6tcp.writeUInt16BE(80, 42);
write('pair_choice_fuzz', 'ipv6-tcp-three-pairs', Buffer.concat([Buffer.from([1 | (2 << 1) | (0b0101 << 4)]), v6tcp]));
// --- pcap_fuzz: the file itself --------------------------------------------
// Vita's captures as they are (little-endian, microseconds), rewritten
// big-endian with nanoseconds, one cut inside a record, one with a record
// longer than a packet buffer.
const capture = (name) => fs.readFileSync(path.join(vectors, 'vita', name));
function bigEndianNanos(file) {
  const out = Buffer.from(file);
  out.writeUInt32BE(0xa1b23c4d, 0);
  for (const at of [4, 6]) out.writeUInt16BE(file.readUInt16LE(at), at);
  for (const at of [8, 12, 16, 20]) out.writeUInt32BE(file.readUInt32LE(at), at);
  for (let at = 24; at + 16 <= file.length; at += 16 + file.readUInt32LE(at + 8)) {
    for (let f = 0; f < 16; f += 4) out.writeUInt32BE(file.readUInt32LE(at + f), at + f);
  }
  return out;
}
const publicIn = capture('selftest-public-in.pcap');
write('pcap_fuzz', 'vita4-public-in', publicIn);
write('pcap_fuzz', 'vita6-public-out', capture('selftest6-public-out.pcap'));
write('pcap_fuzz', 'vita4-public-in-big-endian-ns', bigEndianNanos(publicIn));
write('pcap_fuzz', 'vita4-public-in-cut', publicIn.subarray(0, publicIn.length - 37));
const jumbo = Buffer.alloc(16 + 10000, 0x5a);
jumbo.writeUInt32LE(10000, 8);
jumbo.writeUInt32LE(10000, 12);
write('pcap_fuzz', 'oversize-record', Buffer.concat([publicIn.subarray(0, 24), jumbo, publicIn.subarray(24, 200)]));
// --- gso_fuzz: a virtio-net header (10 bytes), then an Ethernet frame -------
// TCP over IPv4 and IPv6 and UDP segmentation super-frames (three segments,
// the last short), a frame with only its checksum left to offload, and UDP
// fragmentation offload (refused).
function vnet(flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset) {
  const b = Buffer.alloc(10);
  b[0] = flags; b[1] = gsoType;
  b.writeUInt16LE(hdrLen, 2); b.writeUInt16LE(gsoSize, 4); b.writeUInt16LE(csumStart, 6); b.writeUInt16LE(csumOffset, 8);
  return b;
}
function superFrame(v6, proto, payloadLen) {
  const eth = Buffer.from('020000000002020000000001' + (v6 ? '86dd' : '0800'), 'hex');
  const l4 = Buffer.alloc(proto === 6 ? 20 : 8);
  l4.writeUInt16BE(40000, 0); l4.writeUInt16BE(5201, 2);
  if (proto === 6) { l4.writeUInt32BE(0x01020304, 4); l4[12] = 5 << 4; l4[13] = 0x18; l4.writeUInt16BE(502, 14); }
  else l4.writeUInt16BE(8 + payloadLen, 4);
  const payload = Buffer.alloc(payloadLen);
  for (let i = 0; i < payloadLen; i++) payload[i] = i * 7;
  let ip;
  if (v6) {
    ip = Buffer.alloc(40);
    ip[0] = 0x60; ip.writeUInt16BE(l4.length + payloadLen, 4); ip[6] = proto; ip[7] = 64;
    Buffer.from('fd000001000000000000000000000002fd000002000000000000000000000002', 'hex').copy(ip, 8);
  } else {
    ip = Buffer.alloc(20);
    ip[0] = 0x45; ip.writeUInt16BE(20 + l4.length + payloadLen, 2); ip.writeUInt16BE(0x1234, 4); ip[6] = 0x40; ip[8] = 64; ip[9] = proto;
    Buffer.from('0a010002' + '0a020002', 'hex').copy(ip, 12);
  }
  return Buffer.concat([eth, ip, l4, payload]);
}
const tcp4 = superFrame(false, 6, 3000);
write('gso_fuzz', 'tcp4-3-segments', Buffer.concat([vnet(1, 1, 54, 1448, 34, 16), tcp4]));
write('gso_fuzz', 'tcp6-3-segments', Buffer.concat([vnet(1, 4, 74, 1428, 54, 16), superFrame(true, 6, 3000)]));
write('gso_fuzz', 'udp4-l4-3-segments', Buffer.concat([vnet(1, 5, 42, 1400, 34, 6), superFrame(false, 17, 3000)]));
write('gso_fuzz', 'tcp4-csum-only', Buffer.concat([vnet(1, 0, 0, 0, 34, 16), superFrame(false, 6, 500)]));
write('gso_fuzz', 'udp4-ufo', Buffer.concat([vnet(1, 3, 42, 1400, 34, 6), superFrame(false, 17, 3000)]));
// --- gso_coalesce_fuzz: 4 bytes of mutation (segment, byte offset LE, XOR),
// then a gso_fuzz input whose segments are coalesced again: intact, one
// byte damaged (the run must stop there), and a 64 KB TCPv6 super-frame.
const keep = Buffer.from([0, 0, 0, 0]);
write('gso_coalesce_fuzz', 'tcp4-3-segments', Buffer.concat([keep, vnet(1, 1, 54, 1448, 34, 16), tcp4]));
write('gso_coalesce_fuzz', 'tcp4-damaged-payload', Buffer.concat([Buffer.from([3, 100, 0, 0x10]), vnet(1, 1, 54, 1448, 34, 16), tcp4]));
write('gso_coalesce_fuzz', 'tcp4-damaged-ttl', Buffer.concat([Buffer.from([1, 22, 0, 0x01]), vnet(1, 1, 54, 1448, 34, 16), tcp4]));
write('gso_coalesce_fuzz', 'tcp6-45-segments', Buffer.concat([keep, vnet(1, 4, 74, 1428, 54, 16), superFrame(true, 6, 64000)]));
write('gso_coalesce_fuzz', 'udp4-not-merged', Buffer.concat([keep, vnet(1, 5, 42, 1400, 34, 6), superFrame(false, 17, 3000)]));
// --- udp_gso_coalesce_fuzz: the same 4 bytes (bit 0: damage one byte; bit 1:
// IPv4 datagrams without a UDP checksum, as ESP in UDP over IPv4 is sent;
// bits 2+: which datagram), then a gso_fuzz input whose datagrams are
// coalesced again into UDP super-frames.
const udp4 = superFrame(false, 17, 3000);
write('udp_gso_coalesce_fuzz', 'udp4-3-datagrams', Buffer.concat([keep, vnet(1, 5, 42, 1400, 34, 6), udp4]));
write('udp_gso_coalesce_fuzz', 'udp4-no-checksum', Buffer.concat([Buffer.from([2, 0, 0, 0]), vnet(1, 5, 42, 1400, 34, 6), udp4]));
write('udp_gso_coalesce_fuzz', 'udp4-damaged-payload', Buffer.concat([Buffer.from([5, 100, 0, 0x10]), vnet(1, 5, 42, 1400, 34, 6), udp4]));
write('udp_gso_coalesce_fuzz', 'udp4-no-checksum-damaged-id', Buffer.concat([Buffer.from([7, 18, 0, 0x01]), vnet(1, 5, 42, 1400, 34, 6), udp4]));
write('udp_gso_coalesce_fuzz', 'udp6-45-datagrams', Buffer.concat([keep, vnet(1, 5, 62, 1400, 54, 6), superFrame(true, 17, 62000)]));
write('udp_gso_coalesce_fuzz', 'tcp4-not-merged', Buffer.concat([keep, vnet(1, 1, 54, 1448, 34, 16), tcp4]));
process.stdout.write('seeds written to fuzz/corpus/\n');
