// Summarizes what scripts/stall-probe.ts recorded: per process, the event-loop
// delay percentiles over its whole life, GC time by kind, and its longest
// stalls, each with the GC pauses that overlap it (so a stall is either a
// collection or something else: code on the loop, or the process not scheduled).
//
//   node dist/scripts/stall-report.js DIR [--from ISO --to ISO] [--top N]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface Line {
  readonly t: number;
  readonly pid: number;
  readonly argv: string;
  readonly delay: { p50: number; p99: number; p999: number; max: number };
  readonly gc: ReadonlyArray<{ kind: string; startMs: number; ms: number }>;
  readonly gcMs: Readonly<Record<string, number>>;
  readonly stalls: ReadonlyArray<{ atMs: number; ms: number }>;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { from: { type: 'string' }, to: { type: 'string' }, top: { type: 'string' } },
  });
  const dir = positionals[0];
  if (dir === undefined) {
    process.stderr.write('usage: node dist/scripts/stall-report.js DIR [--from ISO] [--to ISO] [--top N]\n');
    process.exit(2);
  }
  const from = values.from === undefined ? 0 : Date.parse(values.from);
  const to = values.to === undefined ? Number.POSITIVE_INFINITY : Date.parse(values.to);
  const top = Number(values.top ?? 8);
  for (const name of readdirSync(dir).filter((f) => f.startsWith('stall-') && f.endsWith('.jsonl'))) {
    const lines = readFileSync(join(dir, name), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line)
      .filter((l) => l.t >= from && l.t <= to);
    if (lines.length === 0) continue;
    const gcMs: Record<string, number> = {};
    for (const l of lines) for (const [k, v] of Object.entries(l.gcMs)) gcMs[k] = (gcMs[k] ?? 0) + v;
    const gcs = lines.flatMap((l) => l.gc);
    const stalls = lines.flatMap((l) => l.stalls).sort((a, b) => b.ms - a.ms);
    const worstSecond = lines.reduce((a, b) => (b.delay.max > a.delay.max ? b : a));
    const seconds = lines.length;
    const out = [
      `\n${name} (${lines[0]?.argv ?? ''}): ${seconds} s, ${new Date(lines[0]?.t ?? 0).toISOString()} .. ${new Date(lines.at(-1)?.t ?? 0).toISOString()}`,
      `  loop delay: median of per-second p99 ${median(lines.map((l) => l.delay.p99))} ms, worst second max ${worstSecond.delay.max} ms at ${new Date(worstSecond.t).toISOString()}`,
      `  GC ms per s: ${Object.entries(gcMs)
        .map(([k, v]) => `${k} ${(v / seconds).toFixed(1)}`)
        .join(', ')}; pauses >= 5 ms: ${gcs.length} (max ${Math.max(0, ...gcs.map((g) => g.ms))} ms)`,
      `  stalls >= 20 ms: ${stalls.length}, total ${stalls.reduce((a, s) => a + s.ms, 0)} ms`,
    ];
    for (const s of stalls.slice(0, top)) {
      const overlapping = gcs.filter((g) => g.startMs < s.atMs + s.ms && g.startMs + g.ms > s.atMs);
      const gcText = overlapping.length === 0 ? 'no GC pause >= 5 ms in it' : overlapping.map((g) => `${g.kind} GC ${g.ms} ms`).join(', ');
      out.push(`    ${new Date(s.atMs).toISOString()} ${String(s.ms).padStart(5)} ms  ${gcText}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

main();
