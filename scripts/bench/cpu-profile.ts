// Summaries of V8 .cpuprofile files (what `node --cpu-prof` writes): the
// frames that burn the most CPU themselves ("self") and including their callees
// ("total"), so `npm run bench -- --cpu-prof DIR` prints what bounds a node.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface FrameCost {
  readonly frame: string;
  readonly selfMs: number;
  readonly totalMs: number;
}

export interface ProfileSummary {
  readonly wallMs: number;
  /** Sampled time not spent idle: how busy the process was. */
  readonly busyMs: number;
  readonly frames: readonly FrameCost[];
}

/** Frames aggregated by function and location, sorted by self time. */
export function summarizeProfile(p: CpuProfile, repoRoot: string): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUsById = new Map<number, number>();
  p.samples.forEach((id, i) => selfUsById.set(id, (selfUsById.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busyUs = 0;
  for (const [id, us] of selfUsById) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const key = frameName(node.callFrame, repoRoot);
    self.set(key, (self.get(key) ?? 0) + us);
    if (key !== '(idle)') busyUs += us;
    // Inclusive time: charge every distinct frame on the stack once (recursion counts once).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (n === undefined) break;
      const k = frameName(n.callFrame, repoRoot);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const frames = [...self.keys()]
    .map((frame) => ({ frame, selfMs: (self.get(frame) ?? 0) / 1000, totalMs: (total.get(frame) ?? 0) / 1000 }))
    .sort((a, b) => b.selfMs - a.selfMs);
  return { wallMs: (p.endTime - p.startTime) / 1000, busyMs: busyUs / 1000, frames };
}

/** `name path:line`, the path relative to the repository (what both profile summaries print). */
export function frameName(f: CallFrame, repoRoot: string): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName;
  if (f.url === '') return name;
  // ES modules are named by file URL, CommonJS ones (most of node_modules) by absolute path.
  const path = f.url.startsWith('file://')
    ? relative(repoRoot, new URL(f.url).pathname)
    : f.url.startsWith('/')
      ? relative(repoRoot, f.url)
      : f.url;
  return `${name} ${path}:${f.lineNumber + 1}`;
}

/** Renders the top `limit` frames by self time, skipping idle. */
export function formatProfileSummary(label: string, s: ProfileSummary, limit: number): string {
  const lines = [`${label}: busy ${(s.busyMs / 1000).toFixed(1)} s of ${(s.wallMs / 1000).toFixed(1)} s sampled`];
  for (const f of s.frames.filter((x) => x.frame !== '(idle)').slice(0, limit)) {
    const pct = s.busyMs > 0 ? ((100 * f.selfMs) / s.busyMs).toFixed(1) : '0.0';
    lines.push(`  ${pct.padStart(5)}% self  ${(f.totalMs / 1000).toFixed(2).padStart(6)} s total  ${f.frame}`);
  }
  return lines.join('\n');
}

/** Every file ending in `suffix` (.cpuprofile by default) under `dir`, one level of sub-folders deep (one per node). */
export function findProfiles(dir: string, suffix = '.cpuprofile'): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory() && depth > 0) walk(p, depth - 1);
      else if (e.isFile() && e.name.endsWith(suffix)) out.push(p);
    }
  };
  walk(dir, 1);
  return out.sort();
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}
