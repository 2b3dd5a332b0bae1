// Dead-peer detection end to end (issue 11, "Dead-peer detection and
// liveness"): two `vitesse run` gateways in namespaces, short intervals
// (bench/liveness.ts runs the scenario and measures it):
//
//   hostA ── gwA ══ net ══ gwB ── hostB      (hostA pings hostB throughout)
//
// Gateway B is killed with SIGKILL: A reports B's peer down once its probes
// fail, and exactly liveness-failures of them were sent and failed (counted
// in A's route state, valid against the model). B is started again: traffic
// flows and A's peer-up turns true on B's first authenticated message (the
// first negotiation with the restarted B). How long each took is the
// benchmark's (`vitesse bench liveness`), not a pass/fail threshold here.
//
// Needs root, ip, ping, yanglint and the compiled CLI; skipped with the reason otherwise.
import { describe, expect, it } from 'vitest';
import { runLiveness } from '../bench/liveness.js';
import type { Driver } from '../controlplane/demo/two-sites.js';
import { yanglintDocument } from './config-yanglint.js';
import { missing } from './support/requires.js';

const why = missing('root', 'ip', 'ping', 'yanglint', 'cli');
const FAILURES = 3;

describe.skipIf(why).each(['af-packet', 'af-xdp'] as Driver[])(`dead-peer detection between two vitesse run gateways over %s${why ? ` [skipped: ${why}]` : ''}`, (driver) => {
  it('SIGKILL of B: A counts liveness-failures failed probes and reports the peer down; B restarted: up on its first authenticated message, traffic flows', async () => {
    const states: Record<string, unknown> = {};
    const f = await runLiveness({ driver, interval: 1, failures: FAILURES, negotiationTtl: 1, onState: (step, s) => { states[step] = s; } });

    // Down: after exactly liveness-failures probes, all failed.
    expect(f.probes_sent).toBe(FAILURES);
    expect(f.probes_failed).toBe(FAILURES);
    expect(f.down_state).toMatchObject({ id: 'site-b', 'peer-up': false, 'peer-down-since': expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/) });
    // One warn line down, one info line up, nothing else about the peer.
    expect(f.events).toEqual(['peer down: no answer to liveness probes', 'peer up again']);

    // Up again: no probe failed after the peer was down (initiations backed
    // off rather than probing), and the state says so.
    expect(f.probes_failed_until_up).toBe(FAILURES);
    expect(f.up_state).toMatchObject({ 'peer-up': true });
    expect(f.up_state).not.toHaveProperty('peer-down-since');
    expect(Date.parse(String(f.up_state['last-received']))).toBeGreaterThanOrEqual(Date.parse(String(f.down_state['peer-down-since'])));
    expect(Date.parse(String(f.up_state['last-handshake']))).toBeGreaterThanOrEqual(Date.parse(String(f.down_state['peer-down-since'])));
    // The cause: the first SA pair negotiated with the restarted B (its
    // first authenticated message, a proposal or an agreement) is what
    // brought the peer up — A's log for the route from the restart to
    // "peer up again" has that one negotiation and nothing before it.
    const mine = f.recovery_log.filter((l) => l.route === 'site-b');
    expect(mine.at(-1)!.msg).toBe('peer up again');
    expect(mine.filter((l) => l.msg === 'SA pair negotiated')).toHaveLength(1);
    const negotiated = mine.findIndex((l) => l.msg === 'SA pair negotiated');
    // Between the two: only that pair's SAs going into the data plane.
    expect(mine.slice(negotiated + 1, -1).map((l) => l.msg).filter((m) => !/^(inbound SA installed|outbound SA activated)$/.test(m))).toEqual([]);
    // ... and A sends on that pair at once (its old outbound SA went
    // unanswered: B lost it), not after the activation delay.
    expect(mine.slice(negotiated + 1, -1).filter((l) => l.msg === 'outbound SA activated').map((l) => l.spi)).toEqual([mine[negotiated].outbound]);
    // Traffic flows: the echo replies came back (runLiveness waited for
    // one), decrypted by A on the new SAs.
    expect(Number(f.up_state['inbound-packets'])).toBeGreaterThan(Number(f.down_state['inbound-packets']));

    // Every state read is valid against the model.
    for (const step of ['up', 'down', 'recovered']) expect({ step, ...yanglintDocument(states[step], 'get') }).toEqual({ step, ok: true, messages: '' });
  }, 240_000);
});
