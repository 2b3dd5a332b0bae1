// Issue 10 item 2: when an outbound SA with an explicit key has used every
// number reserved on disk and the next reservation cannot be written, its
// packets are dropped and counted (private_drop_sequence_unreserved:
// `sequence-unreserved-errors` in the YANG state, reason
// "sequence_unreserved" in the metrics), never sent with a number beyond the
// mark. The real gateway (data plane on capture files) with a reservation of
// 4 numbers; the write is made to fail by a directory where the state's
// temporary file goes, which stops root as well as anyone.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../controlplane/config/index.js';
import { Gateway } from '../controlplane/gateway.js';
import { GatewayMetrics } from '../controlplane/metrics.js';
import { gatewayState } from '../controlplane/state.js';
import { yanglintDocument } from './config-yanglint.js';
import { itNeeding } from './support/requires.js';
import { writePcap } from './support/pcap.js';
import { lanFrames, sentEsp, sequenceConfig } from './support/sequence-setup.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-seq-reserve-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const log = pino({ level: 'silent' });
/** State documents with the sequence leaves, judged by yanglint in the last test. */
const states: object[] = [];

/** The gateway on captures, its worker polled on this thread with the reservation timer's work between passes. */
function gateway(tag: string, stateFile: string, frames: number) {
  const lan = path.join(dir, `${tag}-lan.pcap`), wan = path.join(dir, `${tag}-wan.pcap`);
  writePcap(lan, lanFrames(frames, 1).map((data) => ({ data })));
  const gw = new Gateway(parseConfig(sequenceConfig()), {
    logger: log, sequenceState: stateFile, sequenceReserve: 4n,
    links: { private: { driver: 'pcap', pcapIn: lan }, public: { driver: 'pcap', pcapOut: wan } },
  });
  gw.dataplane.commit();
  gw.slowpath.start(); // publishes the static next-hop MACs
  const pump = () => {
    for (let i = 0; i < 20; i++) {
      gw.sequences!.tick();
      gw.dataplane.pollOnce();
    }
  };
  return { gw, wan, pump };
}

describe('the reserved sequence numbers run out before the next reservation is on disk', () => {
  it('packets beyond the mark are dropped and counted, never sent; sending resumes once the state can be written', async () => {
    const stateFile = path.join(dir, 'gw.sequence.json');
    const blocker = path.join(dir, `.gw.sequence.json.${process.pid}.tmp`);
    const { gw, wan, pump } = gateway('one', stateFile, 10);
    const reservedOnDisk = () => BigInt(JSON.parse(fs.readFileSync(stateFile, 'utf8'))['vitesse-sequence-state']['outbound-sa'][0].reserved);
    expect(reservedOnDisk()).toBe(4n); // written before the first packet
    fs.mkdirSync(blocker); // every later write fails
    pump();
    const c = gw.dataplane.counters();
    expect(c.encapsulated_packets).toBe(4);
    expect(c.private_drop_sequence_unreserved).toBe(6);
    expect(reservedOnDisk()).toBe(4n);

    // Named in the YANG state (valid against the model) and in the metrics.
    const state = gatewayState(gw) as Record<string, any>;
    expect(state['private-router']['sequence-unreserved-errors']).toBe('6');
    const out = state.sa.find((sa: any) => sa.direction === 'outbound');
    expect(out).toMatchObject({ esn: true, 'next-sequence': '5', 'reserved-sequence': '4', 'sequence-unreserved-errors': '6' });
    expect(state.sa.find((sa: any) => sa.direction === 'inbound')).toMatchObject({ esn: true, 'window-top': '0' });
    states.push({ 'vitesse-gateway:gateway-state': state });
    const metrics = await new GatewayMetrics(gw, { processMetrics: false }).scrape();
    expect(metrics).toMatch(/vitesse_drops_total\{interface="private",reason="sequence_unreserved",queue="1"\} 6/);

    // The disk is writable again: the next reservation is written, then used.
    fs.rmdirSync(blocker);
    gw.sequences!.tick();
    expect(reservedOnDisk()).toBe(8n);
    expect((gatewayState(gw) as any).sa.find((sa: any) => sa.direction === 'outbound')['reserved-sequence']).toBe('8');
    gw.close();
    const sent = sentEsp(wan).map((e) => e.seq);
    expect(sent).toEqual([1n, 2n, 3n, 4n]);

    // A restart resumes above the mark on disk.
    const again = gateway('two', stateFile, 3);
    again.pump();
    again.gw.close();
    expect(sentEsp(again.wan).map((e) => e.seq)).toEqual([9n, 10n, 11n]);
    expect(reservedOnDisk()).toBeGreaterThanOrEqual(11n);
  });

  it('a reservation half used is extended on disk before the data plane may go on', () => {
    const stateFile = path.join(dir, 'ahead.sequence.json');
    const { gw, wan, pump } = gateway('ahead', stateFile, 3);
    pump();
    const onDisk = BigInt(JSON.parse(fs.readFileSync(stateFile, 'utf8'))['vitesse-sequence-state']['outbound-sa'][0].reserved);
    expect(onDisk).toBe(8n); // 3 of 4 used: the next 4 reserved
    expect((gatewayState(gw) as any).sa.find((sa: any) => sa.direction === 'outbound')['reserved-sequence']).toBe('8');
    expect(gw.dataplane.counters().private_drop_sequence_unreserved).toBe(0);
    gw.close();
    expect(sentEsp(wan).map((e) => e.seq)).toEqual([1n, 2n, 3n]);
  });

  itNeeding(['yanglint'], 'the state with the sequence leaves and counter is valid for the model (yanglint -t get)', () => {
    expect(states.length).toBeGreaterThan(0);
    for (const doc of states) expect(yanglintDocument(doc, 'get').messages).toBe('');
  });
});
