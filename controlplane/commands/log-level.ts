// `vitesse log-level --name NAME [LEVEL]`: changes a running gateway's log
// level through its management API (the set-log-level operation), with no
// restart; without LEVEL, shows it. Not saved: a restart takes vitesse run's
// --log-level again. Exit codes as `vitesse config`.
import type { Command } from '../cli/command.js';
import { parseArgs, usageText, UsageError } from '../cli/args.js';
import { qualified } from '../api/schema.js';
import { isLogLevel, LOG_LEVELS } from '../logging.js';
import { EXIT, apiTarget, connectionSpec, talk } from './config.js';

const spec = { ...connectionSpec, help: { type: 'boolean' } } as const;

const HELP = `usage: vitesse log-level --name NAME [LEVEL]

Sets the log level of a running gateway at once, for all of it, without a
restart (a restart would cost every SA); without LEVEL, prints the level.
LEVEL is one of ${LOG_LEVELS.join(', ')}. The change is not saved: the next
start takes vitesse run's --log-level. The gateway logs the change (at warn,
naming who made it).

${usageText(spec)}

exit codes: 0 done, 1 the gateway refused or failed, 2 usage error, 3 the
gateway cannot be reached.

examples:
  vitesse log-level --name site-a debug
  vitesse log-level --name site-a
  vitesse log-level --name site-a info
`;

export const logLevelCommand: Command = {
  summary: 'show or change a running gateway\'s log level',
  async run(argv) {
    const { options, positional } = parseArgs(argv, spec);
    if (options.help) {
      process.stdout.write(HELP);
      return EXIT.ok;
    }
    if (positional.length > 1) throw new UsageError(`unexpected argument "${positional[1]}"`);
    const level = positional[0];
    if (level !== undefined && !isLogLevel(level)) throw new UsageError(`"${level}" is not a log level: use one of ${LOG_LEVELS.join(', ')}`);
    const target = apiTarget(options);
    return talk('log-level', target, async (client) => {
      const input = level === undefined ? {} : { level };
      const reply = await client.call('POST', `/restconf/operations/${qualified('set-log-level')}`, { [qualified('input')]: input });
      const out = (reply.body as Record<string, Record<string, string>>)[qualified('output')];
      process.stdout.write(level === undefined || out['previous-level'] === out.level ? `${out.level}\n` : `${out['previous-level']} -> ${out.level}\n`);
    });
  },
};
