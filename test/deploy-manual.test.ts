// vitesse(8) and the bash completion (deploy/man, deploy/bash-completion):
// made from the CLI's --help texts and the YANG model by tools/manual.mjs,
// which `npm pack` runs; here, that the copies in the repository are what it
// makes now, that the page renders without a warning and says what --help
// says, that the completion completes commands, options, their values and
// configuration paths in bash itself, and that the package carries both.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { FILE_OPTION, OPTION_WORDS } from '../controlplane/cli/completion.js';
import { readCli, type CliHelp, type CommandHelp } from '../controlplane/cli/manual.js';
import { repoRoot } from './support/systemd-unit.js';
import { describeNeeding, itNeeding } from './support/requires.js';

const run = promisify(execFile);
const MAN = path.join(repoRoot, 'deploy/man/vitesse.8');
const COMPLETION = path.join(repoRoot, 'deploy/bash-completion/vitesse');
const bin = path.join(repoRoot, 'bin/vitesse.js');

const all = (c: CommandHelp): CommandHelp[] => [c, ...c.subcommands.flatMap(all)];
let cli: CliHelp;

/** What bash completes for `words` (the last one being completed), as the completion script is loaded by bash-completion. */
function complete(...words: string[]): string[] {
  const script = `source ${JSON.stringify(COMPLETION)}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _vitesse; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', cwd: repoRoot });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean);
}

describeNeeding(['cli'], 'vitesse(8) and bash completion', () => {
  beforeAll(() => {
    // The --help texts, read the way tools/manual.mjs reads them.
    const help = (words: string[]) => spawnSync(process.execPath, [bin, ...words, '--help'], { encoding: 'utf8' }).stdout;
    cli = readCli(help);
  }, 60_000);

  itNeeding(['cli'], 'the copies in the repository are what tools/manual.mjs makes from the current CLI and model', async () => {
    const r = await run(process.execPath, [path.join(repoRoot, 'tools/manual.mjs'), '--check'], { encoding: 'utf8' }).catch((e) => e as { code: number; stderr: string });
    expect('code' in r ? r.code : 0, 'stderr' in r ? r.stderr : '').toBe(0);
  }, 60_000);

  itNeeding(['cli'], 'reads every command, benchmark, option and action from --help', () => {
    const names = cli.commands.map((c) => c.words[0]);
    expect(names).toEqual(expect.arrayContaining(['run', 'config', 'status', 'keygen', 'bench', 'replay', 'demo']));
    const run = cli.commands.find((c) => c.words[0] === 'run')!;
    expect(run.options).toContainEqual({ name: 'config', value: 'string', help: 'RFC 7951 JSON configuration (vitesse-gateway model)' });
    expect(run.options.find((o) => o.name === 'busywait')?.value).toBeUndefined();
    expect(cli.commands.find((c) => c.words[0] === 'config')!.actions).toEqual(['get', 'get-config', 'get-state', 'set', 'add', 'remove']);
    expect(cli.commands.find((c) => c.words[0] === 'bench')!.subcommands.map((b) => b.words[1])).toEqual(expect.arrayContaining(['crypto', 'softbench', 'lookup', 'keyexchange']));
    expect(cli.commands.find((c) => c.words[0] === 'status')!.options.map((o) => o.name)).toContain('json');
  });

  itNeeding(['cli', 'groff'], 'the page renders without a warning and holds every command\'s usage, options and examples', () => {
    const warnings = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', MAN], { encoding: 'utf8' });
    expect(warnings.status).toBe(0);
    expect(warnings.stderr).toBe('');
    // Plain text: no bold or underline.
    const r = spawnSync('groff', ['-man', '-Tutf8', '-P-cbu', MAN], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const page = r.stdout.replace(/[ \t]+/g, ' ');
    const normal = (l: string) => l.trim().replace(/\s+/g, ' ');
    for (const c of cli.commands.flatMap(all)) {
      const what = `vitesse ${c.words.join(' ')}`;
      expect(page, what).toContain(`\n ${what}\n`); // its section heading
      expect(page, what).toContain(normal(c.text.split('\n')[0]));
      for (const o of c.options) expect(page, `${what} --${o.name}`).toMatch(new RegExp(`\\n\\s*--${o.name}${o.value ? ` ${o.value}` : ''}(\\s|$)`));
      const lines = c.text.split('\n');
      const at = lines.findIndex((l) => /^examples?:$/.test(l));
      expect(at, `${what} has examples`).toBeGreaterThan(0);
      for (const l of lines.slice(at + 1).filter((x) => /^\s+\S/.test(x))) expect(page, what).toContain(normal(l));
    }
    expect(page).toMatch(/^VITESSE\(8\)/);
    expect(page).toContain('vitesse - ');
  });

  itNeeding(['cli', 'bash'], 'completes commands, options, benchmarks and actions', () => {
    expect(complete('vitesse', '')).toEqual([...cli.commands.map((c) => c.words[0]), '--help', '--version']);
    expect(complete('vitesse', 'st')).toEqual(['status']);
    expect(complete('vitesse', 'status', '--')).toEqual(cli.commands.find((c) => c.words[0] === 'status')!.options.map((o) => `--${o.name}`));
    expect(complete('vitesse', 'status', '--j')).toEqual(['--json']);
    expect(complete('vitesse', 'run', '--log-level', 'w')).toEqual(['warn']);
    expect(complete('vitesse', 'demo', '--driver', '')).toEqual(['af-packet', 'af-xdp']);
    expect(complete('vitesse', 'run', '--config', 'deploy/exa')).toEqual(['deploy/examples']);
    expect(complete('vitesse', 'run', '--sample')).toEqual([]);
    expect(complete('vitesse', 'bench', '')).toEqual(cli.commands.find((c) => c.words[0] === 'bench')!.subcommands.map((b) => b.words[1]));
    expect(complete('vitesse', 'bench', 'crypto', '--pa')).toEqual(['--path']);
    expect(complete('vitesse', 'bench', 'crypto', '--path', 'av')).toEqual(['avx2', 'avx512']);
    expect(complete('vitesse', 'config', '--name', 'x', 'get-')).toEqual(['get-config', 'get-state']);
    // A value is not taken for an action: after --name x, "get" is.
    expect(complete('vitesse', 'config', '--name', 'x', 'get', '/m')).toEqual(['/mtu']);
    expect(complete('vitesse', 'config', 'set', '/mtu', 'READ')).toEqual(['README.md']);
    expect(complete('vitesse', 'config', 'add', '/route', '')).toEqual(expect.arrayContaining(['README.md', '-'])); // or stdin
  });

  itNeeding(['cli', 'bash'], 'completes configuration and state paths from the YANG model, list keys included', () => {
    expect(complete('vitesse', 'config', 'get', '')).toEqual(['/']);
    const top = complete('vitesse', 'config', 'get', '/');
    expect(top).toEqual(expect.arrayContaining(['/mtu', '/route', '/route=', '/private-interface/', '/public-interface/', '/data-plane/']));
    expect(top).not.toContain('/sa');
    expect(complete('vitesse', 'config', 'get', '/ro')).toEqual(['/route', '/route=']);
    expect(complete('vitesse', 'config', 'get-config', '/route=site-b/')).toEqual(['id', 'net', 'gateway', 'gateway=', 'peer', 'peer=', 'spi', 'preshared-key', 'aead', 'liveness-interval', 'liveness-failures', 'nat-traversal', 'protocol'].map((c) => `/route=site-b/${c}`));
    expect(complete('vitesse', 'config', 'set', '/route=site-b/pre')).toEqual(['/route=site-b/preshared-key']);
    expect(complete('vitesse', 'config', 'get', '/public-interface/queue=1/')).toEqual(['/public-interface/queue=1/id', '/public-interface/queue=1/address']);
    expect(complete('vitesse', 'config', 'get-state', '/s')).toEqual(['/sa', '/sa=']);
    expect(complete('vitesse', 'config', 'get-state', '/key-manager/negotiations-e')).toEqual(['/key-manager/negotiations-expired']);
    expect(complete('vitesse', 'config', 'get', '/key-m')).toEqual([]); // state, not configuration
    expect(complete('vitesse', 'config', 'get-state', '/queue=1/key-manager/negotiations-e')).toEqual(['/queue=1/key-manager/negotiations-expired']);
    // As bash splits a word at '=' (COMP_WORDBREAKS): the reply replaces what follows it.
    expect(complete('vitesse', 'config', 'get', '/route', '=', 'site-b/ne')).toEqual(['site-b/net']);
  });

  it('values given for options are in those options\' help', () => {
    const options = cli.commands.flatMap(all).flatMap((c) => c.options.map((o) => ({ ...o, command: c.words.join(' ') })));
    for (const [name, words] of Object.entries(OPTION_WORDS)) {
      const having = options.filter((o) => o.name === name);
      expect(having.length, name).toBeGreaterThan(0);
      for (const o of having) for (const w of words) expect(o.help, `${o.command} --${name}`).toContain(w);
    }
    expect(options.filter((o) => o.value && FILE_OPTION.test(o.name)).map((o) => o.name)).toEqual(expect.arrayContaining(['config', 'socket', 'token-file', 'api-tls-cert', 'private-in']));
  });

  itNeeding(['cli'], 'the package installs the page (package.json "man") and carries the completion', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    expect(pkg.man).toEqual(['./deploy/man/vitesse.8']);
    expect(pkg.scripts.prepack).toContain('tools/manual.mjs');
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 << 20 });
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['deploy/man/vitesse.8', 'deploy/bash-completion/vitesse']));
  }, 60_000);
});
