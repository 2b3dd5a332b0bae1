// The model's leaf types as RFC 7951 JSON encodes them (uint8..uint32 as
// JSON numbers, everything else as strings), each decoded to its value or
// refused with a reason that quotes the value: never for keys, which must not
// end up in logs.
import { AEADS, DRIVERS, LIMITS, NAT_TRAVERSALS, type NatTraversal } from './defaults.js';
import { show } from './errors.js';
import { formatAddress, formatPrefix, parseAddress, parsePrefix, type ParsedAddress, type ParsedPrefix } from './ip.js';
import type { Aead, Driver, IpAddress, MacAddress, Prefix } from './types.js';
import { KEY_EXCHANGE_PROTOCOLS, type KeyExchangeProtocol } from '../exchange/types.js';

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface LeafType<T> {
  decode(json: unknown): Decoded<T>;
}

const ok = <T>(value: T): Decoded<T> => ({ ok: true, value });
const no = <T>(reason: string): Decoded<T> => ({ ok: false, reason });

export function uint(bits: 8 | 16 | 32, min: number, max: number): LeafType<number> {
  return {
    decode(json) {
      if (typeof json !== 'number') {
        const hint = typeof json === 'string' && /^\s*\d+\s*$/.test(json) ? ` (RFC 7951 writes a uint${bits} as a JSON number)` : '';
        return no(`${show(json)} is not a number${hint}`);
      }
      if (!Number.isInteger(json)) return no(`${show(json)} is not an integer`);
      if (json < min || json > max) return no(`${json} is out of range ${min}..${max}`);
      return ok(json);
    },
  };
}

/** A uint64 as RFC 7951 writes it: a JSON string of decimal digits. */
export function uint64(min: bigint, max: bigint = 2n ** 64n - 1n): LeafType<bigint> {
  return {
    decode(json) {
      if (typeof json !== 'string') {
        const hint = typeof json === 'number' ? ' (RFC 7951 writes a uint64 as a JSON string, e.g. "1")' : '';
        return no(`${show(json)} is not a string of decimal digits${hint}`);
      }
      if (!/^(0|[1-9][0-9]{0,19})$/.test(json)) return no(`${show(json)} is not a decimal integer without sign or leading zeros`);
      const n = BigInt(json);
      if (n < min || n > max) return no(`${json} is out of range ${min}..${max}`);
      return ok(n);
    },
  };
}

export const replayWindow: LeafType<number> = {
  decode(json) {
    const n = uint(16, LIMITS.replayWindow.min, LIMITS.replayWindow.max).decode(json);
    if (!n.ok) return n;
    if ((n.value & (n.value - 1)) !== 0) {
      return no(`${n.value} is not a power of two from ${LIMITS.replayWindow.min} to ${LIMITS.replayWindow.max}`);
    }
    return n;
  },
};

export const boolean: LeafType<boolean> = {
  decode(json) {
    return typeof json === 'boolean' ? ok(json) : no(`${show(json)} is not a boolean (true or false)`);
  },
};

export function enumeration<T extends string>(values: readonly T[]): LeafType<T> {
  return {
    decode(json) {
      return typeof json === 'string' && (values as readonly string[]).includes(json)
        ? ok(json as T)
        : no(`${show(json)} is not one of ${values.join(', ')}`);
    },
  };
}

export const aead = enumeration<Aead>(AEADS);
export const natTraversal = enumeration<NatTraversal>(NAT_TRAVERSALS);
export const keyExchangeProtocol = enumeration<KeyExchangeProtocol>(KEY_EXCHANGE_PROTOCOLS);
export const driver = enumeration<Driver>(DRIVERS);

function string(json: unknown): Decoded<string> {
  return typeof json === 'string' ? ok(json) : no(`${show(json)} is not a string`);
}

export function text(min: number, max: number): LeafType<string> {
  return {
    decode(json) {
      const s = string(json);
      if (!s.ok) return s;
      const n = [...s.value].length;
      if (n < min || n > max) return no(`${show(s.value)} is not ${min}..${max} characters long`);
      return s;
    },
  };
}

const ROUTE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const routeId: LeafType<string> = {
  decode(json) {
    const s = string(json);
    if (!s.ok) return s;
    const { min, max } = LIMITS.routeIdLength;
    if (s.value.length < min || s.value.length > max || !ROUTE_ID.test(s.value)) {
      return no(`${show(s.value)} is not a route id (${min}..${max} letters, digits, ".", "_" or "-", starting with a letter or digit)`);
    }
    return s;
  },
};

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export const mac: LeafType<MacAddress> = {
  decode(json) {
    const s = string(json);
    if (!s.ok) return s;
    return MAC.test(s.value) ? ok(s.value.toLowerCase() as MacAddress) : no(`${show(s.value)} is not a MAC address`);
  },
};

/** An address with its canonical text (and, for messages, the text as written). */
export interface Address extends ParsedAddress {
  text: IpAddress;
  written: string;
}

function familyWord(s: string): string {
  return s.includes(':') ? 'IPv6 ' : s.includes('.') ? 'IPv4 ' : 'IP ';
}

export const ipAddress: LeafType<Address> = {
  decode(json) {
    const s = string(json);
    if (!s.ok) return s;
    if (s.value.includes('%')) return no(`${show(s.value)} has a zone, which is not allowed here`);
    const a = parseAddress(s.value);
    if (!a) return no(`${show(s.value)} is not an ${familyWord(s.value)}address`);
    return ok({ ...a, text: formatAddress(a) as IpAddress, written: s.value });
  },
};

export interface PrefixValue extends ParsedPrefix {
  text: Prefix;
  written: string;
}

export const ipPrefix: LeafType<PrefixValue> = {
  decode(json) {
    const s = string(json);
    if (!s.ok) return s;
    const p = parsePrefix(s.value);
    if (!p) return no(`${show(s.value)} is not an ${familyWord(s.value.split('/')[0])}prefix`);
    return ok({ ...p, text: formatPrefix(p) as Prefix, written: s.value });
  },
};

/** An X25519 public key in base64 (typedef public-key): 32 octets, canonical. Not secret. */
export const publicKey: LeafType<Buffer> = {
  decode(json) {
    if (typeof json !== 'string') return no('is not a string (a public key in base64)');
    if (!/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(json)) return no(`${show(json)} is not a public key (the base64 of 32 octets, 44 characters, as \`vitesse pubkey\` writes it)`);
    return ok(Buffer.from(json, 'base64'));
  },
};

/** Hexadecimal key material, decoded to octets. The value is never quoted. */
export function hexKey(octets: readonly number[], what: string): LeafType<Buffer> {
  const digits = octets.map((n) => 2 * n);
  const lengths = digits.length === 1 ? `${digits[0]}` : `${digits.slice(0, -1).join(', ')} or ${digits[digits.length - 1]}`;
  return {
    decode(json) {
      if (typeof json !== 'string') return no(`is not a string of hexadecimal digits (${what})`);
      if (!/^[0-9a-fA-F]*$/.test(json) || !digits.includes(json.length)) {
        return no(`is not ${lengths} hexadecimal digits (${what}); the value is not shown`);
      }
      return ok(Buffer.from(json, 'hex'));
    },
  };
}
