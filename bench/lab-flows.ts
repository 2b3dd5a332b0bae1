// The numbered UDP flows of the scale-out lab (bench/udp-flows.ts) and router
// A's nftables sets that record which A gateway carried each flow: shared by
// the failover, multi-peer failover and drain benchmarks.
import path from 'node:path';
import type { EcmpLab } from '../controlplane/demo/ecmp-sites.js';
import { packageRoot } from '../controlplane/native.js';
import type { FlowReport } from './udp-flows.js';

export const PORT = 7000;
export const SPORT = 40000;
const flowsScript = path.join(packageRoot, 'dist', 'bench', 'udp-flows.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per A gateway: the source ports of the flows it carried towards B (out) and back from B (in). */
export interface Carried {
  out: Record<'a1' | 'a2', number[]>;
  in: Record<'a1' | 'a2', number[]>;
}

/** hostB's echo of every datagram back to its sender. */
export function startEcho(l: EcmpLab): void {
  l.lab.spawn(l.ns.hostB, [process.execPath, flowsScript, 'echo', String(PORT)]);
}

/** Router A's flow sets (table inet vflow): `carried(prefix)` reads the sets named prefix + out1/out2/in1/in2. */
export function flowSets(l: EcmpLab) {
  const nft = (args: string[]) => l.lab.execAsync(l.ns.rA, ['nft', ...args]);
  const flush = () => Promise.all(['out1', 'out2', 'in1', 'in2'].map((s) => nft(['flush', 'set', 'inet', 'vflow', s])));
  const carried = async (prefix = ''): Promise<Carried> => {
    const set = async (name: string) => {
      const j = JSON.parse(await nft(['-j', 'list', 'set', 'inet', 'vflow', prefix + name])) as { nftables: Array<{ set?: { elem?: Array<number | { elem: { val: number } }> } }> };
      // Elements with a timeout are listed as {elem: {val, timeout, expires}}.
      return (j.nftables.find((e) => e.set)?.set?.elem ?? []).map((e) => (typeof e === 'number' ? e : e.elem.val)).sort((a, b) => a - b);
    };
    return { out: { a1: await set('out1'), a2: await set('out2') }, in: { a1: await set('in1'), a2: await set('in2') } };
  };
  return { flush, carried };
}

/**
 * Starts `flows` flows from hostA to hostB's echo, `pps` datagrams a second
 * each. The result stops them and returns what came back; its `mark()` asks
 * how many datagrams each flow has sent now (udp-flows.ts: SIGUSR2). Marks
 * asked for at once are taken one after the other (each waits for its own line).
 */
export async function startFlows(l: EcmpLab, flows: number, pps: number) {
  const sender = l.lab.spawn(l.ns.hostA, [process.execPath, flowsScript, 'send', l.hostB, String(PORT), String(SPORT), String(flows), String(pps)]);
  let out = '';
  sender.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve) => sender.stdout!.on('data', (c: string) => { out += c; if (out.includes('sending\n')) resolve(); }));
  const stop = async (): Promise<FlowReport[]> => {
    const done = new Promise<void>((r) => sender.once('exit', () => r()));
    sender.kill('SIGTERM');
    await done;
    return JSON.parse(out.split('\n').find((line) => line.startsWith('['))!) as FlowReport[];
  };
  const marks = () => out.split('\n').filter((line) => /^mark \d+$/.test(line));
  let queue: Promise<unknown> = Promise.resolve();
  const mark = (): Promise<number> => {
    const next = queue.then(async () => {
      const n = marks().length;
      sender.kill('SIGUSR2');
      while (marks().length === n) await sleep(5);
      return Number(marks().at(-1)!.slice(5));
    });
    queue = next;
    return next;
  };
  return Object.assign(stop, { mark });
}
