// SubscribeResponse notifications in JSON encodings, written straight to
// protobuf bytes: a sample of 10,000 routes is 10,000 updates, and building
// a message object per update for protobufjs (fromObject, then encode)
// cost more than reading the counters. The layout is gnmi.proto's:
//
//   SubscribeResponse { Notification update = 1; bool sync_response = 3; }
//   Notification { int64 timestamp = 1; Path prefix = 2; repeated Update update = 4; repeated Path delete = 5; }
//   Update { Path path = 1; TypedValue val = 3; }
//   TypedValue { bytes json_val = 10; bytes json_ietf_val = 11; ... }
//   Path { repeated PathElem elem = 3; string target = 4; }
//   PathElem { string name = 1; map<string, string> key = 2; }   (a map entry: key = 1, value = 2)
//
// test/gnmi-wire.test.ts decodes what this writes with protobufjs and
// compares it with what protobufjs writes for the same message.
import type { PathElem } from './path.js';

export const LEN = 2; // wire type: length-delimited
export const tag = (field: number, wire: number) => (field << 3) | wire;

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }
  bigVarint(n: bigint): void {
    while (n >= 0x80n) {
      this.buf[this.pos++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.buf[this.pos++] = Number(n);
  }
  bytes(b: Buffer): void {
    // A route's path or JSON opening is a few dozen octets: a loop costs less than a call into Buffer.copy.
    if (b.length <= 64) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < b.length; i++) buf[p++] = b[i];
      this.pos = p;
      return;
    }
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
  string(s: string, size: number): void {
    this.pos += this.buf.write(s, this.pos, size, 'utf8');
  }
}

/** A length-delimited field of `size` bytes: its tag, length and the bytes' size. */
export const framed = (size: number) => 1 + varintSize(size) + size;

export function pathBytes(elems: readonly PathElem[], target?: string): Buffer {
  const elemSizes = elems.map((e) => {
    const name = Buffer.byteLength(e.name);
    let size = framed(name);
    const keys = Object.entries(e.key ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const entries = keys.map(([k, v]) => {
      const entry = framed(Buffer.byteLength(k)) + framed(Buffer.byteLength(v));
      size += framed(entry);
      return { k, v, entry };
    });
    return { e, name, size, entries };
  });
  const targetSize = target ? Buffer.byteLength(target) : 0;
  const total = elemSizes.reduce((n, x) => n + framed(x.size), 0) + (target ? framed(targetSize) : 0);
  const w = new Writer(Buffer.allocUnsafe(total));
  for (const x of elemSizes) {
    w.varint(tag(3, LEN));
    w.varint(x.size);
    w.varint(tag(1, LEN));
    w.varint(x.name);
    w.string(x.e.name, x.name);
    for (const { k, v, entry } of x.entries) {
      w.varint(tag(2, LEN));
      w.varint(entry);
      const kb = Buffer.byteLength(k), vb = Buffer.byteLength(v);
      w.varint(tag(1, LEN));
      w.varint(kb);
      w.string(k, kb);
      w.varint(tag(2, LEN));
      w.varint(vb);
      w.string(v, vb);
    }
  }
  if (target) {
    w.varint(tag(4, LEN));
    w.varint(targetSize);
    w.string(target, targetSize);
  }
  return w.buf;
}

/** Encoded paths by their text (pathText): a route's path is encoded once, not at every sample. */
const cache = new Map<string, Buffer>();
const CACHE_ENTRIES = 200_000;

export function encodedPath(key: string, elems: readonly PathElem[]): Buffer {
  let b = cache.get(key);
  if (!b) {
    if (cache.size >= CACHE_ENTRIES) cache.clear();
    b = pathBytes(elems);
    cache.set(key, b);
  }
  return b;
}

/**
 * A Notification's timestamp and prefix (the target), which every
 * SubscribeResponse we write starts with: its size first, so that the
 * caller can add its updates' sizes, then the writer for the whole response.
 */
export class NotificationHead {
  private readonly prefix: Buffer | null;
  /** Octets of the Notification's timestamp and prefix fields. */
  readonly size: number;

  constructor(private readonly timestamp: bigint, target: string | undefined) {
    let tsSize = 1;
    for (let t = timestamp; t >= 0x80n; t >>= 7n) tsSize++;
    this.prefix = target ? pathBytes([], target) : null;
    this.size = 1 + tsSize + (this.prefix ? framed(this.prefix.length) : 0);
  }

  /** The response for a Notification of `body` octets, its head written. */
  start(body: number): Writer {
    const w = new Writer(Buffer.allocUnsafe(framed(body)));
    w.varint(tag(1, LEN));
    w.varint(body);
    w.varint(tag(1, 0));
    w.bigVarint(this.timestamp);
    if (this.prefix) {
      w.varint(tag(2, LEN));
      w.varint(this.prefix.length);
      w.bytes(this.prefix);
    }
    return w;
  }
}

export interface JsonUpdate {
  path: Buffer;
  /** The value's JSON text. */
  json: string;
}

/**
 * A SubscribeResponse holding one Notification: `updates` as json_val
 * (field 10) or json_ietf_val (11), `deletes` as paths.
 */
export function jsonNotification(timestamp: bigint, target: string | undefined, updates: readonly JsonUpdate[], deletes: readonly Buffer[], field: 10 | 11): Buffer {
  const head = new NotificationHead(timestamp, target);
  let body = head.size;
  const sizes = updates.map((u) => {
    const json = Buffer.byteLength(u.json);
    const val = framed(json);
    const update = framed(u.path.length) + framed(val);
    body += framed(update);
    return { json, val, update };
  });
  for (const d of deletes) body += framed(d.length);
  const w = head.start(body);
  for (let i = 0; i < updates.length; i++) {
    const u = updates[i], s = sizes[i];
    w.varint(tag(4, LEN));
    w.varint(s.update);
    w.varint(tag(1, LEN));
    w.varint(u.path.length);
    w.bytes(u.path);
    w.varint(tag(3, LEN));
    w.varint(s.val);
    w.varint(tag(field, LEN));
    w.varint(s.json);
    w.string(u.json, s.json);
  }
  for (const d of deletes) {
    w.varint(tag(5, LEN));
    w.varint(d.length);
    w.bytes(d);
  }
  return w.buf;
}
