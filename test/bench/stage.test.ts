// Pausing the systems not measured: real child processes (sleep), stopped by PID.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Stage } from '../../scripts/bench/stage.js';
import { Supervisor, type Supervised } from '../../scripts/bench/supervisor.js';

/** The process state letter of /proc/<pid>/stat: T when stopped. */
function state(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
}

/** Signals arrive asynchronously: the states once every process has taken its signal (or after 5 s). */
async function settled(pids: readonly number[], want: (s: string) => boolean): Promise<string[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const states = pids.map(state);
    if (states.every(want) || Date.now() > deadline) return states;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('Stage', () => {
  const sup = new Supervisor();
  afterEach(async () => sup.cleanup());

  const start = (name: string): Supervised => {
    const dir = sup.tempDir('ratify-stage-test-');
    return sup.spawn({ name, command: 'sleep', args: ['60'], logPath: join(dir, 'log') });
  };

  it.runIf(process.platform === 'linux')('runs only the focused system, pauses the others, and can stop a paused one', async () => {
    const etcd = start('etcd e1');
    const ratify = [start('ratify tx n1'), start('ratify tx n2')];
    const stage = new Stage(sup);
    stage.add('etcd', () => [etcd]);
    stage.add('ratify tx', () => ratify);
    stage.focus('etcd');
    expect(await settled([etcd.pid], (s) => s !== 'T')).not.toContain('T');
    expect(
      await settled(
        ratify.map((p) => p.pid),
        (s) => s === 'T',
      ),
    ).toEqual(['T', 'T']);
    expect(sup.isPaused(ratify[0] as Supervised)).toBe(true);
    stage.focus('ratify tx');
    expect(await settled([etcd.pid], (s) => s === 'T')).toEqual(['T']);
    expect(
      await settled(
        ratify.map((p) => p.pid),
        (s) => s !== 'T',
      ),
    ).not.toContain('T');
    expect(stage.focused).toBe('ratify tx');
    // A paused process holds SIGTERM until it continues: stop() must still end it.
    const seen: string[] = [];
    sup.onBeforeExit((p) => seen.push(p.name));
    await sup.stop(etcd);
    expect(sup.isRunning(etcd)).toBe(false);
    expect(seen).toEqual(['etcd e1']);
    stage.remove('etcd');
    expect(sup.runningNames()).toEqual(new Map(ratify.map((p) => [p.pid, p.name])));
  });
});
