// Defaults and limits of the configuration, with their units, in one place.
// yang/vitesse-gateway.yang is the reference; test/config-model.test.ts checks
// that these agree with it.

export const MODULE = 'vitesse-gateway';
export const TOP = `${MODULE}:gateway`;
export const ROOT_PATH = `/${TOP}`;

export const DEFAULTS = {
  queues: 1,
  mtu: 1440, //              octets
  tfc: false,
  saTtl: 600, //             seconds
  negotiationTtl: 5, //      seconds
  livenessInterval: 10, //   seconds
  livenessFailures: 3, //    probes
  protocolPort: 303,
  natTPort: 4500, //         ESP in UDP, RFC 3948
  natKeepaliveInterval: 20, // seconds; 0: no keepalives
  replayWindow: 1024, //     packets
  driver: 'af-packet',
  wireEnd: 0,
  aead: 'aes-gcm-16-icv',
  esn: true,
  natTraversal: 'off',
  protocol: 'vitesse-ske',
} as const;

export const LIMITS = {
  queues: { min: 1, max: 64 },
  mtu: { min: 576, max: 9216 }, //          octets
  saTtl: { min: 2, max: 86400 }, //        seconds
  negotiationTtl: { min: 1, max: 300 }, //  seconds
  livenessInterval: { min: 1, max: 3600 }, // seconds
  livenessFailures: { min: 1, max: 100 }, // probes
  protocolPort: { min: 1, max: 65535 },
  natTPort: { min: 1, max: 65535 },
  natKeepaliveInterval: { min: 0, max: 3600 }, // seconds
  replayWindow: { min: 32, max: 4096 }, //  packets, a power of two
  spi: { min: 256, max: 0xffff_ffff }, //   0..255 are reserved (RFC 4303 §2.1)
  routeIdLength: { min: 1, max: 64 },
  deviceLength: { min: 1, max: 255 },
  pathLength: { min: 1, max: 4095 },
  privateAddresses: { min: 1, max: 2 },
  peersPerRoute: { min: 1, max: 8 }, //     a route's peer list (dataplane/config_limits.h kMaxPeersPerRoute)
  /** Sequence numbers: 64 bits with ESN, 32 without; 0 is never sent. */
  sequence: { min: 1n, max: 2n ** 64n - 1n, maxWithoutEsn: 2n ** 32n - 1n },
} as const;

export const AEADS = ['aes-gcm-16-icv', 'aes-256-gcm-16-icv'] as const;
/** A route's NAT traversal (ESP in UDP, RFC 3948): off, always, or when a NAT is detected. */
export const NAT_TRAVERSALS = ['off', 'force', 'auto'] as const;
export type NatTraversal = (typeof NAT_TRAVERSALS)[number];
export const DRIVERS = ['af-packet', 'af-xdp', 'memory', 'pcap'] as const;

/** Octets of key per AEAD (the salt is 4 more). */
export const AEAD_KEY_OCTETS = { 'aes-gcm-16-icv': 16, 'aes-256-gcm-16-icv': 32 } as const;
export const SALT_OCTETS = 4;
export const PRESHARED_KEY_OCTETS = 32;

/** What toJson writes instead of a key unless asked for secrets. */
export const REDACTED = '<redacted>';
