// What `vitesse run` starts beside the gateway for operators: the management
// API (Unix socket, optionally TCP with TLS and a token) and the Prometheus
// metrics listener, with their command-line options.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { UsageError } from '../cli/args.js';
import type { Gateway } from '../gateway.js';
import { DEFAULT_METRICS_LISTEN, GatewayMetrics, serveMetrics, type MetricsServer } from '../metrics.js';
import { parseListen } from './listen.js';
import { checkSocketFree, startApi, type ApiServer } from './server.js';
import { RUN_DIR, socketPathFor } from './socket.js';

export const managementSpec = {
  socket: { type: 'string', help: `management API socket, in an existing directory (default ${RUN_DIR}/NAME.sock, the directory made if missing; "none": no socket)` },
  'socket-mode': { type: 'string', default: '0600', help: 'permissions of the API socket, in octal (0660 lets the group in)' },
  'api-listen': { type: 'string', help: 'also serve the API over TCP on host:port, with TLS and a bearer token (all three options below required)' },
  'api-tls-cert': { type: 'string', help: 'PEM certificate (chain) of the TCP API' },
  'api-tls-key': { type: 'string', help: 'PEM private key of the TCP API' },
  'api-token-file': { type: 'string', help: 'file holding the bearer token clients of the TCP API must send (at least 16 characters)' },
  'metrics-listen': { type: 'string', default: DEFAULT_METRICS_LISTEN, help: 'Prometheus metrics on host:port at /metrics ("none": off)' },
} as const;

export interface Management {
  readonly api: ApiServer;
  readonly metrics: MetricsServer | null;
  close(): Promise<void>;
}

type Options = Record<string, string | number | boolean | undefined>;

export type ManagementSettings = ReturnType<typeof managementSettings>;

/**
 * Checks the options and the API socket before anything starts (vitesse run
 * calls it before the data plane): a UsageError (exit status 2) for each problem.
 */
export async function checkManagement(options: Options, name: string): Promise<ManagementSettings> {
  const s = managementSettings(options, name);
  try {
    if (s.metricsListen) parseListen(s.metricsListen, '--metrics-listen');
    if (s.tcp) {
      parseListen(s.tcp.listen, '--api-listen');
      for (const [option, file] of [['--api-tls-cert', s.tcp.certFile], ['--api-tls-key', s.tcp.keyFile], ['--api-token-file', s.tcp.tokenFile]]) {
        try {
          fs.accessSync(file, fs.constants.R_OK);
        } catch (e) {
          throw new Error(`${option}: cannot read ${file}: ${(e as Error).message}`);
        }
      }
    }
    if (s.socket) await checkSocketFree(s.socket);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return s;
}

/** Checks the options (UsageError), without looking at the socket (checkManagement does). */
export function managementSettings(options: Options, name: string) {
  const socketOption = options.socket === undefined ? undefined : String(options.socket);
  let named: string; // checks the name even when --socket is given: it also names the lock files
  try {
    named = socketPathFor(name);
  } catch (e) {
    throw new UsageError(`--name: ${(e as Error).message}`);
  }
  const socket = socketOption === 'none' ? null : socketOption ?? named;
  if (socketOption !== undefined && socket !== null) {
    // Only the default directory is made if missing: elsewhere a missing
    // directory is a mistyped path, not something to create as root.
    const dir = path.dirname(path.resolve(socket));
    let st: fs.Stats | null = null;
    try { st = fs.statSync(dir); } catch { /* reported below */ }
    if (dir !== RUN_DIR && !st?.isDirectory()) throw new UsageError(`--socket: ${dir} ${st ? 'is not a directory' : 'does not exist'} (create it first, or give a socket in an existing directory)`);
  }
  const modeText = String(options['socket-mode']);
  if (!/^0?[0-7]{3}$/.test(modeText)) throw new UsageError(`--socket-mode: "${modeText}" is not an octal mode like 0600`);
  const socketMode = parseInt(modeText, 8);
  const tcpOptions = ['api-listen', 'api-tls-cert', 'api-tls-key', 'api-token-file'] as const;
  const given = tcpOptions.filter((o) => options[o] !== undefined);
  if (given.length && given.length !== tcpOptions.length) {
    throw new UsageError(`the TCP API needs all of --${tcpOptions.join(', --')} (missing --${tcpOptions.filter((o) => !given.includes(o)).join(', --')})`);
  }
  const tcp = given.length
    ? { listen: String(options['api-listen']), certFile: String(options['api-tls-cert']), keyFile: String(options['api-tls-key']), tokenFile: String(options['api-token-file']) }
    : undefined;
  const metricsListen = String(options['metrics-listen']);
  return { socket, socketMode, tcp, metricsListen: metricsListen === 'none' ? null : metricsListen };
}

/** Starts the API and the metrics; throws (with nothing left running) if either cannot start. */
export async function startManagement(gw: Gateway, s: ManagementSettings, ctx: { configFile: string; log: Logger }): Promise<Management> {
  const api = await startApi(gw, { socket: s.socket, socketMode: s.socketMode, tcp: s.tcp, configFile: ctx.configFile, log: ctx.log });
  let metrics: MetricsServer | null = null;
  if (s.metricsListen) {
    try {
      metrics = await serveMetrics(new GatewayMetrics(gw), s.metricsListen, ctx.log);
      ctx.log.info({ listen: `${metrics.address.address}:${metrics.address.port}` }, 'metrics listening at /metrics');
    } catch (e) {
      await api.close();
      throw e;
    }
  }
  return {
    api,
    metrics,
    async close() {
      await Promise.all([api.close(), metrics?.close()]);
    },
  };
}
