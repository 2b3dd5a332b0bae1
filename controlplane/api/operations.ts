// RESTCONF operations (RFC 8040 §3.6): the model's rpcs, invoked with
// POST /restconf/operations/vitesse-gateway:NAME. They act on the running
// gateway and change no configuration (nothing is saved to the file).
//
//   set-log-level   the log's level, at once, for every part (logging.ts)
//   drain           out of service without loss, or back in (drain.ts)
import type { Logger } from 'pino';
import { isLogLevel, LOG_LEVELS, type LogLevel } from '../logging.js';
import { RestconfError } from './errors.js';
import { isObject, type Json } from './path.js';
import { qualified } from './schema.js';

/** What the operations act on; an operation whose part is missing is not offered. */
export interface OperationTargets {
  logLevel?: { get(): string; set(level: LogLevel): void };
  drain?: { set(draining: boolean): void; readonly active: boolean };
}

export const OPERATIONS_ROOT = '/restconf/operations';

type Operation = (input: Record<string, unknown>, peer: string) => Json;

export class Operations {
  private readonly table = new Map<string, Operation>();

  constructor(targets: OperationTargets, private readonly log: Logger) {
    const logLevel = targets.logLevel;
    if (logLevel) {
      this.table.set(qualified('set-log-level'), (input, peer) => {
        const previous = logLevel.get();
        if (input.level !== undefined) {
          if (typeof input.level !== 'string' || !isLogLevel(input.level)) {
            throw RestconfError.of('invalid-value', `"${String(input.level)}" is not a log level: use one of ${LOG_LEVELS.join(', ')}`, { path: `/${qualified('input')}/level` });
          }
          logLevel.set(input.level);
          // Logged at warn so that it shows at any level but error/fatal/silent.
          this.log.warn({ peer, newLevel: input.level, previousLevel: previous }, 'log level changed');
        }
        return { level: logLevel.get(), 'previous-level': previous };
      });
    }
    const drain = targets.drain;
    if (drain) {
      this.table.set(qualified('drain'), (input, peer) => {
        if (input.cancel !== undefined && typeof input.cancel !== 'boolean') {
          throw RestconfError.of('invalid-value', `"${String(input.cancel)}" is not a boolean`, { path: `/${qualified('input')}/cancel` });
        }
        const draining = input.cancel !== true;
        // Who took the gateway out of service (or back), at warn: it shows at any level but error/fatal/silent.
        if (draining !== drain.active) this.log.warn({ peer, draining }, draining ? 'drain asked for' : 'drain cancel asked for');
        drain.set(draining);
        return { draining: drain.active };
      });
    }
  }

  /** The body of GET /restconf/operations. */
  list(): Json {
    return { 'ietf-restconf:operations': Object.fromEntries([...this.table.keys()].map((k) => [k, [null]])) };
  }

  /** Runs the operation at `name` (the path below /restconf/operations/) with the request's body. */
  invoke(name: string, body: unknown, peer: string): Json | null {
    const op = this.table.has(name) ? this.table.get(name)! : undefined;
    if (!op) throw RestconfError.of('invalid-value', `no such operation: ${name} (GET ${OPERATIONS_ROOT} lists them)`, { type: 'protocol', status: 404 });
    let input: Record<string, unknown> = {};
    if (body !== undefined) {
      const key = qualified('input');
      if (!isObject(body) || Object.keys(body).some((k) => k !== key) || (Object.hasOwn(body, key) && !isObject(body[key]))) {
        throw RestconfError.of('malformed-message', `the body must be {"${key}": {…}}`);
      }
      input = Object.hasOwn(body, key) ? (body[key] as Record<string, unknown>) : {};
    }
    const out = op(input, peer);
    return { [qualified('output')]: out };
  }
}
