// The endpoint (address:port) of a public-key peer behind NAT, learned by
// the key manager (docs/key-exchange.md, "Peers behind NAT"). Only what
// authenticates moves it (DESIGN §7): a proposal that decrypted with the
// peer's static key and carried a nonce we issued (single use, so the
// newest), an agreement that answered our outstanding proposal, or the
// data plane's endpoint, itself learned only from the newest ESP packet
// that passed anti-replay. Knocks and challenges never move it.
import type { Logger } from 'pino';
import type { ExchangeParams } from './config.js';
import type { Endpoint } from './types.js';

export type EndpointSource = 'key-exchange' | 'esp';

interface Learner {
  params: ExchangeParams;
  endpoint: Endpoint | null;
}

/** Moves `ex`'s peer endpoint to `at` if its route has no configured address; true if it moved. */
export function learnEndpoint(ex: Learner, at: Endpoint, source: EndpointSource, log: Logger): boolean {
  // A configured address is the operator's word: NNpsk0 binds it, and a
  // public-key peer with one does not roam.
  if (ex.params.gatewayAddress) return false;
  const old = ex.endpoint;
  if (old && old.address === at.address && old.port === at.port) return false;
  ex.endpoint = { address: at.address, port: at.port };
  log.info(
    { route: ex.params.route, queue: ex.params.queue, endpoint: `${at.address}:${at.port}`, previous: old ? `${old.address}:${old.port}` : null, source },
    old ? 'peer endpoint moved' : 'peer endpoint learned',
  );
  return true;
}
