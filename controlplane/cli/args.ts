// A small, strict argument parser: every command declares its options, and an
// unknown option or a missing value is an error naming it (scripts rely on
// exact option names, so we never guess).

export class UsageError extends Error {}

export interface OptionSpec {
  type: 'string' | 'number' | 'boolean';
  default?: string | number | boolean;
  help?: string;
}

export type Parsed = { options: Record<string, string | number | boolean | undefined>; positional: string[] };

export function parseArgs(argv: string[], spec: Record<string, OptionSpec>): Parsed {
  const options: Parsed['options'] = {};
  const positional: string[] = [];
  for (const [name, s] of Object.entries(spec)) options[name] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { positional.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith('--') || a === '-') { positional.push(a); continue; }
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
    const s = Object.hasOwn(spec, name) ? spec[name] : undefined;  // --constructor is unknown, not inherited
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (s.type === 'boolean') {
      if (value !== undefined) throw new UsageError(`option --${name} takes no value`);
      options[name] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`option --${name} needs a value`);
      value = argv[++i];
    }
    if (s.type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new UsageError(`option --${name}: "${value}" is not a number`);
      options[name] = n;
    } else {
      options[name] = value;
    }
  }
  return { options, positional };
}

export function usageText(spec: Record<string, OptionSpec>): string {
  return Object.entries(spec)
    .map(([n, s]) => `  --${n}${s.type === 'boolean' ? '' : ' <' + s.type + '>'}${s.help ? '  ' + s.help : ''}${s.default !== undefined && s.type !== 'boolean' ? ` (default ${s.default})` : ''}`)
    .join('\n');
}
