// Classic libpcap files (not pcapng): a reader for either byte order and
// microsecond or nanosecond timestamps, and a writer (little-endian,
// microseconds). A file that ends mid-record gives every complete record and
// says where it stopped, so a capture cut short by a crash is still usable.
import fs from 'node:fs';

export const LINKTYPE_ETHERNET = 1;

const MAGIC_USEC = 0xa1b2c3d4;
const MAGIC_NSEC = 0xa1b23c4d;
const GLOBAL_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;
// Larger than any snap length in practice; a bigger record length means the
// file is corrupt, not that a frame is that big.
const MAX_RECORD_LEN = 256 * 1024;

export interface PcapRecord {
  tsSec: number;
  // Fraction of the second in the file's unit (see PcapFile.nanosecond).
  tsFrac: number;
  // Length of the frame on the wire; data may be shorter (snap length).
  origLen: number;
  data: Buffer;
}

export interface PcapFile {
  littleEndian: boolean;
  nanosecond: boolean;
  versionMajor: number;
  versionMinor: number;
  snapLen: number;
  linkType: number;
  records: PcapRecord[];
  // Set when the file stops inside a record (or a record is corrupt): the
  // records before it are complete, and `problem` says what and where.
  truncated: boolean;
  problem?: string;
}

export class PcapError extends Error {
  override name = 'PcapError';
}

export function parsePcap(buf: Uint8Array, name = 'pcap'): PcapFile {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < GLOBAL_HEADER_LEN) {
    throw new PcapError(`${name}: ${b.length} bytes, shorter than the ${GLOBAL_HEADER_LEN}-byte pcap global header`);
  }
  let littleEndian: boolean;
  let nanosecond: boolean;
  const le = b.readUInt32LE(0);
  const be = b.readUInt32BE(0);
  if (le === MAGIC_USEC || le === MAGIC_NSEC) {
    littleEndian = true;
    nanosecond = le === MAGIC_NSEC;
  } else if (be === MAGIC_USEC || be === MAGIC_NSEC) {
    littleEndian = false;
    nanosecond = be === MAGIC_NSEC;
  } else {
    throw new PcapError(`${name}: not a classic pcap file (magic 0x${be.toString(16).padStart(8, '0')})`);
  }
  const u16 = (o: number) => (littleEndian ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (littleEndian ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const file: PcapFile = {
    littleEndian,
    nanosecond,
    versionMajor: u16(4),
    versionMinor: u16(6),
    snapLen: u32(16),
    linkType: u32(20) & 0x0fffffff, // the top bits may carry FCS information
    records: [],
    truncated: false,
  };
  let off = GLOBAL_HEADER_LEN;
  while (off < b.length) {
    const index = file.records.length;
    const stop = (problem: string) => {
      file.truncated = true;
      file.problem = `${name}: record ${index} at byte ${off}: ${problem}`;
    };
    if (off + RECORD_HEADER_LEN > b.length) {
      stop(`file ends inside the record header (${b.length - off} of ${RECORD_HEADER_LEN} bytes)`);
      break;
    }
    const inclLen = u32(off + 8);
    if (inclLen > MAX_RECORD_LEN) {
      stop(`captured length ${inclLen} is not plausible (corrupt file)`);
      break;
    }
    const start = off + RECORD_HEADER_LEN;
    if (start + inclLen > b.length) {
      stop(`file ends inside the frame (${b.length - start} of ${inclLen} bytes)`);
      break;
    }
    file.records.push({
      tsSec: u32(off),
      tsFrac: u32(off + 4),
      origLen: u32(off + 12),
      data: Buffer.from(b.subarray(start, start + inclLen)),
    });
    off = start + inclLen;
  }
  return file;
}

export function readPcap(path: string): PcapFile {
  return parsePcap(fs.readFileSync(path), path);
}

export interface PcapWriteRecord {
  data: Uint8Array;
  tsSec?: number;
  tsUsec?: number;
  origLen?: number;
}

export interface PcapWriteOptions {
  linkType?: number;
  snapLen?: number;
}

export function formatPcap(records: readonly PcapWriteRecord[], opts: PcapWriteOptions = {}): Buffer {
  const header = Buffer.alloc(GLOBAL_HEADER_LEN);
  header.writeUInt32LE(MAGIC_USEC, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(opts.snapLen ?? 65535, 16);
  header.writeUInt32LE(opts.linkType ?? LINKTYPE_ETHERNET, 20);
  const parts: Buffer[] = [header];
  for (const r of records) {
    const h = Buffer.alloc(RECORD_HEADER_LEN);
    h.writeUInt32LE(r.tsSec ?? 0, 0);
    h.writeUInt32LE(r.tsUsec ?? 0, 4);
    h.writeUInt32LE(r.data.length, 8);
    h.writeUInt32LE(r.origLen ?? r.data.length, 12);
    parts.push(h, Buffer.from(r.data));
  }
  return Buffer.concat(parts);
}

export function writePcap(path: string, records: readonly PcapWriteRecord[], opts: PcapWriteOptions = {}): void {
  fs.writeFileSync(path, formatPcap(records, opts));
}

/**
 * The file formatPcap wrote (little-endian, microseconds) as other tools
 * write it: with the nanosecond magic and/or in big-endian byte order (the
 * global header's fields and every record header's four words swapped).
 */
export function reencode(le: Buffer, bigEndian: boolean, nanosecond: boolean): Buffer {
  const out = Buffer.from(le);
  if (nanosecond) out.writeUInt32LE(MAGIC_NSEC, 0);
  if (!bigEndian) return out;
  const src = Buffer.from(out);
  const swap32 = (o: number) => out.writeUInt32BE(src.readUInt32LE(o), o);
  const swap16 = (o: number) => out.writeUInt16BE(src.readUInt16LE(o), o);
  [0, 8, 12, 16, 20].forEach(swap32);
  [4, 6].forEach(swap16);
  for (let off = GLOBAL_HEADER_LEN; off < src.length; off += RECORD_HEADER_LEN + src.readUInt32LE(off + 8)) [0, 4, 8, 12].forEach((k) => swap32(off + k));
  return out;
}
