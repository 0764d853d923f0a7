// checkHistory(): is a recorded history linearizable with respect to a model?
//
//   drop unknown reads (they constrain nothing) -> partition (per key, per transaction)
//   -> the model's exact simplification -> search each partition -> on a violation,
//   shrink the smallest failing partition to a small sub-history that still fails.
//
// The verdict is "yes" only when every partition was searched to the end. A search that
// runs past its budget (steps per partition, time for the whole check) makes the verdict
// "unknown", with the reason, unless another partition already failed ("no").
import { minimizeFailure } from './minimize.js';
import type { Model, Operation } from './model.js';
import { searchPartition } from './search.js';

export type Verdict = 'yes' | 'no' | 'unknown';

export interface CheckOptions {
  /** Search steps per partition (deterministic). Default 2,000,000. */
  readonly stepsMax?: number;
  /** Wall-clock bound on the search of all partitions. Default 60 s. */
  readonly timeMaxMs?: number;
  /** Shrink the failing partition (default true). */
  readonly minimize?: boolean;
  /** Wall-clock bound on shrinking, after the search. Default 30 s. */
  readonly minimizeTimeMaxMs?: number;
}

export interface PrunedPartition {
  readonly partition: string;
  readonly operations: number;
  readonly reason: string;
}

export interface Counterexample<I, O> {
  readonly partition: string;
  /** Operations of the failing partition before shrinking. */
  readonly partitionOperations: number;
  /** The smallest failing sub-history found, in recorded order. */
  readonly operations: readonly Operation<I, O>[];
  /** False when shrinking ran out of budget: it fails, but may not be minimal. */
  readonly minimal: boolean;
}

export interface CheckResult<I, O> {
  readonly model: string;
  readonly verdict: Verdict;
  /** Operations recorded. */
  readonly operations: number;
  /** Recorded with an unknown outcome; unknown reads among them are dropped before the search. */
  readonly pending: number;
  readonly partitions: number;
  /** Partitions that are not linearizable (their keys, at most 20). */
  readonly failingPartitions: readonly string[];
  readonly failingCount: number;
  readonly pruned: readonly PrunedPartition[];
  readonly steps: number;
  readonly elapsedMs: number;
  /** Why the verdict is "unknown"; null otherwise. */
  readonly reason: string | null;
  readonly counterexample: Counterexample<I, O> | null;
}

export const DEFAULT_STEPS_MAX = 2_000_000;
export const DEFAULT_TIME_MAX_MS = 60_000;
export const DEFAULT_MINIMIZE_TIME_MAX_MS = 30_000;
const FAILING_LISTED_MAX = 20;

export function checkHistory<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<I, O> {
  const t0 = performance.now();
  const stepsMax = options.stepsMax ?? DEFAULT_STEPS_MAX;
  const deadlineMs = t0 + (options.timeMaxMs ?? DEFAULT_TIME_MAX_MS);
  const ops = history.map(normalize);
  const stepped = model.expand === undefined ? ops : ops.flatMap((op) => model.expand!(op).map(normalize));
  const partitions = partition(
    model,
    stepped.filter((op) => op.output !== null || !model.readOnly(op.input)),
  );
  const failing: { key: string; ops: Operation<I, O>[] }[] = [];
  const pruned: PrunedPartition[] = [];
  let steps = 0;
  for (const [key, all] of partitions) {
    const part = model.simplify?.(all) ?? all;
    if (performance.now() > deadlineMs) {
      pruned.push({ partition: key, operations: part.length, reason: 'not searched: the time limit of the check was reached' });
      continue;
    }
    const r = searchPartition(model, part, { stepsMax, deadlineMs });
    steps += r.steps;
    // Shrinking works on the operations as recorded, so the sub-history it reports is one.
    if (r.kind === 'violation') failing.push({ key, ops: all });
    else if (r.kind === 'pruned') pruned.push({ partition: key, operations: part.length, reason: r.reason });
  }
  const verdict: Verdict = failing.length > 0 ? 'no' : pruned.length > 0 ? 'unknown' : 'yes';
  const smallest = failing.reduce<(typeof failing)[number] | null>((a, b) => (a === null || b.ops.length < a.ops.length ? b : a), null);
  const minimizeDeadlineMs = performance.now() + (options.minimizeTimeMaxMs ?? DEFAULT_MINIMIZE_TIME_MAX_MS);
  const counterexample = smallest === null ? null : explain(model, smallest, options.minimize ?? true, stepsMax, minimizeDeadlineMs);
  return {
    model: model.name,
    verdict,
    operations: history.length,
    pending: ops.filter((op) => op.output === null).length,
    partitions: partitions.size,
    failingPartitions: failing.slice(0, FAILING_LISTED_MAX).map((f) => f.key),
    failingCount: failing.length,
    pruned,
    steps,
    elapsedMs: performance.now() - t0,
    reason: verdict === 'unknown' ? unknownReason(pruned) : null,
    counterexample,
  };
}

function explain<S, I, O>(
  model: Model<S, I, O>,
  f: { key: string; ops: Operation<I, O>[] },
  minimize: boolean,
  stepsMax: number,
  deadlineMs: number,
): Counterexample<I, O> {
  if (!minimize) return { partition: f.key, partitionOperations: f.ops.length, operations: f.ops, minimal: false };
  const m = minimizeFailure(model, f.ops, { stepsMax, deadlineMs });
  return { partition: f.key, partitionOperations: f.ops.length, operations: m.ops, minimal: m.complete };
}

function unknownReason(pruned: readonly PrunedPartition[]): string {
  const first = pruned[0]!;
  const more = pruned.length > 1 ? ` (and ${pruned.length - 1} more partitions)` : '';
  return `partition ${first.partition} (${first.operations} operations): ${first.reason}${more}; no violation found in the partitions searched`;
}

/** An unknown outcome returns at +Infinity, whatever time was recorded. */
function normalize<I, O>(op: Operation<I, O>): Operation<I, O> {
  if (op.output === null && op.returnMs !== Infinity) return { ...op, returnMs: Infinity };
  if (!(op.callMs <= op.returnMs)) throw new Error(`operation ${op.id}: returned (${op.returnMs}) before it was called (${op.callMs})`);
  return op;
}

function partition<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[]): Map<string, Operation<I, O>[]> {
  const out = new Map<string, Operation<I, O>[]>();
  for (const op of ops) {
    const key = model.partition(op.input);
    const list = out.get(key);
    if (list === undefined) out.set(key, [op]);
    else list.push(op);
  }
  return out;
}

/** A sub-history as lines, times relative to its first call: `[+12.3, +15.0 ms] w1  put k=v -> ok`. */
export function formatOperations<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[]): string[] {
  const sorted = [...ops].sort((a, b) => a.callMs - b.callMs || a.id - b.id);
  const t0 = sorted[0]?.callMs ?? 0;
  const at = (ms: number): string => (ms === Infinity ? '?' : `+${(ms - t0).toFixed(1)}`);
  return sorted.map((op) => `[${at(op.callMs)}, ${at(op.returnMs)} ms] ${op.client}  ${model.describe(op.input, op.output)}`);
}
