// Bash completion for vitesse, made from the same --help texts as vitesse(8)
// (commands, options, actions, benchmarks) and from the YANG model
// (configuration and state paths for `vitesse config`). tools/manual.mjs
// writes it; test/deploy-manual.test.ts runs it in bash.
import type { SchemaNode } from '../config/model.js';
import type { CliHelp, CommandHelp } from './manual.js';

/** Values of options that take one of a few words; a test checks that each word is in the option's help. */
export const OPTION_WORDS: Record<string, readonly string[]> = {
  'log-level': ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
  driver: ['af-packet', 'af-xdp'],
  path: ['generic', 'avx2', 'avx512'],
  'tx-method': ['sendmmsg', 'ring'],
};

/** Options whose value is a file (or a socket): completed with file names. */
export const FILE_OPTION = /^(config|socket|[a-z-]*-file|api-tls-(cert|key)|(private|public)-(in|out))$/;

/** What may follow each schema path ('' is the top): containers end in '/', lists give both 'name' and 'name='. */
function schemaChildren(nodes: SchemaNode[], prefix = '', out = new Map<string, string[]>()): Map<string, string[]> {
  out.set(prefix, nodes.flatMap((n) => (n.kind === 'container' ? [`${n.name}/`] : n.kind === 'list' || n.kind === 'leaf-list' ? [n.name, `${n.name}=`] : [n.name])));
  for (const n of nodes) if (n.children.length) schemaChildren(n.children, `${prefix}/${n.name}`, out);
  return out;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function caseArms(entries: [string, string][], indent: string): string {
  return entries.map(([pattern, body]) => `${indent}${pattern}) ${body} ;;`).join('\n');
}

/** The completion script; `version` only for its header. */
export function bashCompletion(cli: CliHelp, tops: SchemaNode[], version: string): string {
  const all = (c: CommandHelp): CommandHelp[] => [c, ...c.subcommands.flatMap(all)];
  const commands = cli.commands.flatMap(all);
  const key = (c: CommandHelp) => c.words.join('/');
  const words = (list: string[]) => `echo ${quote(list.join(' '))}`;

  const options = commands.map((c) => [key(c), words(c.options.map((o) => `--${o.name}`))] as [string, string]);
  const valued = commands.map((c) => [key(c), words(c.options.filter((o) => o.value).map((o) => `--${o.name}`))] as [string, string]);
  const firsts = commands
    .filter((c) => c.subcommands.length || c.actions.length)
    .map((c) => [key(c), words(c.subcommands.length ? c.subcommands.map((s) => s.words.at(-1)!) : c.actions)] as [string, string]);
  const fileOptions = [...new Set(commands.flatMap((c) => c.options.filter((o) => o.value && FILE_OPTION.test(o.name)).map((o) => `--${o.name}`)))];
  const byWord = Object.entries(OPTION_WORDS).map(([o, w]) => [`--${o}`, `COMPREPLY=($(compgen -W ${quote(w.join(' '))} -- "$cur"))`] as [string, string]);
  const tree = new Map<string, string[]>();
  for (const top of tops) for (const [p, c] of schemaChildren(top.children)) tree.set(`${top.name}${p}`, c);
  const paths = [...tree].map(([p, c]) => [quote(p), words(c)] as [string, string]);

  return `# bash completion for vitesse(8): commands, options, and the configuration
# and state paths of \`vitesse config\`. Made by tools/manual.mjs from the
# --help texts of vitesse ${version} and yang/vitesse-gateway.yang: do not edit.
#
# Install as /usr/share/bash-completion/completions/vitesse (loaded when
# \`vitesse\` is first completed), or source it from ~/.bashrc.

# Options of a command ("run", "bench/crypto").
_vitesse_options() {
  case $1 in
${caseArms(options, '    ')}
  esac
}

# Its options that take a value.
_vitesse_valued() {
  case $1 in
${caseArms(valued, '    ')}
  esac
}

# Words a command takes first: benchmarks, actions.
_vitesse_first() {
  case $1 in
${caseArms(firsts, '    ')}
  esac
}

# What may follow a schema path of the model (list keys left out).
_vitesse_schema() {
  case $1 in
${caseArms(paths, '    ')}
  esac
}

# Completes PATH of \`vitesse config\`: $1 is the model's top container.
_vitesse_path() {
  local top=$1 cur=$2
  if [[ $cur != /* ]]; then
    COMPREPLY=(/)
    compopt -o nospace 2>/dev/null
    return
  fi
  local dir=\${cur%/*} base=\${cur##*/} schema='' part
  local -a parts
  IFS=/ read -r -a parts <<<"\${dir#/}"
  for part in "\${parts[@]}"; do [[ -n $part ]] && schema+=/\${part%%=*}; done
  local -a found
  mapfile -t found < <(compgen -W "$(_vitesse_schema "$top$schema")" -- "$base")
  COMPREPLY=("\${found[@]/#/$dir/}")
  [[ \${COMPREPLY[*]} == *[=/]* ]] && compopt -o nospace 2>/dev/null
}

# Gateways running here: their API sockets.
_vitesse_gateways() {
  local s
  for s in /run/vitesse/*.sock; do [[ -S $s ]] && s=\${s##*/} && echo "\${s%.sock}"; done
}

_vitesse() {
  # The words as typed: bash splits at '=' and ':' (COMP_WORDBREAKS), which
  # paths like /route=site-b contain; join them again. A reply then replaces
  # only what follows the last '=' or ':' of the word.
  local -a w=()
  local i t joined=0
  for ((i = 0; i <= COMP_CWORD; i++)); do
    t=\${COMP_WORDS[i]}
    if ((\${#w[@]} > 1)) && [[ $t == [=:] || \${COMP_WORDS[i - 1]} == [=:] ]]; then
      w[-1]+=$t
      joined=1
    else
      w+=("$t")
      joined=0
    fi
  done
  local cur=\${w[-1]} prefix=''
  ((joined)) && prefix=\${cur%"\${cur##*[=:]}"}
  COMPREPLY=()

  if ((\${#w[@]} == 2)); then
    COMPREPLY=($(compgen -W ${quote([...cli.commands.map((c) => c.words[0]), '--help', '--version'].join(' '))} -- "$cur"))
    return
  fi
  # The command ("run"; "bench/crypto" once the benchmark is named), its
  # first word (action or benchmark) and the other arguments before this one.
  local cmd=\${w[1]} first='' n
  local -a positional=()
  for ((n = 2; n < \${#w[@]} - 1; n++)); do
    if [[ \${w[n]} == --* ]]; then
      [[ " $(_vitesse_valued "$cmd") " == *" \${w[n]} "* ]] && ((n++))
    elif [[ -z $first && -n $(_vitesse_first "$cmd") ]]; then
      first=\${w[n]}
      [[ $cmd == bench ]] && cmd=bench/$first
    else
      positional+=("\${w[n]}")
    fi
  done

  local prev=\${w[-2]}
  if [[ $prev == --* && " $(_vitesse_valued "$cmd") " == *" $prev "* ]]; then
    case $prev in
${caseArms(byWord, '      ')}
      --name) COMPREPLY=($(compgen -W "$(_vitesse_gateways)" -- "$cur")) ;;
      ${fileOptions.join('|')})
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
    [[ -n $prefix ]] && COMPREPLY=("\${COMPREPLY[@]#"$prefix"}")
    return
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_vitesse_options "$cmd")" -- "$cur"))
  elif [[ -z $first && -n $(_vitesse_first "$cmd") ]]; then
    COMPREPLY=($(compgen -W "$(_vitesse_first "$cmd")" -- "$cur"))
  elif [[ $cmd == config ]] && ((\${#positional[@]} == 0)); then
    if [[ $first == get-state ]]; then _vitesse_path gateway-state "$cur"; else _vitesse_path gateway "$cur"; fi
    [[ -n $prefix ]] && COMPREPLY=("\${COMPREPLY[@]#"$prefix"}")
  elif [[ $cmd == config && ($first == set || $first == add) ]] && ((\${#positional[@]} == 1)); then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur") $(compgen -W - -- "$cur"))
  fi
}
complete -F _vitesse vitesse
`;
}
