// Loading a configuration: read, check everything, then build. Checking is
// complete before anything is returned, so a caller applies either a fully
// valid configuration or nothing (DESIGN.md §5: validate, diff, apply).
//
//   text → JSON (duplicate members found) → draft (structure and types)
//        → the model's constraints → the rules beyond the model
//        → yang-js against the model itself → GatewayConfig
import fs from 'node:fs/promises';
import { build } from './build.js';
import { checkConstraints } from './constraints.js';
import { acceptedEntries } from './accepted.js';
import { decode, pathOf, type Draft, type DraftRoute, type DraftSa, type Reusable } from './decode.js';
import { ROOT_PATH } from './defaults.js';
import { ConfigError, Problems } from './errors.js';
import { parseJsonText } from './json-text.js';
import { checkWithYangJs } from './model.js';
import { checkSemantics } from './semantics.js';
import type { GatewayConfig } from './types.js';

export interface ParseOptions {
  /** Named in the error message (e.g. the file). */
  source?: string;
  /**
   * What passed these checks before (the running configuration): list
   * entries equal to its own are not read or evaluated by yang-js again, so
   * a change of one route of many costs one route there (accepted.ts).
   */
  accepted?: Accepted;
}

/** A document that passed parseConfig, and the draft read from it if it is at hand. */
export interface Accepted {
  readonly document: unknown;
  readonly draft?: Draft;
}

/** The drafts of `matched` entries, from the accepted draft. */
function reusable(matched: ReturnType<typeof acceptedEntries>, draft: Draft): Reusable {
  const out = new Map<object, DraftRoute | DraftSa>();
  for (const [entry, { list, index }] of matched) {
    const d = list === 'route' ? draft.routes[index] : list === 'inbound-sa' ? draft.dataPlane?.inbound[index] : draft.dataPlane?.outbound[index];
    if (d) out.set(entry, d);
  }
  return out;
}

/**
 * Checks an RFC 7951 configuration (JSON text, or the value JSON.parse made of
 * it) and returns it typed with every default filled in, or throws a
 * ConfigError listing every problem with its path.
 */
export function parseConfig(input: string | unknown, options: ParseOptions = {}): GatewayConfig {
  return checkConfig(input, options).config;
}

/** parseConfig, also returning what it accepted (for ParseOptions.accepted of a later change). */
export function checkConfig(input: string | unknown, options: ParseOptions = {}): { config: GatewayConfig; accepted: Accepted | null } {
  const problems = new Problems();
  let document = input;
  if (typeof input === 'string') {
    const text = parseJsonText(input);
    if (!text.ok) throw new ConfigError([{ path: '/', reason: text.reason }], options.source);
    document = text.value;
    for (const d of text.duplicates) problems.add(pathOf(document, d), 'given twice (the last one would silently win)');
  }
  const prior = options.accepted;
  const matched = prior ? acceptedEntries(document, prior.document) : undefined;
  const reuse = matched && prior?.draft ? reusable(matched, prior.draft) : undefined;
  const draft = decode(document, problems, reuse);
  if (draft) {
    checkConstraints(draft, ROOT_PATH, problems);
    // Routes read from the accepted draft passed the rules beyond the model there.
    const passed = reuse && prior?.draft ? { draft: prior.draft, routes: new Set(reuse.values()) } : undefined;
    checkSemantics(draft, problems, passed);
  }
  problems.throwIfAny(options.source);
  // A document parsed here from text is ours to give to yang-js without a copy.
  const owned = typeof input === 'string';
  const disagreement = checkWithYangJs(document, prior?.document, { owned, matched });
  if (disagreement) throw new ConfigError([disagreement], options.source);
  // yang-js may have written into a document it was given whole: none then.
  return { config: build(draft!), accepted: owned ? null : { document, draft } };
}

/** Reads and checks a configuration file (see parseConfig). */
export async function loadConfig(file: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ path: '/', reason: `cannot read the file: ${(e as Error).message}` }], file);
  }
  return parseConfig(text, { source: file });
}
