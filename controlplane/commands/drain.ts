// `vitesse drain --name NAME [--grace S] [--timeout S] [--cancel] [--json]`:
// takes a running gateway out of service without loss (docs/scale-out.md,
// "Drain"): the API's drain operation withdraws its BGP announcements and
// tells its peers to move their flows; this command then follows
// gateway-state/drain until every reachable peer acknowledged and the data
// plane carried nothing for --grace seconds, and exits 0. The gateway keeps
// running, drained, until stopped (ExecStop) or `--cancel`.
import type { Command } from '../cli/command.js';
import { parseArgs, usageText, UsageError } from '../cli/args.js';
import { ApiRefused, type ApiClient } from '../api/client.js';
import { qualified } from '../api/schema.js';
import { EXIT, apiTarget, connectionSpec, talk } from './config.js';

const spec = {
  ...connectionSpec,
  grace: { type: 'number', default: 5, help: 'seconds without a packet through the gateway\'s SAs that count as drained' },
  timeout: { type: 'number', default: 60, help: 'seconds to wait for that before giving up (exit 1); the gateway stays drained' },
  cancel: { type: 'boolean', help: 'back in service: announce again and tell the peers' },
  json: { type: 'boolean', help: 'print a summary as one JSON object on the last line' },
  help: { type: 'boolean' },
} as const;

const HELP = `usage: vitesse drain --name NAME [--grace SECONDS] [--timeout SECONDS] [--json]
       vitesse drain --name NAME --cancel

Takes a running gateway out of service for planned maintenance, without
loss: it withdraws every BGP announcement (the site's router moves its flows
to the other gateways), tells each peer gateway by an authenticated
key-exchange message to move its flows to the route's other peers, and keeps
forwarding what still comes. Then waits until every peer that can be told
has acknowledged and no packet went through the gateway for --grace seconds,
and exits 0. The gateway keeps running, drained, until it is stopped (a
systemd unit runs this as ExecStop) or the drain is cancelled; a restart is
in service again.

${usageText(spec)}

exit codes: 0 drained (or cancelled), 1 not drained within --timeout (the
reason on stderr; the gateway stays drained) or refused, 2 usage error,
3 the gateway cannot be reached (is it running?).

examples:
  vitesse drain --name site-a
  vitesse drain --name site-a --grace 10 --timeout 120 --json
  vitesse drain --name site-a --cancel
`;

const POLL_MS = 200;
const DRAIN_STATE = `/restconf/data/${qualified('gateway-state')}/drain`;

interface DrainState {
  draining: boolean;
  withdrawn: boolean;
  peers: number;
  'peers-told': number;
  'peers-acknowledged': number;
  'peers-without-sa': number;
  'peers-not-supported': number;
  packets: string;
  'idle-ms': string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readState(client: ApiClient): Promise<DrainState> {
  const reply = await client.call('GET', DRAIN_STATE);
  return (reply.body as Record<string, DrainState>)[qualified('drain')];
}

function seconds(v: unknown, name: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name}: "${String(v)}" is not a number of seconds`);
  return n;
}

export const drainCommand: Command = {
  summary: 'take a running gateway out of service without loss (BGP withdrawn, peers told, wait until idle)',
  async run(argv) {
    const { options, positional } = parseArgs(argv, spec);
    if (options.help) {
      process.stdout.write(HELP);
      return EXIT.ok;
    }
    if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
    const graceMs = seconds(options.grace, 'grace') * 1000;
    const timeoutMs = seconds(options.timeout, 'timeout') * 1000;
    const target = apiTarget(options);
    let code: number = EXIT.ok;
    const done = await talk('drain', target, async (client) => {
      const call = (cancel: boolean) => client.call('POST', `/restconf/operations/${qualified('drain')}`, { [qualified('input')]: cancel ? { cancel: true } : {} });
      if (options.cancel) {
        await call(true);
        process.stdout.write('back in service: announcing again, peers told\n');
        if (options.json) process.stdout.write(JSON.stringify({ draining: false }) + '\n');
        return;
      }
      const started = performance.now();
      await call(false);
      process.stdout.write('draining: announcements being withdrawn, peers being told\n');
      let shown = '';
      let s: DrainState;
      let trafficSeen = false;
      for (;;) {
        s = await readState(client);
        const idle = Number(s['idle-ms']);
        const unanswered = s['peers-told'];
        if (Number(s.packets) > 0) trafficSeen = true;
        const line = `withdrawn: ${s.withdrawn ? 'yes' : 'not yet'}; peers: ${s['peers-acknowledged']} of ${s.peers} acknowledged`
          + (s['peers-without-sa'] ? `, ${s['peers-without-sa']} without SA` : '')
          + (s['peers-not-supported'] ? `, ${s['peers-not-supported']} not told (vita-ske-v5)` : '')
          + `; traffic: ${s.packets} packets since the drain, ${idle >= graceMs ? 'idle' : `last ${(idle / 1000).toFixed(1)} s ago`}`;
        // One line per change of state, not per poll.
        const key = `${s.withdrawn}/${s['peers-acknowledged']}/${unanswered}/${idle >= graceMs}/${trafficSeen}`;
        if (key !== shown) {
          process.stdout.write(`${line}\n`);
          shown = key;
        }
        if (!s.draining) throw new ApiRefused(409, [{ 'error-type': 'application', 'error-tag': 'operation-failed', 'error-message': 'the drain was cancelled meanwhile' }]);
        if (s.withdrawn && unanswered === 0 && idle >= graceMs) break;
        if (performance.now() - started >= timeoutMs) {
          const why = [
            ...(s.withdrawn ? [] : ['the BGP announcements are not withdrawn (see the gateway\'s log: birdc)']),
            ...(unanswered ? [`${unanswered} peer${unanswered === 1 ? '' : 's'} did not acknowledge`] : []),
            ...(idle < graceMs ? [`traffic still flows (last packet ${(idle / 1000).toFixed(1)} s ago, grace ${graceMs / 1000} s)`] : []),
          ];
          process.stderr.write(`vitesse drain: not drained within ${timeoutMs / 1000} s: ${why.join('; ')}; the gateway stays drained (--cancel to undo)\n`);
          code = EXIT.refused;
          break;
        }
        await sleep(POLL_MS);
      }
      if (code === EXIT.ok) process.stdout.write(`drained: no packet for ${(Number(s['idle-ms']) / 1000).toFixed(1)} s; the gateway keeps running, drained, until stopped\n`);
      if (options.json) {
        process.stdout.write(JSON.stringify({
          drained: code === EXIT.ok, withdrawn: s.withdrawn, peers: s.peers, peers_acknowledged: s['peers-acknowledged'],
          peers_unanswered: unansweredOf(s), peers_without_sa: s['peers-without-sa'], peers_not_supported: s['peers-not-supported'],
          packets: Number(s.packets), idle_ms: Number(s['idle-ms']), elapsed_ms: Math.round(performance.now() - started),
        }) + '\n');
      }
    });
    return done === EXIT.ok ? code : done;
  },
};

const unansweredOf = (s: DrainState) => s['peers-told'];
