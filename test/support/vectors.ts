// Where the test vectors from outside the project live: in the repository,
// beside the tests (test/vectors/README.md gives each file's source and
// licence), so that a clone anywhere runs the suite with nothing beside it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../vectors');
export const VITA = path.join(VECTORS, 'vita');
