// gNMI errors: a gRPC status code and a message that names the path.
import { status } from '@grpc/grpc-js';

export { status };

export class GnmiError extends Error {
  constructor(readonly code: status, message: string) {
    super(message);
  }

  /** The error as grpc-js sends it (a ServiceError-shaped object). */
  toStatus(): { code: status; details: string; message: string } {
    return { code: this.code, details: this.message, message: this.message };
  }
}

export const notFound = (m: string) => new GnmiError(status.NOT_FOUND, m);
export const invalid = (m: string) => new GnmiError(status.INVALID_ARGUMENT, m);
export const unimplemented = (m: string) => new GnmiError(status.UNIMPLEMENTED, m);
