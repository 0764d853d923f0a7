// One child process of the local target (a Ratify node or a bank), spawned detached in
// its own process group so a Ctrl-C at the terminal reaches only the runner, which then
// stops every child by PID. Output goes straight to a log file (no pipe through the
// runner's event loop, which a SIGSTOPped reader could otherwise back up).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/** Safety net: whatever happens to the runner, no child outlives it by accident. */
const livePids = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of livePids) signalPid(pid, 'SIGKILL');
  });
}

export class ChildService {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** Incarnations started, for the log. */
  starts = 0;

  constructor(
    readonly name: string,
    private readonly args: readonly string[],
    private readonly logFile: string,
    /** Added to the runner's environment (a password that must stay off the command line, a CA to trust). */
    private readonly env: Readonly<Record<string, string>> = {},
  ) {}

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  start(): void {
    if (this.proc !== null) throw new Error(`${this.name} is already running (pid ${String(this.proc.pid)})`);
    installExitHook();
    const fd = openSync(this.logFile, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(process.execPath, [...this.args], { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...this.env } });
    } finally {
      closeSync(fd);
    }
    const pid = proc.pid;
    if (pid === undefined) throw new Error(`could not spawn ${this.name}`);
    this.starts++;
    this.proc = proc;
    livePids.add(pid);
    this.exited = new Promise<void>((resolve) => {
      proc.once('exit', () => {
        livePids.delete(pid);
        if (this.proc === proc) this.proc = null;
        resolve();
      });
    });
  }

  signal(sig: NodeJS.Signals): void {
    const pid = this.proc?.pid;
    if (pid === undefined) throw new Error(`${this.name} is not running`);
    signalPid(pid, sig);
  }

  /** SIGKILL and wait for the exit (a stopped process dies of SIGKILL too). */
  async kill(): Promise<void> {
    if (this.proc === null) return;
    this.signal('SIGKILL');
    await this.exited;
  }

  /**
   * SIGTERM (after SIGCONT, in case it is stopped), then SIGKILL after the grace period.
   * Resolves 'killed' when the grace period ran out: a graceful stop that hangs is a finding.
   */
  async stop(graceMs: number): Promise<'exited' | 'killed'> {
    if (this.proc === null) return 'exited';
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const timedOut = await Promise.race([this.exited.then(() => false), delay(graceMs).then(() => true)]);
    if (!timedOut) return 'exited';
    await this.kill();
    return 'killed';
  }
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
