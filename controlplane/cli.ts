// `vitesse` command dispatcher. Each command lives in its own module and is
// loaded only when used, so `vitesse keygen` never loads the addon.
import { UsageError } from './cli/args.js';
import type { Command } from './cli/command.js';

const commands: Record<string, () => Promise<Command>> = {
  bench: async () => (await import('../bench/index.js')).benchCommand,
  keygen: async () => (await import('./commands/keygen.js')).keygenCommand,
  pubkey: async () => (await import('./commands/pubkey.js')).pubkeyCommand,
  run: async () => (await import('./commands/run.js')).runCommand,
  demo: async () => (await import('./commands/demo.js')).demoCommand,
  config: async () => (await import('./commands/config.js')).configCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  replay: async () => (await import('./commands/replay.js')).replayCommand,
  'log-level': async () => (await import('./commands/log-level.js')).logLevelCommand,
  drain: async () => (await import('./commands/drain.js')).drainCommand,
};

function help(): string {
  return [
    'usage: vitesse <command> [options]',
    '',
    'commands:',
    ...Object.keys(commands).map((c) => `  ${c}`),
    '',
    'vitesse <command> --help shows the options of a command, with examples.',
    '',
    'examples:',
    '  vitesse run --config /etc/vitesse/site-a.json --name site-a',
    '  vitesse status --name site-a',
    '  vitesse config get-state --name site-a /sa',
    '  vitesse log-level --name site-a debug',
    '  vitesse drain --name site-a',
    '  vitesse keygen',
    '  vitesse keygen --private --out /etc/vitesse/private.key',
    '  vitesse pubkey < /etc/vitesse/private.key',
    '  vitesse --version',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version') {
    const { packageVersion } = await import('./version.js');
    process.stdout.write(packageVersion() + '\n');
    return 0;
  }
  // Own properties only: `vitesse constructor` is an unknown command, not Object's.
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    process.stderr.write(`vitesse: unknown command "${name}"\n${help()}\n`);
    return 2;
  }
  try {
    return await (await load()).run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`vitesse ${name}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
