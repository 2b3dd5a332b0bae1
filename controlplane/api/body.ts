// A request body as the API accepts it: JSON of the YANG media type, nested
// no deeper than MAX_JSON_DEPTH (checked on the text, before anything
// recursive walks it), with no member named like an object's own machinery
// (`__proto__`, `constructor`, `prototype`) anywhere. JSON.parse makes such a
// member an ordinary own property, but spreading, merging or assigning it
// elsewhere would set a prototype, so it is refused here, naming where it is.
// Errors never quote the body: it may hold a key.
import { MAX_JSON_DEPTH, describeJsonError, tooDeep } from '../config/json-text.js';
import { RestconfError } from './errors.js';
import { RESERVED_NAMES, isObject } from './path.js';
import { YANG_JSON } from './schema.js';

export function parseBody(contentType: string | undefined, body: Buffer): unknown {
  const type = String(contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type !== YANG_JSON && type !== 'application/json') {
    throw RestconfError.of('invalid-value', `the body must be ${YANG_JSON} (or application/json), not "${type || 'unspecified'}"`, { type: 'protocol', status: 415 });
  }
  const text = body.toString('utf8');
  const deep = tooDeep(text, MAX_JSON_DEPTH);
  if (deep) throw RestconfError.of('malformed-message', `the body is ${deep}`, { type: 'protocol' });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw RestconfError.of('malformed-message', `the body is not JSON: ${describeJsonError(text, e)} (a leaf's value is JSON too: a string is quoted, e.g. "10.1.0.0/16")`, { type: 'protocol' });
  }
  const reserved = reservedMember(value);
  if (reserved) {
    throw RestconfError.of('invalid-value', `the body's member at ${reserved} is not a node name: ${[...RESERVED_NAMES].join(', ')} are reserved`, { type: 'protocol' });
  }
  return value;
}

/** Where (as a JSON pointer) the first member with a reserved name is, or null. Iterative. */
export function reservedMember(value: unknown): string | null {
  const stack: Array<{ v: unknown; at: string }> = [{ v: value, at: '' }];
  while (stack.length) {
    const { v, at } = stack.pop()!;
    if (Array.isArray(v)) {
      v.forEach((e, i) => stack.push({ v: e, at: `${at}/${i}` }));
    } else if (isObject(v)) {
      for (const [k, e] of Object.entries(v)) {
        const name = k.slice(k.indexOf(':') + 1);
        const here = `${at}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`;
        if (RESERVED_NAMES.has(name)) return here;
        stack.push({ v: e, at: here });
      }
    }
  }
  return null;
}
