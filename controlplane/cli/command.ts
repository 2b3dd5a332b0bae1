// What a `vitesse` command is. Its own module so that commands and benchmarks
// need not import the dispatcher (controlplane/cli.ts), which imports them.

export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}
