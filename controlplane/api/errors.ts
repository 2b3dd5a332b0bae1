// RESTCONF errors (RFC 8040 §7): every refusal is an `ietf-restconf:errors`
// document whose entries carry error-type, error-tag, the error-path of the
// data node concerned (when there is one) and a message saying what was wrong
// and where. The HTTP status follows from the tag, as RFC 8040's table says.
import type { ConfigError } from '../config/errors.js';

export type ErrorType = 'transport' | 'rpc' | 'protocol' | 'application';

export type ErrorTag =
  | 'in-use' | 'invalid-value' | 'too-big' | 'missing-attribute' | 'bad-attribute' | 'unknown-attribute'
  | 'bad-element' | 'unknown-element' | 'unknown-namespace' | 'access-denied' | 'lock-denied'
  | 'resource-denied' | 'rollback-failed' | 'data-exists' | 'data-missing' | 'operation-not-supported'
  | 'operation-failed' | 'partial-operation' | 'malformed-message';

/** RFC 8040 §7, the first status of each tag unless a caller picks another the table allows. */
const STATUS: Record<ErrorTag, number> = {
  'in-use': 409, 'invalid-value': 400, 'too-big': 413, 'missing-attribute': 400, 'bad-attribute': 400,
  'unknown-attribute': 400, 'bad-element': 400, 'unknown-element': 400, 'unknown-namespace': 400,
  'access-denied': 403, 'lock-denied': 409, 'resource-denied': 409, 'rollback-failed': 500,
  'data-exists': 409, 'data-missing': 409, 'operation-not-supported': 501, 'operation-failed': 500,
  'partial-operation': 500, 'malformed-message': 400,
};

export interface RestconfErrorEntry {
  'error-type': ErrorType;
  'error-tag': ErrorTag;
  'error-path'?: string;
  'error-message': string;
}

export class RestconfError extends Error {
  constructor(
    readonly status: number,
    readonly errors: readonly RestconfErrorEntry[],
    /** Extra response headers (e.g. Allow with 405, WWW-Authenticate with 401). */
    readonly headers: Record<string, string> = {},
  ) {
    super(errors.map((e) => (e['error-path'] ? `${e['error-path']}: ${e['error-message']}` : e['error-message'])).join('; '));
    this.name = 'RestconfError';
  }

  static of(tag: ErrorTag, message: string, opts: { path?: string; type?: ErrorType; status?: number; headers?: Record<string, string> } = {}): RestconfError {
    const entry: RestconfErrorEntry = { 'error-type': opts.type ?? 'application', 'error-tag': tag, 'error-message': message };
    if (opts.path) entry['error-path'] = opts.path;
    return new RestconfError(opts.status ?? STATUS[tag], [entry], opts.headers);
  }

  /** A configuration that failed validation: one entry per problem, each with its path. */
  static fromConfigError(e: ConfigError): RestconfError {
    return new RestconfError(400, e.problems.map((p) => ({
      'error-type': 'application',
      'error-tag': 'invalid-value',
      'error-path': p.path,
      'error-message': p.reason,
    })));
  }

  body(): { 'ietf-restconf:errors': { error: RestconfErrorEntry[] } } {
    return { 'ietf-restconf:errors': { error: [...this.errors] } };
  }
}

/** Reads an `ietf-restconf:errors` document (client side); null if the body is not one. */
export function parseErrors(body: unknown): RestconfErrorEntry[] | null {
  const errors = (body as { 'ietf-restconf:errors'?: { error?: unknown } } | null)?.['ietf-restconf:errors']?.error;
  if (!Array.isArray(errors)) return null;
  return errors.filter((e): e is RestconfErrorEntry => typeof e === 'object' && e !== null && typeof e['error-message'] === 'string');
}
