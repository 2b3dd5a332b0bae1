// Numbered UDP streams between two lab hosts, as child processes in their
// namespaces (nothing here blocks the test's event loop): a sender of an
// IPv4 and an IPv6 stream, each packet carrying its number, and a receiver
// that reports which numbers arrived, how often and what is missing.
import type { Lab } from '../../controlplane/demo/lab.js';

export interface StreamReport { received: number; distinct: number; duplicates: number; beyond: number; top: number; firstMissing: number[] }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `pps` packets per second on each family for `seconds`; resolves with how many of each. */
export function udpSender(lab: Lab, ns: string, dst4: string, dst6: string, pps: number, seconds: number): { done: Promise<{ v4: number; v6: number }> } {
  const script = `
    const dgram = require('dgram');
    const socks = { v4: dgram.createSocket('udp4'), v6: dgram.createSocket('udp6') };
    const dst = { v4: '${dst4}', v6: '${dst6}' };
    const sent = { v4: 0, v6: 0 };
    const perTick = ${pps / 100}, end = Date.now() + ${seconds * 1000};
    for (const s of Object.values(socks)) s.on('error', (e) => { process.stderr.write('udp sender: ' + e.message + '\\n'); process.exit(1); });
    const tick = setInterval(() => {
      for (const f of ['v4', 'v6']) for (let i = 0; i < perTick; i++) {
        const b = Buffer.alloc(96); b.writeUInt32BE(sent[f]++, 0); socks[f].send(b, 7777, dst[f]);
      }
      if (Date.now() >= end) { clearInterval(tick); setTimeout(() => { process.stdout.write(JSON.stringify(sent)); process.exit(0); }, 200); }
    }, 10);`;
  const child = lab.spawn(ns, [process.execPath, '-e', script]);
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<{ v4: number; v6: number }>((resolve, reject) => {
    child.on('exit', (code) => (code === 0 && out ? resolve(JSON.parse(out)) : reject(new Error(`UDP sender in ${ns} failed (${code}): ${err}`))));
  });
  return { done };
}

/** Receives both streams on port 7777 until stop(). */
export function udpReceiver(lab: Lab, ns: string): { ready: Promise<void>; stop(): Promise<{ v4: StreamReport; v6: StreamReport }> } {
  const script = `
    const dgram = require('dgram');
    const stat = {};
    let bound = 0;
    for (const f of ['v4', 'v6']) {
      const seen = new Uint8Array(1 << 20); const st = stat[f] = { seen, received: 0, duplicates: 0, beyond: 0 };
      const s = dgram.createSocket({ type: f === 'v4' ? 'udp4' : 'udp6', ipv6Only: f === 'v6', recvBufferSize: 1 << 22 });
      s.on('error', (e) => { process.stderr.write('udp receiver: ' + e.message + '\\n'); process.exit(1); });
      s.on('message', (m) => { st.received++; const k = m.readUInt32BE(0); if (k >= seen.length) { st.beyond++; return; } if (seen[k]) st.duplicates++; seen[k] = 1; });
      s.bind(7777, f === 'v4' ? '0.0.0.0' : '::', () => { if (++bound === 2) process.stdout.write('ready\\n'); });
    }
    process.on('SIGTERM', () => {
      const r = {};
      for (const [f, st] of Object.entries(stat)) {
        let top = -1, distinct = 0; for (let i = 0; i < st.seen.length; i++) if (st.seen[i]) { distinct++; top = i; }
        const firstMissing = []; for (let i = 0; i <= top && firstMissing.length < 10; i++) if (!st.seen[i]) firstMissing.push(i);
        r[f] = { received: st.received, distinct, duplicates: st.duplicates, beyond: st.beyond, top, firstMissing };
      }
      process.stdout.write(JSON.stringify(r)); process.exit(0);
    });`;
  const child = lab.spawn(ns, [process.execPath, '-e', script]);
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const ready = (async () => {
    const end = performance.now() + 10_000;
    while (performance.now() < end) {
      if (child.exitCode !== null) throw new Error(`UDP receiver in ${ns} failed: ${err}`);
      if (out.includes('ready')) return;
      await sleep(50);
    }
    throw new Error(`UDP receiver in ${ns}: not ready within 10 s`);
  })();
  const stop = async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    return JSON.parse(out.slice(out.indexOf('{'))) as { v4: StreamReport; v6: StreamReport };
  };
  return { ready, stop };
}
