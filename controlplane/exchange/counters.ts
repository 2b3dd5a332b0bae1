// The key manager's counters (Vita's names). Every message that is dropped
// counts once in rxerrors and once in exactly one *_errors counter, so an
// operator can always see why; rate-limited messages are counted apart
// (they passed their checks: what they would have cost was over budget).

export const KEY_MANAGER_COUNTERS = [
  'rxerrors', //               every message dropped as erroneous (sum of the *_errors below)
  'route_errors', //           names no configured route, or comes from a source that is not its gateway
  'protocol_errors', //        malformed, or does not fit the state of the exchange
  'version_errors', //         a protocol version we do not speak
  'parameter_errors', //       an AEAD other than the route's
  'authentication_errors', //  failed to authenticate: wrong key, forged, replayed or stale nonce
  'public_key_errors', //      an unsafe (low-order) or invalid public key
  'negotiations_initiated', // exchanges we started (initiator)
  'negotiations_expired', //   exchanges that did not finish within negotiation-ttl (initiator; not those the peer's own superseded)
  'challenges_offered', //     challenges sent in answer to a knock (responder)
  'challenges_accepted', //    challenges answered with a proposal (initiator)
  'keypairs_offered', //       SA pairs agreed as responder
  'keypairs_negotiated', //    SA pairs agreed as initiator
  'inbound_sa_expired', //     inbound SAs removed at sa-ttl
  'outbound_sa_expired', //    outbound SAs removed at sa-ttl
  'outbound_sa_updated', //    outbound SAs replaced under the same SPI (a retried negotiation)
  'ratelimited', //            challenges and proposals that passed their checks, dropped: the source's budget was spent
  'knocks_ratelimited', //     knocks left unanswered: the source's budget of challenges (the reflection limit) was spent
  'proposals_ratelimited', //  vita-ske proposals left unread: the source's budget of unauthenticated work (shared with knocks) was spent
  'drain_errors', //           drain messages or acks refused: forged (MAC), replayed (counter), or naming an SA we do not hold (exchange/drain.ts)
  'drains_sent', //            drain messages sent (each retransmission and refresh too; exchange/drain-notices.ts)
  'drains_accepted', //        authentic drain messages from peers, acknowledged
  'drain_acks_accepted', //    authentic acknowledgements of our drain messages
] as const;

export type KeyManagerCounterName = (typeof KEY_MANAGER_COUNTERS)[number];
export type KeyManagerCounters = Record<KeyManagerCounterName, number>;

/** The error counter for each reason a message is dropped. */
export type DropReason = 'route' | 'protocol' | 'version' | 'parameter' | 'authentication' | 'public-key' | 'drain';

export const DROP_COUNTER: Record<DropReason, KeyManagerCounterName> = {
  route: 'route_errors',
  protocol: 'protocol_errors',
  version: 'version_errors',
  parameter: 'parameter_errors',
  authentication: 'authentication_errors',
  'public-key': 'public_key_errors',
  drain: 'drain_errors',
};

export function newCounters(): KeyManagerCounters {
  return Object.fromEntries(KEY_MANAGER_COUNTERS.map((n) => [n, 0])) as KeyManagerCounters;
}
