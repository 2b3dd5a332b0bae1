// The inbound policy (RFC 4301 §5.2) as the tests decide it, independently of
// dataplane/pipeline/inbound_policy.h: a decrypted packet is forwarded only if
// its source lies in one of its SA's route's prefixes (same IP version) and
// neither its source nor its destination is multicast or broadcast (IPv4
// 224.0.0.0 and above, IPv6 ff00::/8).
import { parseIp } from '../../controlplane/slowpath/address.js';

/** An IPv4 or IPv6 address in text form as its network-order bytes. */
export function parseAddress(a: string): Buffer {
  return parseIp(a); // the control plane's one parser (test/ip-text.test.ts)
}

/** Whether `addr` (4 or 16 bytes) lies in `prefix` ("10.1.0.0/16"), compared bit by bit. */
export function inPrefix(addr: Uint8Array, prefix: string): boolean {
  const [net, len] = prefix.split('/');
  const n = parseAddress(net);
  if (n.length !== addr.length) return false;
  for (let bit = 0; bit < Number(len); bit++) {
    const m = 0x80 >> (bit % 8);
    if ((addr[bit >> 3] & m) !== (n[bit >> 3] & m)) return false;
  }
  return true;
}

export const innerSource = (ip: Buffer) => (ip[0] >> 4 === 4 ? ip.subarray(12, 16) : ip.subarray(8, 24));
export const innerDestination = (ip: Buffer) => (ip[0] >> 4 === 4 ? ip.subarray(16, 20) : ip.subarray(24, 40));

const multicastOrBroadcast = (a: Uint8Array) => (a.length === 4 ? a[0] >= 224 : a[0] === 0xff);

/** Whether the inner packet `ip` may come out of an SA of a route with these prefixes. */
export function policyAllows(ip: Buffer, nets: readonly string[]): boolean {
  const src = innerSource(ip), dst = innerDestination(ip);
  if (multicastOrBroadcast(src) || multicastOrBroadcast(dst)) return false;
  return nets.some((n) => inPrefix(src, n));
}
