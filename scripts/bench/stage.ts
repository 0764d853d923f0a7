// Which of the benchmark's systems may run: the one being measured (or primed,
// filled, failed over); every other cluster the benchmark has started is paused
// with SIGSTOP. WHY: idle Ratify nodes still tick, heartbeat and serve their own
// timers; on this 2-core machine two idle clusters raised etcd's two-put p50 at
// concurrency 1 by 0.3-0.8 ms (README, "Performance"). A paused process
// uses no CPU and keeps its state, so the alternating phases at concurrency 1
// need no restart and no new priming.
import type { Supervised, Supervisor } from './supervisor.js';

export class Stage {
  private readonly groups = new Map<string, () => readonly Supervised[]>();
  private current: string | null = null;

  constructor(private readonly sup: Supervisor) {}

  /** Registers a system's processes (read each time: killed nodes come back with new PIDs). */
  add(name: string, processes: () => readonly Supervised[]): void {
    this.groups.set(name, processes);
  }

  /** Forgets a system that is being stopped; it is resumed first so it can exit. */
  remove(name: string): void {
    const procs = this.groups.get(name);
    for (const p of procs?.() ?? []) this.sup.resume(p);
    this.groups.delete(name);
    if (this.current === name) this.current = null;
  }

  /** The system that runs now, or null when none is focused. */
  get focused(): string | null {
    return this.current;
  }

  /** Pauses every other registered system and resumes `name`. */
  focus(name: string): void {
    for (const [group, procs] of this.groups) {
      if (group !== name) for (const p of procs()) this.sup.pause(p);
    }
    for (const p of this.groups.get(name)?.() ?? []) this.sup.resume(p);
    this.current = name;
  }
}
