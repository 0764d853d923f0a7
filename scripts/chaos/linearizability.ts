// The linearizability verdict of a chaos run: the checker of test/linearizability over
// the history the workload recorded (transactions, or KV puts and gets), summarized for
// the report: yes / no / unknown (the search was pruned, with the reason), the numbers,
// and on a violation the smallest failing sub-history as lines.
import {
  checkHistory,
  DEFAULT_STEPS_MAX,
  DEFAULT_TIME_MAX_MS,
  formatOperations,
  type CheckResult,
} from '../../test/linearizability/check.js';
import { kvModel, type KvInput, type KvOutput } from '../../test/linearizability/kv-model.js';
import type { Model, Operation } from '../../test/linearizability/model.js';
import { txModel, type TxInput, type TxOutput } from '../../test/linearizability/tx-model.js';

export interface LinearizabilityBudget {
  /** Search steps per partition. */
  readonly stepsMax: number;
  /** Wall-clock bound on the search of all partitions. */
  readonly timeMaxMs: number;
}

export interface LinearizabilitySummary {
  readonly verdict: 'yes' | 'no' | 'unknown';
  readonly model: string;
  readonly operations: number;
  /** Operations by kind (create, commit, abort, get; put, get), as recorded. */
  readonly byKind: Readonly<Record<string, number>>;
  /** Operations whose outcome stayed unknown (reads among them are left out of the search). */
  readonly pending: number;
  readonly partitions: number;
  readonly failingPartitions: number;
  readonly prunedPartitions: number;
  readonly steps: number;
  readonly checkMs: number;
  /** Why the verdict is unknown; null otherwise. */
  readonly reason: string | null;
  /** On a violation: the smallest failing sub-history found, one operation a line. */
  readonly counterexample: {
    readonly partition: string;
    readonly partitionOperations: number;
    readonly minimal: boolean;
    readonly lines: readonly string[];
  } | null;
}

export const DEFAULT_LINEARIZABILITY_BUDGET: LinearizabilityBudget = { stepsMax: DEFAULT_STEPS_MAX, timeMaxMs: DEFAULT_TIME_MAX_MS };

export function checkTxHistory(
  history: readonly Operation<TxInput, TxOutput>[],
  budget: LinearizabilityBudget = DEFAULT_LINEARIZABILITY_BUDGET,
): LinearizabilitySummary {
  return check(txModel, history, budget);
}

export function checkKvHistory(
  history: readonly Operation<KvInput, KvOutput>[],
  budget: LinearizabilityBudget = DEFAULT_LINEARIZABILITY_BUDGET,
): LinearizabilitySummary {
  return check(kvModel, history, budget);
}

function check<S, I extends { readonly op: string }, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  budget: LinearizabilityBudget,
): LinearizabilitySummary {
  const byKind: Record<string, number> = {};
  for (const op of history) byKind[op.input.op] = (byKind[op.input.op] ?? 0) + 1;
  return summarize(model, checkHistory(model, history, { stepsMax: budget.stepsMax, timeMaxMs: budget.timeMaxMs }), byKind);
}

function summarize<S, I, O>(model: Model<S, I, O>, r: CheckResult<I, O>, byKind: Record<string, number>): LinearizabilitySummary {
  const ce = r.counterexample;
  return {
    verdict: r.verdict,
    model: r.model,
    operations: r.operations,
    byKind,
    pending: r.pending,
    partitions: r.partitions,
    failingPartitions: r.failingCount,
    prunedPartitions: r.pruned.length,
    steps: r.steps,
    checkMs: r.elapsedMs,
    reason: r.reason,
    counterexample:
      ce === null
        ? null
        : {
            partition: ce.partition,
            partitionOperations: ce.partitionOperations,
            minimal: ce.minimal,
            lines: formatOperations(model, ce.operations),
          },
  };
}

/** The invariant's line: what was checked, and on a violation the failing sub-history. */
export function linearizabilityLines(s: LinearizabilitySummary): { checked: string; violations: string[] } {
  const numbers = `${s.operations} operations (${s.pending} unknown) in ${s.partitions} partitions, checked in ${Math.round(s.checkMs)} ms`;
  if (s.verdict === 'yes') return { checked: numbers, violations: [] };
  if (s.verdict === 'unknown') return { checked: `${numbers}; UNKNOWN: ${s.reason ?? 'the search was pruned'}`, violations: [] };
  const ce = s.counterexample!;
  const head = `${s.failingPartitions} of ${s.partitions} partitions are not linearizable; ${ce.minimal ? 'smallest' : 'a (not fully shrunk)'} failing sub-history of ${ce.partition} (${ce.lines.length} of its ${ce.partitionOperations} operations):`;
  return { checked: numbers, violations: [head, ...ce.lines.map((l) => `  ${l}`)] };
}
