// The model as gNMI paths see it: the data nodes of vitesse-gateway (from
// the YANG module itself, groupings expanded) with the list keys the
// management API knows (api/schema.ts), and which state leaves an ON_CHANGE
// subscription watches.
import { schemaTree, type SchemaNode } from '../config/model.js';
import { LISTS, TOPS, type Top } from '../api/schema.js';

export interface GnmiNode {
  name: string;
  kind: SchemaNode['kind'];
  type?: string;
  /** Key leaves in key order (lists). */
  keys: readonly string[];
  children: ReadonlyMap<string, GnmiNode>;
  /** Some node below is a list: a container's update is split there (one update per list entry). */
  holdsList: boolean;
  /** Schema path below the top container ("route/gateway"; "" for the top). */
  path: string;
}

let built: ReadonlyMap<Top, GnmiNode> | null = null;

function convert(n: SchemaNode, top: Top, parent: string): GnmiNode {
  const p = parent ? `${parent}/${n.name}` : n.name;
  const children = new Map<string, GnmiNode>();
  for (const c of n.children) children.set(c.name, convert(c, top, p));
  // The model's keys; the API's table (api/schema.ts) for a list the model reader gave none.
  const keys = n.kind === 'list' ? n.keys ?? LISTS[top][p]?.keys : undefined;
  if (n.kind === 'list' && !keys?.length) throw new Error(`gnmi: the list ${top}/${p} has no keys`);
  const holdsList = [...children.values()].some((c) => c.kind === 'list' || c.holdsList);
  return { name: n.name, kind: n.kind, type: n.type, keys: keys ?? [], children, holdsList, path: p };
}

/** The two top-level containers, gateway (configuration) and gateway-state. */
export function gnmiTops(): ReadonlyMap<Top, GnmiNode> {
  if (built) return built;
  const tops = new Map<Top, GnmiNode>();
  for (const n of schemaTree()) {
    if (!TOPS.includes(n.name as Top)) continue;
    const children = new Map(n.children.map((c) => [c.name, convert(c, n.name as Top, '')] as const));
    tops.set(n.name as Top, { name: n.name, kind: 'container', keys: [], children, holdsList: true, path: '' });
  }
  built = tops;
  return built;
}

/**
 * State leaves that move with traffic or time: counters and gauges by their
 * type, and the few others that do the same (an SA's sequence numbers and
 * age, a neighbour's age, when a route's peer was last heard from or last
 * negotiated with). An ON_CHANGE subscription reports a
 * node when any other leaf changes (an SA installed or removed, a peer going
 * up or down, a next hop resolved), never for these alone; SAMPLE reports
 * them.
 */
const MOVING_NAMES: ReadonlySet<string> = new Set(['age', 'window-top', 'next-sequence', 'reserved-sequence', 'last-received', 'last-handshake']);
const MOVING_TYPE = /(^|:)(counter|gauge|zero-based-counter)(32|64)$/;

export function isMoving(node: GnmiNode): boolean {
  return MOVING_NAMES.has(node.name) || MOVING_TYPE.test(node.type ?? '');
}
