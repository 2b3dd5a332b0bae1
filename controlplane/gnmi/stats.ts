// The gNMI server's own counters, per gateway (gateway-state/gnmi and the
// vitesse_gnmi_* metrics read them); its connections are counted with the
// other listeners' (management-listener[name='gnmi']).

export interface GnmiStats {
  /** Subscribe calls open now. */
  subscriptions: number;
  /** Subscribe calls refused because --gnmi-max-subscriptions were open. */
  subscriptionsRefused: number;
  /** Calls without a valid bearer token (UNAUTHENTICATED). */
  requestsUnauthenticated: number;
  /** Calls refused for what they asked: an unknown path (NOT_FOUND), a malformed request (INVALID_ARGUMENT), an unsupported encoding or RPC (UNIMPLEMENTED). */
  requestsRefused: number;
  /** Calls that failed on an internal error (INTERNAL, logged). */
  requestsFailed: number;
  /** Updates and deletes sent in notifications. */
  updatesSent: number;
  /** Samples not taken because the client had not yet read the previous notification. */
  samplesSkipped: number;
}

const registry = new WeakMap<object, GnmiStats>();

/** The gNMI counters of a gateway, or undefined if it never started a gNMI server. */
export function gnmiStatsOf(owner: object): GnmiStats | undefined {
  return registry.get(owner);
}

export function gnmiStatsFor(owner: object): GnmiStats {
  let s = registry.get(owner);
  if (!s) registry.set(owner, (s = { subscriptions: 0, subscriptionsRefused: 0, requestsUnauthenticated: 0, requestsRefused: 0, requestsFailed: 0, updatesSent: 0, samplesSkipped: 0 }));
  return s;
}
