import { describe, expect, it } from 'vitest';
import { formatPhaseCpu, parseProcStat, phaseCpu, shortCommand, type ProcessCpuSample } from '../../scripts/bench/proc-cpu.js';

// A real line of /proc/<pid>/stat, with a command name holding a space and a parenthesis.
const STAT =
  '4242 (tsc (worker) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 11 0 123456 1000000 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';

function sample(pid: number, name: string, cpuMs: number, startTicks = 1): ProcessCpuSample {
  return { pid, name, cpuMs, startTicks };
}

describe('parseProcStat', () => {
  it('reads the pid, the name between the outer parentheses, utime+stime in ms and the start time', () => {
    expect(parseProcStat(STAT)).toEqual({ pid: 4242, name: 'tsc (worker) x', cpuMs: 3000, startTicks: 123456 });
  });

  it('refuses a line it cannot read', () => {
    expect(parseProcStat('')).toBeNull();
    expect(parseProcStat('12 (x) S 1 2')).toBeNull();
  });
});

describe('phaseCpu', () => {
  const before = new Map([
    [1, sample(1, 'node', 1000)],
    [2, sample(2, 'etcd', 500)],
    [3, sample(3, 'tsc', 0)],
    [4, sample(4, 'reused', 100, 7)],
    [5, sample(5, 'gone', 100)],
  ]);
  const after = new Map([
    [1, sample(1, 'node', 1500)],
    [2, sample(2, 'etcd', 1500)],
    [3, sample(3, 'tsc', 2000)],
    [4, sample(4, 'reused', 900, 8)],
    [6, sample(6, 'new', 300)],
  ]);
  const labels = new Map([
    [1, 'bench'],
    [2, 'etcd e1'],
  ]);

  it('lists every process alive at both ends by CPU, labels the benchmark’s own and leaves the rest unattributed', () => {
    const cpu = phaseCpu(before, after, 10_000, labels, 5000);
    expect(cpu.top.map((s) => [s.pid, s.label, s.cpuMs])).toEqual([
      [3, null, 2000],
      [2, 'etcd e1', 1000],
      [1, 'bench', 500],
    ]);
    expect(cpu.top[0]?.percent).toBe(20);
    expect(cpu.benchPercent).toBe(15);
    expect(cpu.othersPercent).toBe(20);
    // 5000 busy ms, 3500 attributed: a reused PID (4), an exited (5) and a new process (6) are not.
    expect(cpu.unattributedPercent).toBe(15);
  });

  it('keeps only the top N and says nothing of unattributed CPU without the machine total', () => {
    const cpu = phaseCpu(before, after, 10_000, labels, null, 1);
    expect(cpu.top.map((s) => s.pid)).toEqual([3]);
    expect(cpu.unattributedPercent).toBeNull();
    expect(formatPhaseCpu('etcd c=1', cpu)).toBe('etcd c=1: bench 15%, others 20% (% of one core) | top: tsc[3] 20%');
  });
});

describe('shortCommand', () => {
  it('keeps base names and cuts long command lines', () => {
    expect(shortCommand('/usr/bin/node /work/x/node_modules/.bin/vitest run a.test.ts')).toBe('node vitest run a.test.ts');
    expect(shortCommand(`node ${'a'.repeat(100)}`)).toHaveLength(60);
  });
});
