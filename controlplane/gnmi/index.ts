// `vitesse run`'s gNMI options. gNMI is off unless --gnmi-listen is given; it
// then uses the TCP API's certificate, key and bearer token (--api-tls-cert,
// --api-tls-key, --api-token-file) and the listeners' --max-connections and
// --connection-timeout.
import { UsageError } from '../cli/args.js';
import { DEFAULT_MAX_SUBSCRIPTIONS, DEFAULT_MIN_SAMPLE_MS } from './server.js';

export { startGnmi, type GnmiServer } from './server.js';

export const gnmiSpec = {
  'gnmi-listen': { type: 'string', help: 'serve gNMI (gRPC, TLS) on host:port, with the TCP API\'s --api-tls-cert, --api-tls-key and --api-token-file (off unless given)' },
  'gnmi-max-subscriptions': { type: 'string', default: String(DEFAULT_MAX_SUBSCRIPTIONS), help: 'gNMI Subscribe calls open at a time; more are refused (RESOURCE_EXHAUSTED)' },
  'gnmi-min-sample-interval': { type: 'string', default: String(DEFAULT_MIN_SAMPLE_MS / 1000), help: 'shortest gNMI sample or heartbeat interval a subscription may ask for, in seconds' },
} as const;

export function gnmiSettings(options: Record<string, string | number | boolean | undefined>): { maxSubscriptions: number; minSampleMs: number } {
  const maxText = String(options['gnmi-max-subscriptions'] ?? DEFAULT_MAX_SUBSCRIPTIONS);
  if (!/^[1-9]\d{0,5}$/.test(maxText)) throw new UsageError(`--gnmi-max-subscriptions: "${maxText}" is not a number of subscriptions (1 or more)`);
  const minText = String(options['gnmi-min-sample-interval'] ?? DEFAULT_MIN_SAMPLE_MS / 1000);
  const min = Number(minText);
  if (!/^\d+(\.\d+)?$/.test(minText) || min < 0.1 || min > 3600) throw new UsageError(`--gnmi-min-sample-interval: "${minText}" is not a number of seconds (0.1 to 3600)`);
  return { maxSubscriptions: Number(maxText), minSampleMs: Math.round(min * 1000) };
}
