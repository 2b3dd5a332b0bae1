// The gNMI service definition, from the vendored official .proto files
// (proto/SOURCE.md), loaded at run time with @grpc/proto-loader (protobufjs)
// for @grpc/grpc-js. Used by the server and by clients (tests, the
// benchmark), so both speak exactly the published wire format.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const GNMI_PROTO = 'github.com/openconfig/gnmi/proto/gnmi/gnmi.proto';

/** controlplane/gnmi/proto, from the source tree or from dist/ (the .proto files are not compiled). */
export function protoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const d = path.join(dir, 'controlplane', 'gnmi', 'proto');
    if (fs.existsSync(path.join(d, GNMI_PROTO))) return d;
    const here = path.join(dir, 'proto');
    if (fs.existsSync(path.join(here, GNMI_PROTO))) return here;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('vitesse: cannot find controlplane/gnmi/proto/' + GNMI_PROTO);
    dir = up;
  }
}

/** The gNMI version of the vendored gnmi.proto (its gnmi_service option). */
export function gnmiVersion(): string {
  const text = fs.readFileSync(path.join(protoRoot(), GNMI_PROTO), 'utf8');
  return /option\s+\(gnmi_service\)\s*=\s*"([^"]+)"/.exec(text)?.[1] ?? '0.0.0';
}

let loaded: protoLoader.PackageDefinition | null = null;

/** The package definition: enums as names, 64-bit integers as decimal strings, bytes as Buffers. */
export function gnmiDefinition(): protoLoader.PackageDefinition {
  loaded ??= protoLoader.loadSync(GNMI_PROTO, {
    includeDirs: [protoRoot()],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  return loaded;
}

/** The gnmi.gNMI service (for Server.addService). */
export function gnmiService(): grpc.ServiceDefinition {
  return gnmiDefinition()['gnmi.gNMI'] as grpc.ServiceDefinition;
}

/** A client constructor of the gnmi.gNMI service. */
export function gnmiClient(): grpc.ServiceClientConstructor {
  return grpc.makeClientConstructor(gnmiService(), 'gNMI');
}
