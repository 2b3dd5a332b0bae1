// What the management API must know of the model's shape beyond what a JSON
// document shows: which nodes are lists (and their keys, in key order) and
// which are leaf-lists, so that RESTCONF paths (`route=site2`) address list
// entries and a merge matches entries by key. Paths are schema paths below
// each top-level container, without module prefixes. test/api-schema.test.ts
// checks this table against yang/vitesse-gateway.yang.
import { MODULE } from '../config/defaults.js';

export { MODULE };
export type Top = 'gateway' | 'gateway-state';
export const TOPS: readonly Top[] = ['gateway', 'gateway-state'];

export interface ListSchema {
  keys: readonly string[];
  /** Keys of an integer type: JSON numbers (RFC 7951 §6.1), the others strings. */
  integers?: readonly string[];
}

export const LISTS: Record<Top, Record<string, ListSchema>> = {
  gateway: {
    'public-interface/queue': { keys: ['id'], integers: ['id'] },
    route: { keys: ['id'] },
    'route/gateway': { keys: ['queue'], integers: ['queue'] },
    'route/peer': { keys: ['public-key'] },
    'route/peer/endpoint': { keys: ['queue'], integers: ['queue'] },
    'data-plane/inbound-sa': { keys: ['spi'], integers: ['spi'] },
    'data-plane/outbound-sa': { keys: ['route', 'queue'], integers: ['queue'] },
  },
  'gateway-state': {
    icmp: { keys: ['family', 'type'], integers: ['type'] },
    queue: { keys: ['id'], integers: ['id'] },
    'queue/icmp': { keys: ['family', 'type'], integers: ['type'] },
    route: { keys: ['id'] },
    'route/peer-endpoint': { keys: ['queue'], integers: ['queue'] },
    'route/peer': { keys: ['public-key'] },
    'route/peer/peer-endpoint': { keys: ['queue'], integers: ['queue'] },
    sa: { keys: ['direction', 'route', 'queue', 'spi'], integers: ['queue', 'spi'] },
    neighbour: { keys: ['interface', 'address'] },
    'management-listener': { keys: ['name'] },
    'bgp/announced': { keys: ['prefix'] },
  },
};

export const LEAF_LISTS: Record<Top, ReadonlySet<string>> = {
  gateway: new Set(['private-interface/address']),
  'gateway-state': new Set(),
};

/** Leaves that hold keys: shown as "<redacted>", and "<redacted>" in a change keeps the current value. */
export const SECRET_LEAVES: ReadonlySet<string> = new Set(['route/preshared-key', 'data-plane/inbound-sa/key', 'data-plane/inbound-sa/salt', 'data-plane/outbound-sa/key', 'data-plane/outbound-sa/salt']);

/** A key value from a path as the JSON value of its leaf. */
export function keyValue(list: ListSchema, key: string, text: string): string | number {
  return list.integers?.includes(key) && /^\d+$/.test(text) ? Number(text) : text;
}

/** RFC 8040's media type of YANG data in JSON. */
export const YANG_JSON = 'application/yang-data+json';

export const qualified = (name: string) => `${MODULE}:${name}`;
