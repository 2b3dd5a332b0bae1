// The CLI as its --help texts describe it, and vitesse(8) made from them:
// the man page is those texts, set in troff, so it says what --help says and
// nothing else (tools/manual.mjs writes it; test/deploy-manual.test.ts checks
// that the shipped copy is current and renders).

/** An option as usageText prints it: `  --name <string>  help (default …)`. */
export interface OptionHelp {
  name: string;
  /** The value's type; undefined for a flag. */
  value?: 'string' | 'number';
  help: string;
}

export interface CommandHelp {
  /** The words after `vitesse`: ['run'], ['bench', 'crypto']. */
  words: string[];
  text: string;
  options: OptionHelp[];
  /** Words the command takes as its first argument, from an "actions:" list (config). */
  actions: string[];
  /** Commands below this one, each with its own --help (bench's benchmarks). */
  subcommands: CommandHelp[];
}

export interface CliHelp {
  /** `vitesse --help`. */
  text: string;
  commands: CommandHelp[];
}

const OPTION = /^ {2}--([a-z0-9][a-z0-9-]*)(?: <(string|number)>)?(?: {2}(.*))?$/;

/** The lines of an indented list after a heading line such as "commands:" or "actions:". */
function listAfter(text: string, heading: string): string[] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l === `${heading}:`);
  if (at < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (!/^\s+\S/.test(l)) break;
    const m = /^ {2}([a-z][a-z0-9-]*)(?:\s|$)/.exec(l);
    if (m) out.push(m[1]);
  }
  return out;
}

/** Reads the CLI through `help(words)`, which returns the output of `vitesse ...words --help`. */
export function readCli(help: (words: string[]) => string): CliHelp {
  const command = (words: string[]): CommandHelp => {
    const text = help(words);
    const options: OptionHelp[] = [];
    for (const line of text.split('\n')) {
      const m = OPTION.exec(line);
      if (m) options.push({ name: m[1], value: m[2] as OptionHelp['value'], help: m[3] ?? '' });
    }
    // `usage: vitesse bench <crypto|lookup|…>`: each alternative has its own --help.
    const alternatives = /<([a-z0-9|-]+)>/.exec(text.split('\n')[0]);
    const subcommands = alternatives && alternatives[1].includes('|') ? alternatives[1].split('|').map((w) => command([...words, w])) : [];
    return { words, text, options, actions: listAfter(text, 'actions'), subcommands };
  };
  const text = help([]);
  return { text, commands: listAfter(text, 'commands').map((c) => command([c])) };
}

/** Text as troff reads it literally: escapes, minus signs that copy as '-', non-ASCII as named glyphs. */
function roff(text: string): string {
  const escaped = text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
  return escaped.replace(/^([.'])/, '\\&$1');
}

const lines = (text: string) => text.split('\n').map(roff).join('\n');

/** A block of a --help text that is not an option list, in man macros. */
function block(rows: string[]): string[] {
  if (rows[0].startsWith('usage: ')) return ['.PP', '.nf', lines(rows.join('\n')), '.fi'];
  // A heading ("examples:") or a lead-in sentence, then indented lines (or only indented lines).
  const indented = rows.findIndex((r) => /^\s/.test(r));
  if (indented >= 0 && rows.slice(indented).every((r) => /^\s/.test(r))) {
    return [
      ...(indented > 0 ? ['.PP', lines(rows.slice(0, indented).join('\n'))] : []),
      '.RS', '.nf', lines(rows.slice(indented).map((r) => r.replace(/^ {2}/, '')).join('\n')), '.fi', '.RE',
    ];
  }
  return ['.PP', lines(rows.join('\n'))];
}

/** One --help text in man macros: option lists as tagged paragraphs, prose filled, indented lines kept as they are. */
function section(text: string): string {
  const out: string[] = [];
  for (const paragraph of text.trim().split(/\n\s*\n/)) {
    // Runs of option lines, and the rest between them.
    let rest: string[] = [];
    const flush = () => { if (rest.length) out.push(...block(rest)); rest = []; };
    for (const r of paragraph.split('\n')) {
      const m = OPTION.exec(r);
      if (!m) { rest.push(r); continue; }
      flush();
      out.push('.TP', `.B \\-\\-${roff(m[1])}${m[2] ? ` \\fI${m[2]}\\fR` : ''}`, m[3] ? roff(m[3]) : '.br');
    }
    flush();
  }
  return out.join('\n');
}

export interface ManualInfo {
  version: string;
  /** One line: what vitesse is. */
  description: string;
}

/** vitesse(8) in troff man macros. */
export function manPage(cli: CliHelp, info: ManualInfo): string {
  const all = (c: CommandHelp): CommandHelp[] => [c, ...c.subcommands.flatMap(all)];
  const out = [
    `.\\" vitesse(8), made from the --help texts of vitesse ${info.version} by tools/manual.mjs: do not edit.`,
    `.TH VITESSE 8 "" "vitesse ${roff(info.version)}" "System Administration"`,
    // Not hyphenated: option names and paths must read (and copy) as typed.
    '.nh',
    '.SH NAME',
    `vitesse \\- ${roff(info.description)}`,
    '.SH SYNOPSIS',
    '.B vitesse',
    '.I command',
    '.RI [ options ]',
    '.br',
    '.B vitesse',
    '.I command',
    '.B \\-\\-help',
    '.br',
    '.B vitesse \\-\\-version',
    '.SH DESCRIPTION',
    section(cli.text),
    '.SH COMMANDS',
    'Each section is what',
    '.B vitesse',
    '.I command',
    '.B \\-\\-help',
    'prints.',
    ...cli.commands.flatMap(all).flatMap((c) => [`.SS "vitesse ${roff(c.words.join(' '))}"`, section(c.text)]),
    '.SH FILES',
    '.TP',
    '.I /etc/vitesse/NAME.json',
    'the configuration of the gateway NAME (RFC 7951 JSON, the vitesse\\-gateway YANG model), as the systemd unit vitesse@NAME runs it',
    '.TP',
    '.I /run/vitesse/NAME.sock',
    'the management API socket of the gateway NAME',
    '.TP',
    '.I /usr/share/bash\\-completion/completions/vitesse',
    'bash completion of commands, options and configuration paths (deploy/bash\\-completion/vitesse in the package)',
    '.SH SEE ALSO',
    '.BR systemctl (1),',
    '.BR journalctl (1),',
    '.BR yanglint (1);',
    'docs/operations.md, docs/configuration.md and docs/api.md in the package',
    '(/usr/local/lib/node_modules/vitesse/docs with the usual prefix).',
    '',
  ];
  return out.join('\n');
}
