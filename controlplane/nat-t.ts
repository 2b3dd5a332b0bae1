// ESP in UDP (RFC 3948) as the control plane sees it: the data plane
// (dataplane/net/udp_encap.h) sorts what arrives on the NAT-T port and punts
// only key-exchange messages (and fragments); this is the same rule for
// those, and the marker the key manager's messages on that port carry.

/** The UDP header ESP in UDP adds: the tunnel MTU (`mtu`, the largest inner packet) includes it for SAs using it. */
export const UDP_ENCAP_OVERHEAD = 8;

/** RFC 3948 §2.2: four zero octets before a key-exchange message (no SPI is 0). */
export const NON_ESP_MARKER = Buffer.alloc(4);

export type NatTPayload = 'esp' | 'key-exchange' | 'keepalive' | 'truncated';

/** What a UDP payload on the NAT-T port carries. */
export function natTPayload(p: Buffer): NatTPayload {
  if (p.length === 1 && p[0] === 0xff) return 'keepalive';
  if (p.length < NON_ESP_MARKER.length) return 'truncated';
  return p.readUInt32BE(0) === 0 ? 'key-exchange' : 'esp';
}
