#!/usr/bin/env node
// vitesse-xdp-detach CONFIG: takes off the XDP program a gateway left
// attached to its af-xdp interfaces when it died without cleaning up (SIGKILL,
// a crash, the OOM killer).
//
// Why this exists: a starting gateway replaces a left-over program of its own
// only if it can tell it is its own, and looking inside a program attached by
// another process (BPF_PROG_GET_FD_BY_ID) needs CAP_SYS_ADMIN, which
// vitesse@.service does not grant. Without this, the restart after a crash
// fails with "another program is attached". The unit runs it fully privileged
// ("+") before every start and after every stop.
//
// It touches only the interfaces CONFIG gives the af-xdp driver, and on them
// only programs named as ours, so a program someone else attached stays (and
// the gateway then says so). Exit status: 0 unless detaching failed; a
// configuration that cannot be read is left for the gateway to report.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const PROGRAM = 'vitesse_xsk'; // dataplane/io/xdp_program.h, XdpSteering::kProgramName
const MODE_OFF = { 1: 'xdpdrv', 2: 'xdpgeneric', 3: 'xdpoffload' }; // IFLA_XDP attach modes

const file = process.argv[2];
if (!file || process.argv.length !== 3) {
  process.stderr.write('usage: vitesse-xdp-detach /etc/vitesse/NAME.json\n');
  process.exit(2);
}

let gateway;
try {
  gateway = JSON.parse(fs.readFileSync(file, 'utf8'))['vitesse-gateway:gateway'] ?? {};
} catch (e) {
  process.stderr.write(`vitesse-xdp-detach: ${file}: ${e.message} (nothing detached)\n`);
  process.exit(0);
}

const devices = ['private-interface', 'public-interface']
  .map((side) => gateway[side])
  .filter((itf) => itf?.driver === 'af-xdp' && typeof itf.device === 'string')
  .map((itf) => itf.device);

let failed = false;
for (const device of new Set(devices)) {
  let link;
  try {
    [link] = JSON.parse(execFileSync('ip', ['-j', '-d', 'link', 'show', 'dev', device], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch {
    continue; // no such interface (yet): nothing can be attached to it
  }
  const xdp = link?.xdp;
  const attached = xdp?.attached ?? (xdp?.prog ? [{ mode: xdp.mode, prog: xdp.prog }] : []);
  for (const { mode, prog } of attached) {
    if (prog?.name !== PROGRAM || !MODE_OFF[mode]) continue;
    try {
      execFileSync('ip', ['link', 'set', 'dev', device, MODE_OFF[mode], 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
      process.stdout.write(`vitesse-xdp-detach: ${device}: detached a left-over ${PROGRAM} (program id ${prog.id})\n`);
    } catch (e) {
      failed = true;
      process.stderr.write(`vitesse-xdp-detach: ${device}: cannot detach ${PROGRAM} (program id ${prog.id}): ${String(e.stderr ?? e.message).trim()}\n`);
    }
  }
}
process.exit(failed ? 1 : 0);
