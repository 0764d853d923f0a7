// Owns every child process and temporary folder the benchmark creates, and
// removes them on normal exit, on error and on SIGINT/SIGTERM. Processes are
// stopped by the PID we spawned, never by name: other engineers run nodes on
// this machine at the same time.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Supervised {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
}

export interface SpawnSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** stdout and stderr are appended here, so a failed start can be diagnosed. */
  readonly logPath: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Opens an IPC channel (child_process fork-style) for node children. */
  readonly ipc?: boolean;
}

const STOP_GRACE_MS = 3000;

export class Supervisor {
  private readonly running = new Map<number, Supervised>();
  private readonly dirs = new Set<string>();
  private readonly paused = new Set<number>();
  private readonly exitWatchers: Array<(proc: Supervised) => void> = [];
  private keepDirs = false;

  /** Called just before the supervisor kills or stops a process (to read its peak RSS while it still has one). */
  onBeforeExit(watch: (proc: Supervised) => void): void {
    this.exitWatchers.push(watch);
  }

  /** Every process the benchmark runs now, by PID, with the name it was started as. */
  runningNames(): Map<number, string> {
    return new Map([...this.running.values()].map((p) => [p.pid, p.name]));
  }

  processes(): Supervised[] {
    return [...this.running.values()];
  }

  /**
   * SIGSTOP: the process keeps its memory and sockets but uses no CPU and no
   * timer of it fires, so another system can be measured alone (README,
   * "Performance"). Its timers fire late once it resumes.
   */
  pause(proc: Supervised): void {
    if (!this.running.has(proc.pid) || this.paused.has(proc.pid)) return;
    proc.child.kill('SIGSTOP');
    this.paused.add(proc.pid);
  }

  resume(proc: Supervised): void {
    if (!this.paused.delete(proc.pid)) return;
    if (this.running.has(proc.pid)) proc.child.kill('SIGCONT');
  }

  isPaused(proc: Supervised): boolean {
    return this.paused.has(proc.pid);
  }

  spawn(spec: SpawnSpec): Supervised {
    const fd = openSync(spec.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(spec.command, spec.args, {
        stdio: spec.ipc === true ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
        env: spec.env ?? process.env,
      });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) throw new Error(`could not start ${spec.name} (${spec.command})`);
    const pid = child.pid;
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => {
        this.running.delete(pid);
        resolve(code ?? signal ?? 'unknown');
      });
    });
    child.once('error', () => this.running.delete(pid));
    const entry: Supervised = { name: spec.name, pid, child, logPath: spec.logPath, exited };
    this.running.set(pid, entry);
    return entry;
  }

  /** SIGKILL and wait until the kernel has reaped it (used to fail a leader). */
  async kill(proc: Supervised): Promise<void> {
    if (!this.running.has(proc.pid)) return;
    this.watchExit(proc);
    proc.child.kill('SIGKILL');
    this.paused.delete(proc.pid);
    await proc.exited;
  }

  /** SIGTERM, then SIGKILL after a grace period. */
  async stop(proc: Supervised): Promise<void> {
    if (!this.running.has(proc.pid)) return;
    this.watchExit(proc);
    proc.child.kill('SIGTERM');
    // A stopped process holds the SIGTERM until it continues.
    this.resume(proc);
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      await proc.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private watchExit(proc: Supervised): void {
    for (const watch of this.exitWatchers) watch(proc);
  }

  isRunning(proc: Supervised): boolean {
    return this.running.has(proc.pid);
  }

  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.add(dir);
    return dir;
  }

  /** Keep temp folders (logs, data) for inspection instead of deleting them. */
  keepTempDirs(): void {
    this.keepDirs = true;
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.running.values()].map((p) => this.stop(p)));
    this.removeDirs();
  }

  /** Last resort from process 'exit': synchronous, so only SIGKILL and rmSync. */
  cleanupSync(): void {
    for (const p of this.running.values()) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    this.running.clear();
    this.paused.clear();
    this.removeDirs();
  }

  /** SIGINT/SIGTERM stop the children before exiting; 'exit' catches every other path. */
  installSignalHandlers(onSignal: (signal: string) => void): void {
    const handler = (signal: NodeJS.Signals): void => {
      onSignal(signal);
      void this.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
    process.once('exit', () => this.cleanupSync());
  }

  private removeDirs(): void {
    if (this.keepDirs) return;
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    this.dirs.clear();
  }
}
