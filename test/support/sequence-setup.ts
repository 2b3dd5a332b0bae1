// A data-plane-mode gateway on capture files for the sequence-state tests:
// its configuration, private-side packets for the far site, and the ESP it
// sent, opened with Node's crypto (test/support/esp-reference.ts).
import crypto from 'node:crypto';
import { refOpen, type RefSa } from './esp-reference.js';
import { ethernet } from './gateway-harness.js';
import { buildIpv4, ethernetIp } from './ip-packets.js';
import { readPcap } from './pcap.js';

export const MAC = { private: '02:00:00:5e:00:01', privateNextHop: '02:00:00:5e:00:02', public: '02:00:00:5e:01:01', publicNextHop: '02:00:00:5e:01:02' };
export const INBOUND: RefSa = { aead: 'aes-gcm-16-icv', spi: 8193, keymat: Buffer.concat([Buffer.alloc(16, 0x33), Buffer.alloc(4, 0x44)]) };
export const OUTBOUND: RefSa = { aead: 'aes-gcm-16-icv', spi: 4098, keymat: Buffer.concat([Buffer.alloc(16, 0x11), Buffer.alloc(4, 0x22)]) };

export interface SaExtra { esn?: boolean; 'initial-sequence'?: string }

export function sequenceConfig(o: { pcap?: { private: object; public: object }; outbound?: SaExtra; inbound?: SaExtra; outboundSa?: RefSa } = {}): object {
  const out = o.outboundSa ?? OUTBOUND;
  const sa = (x: RefSa, extra: SaExtra = {}) => ({
    route: 'site-b', queue: 1, spi: x.spi, aead: x.aead, key: x.keymat.subarray(0, 16).toString('hex'), salt: x.keymat.subarray(16).toString('hex'), ...extra,
  });
  return {
    'vitesse-gateway:gateway': {
      'private-interface': { device: 'lan', driver: 'pcap', mac: MAC.private, address: ['10.1.0.1'], 'next-hop': { address: '10.1.0.2', mac: MAC.privateNextHop }, ...(o.pcap ? { pcap: o.pcap.private } : {}) },
      'public-interface': { device: 'wan', driver: 'pcap', mac: MAC.public, queue: [{ id: 1, address: '192.0.2.1' }], 'next-hop': { address: '192.0.2.254', mac: MAC.publicNextHop }, ...(o.pcap ? { pcap: o.pcap.public } : {}) },
      route: [{ id: 'site-b', net: '10.2.0.0/16', gateway: [{ queue: 1, address: '198.51.100.2' }] }],
      'data-plane': { 'inbound-sa': [sa(INBOUND, o.inbound)], 'outbound-sa': [sa(out, o.outbound)] },
    },
  };
}

/** `count` UDP packets from the site to the far site, each with `fill` as its payload's byte. */
export function lanFrames(count: number, fill: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const payload = Buffer.alloc(8 + 64, fill);
    payload.writeUInt16BE(4000, 0);
    payload.writeUInt16BE(5000, 2);
    payload.writeUInt16BE(payload.length, 4);
    payload.writeUInt16BE(0, 6); // no UDP checksum (IPv4)
    payload.writeUInt32BE(i, 8);
    return ethernet(MAC.private, MAC.privateNextHop, 0x0800, buildIpv4({ src: '10.1.0.7', dst: '10.2.0.9', protocol: 17, payload }));
  });
}

export interface SentEsp {
  spi: number;
  seq: bigint;
  iv: string;
  ciphertext: Buffer;
  content: Buffer;
}

/** The ESP frames of a public-side capture, opened with `sa` (seq-high given); throws if one does not open. */
export function sentEsp(file: string, sa: RefSa = OUTBOUND, seqHigh = 0): SentEsp[] {
  return readPcap(file).records.map((r) => ethernetIp(r.data)).filter((ip) => ip?.protocol === 50).map((ip) => {
    const opened = refOpen(sa, ip!.payload, seqHigh);
    if (!opened) throw new Error(`${file}: an ESP packet does not open with SPI ${sa.spi}${sa.esn === false ? ' without ESN' : ''}`);
    return { spi: opened.spi, seq: opened.seq, iv: opened.iv.toString('hex'), ciphertext: ip!.payload.subarray(16, ip!.payload.length - 16), content: opened.content };
  });
}


export const randomKeymat = () => crypto.randomBytes(20);

export { vitesse } from './cli-capture.js';
