// `vitesse config get|get-config|get-state|set|add|remove --name NAME PATH [FILE|-]`:
// a client of a running gateway's management API (RESTCONF over its Unix
// socket). PATH is a RESTCONF path below the gateway's configuration (or,
// for get-state, below its state): `/`, `/route=site2`, `/route=site2/net`.
//
// Exit codes (scripts rely on them): 0 done, 1 the gateway refused or
// failed, 2 usage error, 3 the gateway cannot be reached.
import fs from 'node:fs';
import type { Command } from '../cli/command.js';
import { parseArgs, usageText, UsageError } from '../cli/args.js';
import { ApiClient, ApiRefused, ApiUnreachable, tcpTarget, type ApiTarget } from '../api/client.js';
import { LISTS, keyValue, qualified } from '../api/schema.js';
import { own } from '../api/path.js';
import { describeJsonError, tooDeep } from '../config/json-text.js';
import { RUN_DIR, socketPathFor } from '../api/socket.js';

export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3 } as const;

export const connectionSpec = {
  name: { type: 'string', help: `the gateway's name (as given to vitesse run --name): its socket is ${RUN_DIR}/NAME.sock` },
  socket: { type: 'string', help: 'the API socket, instead of the one --name implies' },
  url: { type: 'string', help: 'the TCP API instead of a socket, e.g. https://gw.example:8443 (with --token-file)' },
  'token-file': { type: 'string', help: 'file holding the bearer token of the TCP API' },
  'ca-file': { type: 'string', help: 'CA certificate to trust for the TCP API (default: the system\'s)' },
} as const;

const spec = { ...connectionSpec, help: { type: 'boolean' } } as const;

const HELP = `usage: vitesse config <action> --name NAME PATH [FILE|-]

Reads and changes a running gateway's configuration through its management
API. PATH is a RESTCONF path below the configuration: "/" for all of it,
"/route=site2" for a route, "/route=site2/net" for one of its leaves,
"/public-interface/queue=1". Keys are shown as "<redacted>"; sending
"<redacted>" back keeps the current key.

actions:
  get PATH              configuration at PATH; with "/" also the state
  get-config PATH       configuration at PATH
  get-state PATH        operational state at PATH, below gateway-state
                        ("/", "/sa", "/queue=1", "/key-manager")
  set PATH FILE|-       replace (or create) the node at PATH with the JSON in
                        FILE or on stdin
  add PATH FILE|-       create a new node: PATH is a list ("/route") or the
                        new entry ("/route=site3"); refused if it exists
  remove PATH           delete the node at PATH

The JSON given to set and add is the node's value ({"id": "site3", …} for a
route, 1400 for /mtu), or RFC 8040's form with the node's name
({"vitesse-gateway:route": [{…}]}).

A change is checked as a whole configuration first; if it is invalid, or
needs a restart, the gateway refuses it and nothing changes. A change it
accepts is applied at once (routes it does not touch keep their SAs) and
saved to the gateway's configuration file.

${usageText(spec)}

exit codes: 0 done, 1 refused by the gateway (reasons on stderr, one per
line, each with the path it concerns), 2 usage error, 3 the gateway cannot
be reached.

examples:
  vitesse config get --name site-a /
  vitesse config get-config --name site-a /route=site-b
  vitesse config get-state --name site-a /sa
  echo 1400 | vitesse config set --name site-a /mtu -
  vitesse config set --name site-a /route=site-b/net net.json
  vitesse config add --name site-a /route site-c.json
  vitesse config remove --name site-a /route=site-c
`;

const ACTIONS = ['get', 'get-config', 'get-state', 'set', 'add', 'remove'] as const;
type Action = (typeof ACTIONS)[number];

const GATEWAY = `/restconf/data/${qualified('gateway')}`;
const STATE = `/restconf/data/${qualified('gateway-state')}`;

/** The API target the connection options name. */
export function apiTarget(options: Record<string, unknown>): ApiTarget {
  const given = ['name', 'socket', 'url'].filter((o) => options[o] !== undefined);
  if (given.length !== 1) throw new UsageError(given.length ? `give only one of --${given.join(', --')}` : 'which gateway? give --name NAME (or --socket PATH, or --url URL)');
  if (options.url !== undefined) {
    if (options['token-file'] === undefined) throw new UsageError('--url needs --token-file');
    try {
      return tcpTarget(String(options.url), String(options['token-file']), options['ca-file'] === undefined ? undefined : String(options['ca-file']));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (options.socket !== undefined) return { socket: String(options.socket) };
  try {
    return { socket: socketPathFor(String(options.name)) };
  } catch (e) {
    throw new UsageError(`--name: ${(e as Error).message}`);
  }
}

/** Runs `body` against the gateway, turning failures into messages and exit codes. */
export async function talk(command: string, target: ApiTarget, body: (client: ApiClient) => Promise<void>): Promise<number> {
  const client = new ApiClient(target);
  try {
    await body(client);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof ApiUnreachable) {
      process.stderr.write(`vitesse ${command}: ${e.message}\n`);
      return EXIT.unreachable;
    }
    if (e instanceof ApiRefused) {
      for (const err of e.errors) {
        process.stderr.write(`vitesse ${command}: refused: ${err['error-path'] ? `${err['error-path']}: ` : ''}${err['error-message']}\n`);
      }
      return EXIT.refused;
    }
    throw e;
  }
}

interface PathSegment { name: string; keys: string[] | null }

/** Checks a user's PATH and splits it (the gateway checks the rest). */
function segmentsOf(path: string): PathSegment[] {
  if (!path.startsWith('/')) throw new UsageError(`PATH "${path}" must start with "/" (e.g. /route=site2)`);
  return path.split('/').filter(Boolean).map((part) => {
    const eq = part.indexOf('=');
    return eq < 0 ? { name: part, keys: null } : { name: part.slice(0, eq), keys: part.slice(eq + 1).split(',').map((k) => decodeURIComponent(k)) };
  });
}

function uriOf(base: string, segments: PathSegment[]): string {
  return [base, ...segments.map((s) => (s.keys ? `${s.name}=${s.keys.map(encodeURIComponent).join(',')}` : s.name))].join('/');
}

const stripModule = (name: string) => (name.startsWith(`${qualified('')}`) ? name.slice(qualified('').length) : name);

/** The JSON a user gave for a node, in RFC 8040's form: {"vitesse-gateway:NAME": value}. */
function wrap(name: string, value: unknown): Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const members = Object.keys(value);
    if (members.length === 1 && stripModule(members[0]) === name) return { [qualified(name)]: (value as Record<string, unknown>)[members[0]] };
  }
  return { [qualified(name)]: value };
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file === '-' ? 'stdin' : file}: ${(e as Error).message}`);
  }
  // Never quote the input: it may be a key (`echo $KEY | vitesse config set … -`).
  const where = file === '-' ? 'stdin' : file;
  const deep = tooDeep(text);
  if (deep) throw new UsageError(`${where} is ${deep}`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${where} is not JSON (${describeJsonError(text, e)}; the input is not shown: it may hold a key). A leaf's value is JSON: a string such as a key is a JSON string, in quotes, e.g. printf '"%s"' "$KEY" | vitesse config set … -`);
  }
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export const configCommand: Command = {
  summary: 'read and change a running gateway\'s configuration and state',
  async run(argv) {
    const { options, positional } = parseArgs(argv, spec);
    if (options.help) {
      process.stdout.write(HELP);
      return EXIT.ok;
    }
    const [action, path, file, ...extra] = positional;
    if (!action) throw new UsageError(`an action is required: ${ACTIONS.join(', ')} (see --help)`);
    if (!ACTIONS.includes(action as Action)) throw new UsageError(`unknown action "${action}": use ${ACTIONS.join(', ')}`);
    if (!path) throw new UsageError(`${action}: PATH is required (e.g. / or /route=site2)`);
    const needsFile = action === 'set' || action === 'add';
    if (needsFile && file === undefined) throw new UsageError(`${action}: FILE (or - for stdin) is required after PATH`);
    if ((!needsFile && file !== undefined) || extra.length) throw new UsageError(`unexpected argument "${needsFile ? extra[0] : file}"`);
    const segments = segmentsOf(path);
    const target = apiTarget(options);
    const value = needsFile ? readJson(file!) : undefined;

    return talk('config', target, async (client) => {
      switch (action as Action) {
        case 'get':
          print(await client.get(segments.length ? `${uriOf(GATEWAY, segments)}?content=all` : '/restconf/data?content=all'));
          return;
        case 'get-config':
          print(await client.get(`${uriOf(GATEWAY, segments)}?content=config`));
          return;
        case 'get-state':
          print(await client.get(uriOf(STATE, segments)));
          return;
        case 'set': {
          const name = segments.length ? segments[segments.length - 1].name : 'gateway';
          await client.call('PUT', uriOf(GATEWAY, segments), wrap(name, value));
          return;
        }
        case 'add': {
          if (!segments.length) throw new UsageError('add: PATH names the new node, e.g. /route or /route=site3');
          const last = segments[segments.length - 1];
          const parent = segments.slice(0, -1);
          let body = wrap(last.name, value);
          const list = own(LISTS.gateway, segments.map((s) => s.name).join('/'));
          if (list && last.keys) {
            // The entry's keys may come from PATH alone.
            const inner = body[qualified(last.name)];
            const entry = Array.isArray(inner) && inner.length === 1 ? inner[0] : inner;
            if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new UsageError('add: a list entry is a JSON object');
            const filled: Record<string, unknown> = { ...entry };
            for (const [i, k] of list.keys.entries()) {
              const v = last.keys[i];
              if (v === undefined) throw new UsageError(`add: ${last.name} is keyed by ${list.keys.join(', ')}`);
              if (filled[k] === undefined) filled[k] = keyValue(list, k, v);
              else if (String(filled[k]) !== v) throw new UsageError(`add: the JSON's ${k} (${JSON.stringify(filled[k])}) differs from PATH's (${v})`);
            }
            body = { [qualified(last.name)]: [filled] };
          } else if (list) {
            const inner = body[qualified(last.name)];
            body = { [qualified(last.name)]: Array.isArray(inner) ? inner : [inner] };
          }
          await client.call('POST', uriOf(GATEWAY, parent), body);
          return;
        }
        case 'remove':
          await client.call('DELETE', uriOf(GATEWAY, segments));
          return;
      }
    });
  },
};
