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
  private keepDirs = false;

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
    proc.child.kill('SIGKILL');
    await proc.exited;
  }

  /** SIGTERM, then SIGKILL after a grace period. */
  async stop(proc: Supervised): Promise<void> {
    if (!this.running.has(proc.pid)) return;
    proc.child.kill('SIGTERM');
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      await proc.exited;
    } finally {
      clearTimeout(timer);
    }
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
