// fast-check arbitraries shared by the key-exchange property tests: messages
// made from a corpus of genuine ones (both protocols share the 8-octet
// header, type at octet 4), so that most get past routing and reach the
// checks behind it.
import fc from 'fast-check';

/** Random octets of up to `maxLength`. */
export function randomMessage(maxLength: number): fc.Arbitrary<Buffer> {
  return fc.uint8Array({ minLength: 0, maxLength }).map((a) => Buffer.from(a));
}

/** A genuine header (its route SPI) followed by random octets. */
export function randomForRoute(corpus: Buffer[], maxLength: number): fc.Arbitrary<Buffer> {
  return fc.tuple(fc.constantFrom(...corpus), randomMessage(maxLength)).map(([c, r]) => Buffer.concat([c.subarray(0, 8), r]));
}

/** A genuine message with a few octets flipped, then perhaps truncated or extended. */
export function mutatedMessage(corpus: Buffer[]): fc.Arbitrary<Buffer> {
  const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 });
  return fc.tuple(fc.constantFrom(...corpus), edits, fc.constantFrom('edit', 'truncate', 'extend'), fc.nat()).map(
    ([c, changes, how, n]) => {
      const m = Buffer.from(c);
      for (const [at, x] of changes) m[at % m.length] ^= x;
      if (how === 'truncate') return m.subarray(0, n % m.length);
      if (how === 'extend') return Buffer.concat([m, Buffer.alloc(1 + (n % 16), n & 0xff)]);
      return m;
    },
  );
}

/** A genuine message under another message type (known or not). */
export function retypedMessage(corpus: Buffer[]): fc.Arbitrary<Buffer> {
  return fc.tuple(fc.constantFrom(...corpus), fc.constantFrom(11, 12, 13, 14, 0, 15, 255)).map(([c, t]) => {
    const m = Buffer.from(c);
    m[4] = t;
    return m;
  });
}
