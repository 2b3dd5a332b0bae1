// The gNMI client of `vitesse bench telemetry`, run as a child process so
// that what it spends decoding is not counted as the gateway's. Prints one
// JSON line per finished task.
//
//   node telemetry-client.js TARGET CERT TOKEN get N
//   node telemetry-client.js TARGET CERT TOKEN sample SECONDS ENCODING PATH
//   node telemetry-client.js TARGET CERT TOKEN onchange SECONDS PATH
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { gnmiClient } from '../controlplane/gnmi/proto.js';

const [target, certFile, tokenFile, task, arg, ...rest] = process.argv.slice(2);
const token = fs.readFileSync(tokenFile, 'utf8').trim();
const creds = grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(fs.readFileSync(certFile)),
  grpc.credentials.createFromMetadataGenerator((_p, cb) => {
    const m = new grpc.Metadata();
    m.set('authorization', `Bearer ${token}`);
    cb(null, m);
  }));
const Client = gnmiClient();
const client = new Client(target, creds, { 'grpc.ssl_target_name_override': 'localhost', 'grpc.max_receive_message_length': -1 }) as grpc.Client & Record<string, any>;
const elems = (p: string) => ({ elem: p.split('/').filter(Boolean).map((name) => ({ name })) });
const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

if (task === 'get') {
  const times: number[] = [];
  let updates = 0;
  let bytes = 0;
  for (let i = 0; i < Number(arg); i++) {
    const t = performance.now();
    const r = await new Promise<any>((resolve, reject) => client.Get({ path: [elems('/gateway-state')], encoding: 'JSON_IETF' }, (e: Error | null, x: any) => (e ? reject(e) : resolve(x))));
    times.push(performance.now() - t);
    updates = r.notification[0].update.length;
    bytes = r.notification[0].update.reduce((n: number, u: any) => n + u.val.json_ietf_val.length, 0);
  }
  out({ task, times, updates, bytes });
} else {
  const seconds = Number(arg);
  const [encoding, path] = task === 'sample' ? rest : ['JSON_IETF', rest[0]];
  const stream = client.Subscribe();
  let notifications = 0, updates = 0, deletes = 0, synced = false;
  // A sample's notifications share its timestamp: the samples the gateway took (it skips one while the client has not read the last).
  const stamps = new Set<string>();
  stream.on('data', (r: any) => {
    if (r.sync_response) {
      synced = true;
      out({ task: 'synced' });
      return;
    }
    if (!synced) return;
    notifications++;
    stamps.add(String(r.update.timestamp));
    updates += r.update.update?.length ?? 0;
    deletes += r.update.delete?.length ?? 0;
  });
  stream.on('error', () => {});
  const sub = task === 'sample' ? { mode: 'SAMPLE', sample_interval: String(1e9) } : { mode: 'ON_CHANGE' };
  stream.write({ subscribe: { mode: 'STREAM', encoding, updates_only: true, subscription: [{ path: elems(path), ...sub }] } });
  await new Promise<void>((resolve) => {
    const wait = setInterval(() => {
      if (!synced) return;
      clearInterval(wait);
      setTimeout(resolve, seconds * 1000);
    }, 10);
  });
  stream.cancel();
  out({ task, notifications, samples: stamps.size, updates, deletes });
}
client.close();
process.exit(0);
