// One gateway per name and per interface (controlplane/instance-lock.ts).
//
// On real interfaces in namespaces (controlplane/demo/two-sites.ts): gateway
// A runs in this process, gateway B as `vitesse run` in its namespace. A
// second `vitesse run` on B's interfaces under another name, or under B's
// name on other interfaces, exits 2 naming B's PID, before it opens a link
// or sends a frame (A sees no key-exchange message from it) and B's tunnel
// keeps working; bad options exit 2 before the locks are even looked at;
// after B is killed with SIGKILL its locks are free and it starts again.
// Without namespaces: the locks within one process, and a SIGKILLed holder.
//
// Needs root, ip, ping and the compiled CLI (test/support/requires.ts).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../controlplane/config/index.js';
import { waitForTunnel } from '../controlplane/demo/demo.js';
import { spawnGateway, vitesseBin, type GatewayProcess } from '../controlplane/demo/gateway-process.js';
import { ADDR, buildTwoSites, type TwoSiteLab } from '../controlplane/demo/two-sites.js';
import { Gateway } from '../controlplane/gateway.js';
import { InstanceLockError, lockInstance } from '../controlplane/instance-lock.js';
import { describeNeeding } from './support/requires.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitesse-lock-'));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// A configuration whose two interfaces are real devices of this namespace
// (loopback twice: the lock is per device, taken once).
function loConfig() {
  const text = fs.readFileSync(path.join(path.dirname(vitesseBin), '..', 'deploy', 'examples', 'two-sites', 'site-a.json'), 'utf8');
  const c = JSON.parse(text) as Record<string, Record<string, Record<string, unknown>>>;
  c['vitesse-gateway:gateway']['private-interface'].device = 'lo';
  c['vitesse-gateway:gateway']['public-interface'].device = 'lo';
  return parseConfig(c);
}

describeNeeding(['cli'], 'instance locks in one network namespace', () => {
  it('a second holder of a name or an interface is refused, naming the first\'s PID; released locks are free', () => {
    const config = loConfig();
    const lockDir = path.join(dir, 'unit');
    const first = lockInstance(config, 'one', 'one.json', lockDir);
    expect(first.files.map((f) => path.basename(f))).toEqual(['name-one.lock', expect.stringMatching(/^interface-\d+-1\.lock$/)]);
    // Another name, the same interface.
    expect(() => lockInstance(config, 'two', 'two.json', lockDir)).toThrow(InstanceLockError);
    expect(() => lockInstance(config, 'two', 'two.json', lockDir)).toThrow(new RegExp(`interface lo \\(ifindex 1 in network namespace net:\\[\\d+\\]\\) is in use by gateway "one" \\(PID ${process.pid}, ${path.resolve('one.json')}\\)`));
    // The same name again: refused on the name, before any interface.
    expect(() => lockInstance(config, 'one', 'other.json', lockDir)).toThrow(/the name "one" is in use by gateway "one" \(PID \d+/);
    first.release();
    const again = lockInstance(config, 'two', 'two.json', lockDir);
    again.release();
  });

  it('a holder killed with SIGKILL leaves its locks free', async () => {
    const lockDir = path.join(dir, 'killed');
    const script = `
      import('${path.join(path.dirname(vitesseBin), '..', 'dist', 'controlplane', 'instance-lock.js')}').then((m) => {
        const lo = { device: 'lo', driver: 'af-packet' };
        m.lockInstance({ privateInterface: lo, publicInterface: lo }, 'held', 'held.json', ${JSON.stringify(lockDir)});
        process.stdout.write('locked\\n');
        setInterval(() => {}, 1000);
      });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    expect(() => lockInstance(loConfig(), 'held', 'x.json', lockDir)).toThrow(new RegExp(`PID ${child.pid}`));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    lockInstance(loConfig(), 'held', 'x.json', lockDir).release();
  });
});

interface Exit {
  code: number | null;
  stderr: string;
}

describeNeeding(['root', 'ip', 'ping', 'cli'], 'a second vitesse run on the same interfaces or name', () => {
  let lab: TwoSiteLab;
  let gwA: Gateway;
  let file: string;
  let lockDir: string;
  let first: GatewayProcess | undefined;
  const logger = pino({ level: process.env.VITESSE_TEST_LOG ?? 'silent' });

  // `vitesse run` in namespace `ns` that is expected to exit.
  const run = (ns: string, args: string[]) =>
    new Promise<Exit>((resolve) => {
      execFile('ip', ['netns', 'exec', ns, process.execPath, vitesseBin, 'run', ...args], { encoding: 'utf8', timeout: 30_000 }, (err, _out, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr });
      });
    });
  // What A's key manager did with key-exchange messages: a gateway that sent a knock shows here.
  const aHeard = () => {
    const c = gwA.keymanager!.counters;
    return c.challenges_offered + c.knocks_ratelimited + c.rxerrors + c.keypairs_offered + c.ratelimited;
  };
  const startB = () => spawnGateway(lab.lab, lab.ns.gwB, file, 'lockB', ['--lock-dir', lockDir, '--socket', path.join(dir, 'lockB.sock')]);

  beforeAll(async () => {
    lockDir = path.join(dir, 'ns');
    // Long-lived SAs: no rekey while the test runs, so any key exchange A sees comes from an intruder.
    lab = buildTwoSites({ driver: 'af-packet', saTtl: 600, negotiationTtl: 2, prefix: 'vlock' });
    const link = (device: string) => ({ driver: 'af-packet' as const, ifname: device, netns: lab.ns.gwA });
    gwA = new Gateway(parseConfig(lab.configA), { logger, links: { private: link('private'), public: link('public') } });
    gwA.start();
    file = path.join(dir, 'gwB.json');
    fs.writeFileSync(file, JSON.stringify(lab.configB), { mode: 0o600 });
    first = startB();
    await first.started;
    await waitForTunnel(lab, performance.now());
  }, 60_000);

  afterAll(async () => {
    if (first && first.child.exitCode === null && first.child.signalCode === null) {
      first.child.kill('SIGTERM');
      await Promise.race([first.exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    gwA?.close();
    lab?.cleanup();
  });

  it('another name on B\'s interfaces: exit 2 naming B\'s PID, nothing sent, B\'s tunnel unharmed', async () => {
    const heard = aHeard();
    const second = await run(lab.ns.gwB, ['--config', file, '--name', 'lockB2', '--lock-dir', lockDir, '--socket', path.join(dir, 'lockB2.sock')]);
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`interface (private|public) \\(ifindex \\d+ in network namespace net:\\[\\d+\\]\\) is in use by gateway "lockB" \\(PID ${first!.child.pid}, ${file}\\)`));
    await waitForTunnel(lab, performance.now());
    expect(aHeard()).toBe(heard);
    expect(fs.existsSync(path.join(dir, 'lockB2.sock'))).toBe(false);
  });

  it('B\'s name on other interfaces: exit 2 naming B\'s PID', async () => {
    const other = path.join(dir, 'hostB.json');
    const c = structuredClone(lab.configB) as Record<string, Record<string, Record<string, unknown>>>;
    c['vitesse-gateway:gateway']['private-interface'].device = 'eth0';
    c['vitesse-gateway:gateway']['public-interface'].device = 'lo';
    fs.writeFileSync(other, JSON.stringify(c), { mode: 0o600 });
    const r = await run(lab.ns.hostB, ['--config', other, '--name', 'lockB', '--lock-dir', lockDir, '--socket', path.join(dir, 'lockB3.sock')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`the name "lockB" is in use by gateway "lockB" (PID ${first!.child.pid}`);
  });

  it('bad options exit 2 before the locks and links: --metrics-listen, --name, --socket-mode, --log-level, a socket in use, TLS files', async () => {
    const heard = aHeard();
    const base = ['--config', file, '--lock-dir', lockDir];
    const cases: [string[], RegExp][] = [
      [['--name', 'lockB4', '--metrics-listen', 'localhost'], /--metrics-listen: "localhost" is not host:port/],
      [['--name', '../escape'], /--name: "\.\.\/escape" is not a gateway name/],
      [['--name', 'lockB4', '--socket-mode', '999'], /--socket-mode: "999" is not an octal mode/],
      [['--name', 'lockB4', '--log-level', 'loud'], /--log-level: "loud"/],
      [['--name', 'lockB4', '--socket', path.join(dir, 'lockB.sock')], /API socket .*lockB\.sock: a running process is serving it/],
      [['--name', 'lockB4', '--api-listen', '127.0.0.1:0', '--api-tls-cert', path.join(dir, 'none.crt'), '--api-tls-key', path.join(dir, 'none.key'), '--api-token-file', path.join(dir, 'none.token')],
        /--api-tls-cert: cannot read .*none\.crt/],
    ];
    for (const [args, says] of cases) {
      const r = await run(lab.ns.gwB, [...base, ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(says);
      expect(r.stderr, args.join(' ')).not.toContain('in use by'); // refused before the locks were looked at
    }
    expect(fs.readdirSync(lockDir)).not.toContain('name-lockB4.lock');
    expect(aHeard()).toBe(heard);
  });

  it('B killed with SIGKILL: its locks are free, B starts again and the tunnel comes back', async () => {
    first!.child.kill('SIGKILL');
    await first!.exited;
    first = startB();
    await first.started;
    await waitForTunnel(lab, performance.now());
    expect(await lab.lab.execAsync(lab.ns.hostB, ['ping', '-c', '1', '-W', '2', ADDR.hostA])).toMatch(/1 received/);
  }, 60_000);
});
