// Every route's entry of gateway-state/route as RFC 7951 JSON text, for
// SAMPLE subscriptions in JSON encodings: the text RESTCONF and Get give
// for the same entry (state.ts routeList), made without an object per SA or
// per route.
//
// A sample of 10,000 routes through gatewayState() built 20,000 SA objects,
// a map of per-queue sums keyed by strings, 10,000 route objects and then
// their JSON: most of a sample's CPU. Here the data plane's SA traffic
// columns (Dataplane.saTrafficColumns) are summed into typed arrays indexed
// by the route's place in the configuration, the removed SAs' counts come
// from the SA ledger as in routeList, and each entry's text is its route's
// fixed opening (`{"id":"site-b","inbound-packets":"`) and the numbers.
// What follows the counters (peer state, learned endpoints, peer key) is
// state.ts routeTails, the same function routeList uses.
// test/gnmi-route-sample.test.ts compares the text with gatewayState's.
import type { RouteId } from '../dataplane.js';
import type { Gateway } from '../gateway.js';
import { routeTails } from '../state.js';
import { elemText, type PathElem } from './path.js';

export interface RouteRows {
  /** Route ids in configuration order (the same array while the configuration is). */
  ids: readonly RouteId[];
  /** Each route's path as text (pathText of elems). */
  keys: readonly string[];
  elems: readonly PathElem[][];
  /** Each route's entry, RFC 7951 JSON. */
  json: string[];
}

interface Layout {
  of: unknown;
  ids: RouteId[];
  index: Map<RouteId, number>;
  keys: string[];
  elems: PathElem[][];
  openings: string[];
}

export class RouteSampler {
  private layout: Layout | null = null;

  constructor(private readonly gw: Gateway) {}

  /** What stays while the configuration does: ids, paths, each entry's opening. */
  private layoutNow(): Layout {
    const config = this.gw.currentConfig;
    if (this.layout?.of === config.routes) return this.layout;
    const ids = config.routes.map((r) => r.id);
    const elems = ids.map((id) => [{ name: 'gateway-state' }, { name: 'route', key: { id } }]);
    this.layout = {
      of: config.routes,
      ids,
      index: new Map(ids.map((id, i) => [id, i])),
      keys: elems.map((e) => `/${e[0].name}/${elemText(e[1])}`),
      elems,
      openings: ids.map((id) => `{"id":${JSON.stringify(id)},"inbound-packets":"`),
    };
    return this.layout;
  }

  rows(): RouteRows {
    const l = this.layoutNow();
    const n = l.ids.length;
    // Per route: inbound packets, bytes, SAs, outbound packets, bytes, SAs, policy errors.
    const sums = new Float64Array(n * 7);
    const { routes, columns } = this.gw.dataplane.saTrafficColumns();
    const at = new Int32Array(routes.length);
    for (let i = 0; i < routes.length; i++) at[i] = l.index.get(routes[i]) ?? -1;
    for (let c = 0; c < columns.length; c += 6) {
      const r = at[columns[c]];
      if (r < 0) continue;
      const o = r * 7 + (columns[c + 1] ? 0 : 3);
      sums[o] += columns[c + 3];
      sums[o + 1] += columns[c + 4];
      sums[o + 2]++;
      sums[r * 7 + 6] += columns[c + 5];
    }
    // The removed SAs' final counts (routeTraffic with no live SAs: the ledger's alone).
    for (const t of this.gw.saLedger.routeTraffic(l.ids, [])) {
      const r = l.index.get(t.route);
      if (r === undefined) continue;
      const o = r * 7 + (t.direction === 'inbound' ? 0 : 3);
      sums[o] += t.packets;
      sums[o + 1] += t.bytes;
      sums[r * 7 + 6] += t.policyErrors;
    }
    const tails = routeTails(this.gw);
    const json: string[] = new Array(n);
    for (let r = 0, o = 0; r < n; r++, o += 7) {
      const tail = tails.size ? tails.get(l.ids[r]) : undefined;
      json[r] = `${l.openings[r]}${sums[o]}","inbound-bytes":"${sums[o + 1]}","outbound-packets":"${sums[o + 3]}","outbound-bytes":"${sums[o + 4]}","inbound-sas":${sums[o + 2]},"outbound-sas":${sums[o + 5]},"inbound-policy-errors":"${sums[o + 6]}"${tail ? ',' + JSON.stringify(tail).slice(1) : '}'}`;
    }
    return { ids: l.ids, keys: l.keys, elems: l.elems, json };
  }
}
