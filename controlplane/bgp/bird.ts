// The BIRD 2 beside a gateway (docs/scale-out.md): started by the gateway as
// its child, so that its BGP sessions — and with them every route it
// announces — cannot outlive the gateway. `setpriv --pdeathsig KILL` makes the
// kernel kill BIRD when the gateway's process dies, however it dies (SIGKILL
// included); under systemd the unit's control group does the same. The
// router then sees the BGP session close (TCP FIN from the dying BIRD's
// sockets) or, if the whole host died, BFD time out.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from 'pino';

const execFileAsync = promisify(execFile);

export interface BirdOptions {
  config: string;
  socket: string;
  log: Logger;
}

// A BIRD that exits by itself (a crash, a bad configuration) is started again
// this long after, so that announcements come back without a restart of the
// gateway; while it is down, nothing is announced (the safe direction).
const RESTART_MS = 1000;

export class Bird {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: BirdOptions) {}

  start(): void {
    // -f: foreground (our child); -s: the control socket birdc talks to.
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'bird', '-f', '-c', this.o.config, '-s', this.o.socket], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      for (const line of text.split('\n')) if (line.trim()) this.o.log.info({ bird: line.trim() }, 'bird');
    });
    child.on('error', (e) => this.o.log.error({ err: e.message }, 'bird could not be started (setpriv and bird, Debian: util-linux and bird2)'));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      this.o.log.error({ code, signal }, `bird exited: nothing is announced; starting it again in ${RESTART_MS} ms`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (this.stopping) return;
        // It reads routes-file as last written: it announces what we announce.
        this.start();
      }, RESTART_MS);
      this.restartTimer.unref();
    });
    this.o.log.info({ config: this.o.config, socket: this.o.socket, pid: child.pid }, 'bird started');
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** `birdc configure`: BIRD reads its configuration (and our routes file) again; sessions whose configuration is unchanged stay up. */
  async configure(): Promise<void> {
    const { stdout } = await execFileAsync('birdc', ['-s', this.o.socket, 'configure'], { encoding: 'utf8', timeout: 10_000 });
    if (!/Reconfigured|Reconfiguration in progress|already in progress|Reconfiguration confirmed/i.test(stdout)) throw new Error(`birdc configure: ${stdout.trim()}`);
  }

  /** SIGTERM: BIRD closes its sessions (BGP Cease), the router withdraws our routes at once. */
  stop(): void {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.child?.kill('SIGTERM');
  }
}
