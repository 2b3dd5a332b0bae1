// What `vitesse run` starts beside the gateway for operators: the management
// API (Unix socket, optionally TCP with TLS and a token) and the Prometheus
// metrics listener, with their command-line options.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { UsageError } from '../cli/args.js';
import type { Gateway } from '../gateway.js';
import { DEFAULT_METRICS_LISTEN, GatewayMetrics, serveMetrics, type MetricsServer } from '../metrics.js';
import { fitCaps } from './descriptors.js';
import type { OperationTargets } from './operations.js';
import { parseListen } from './listen.js';
import { DEFAULT_LIMITS, type ListenerLimits } from './listeners.js';
import { checkSocketFree, checkToken, startApi, type ApiServer } from './server.js';
import { RUN_DIR, socketPathFor } from './socket.js';
import { gnmiSettings, gnmiSpec, startGnmi, type GnmiServer } from '../gnmi/index.js';

export const managementSpec = {
  socket: { type: 'string', help: `management API socket, in an existing directory (default ${RUN_DIR}/NAME.sock, the directory made if missing; "none": no socket)` },
  'socket-mode': { type: 'string', default: '0600', help: 'permissions of the API socket, in octal (0660 lets the group in; access for all users is refused)' },
  'api-listen': { type: 'string', help: 'also serve the API over TCP on host:port, with TLS and a bearer token (all three options below required)' },
  'api-tls-cert': { type: 'string', help: 'PEM certificate (chain) of the TCP API' },
  'api-tls-key': { type: 'string', help: 'PEM private key of the TCP API' },
  'api-token-file': { type: 'string', help: 'file holding the bearer token clients of the TCP API must send (at least 32 random characters, e.g. openssl rand -hex 32; owner-only)' },
  'metrics-listen': { type: 'string', default: DEFAULT_METRICS_LISTEN, help: 'Prometheus metrics on host:port at /metrics ("none": off)' },
  'max-connections': { type: 'string', help: `connections each listener (API socket, TCP API, metrics) accepts at a time (default ${DEFAULT_LIMITS.maxConnections}, fewer if RLIMIT_NOFILE is low)` },
  'connection-timeout': { type: 'string', default: String(DEFAULT_LIMITS.timeoutMs / 1000), help: 'seconds a client may take to finish the TLS handshake or its request headers, or stay silent' },
  ...gnmiSpec,
  insecure: { type: 'boolean', help: 'accept a socket mode open to all users, a weak API token or a token file others can read (warnings instead of refusals)' },
} as const;

export interface Management {
  readonly api: ApiServer;
  readonly metrics: MetricsServer | null;
  readonly gnmi: GnmiServer | null;
  close(): Promise<void>;
}

type Options = Record<string, string | number | boolean | undefined>;

export type ManagementSettings = ReturnType<typeof managementSettings>;

/**
 * Checks the options and the API socket before anything starts (vitesse run
 * calls it before the data plane): a UsageError (exit status 2) for each problem.
 */
export async function checkManagement(options: Options, name: string, how: { socket: boolean } = { socket: true }): Promise<ManagementSettings> {
  const s = managementSettings(options, name);
  try {
    if (s.metricsListen) parseListen(s.metricsListen, '--metrics-listen');
    if (s.gnmi) parseListen(s.gnmi.listen, '--gnmi-listen');
    const files = s.tcp ?? s.gnmi;
    if (s.tcp) parseListen(s.tcp.listen, '--api-listen');
    if (files) {
      for (const [option, file] of [['--api-tls-cert', files.certFile], ['--api-tls-key', files.keyFile], ['--api-token-file', files.tokenFile]]) {
        try {
          fs.accessSync(file, fs.constants.R_OK);
        } catch (e) {
          throw new Error(`${option}: cannot read ${file}: ${(e as Error).message}`);
        }
      }
      checkToken(files.tokenFile, s.insecure); // weak, or readable by others: refused before the data plane starts
    }
    // vitesse run --check runs beside the gateway that serves the socket.
    if (s.socket && how.socket) await checkSocketFree(s.socket);
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
  const insecure = Boolean(options.insecure);
  if (socketMode & 0o007 && !insecure) {
    throw new UsageError(`--socket-mode ${modeText} lets every user of the host change the gateway (and read its state): use 0600, or 0660 with a group (--insecure allows it anyway)`);
  }
  const capText = options['max-connections'] === undefined ? undefined : String(options['max-connections']);
  if (capText !== undefined && !/^[1-9]\d{0,5}$/.test(capText)) throw new UsageError(`--max-connections: "${capText}" is not a number of connections (1 or more)`);
  const timeoutText = String(options['connection-timeout']);
  const timeout = Number(timeoutText);
  if (!/^\d+(\.\d+)?$/.test(timeoutText) || timeout < 0.1 || timeout > 3600) throw new UsageError(`--connection-timeout: "${timeoutText}" is not a number of seconds (0.1 to 3600)`);
  // gNMI (--gnmi-listen) uses the TCP API's certificate, key and token, with or without --api-listen.
  const tcpOptions = ['api-listen', 'api-tls-cert', 'api-tls-key', 'api-token-file'] as const;
  const gnmiListen = options['gnmi-listen'] === undefined ? undefined : String(options['gnmi-listen']);
  const needed = gnmiListen !== undefined && options['api-listen'] === undefined ? tcpOptions.slice(1) : tcpOptions;
  const given = tcpOptions.filter((o) => options[o] !== undefined);
  if ((given.length || gnmiListen !== undefined) && needed.some((o) => !given.includes(o))) {
    const who = given.includes('api-listen') || gnmiListen === undefined ? 'the TCP API' : 'gNMI (--gnmi-listen)';
    throw new UsageError(`${who} needs all of --${needed.join(', --')} (missing --${needed.filter((o) => !given.includes(o)).join(', --')})`);
  }
  const tcp = given.includes('api-listen')
    ? { listen: String(options['api-listen']), certFile: String(options['api-tls-cert']), keyFile: String(options['api-tls-key']), tokenFile: String(options['api-token-file']) }
    : undefined;
  const gnmi = gnmiListen === undefined ? undefined : {
    listen: gnmiListen, certFile: String(options['api-tls-cert']), keyFile: String(options['api-tls-key']), tokenFile: String(options['api-token-file']),
    ...gnmiSettings(options),
  };
  const metricsListen = String(options['metrics-listen']);
  return {
    socket, socketMode, tcp, gnmi, insecure, metricsListen: metricsListen === 'none' ? null : metricsListen,
    maxConnections: capText === undefined ? null : Number(capText), timeoutMs: Math.round(timeout * 1000),
  };
}

/** Starts the API and the metrics; throws (with nothing left running) if either cannot start. */
export async function startManagement(gw: Gateway, s: ManagementSettings, ctx: { configFile: string; log: Logger; operations?: OperationTargets }): Promise<Management> {
  // Every listener full must leave descriptors for the gateway itself (descriptors.ts).
  const listeners = [s.socket, s.tcp, s.metricsListen, s.gnmi].filter(Boolean).length;
  const fitted = fitCaps(s.maxConnections ?? DEFAULT_LIMITS.maxConnections, listeners, s.maxConnections !== null);
  if (fitted.warning) ctx.log.warn({ maxConnections: fitted.cap }, fitted.warning);
  if (s.socketMode & 0o007) ctx.log.warn({ socket: s.socket, mode: s.socketMode.toString(8) }, '--insecure: the API socket is open to every user of the host');
  const limits: ListenerLimits = { maxConnections: fitted.cap, timeoutMs: s.timeoutMs };
  const api = await startApi(gw, { socket: s.socket, socketMode: s.socketMode, tcp: s.tcp, configFile: ctx.configFile, log: ctx.log, limits, insecure: s.insecure, operations: ctx.operations });
  let metrics: MetricsServer | null = null;
  if (s.metricsListen) {
    try {
      metrics = await serveMetrics(new GatewayMetrics(gw), s.metricsListen, ctx.log, limits);
      ctx.log.info({ listen: `${metrics.address.address}:${metrics.address.port}` }, 'metrics listening at /metrics');
    } catch (e) {
      await api.close();
      throw e;
    }
  }
  let gnmi: GnmiServer | null = null;
  if (s.gnmi) {
    try {
      gnmi = await startGnmi(gw, { ...s.gnmi, insecure: s.insecure, log: ctx.log, limits });
    } catch (e) {
      await Promise.all([api.close(), metrics?.close()]);
      throw e;
    }
  }
  return {
    api,
    metrics,
    gnmi,
    async close() {
      await Promise.all([api.close(), metrics?.close(), gnmi?.close()]);
    },
  };
}
