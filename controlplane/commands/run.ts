// `vitesse run --config gw.json [--name NAME] [--busywait] [--cpus LIST]`:
// starts a gateway and keeps it running until SIGINT/SIGTERM. SIGHUP reloads
// the configuration file (an invalid file is refused; the gateway keeps its
// last good configuration).
//
// Everything that can refuse the start does so before the data plane opens
// a link: options, name, configuration, the locks on the name and the
// interfaces (another gateway holds them), the API socket (a live one).
// Those refusals exit 2, which the systemd unit does not restart; a start
// that fails after that (a device, a privilege, a port in use) exits 1.
import type { Command } from '../cli/command.js';
import { parseArgs, usageText, UsageError } from '../cli/args.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { Gateway } from '../gateway.js';
import { Announcer } from '../bgp/announcer.js';
import { Drain } from '../drain.js';
import { SequenceStateError, SequenceStore, sequenceStateFile } from '../sequence-state.js';
import { checkManagement, managementSpec, startManagement, type Management } from '../api/management.js';
import { gatewayLogger, isLogLevel, LOG_LEVELS } from '../logging.js';
import { DEFAULT_LOCK_DIR, InstanceLockError, lockInstance, type InstanceLocks } from '../instance-lock.js';

const spec = {
  config: { type: 'string', help: 'RFC 7951 JSON configuration (vitesse-gateway model)' },
  check: { type: 'boolean', help: 'only check the options and the configuration as a start or a reload (SIGHUP) would, then exit (0: valid, 2: not); opens nothing, takes no lock' },
  name: { type: 'string', default: 'vitesse', help: 'gateway name (logs, API socket /run/vitesse/NAME.sock)' },
  busywait: { type: 'boolean', help: 'workers poll without sleeping when idle (lowest latency, 100% CPU)' },
  cpus: { type: 'string', help: 'pin queue N (from 1, as configured) to the N-th CPU of this list, e.g. 2,3' },
  'log-level': { type: 'string', default: 'info', help: LOG_LEVELS.join(', ') },
  'state-dir': { type: 'string', help: 'directory of the sequence state file NAME.sequence.json (default: the configuration\'s)' },
  'sequence-reserve': { type: 'number', help: 'sequence numbers reserved ahead per outbound SA with explicit keys (default 1048576)' },
  'lock-dir': { type: 'string', default: DEFAULT_LOCK_DIR, help: 'where the locks on the gateway\'s name and interfaces are kept' },
  ...managementSpec,
  help: { type: 'boolean' },
} as const;

const HELP = `usage: vitesse run --config FILE [options]

Starts a gateway from its configuration and runs it until interrupted.
SIGHUP reloads the configuration file. The management API (vitesse config,
vitesse status) listens on /run/vitesse/NAME.sock; changes made through it
are saved to the configuration file. Prometheus metrics are served at
http://127.0.0.1:9301/metrics unless --metrics-listen says otherwise.
In data-plane mode, outbound SAs reserve their sequence numbers in
NAME.sequence.json beside the configuration (or in --state-dir) before
sending them, so that a restart never sends one twice under the same key;
if that file exists but cannot be read, the gateway does not start (exit 2).
One gateway per name and per interface: a second one exits with status 2,
naming the PID of the first (locks in --lock-dir). Exit status 2: a usage
error, found before any link is opened; 1: the gateway could not start.
With --check, the options and the configuration file are checked exactly
as a start and a reload check them, and nothing else happens: no lock, no
socket, no link (it works while the gateway runs; the systemd unit runs it
before every reload).

${usageText(spec)}

examples:
  vitesse run --config /etc/vitesse/site-a.json --name site-a
  vitesse run --check --config /etc/vitesse/site-a.json --name site-a
  vitesse run --config gw.json --busywait --cpus 2,3
  vitesse run --config gw.json --name site-a --metrics-listen 0.0.0.0:9301
  vitesse run --config gw.json --name site-a --api-listen 0.0.0.0:8443 \\
      --api-tls-cert api.crt --api-tls-key api.key --api-token-file api.token
`;

export const runCommand: Command = {
  summary: 'run a gateway',
  async run(argv) {
    const { options, positional } = parseArgs(argv, spec);
    if (options.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
    if (!options.config) throw new UsageError('--config FILE is required');
    const file = String(options.config);
    const name = String(options.name);
    const cpus = options.cpus ? parseCpus(String(options.cpus)) : undefined;
    const sequenceState = sequenceStateFile(file, options['state-dir'] === undefined ? undefined : String(options['state-dir']));
    const sequenceReserve = options['sequence-reserve'] === undefined ? undefined : parseReserve(Number(options['sequence-reserve']));
    const level = String(options['log-level']);
    if (!isLogLevel(level)) throw new UsageError(`--log-level: "${level}" is not one of ${LOG_LEVELS.join(', ')}`);
    const check = Boolean(options.check);
    const managementSettings = await checkManagement(options, name, { socket: !check });

    let config;
    try {
      // The same loader as a reload's (ConfigChanger.reload: parseConfig of the file's text).
      config = await loadConfig(file);
    } catch (e) {
      process.stderr.write(`vitesse run: ${e instanceof Error ? e.message : e}\n`);
      return 2;
    }
    if (check) {
      // What the start would refuse after loading (data-plane mode): a sequence state that exists but cannot be read.
      if (config.dataPlane) {
        try {
          SequenceStore.check(sequenceState);
        } catch (e) {
          process.stderr.write(`vitesse run: ${e instanceof Error ? e.message : e}\n`);
          return 2;
        }
      }
      process.stdout.write(`${file}: valid (${config.routes.length} route${config.routes.length === 1 ? '' : 's'})\n`);
      return 0;
    }
    const logging = gatewayLogger(name, level);
    const log = logging.log;
    let locks: InstanceLocks;
    try {
      locks = lockInstance(config, name, file, String(options['lock-dir']));
    } catch (e) {
      process.stderr.write(`vitesse run: ${e instanceof Error ? e.message : e}\n`);
      return e instanceof InstanceLockError ? 2 : 1;
    }
    let gw: Gateway;
    try {
      gw = new Gateway(config, { logger: log, busywait: Boolean(options.busywait), cpus, sequenceState, sequenceReserve });
      gw.start();
    } catch (e) {
      locks.release();
      process.stderr.write(`vitesse run: cannot start the gateway: ${e instanceof Error ? e.message : e}${privilegeHint(e)}\n`);
      // The operator must act (restore the file or rekey): restarting would not help.
      return e instanceof SequenceStateError ? 2 : 1;
    }
    // Scale-out (docs/scale-out.md): BGP announcements through a BIRD of our own.
    const announcer = config.bgp && gw.keymanager ? new Announcer(gw, config.bgp, log) : null;
    // `vitesse drain` (drain.ts): in memory only, a restart is in service again.
    const drain = new Drain(gw, announcer, log);
    const closeGateway = () => {
      drain.close();
      // First: the router stops sending us traffic before the data plane goes.
      announcer?.close();
      gw.close();
    };
    try {
      announcer?.start();
    } catch (e) {
      closeGateway();
      locks.release();
      process.stderr.write(`vitesse run: cannot start BGP announcements: ${e instanceof Error ? e.message : e}\n`);
      return 1;
    }
    let management: Management;
    try {
      management = await startManagement(gw, managementSettings, {
        configFile: file, log, operations: { logLevel: { get: () => log.level, set: logging.setLevel }, drain },
      });
    } catch (e) {
      closeGateway();
      locks.release();
      process.stderr.write(`vitesse run: ${e instanceof Error ? e.message : e}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
    log.info({ config: file, queues: config.queues, routes: config.routes.map((r) => r.id) }, 'running; SIGHUP reloads the configuration, SIGINT/SIGTERM stops');

    return await new Promise<number>((resolve) => {
      // The workers are native threads and the punt callback does not hold the
      // event loop open: this timer keeps the process alive until a signal.
      const alive = setInterval(() => {}, 1 << 30);
      const stop = (signal: string) => {
        log.info({ signal }, 'stopping');
        clearInterval(alive);
        void management.close().finally(() => {
          closeGateway();
          locks.release();
          resolve(0);
        });
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGHUP', async () => {
        try {
          // In turn with changes made through the API (which also write the file).
          await management.api.changer.reload();
        } catch (e) {
          const problem = e instanceof ConfigError ? e.message : e instanceof Error ? e.message : String(e);
          log.error({ config: file }, `configuration not reloaded: ${problem}`);
        }
      });
    });
  },
};

function parseCpus(text: string): number[] {
  const cpus = text.split(',').map((c) => Number(c.trim()));
  if (!cpus.length || cpus.some((c) => !Number.isInteger(c) || c < 0)) throw new UsageError(`--cpus: "${text}" is not a list of CPU numbers like 2,3`);
  return cpus;
}

function parseReserve(n: number): bigint {
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--sequence-reserve: ${n} is not a positive integer`);
  return BigInt(n);
}

function privilegeHint(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  if (/EPERM|EACCES|permission|not permitted/i.test(m) && process.getuid && process.getuid() !== 0) {
    return '\n(af-packet needs CAP_NET_RAW, af-xdp needs CAP_NET_ADMIN, CAP_BPF and CAP_NET_RAW: run as root or grant them)';
  }
  return '';
}
