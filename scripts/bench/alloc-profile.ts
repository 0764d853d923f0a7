// Summaries of allocation profiles written by alloc-sampler.ts (`npm run bench --
// --alloc-prof DIR`): V8's sampling heap profiler with collected objects counted, so
// the bytes are everything a node allocated, garbage included, not what it holds.
// That is the figure behind the collections that set the tails and the leader's
// heap (scripts/bench/results/README.md, "The memory experiments of 2026-12-06").
// Per frame: bytes allocated by the frame itself ("self"), and by the deepest
// frame of Ratify's own code on the stack ("owner"), which charges what
// fastify, undici or msgpackr allocate to the Ratify call that asked for it.
import { readFileSync } from 'node:fs';
import { type CallFrame, frameName } from './cpu-profile.js';

/** The environment variable that switches alloc-sampler.ts on: the folder its profiles go to. */
export const ALLOC_PROF_DIR_ENV = 'RATIFY_ALLOC_PROF_DIR';
/**
 * Set to 1 by --alloc-prof-survivors: objects a young-generation collection (a
 * scavenge) frees are left out, so the profile counts what outlived the young
 * generation, promoted to the old one, which is what fills the old generation
 * between full collections.
 */
export const ALLOC_PROF_SURVIVORS_ENV = 'RATIFY_ALLOC_PROF_SURVIVORS';
/** Bytes between samples: V8's default is 32 KiB; the bench's runs allocate gigabytes. */
export const ALLOC_SAMPLING_INTERVAL_BYTES = 32 * 1024;
export const ALLOC_PROFILE_SUFFIX = '.heapprofile';
/** Where Ratify's own compiled code lives, relative to the repository. */
const OWN_CODE_PREFIX = 'dist/src/';
export const NO_OWNER = '(no Ratify frame: Node, fastify, undici... on their own)';
/** The sampler's own file: what it allocates taking and writing profiles is left out of the counts. */
export const SAMPLER_FILE = 'alloc-sampler.js';

interface AllocNode {
  readonly callFrame: CallFrame;
  readonly selfSize: number;
  readonly children: readonly AllocNode[];
}

/** What HeapProfiler.getSamplingProfile returns (the samples list is not needed). */
export interface AllocProfile {
  readonly head: AllocNode;
}

export interface FrameBytes {
  readonly frame: string;
  readonly bytes: number;
}

export interface AllocSummary {
  readonly totalBytes: number;
  /** Allocated by the sampler itself (left out of totalBytes and the lists). */
  readonly samplerBytes: number;
  /** By the frame that allocated, largest first. */
  readonly self: readonly FrameBytes[];
  /** By the deepest Ratify frame on the stack (NO_OWNER when there is none), largest first. */
  readonly owners: readonly FrameBytes[];
}

export function summarizeAllocProfile(p: AllocProfile, repoRoot: string): AllocSummary {
  const self = new Map<string, number>();
  const owners = new Map<string, number>();
  let totalBytes = 0;
  let samplerBytes = 0;
  // Iterative: a deep async stack must not overflow this process's own stack.
  const stack: Array<{ node: AllocNode; owner: string }> = [{ node: p.head, owner: NO_OWNER }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { node } = item;
    if (node.callFrame.url.endsWith(`/${SAMPLER_FILE}`)) {
      samplerBytes += subtreeBytes(node);
      continue;
    }
    const name = frameName(node.callFrame, repoRoot);
    const owner = name.includes(` ${OWN_CODE_PREFIX}`) ? name : item.owner;
    if (node.selfSize > 0) {
      totalBytes += node.selfSize;
      self.set(name, (self.get(name) ?? 0) + node.selfSize);
      owners.set(owner, (owners.get(owner) ?? 0) + node.selfSize);
    }
    for (const child of node.children) stack.push({ node: child, owner });
  }
  const sorted = (m: Map<string, number>): FrameBytes[] =>
    [...m].map(([frame, bytes]) => ({ frame, bytes })).sort((a, b) => b.bytes - a.bytes || a.frame.localeCompare(b.frame));
  return { totalBytes, samplerBytes, self: sorted(self), owners: sorted(owners) };
}

function subtreeBytes(root: AllocNode): number {
  let bytes = 0;
  const stack = [root];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    bytes += n.selfSize;
    stack.push(...n.children);
  }
  return bytes;
}

/** The top `limit` frames both ways, as shares of everything allocated. */
export function formatAllocSummary(label: string, s: AllocSummary, limit: number): string {
  const mib = (b: number): string => (b / (1024 * 1024)).toFixed(1);
  const pct = (b: number): string => (s.totalBytes > 0 ? ((100 * b) / s.totalBytes).toFixed(1) : '0.0').padStart(5);
  const lines = [
    `${label}: ${mib(s.totalBytes)} MiB allocated (sampled), collected objects included (the sampler's own ${mib(s.samplerBytes)} MiB left out)`,
    '  by allocating frame:',
  ];
  for (const f of s.self.slice(0, limit)) lines.push(`  ${pct(f.bytes)}%  ${f.frame}`);
  lines.push('  by the deepest Ratify frame on the stack:');
  for (const f of s.owners.slice(0, limit)) lines.push(`  ${pct(f.bytes)}%  ${f.frame}`);
  return lines.join('\n');
}

export function readAllocProfile(path: string): AllocProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as AllocProfile;
}
