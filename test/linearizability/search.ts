// The search over one partition: Wing & Gong's algorithm with Lowe's memoization, as
// Porcupine implements it (porcupine/checker.go, checkSingle).
//
// The history becomes a doubly linked list of call and return entries in time order.
// The search walks it: at a call, it tries to linearize that operation now (the model
// accepts it from the current state) and, if the pair (set of operations linearized so
// far, state) is new, lifts the call and its return out of the list and starts again at
// the head. At a return whose operation is not yet linearized it has run out of options
// at this level and backtracks: the last linearized operation goes back into the list,
// and the search tries the entry after it. The history is linearizable when the list
// empties. The cache of (linearized set, state) pairs already explored is what keeps
// this from being factorial: every pair is expanded at most once.
//
// An operation with an unknown outcome returns at +Infinity, after everything else. So
// when the walk meets such a return first, every operation with a known answer has been
// linearized: the rest may simply never have happened, and the history is linearizable.
//
// Nondeterministic models are searched through their powerset: the search state is the
// set of model states the operations so far may have led to.
import { Bitset } from './bitset.js';
import type { Model, Operation } from './model.js';

export type SearchOutcome =
  | { readonly kind: 'linearizable'; readonly steps: number }
  | { readonly kind: 'violation'; readonly steps: number }
  | { readonly kind: 'pruned'; readonly steps: number; readonly reason: string };

export interface SearchBudget {
  /** Walk steps (entries visited) at most. */
  readonly stepsMax: number;
  /** performance.now() after which the search stops. */
  readonly deadlineMs: number;
}

interface Entry<I, O> {
  readonly op: Operation<I, O>;
  /** Position of the operation in this search's bitset. */
  readonly slot: number;
  readonly isCall: boolean;
  readonly timeMs: number;
  /** A call's return entry (null on a return). */
  match: Entry<I, O> | null;
  prev: Entry<I, O> | null;
  next: Entry<I, O> | null;
}

interface StateSet<S> {
  readonly states: readonly S[];
  readonly key: string;
}

/** How often the clock is read (every this many steps). */
const CLOCK_EVERY_STEPS = 4096;

export function searchPartition<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], budget: SearchBudget): SearchOutcome {
  if (ops.length === 0) return { kind: 'linearizable', steps: 0 };
  const head = buildList(ops);
  let state: StateSet<S> = setOf(model, [model.init()]);
  const linearized = new Bitset(ops.length);
  /** hash of (linearized, state key) -> the linearized sets seen with it. */
  const cache = new Map<string, Bitset[]>();
  const calls: { entry: Entry<I, O>; state: StateSet<S> }[] = [];
  let steps = 0;
  let entry = head.next;
  while (entry !== null) {
    steps++;
    if (steps > budget.stepsMax) return { kind: 'pruned', steps, reason: `search pruned after ${budget.stepsMax} steps (stepsMax) over ${ops.length} operations` };
    if (steps % CLOCK_EVERY_STEPS === 0 && performance.now() > budget.deadlineMs) {
      return { kind: 'pruned', steps, reason: `search pruned at the time limit after ${steps} steps over ${ops.length} operations` };
    }
    if (!entry.isCall) {
      // Only unknown operations return at Infinity, after every known answer: all of
      // those are linearized, and what remains may never have happened.
      if (entry.op.output === null) return { kind: 'linearizable', steps };
      const top = calls.pop();
      if (top === undefined) return { kind: 'violation', steps };
      state = top.state;
      linearized.clear(top.entry.slot);
      unlift(top.entry);
      entry = top.entry.next;
      continue;
    }
    const next = stepSet(model, state, entry.op);
    if (next !== null) {
      linearized.set(entry.slot);
      if (remember(cache, linearized, next.key)) {
        calls.push({ entry, state });
        state = next;
        lift(entry);
        entry = head.next;
        continue;
      }
      linearized.clear(entry.slot);
    }
    entry = entry.next;
  }
  return { kind: 'linearizable', steps };
}

/** Adds (linearized, stateKey) to the cache; false if it was there already. */
function remember(cache: Map<string, Bitset[]>, linearized: Bitset, stateKey: string): boolean {
  const key = `${linearized.hash()}|${stateKey}`;
  const seen = cache.get(key);
  if (seen === undefined) {
    cache.set(key, [linearized.clone()]);
    return true;
  }
  if (seen.some((b) => b.equals(linearized))) return false;
  seen.push(linearized.clone());
  return true;
}

function stepSet<S, I, O>(model: Model<S, I, O>, from: StateSet<S>, op: Operation<I, O>): StateSet<S> | null {
  const next: S[] = [];
  for (const s of from.states) next.push(...model.step(s, op.input, op.output));
  return next.length === 0 ? null : setOf(model, next);
}

function setOf<S, I, O>(model: Model<S, I, O>, states: readonly S[]): StateSet<S> {
  const byKey = new Map<string, S>();
  for (const s of states) byKey.set(model.stateKey(s), s);
  const keys = [...byKey.keys()].sort();
  return { states: keys.map((k) => byKey.get(k)!), key: keys.join('\u0001') };
}

/** The sentinel head of the entry list: calls and returns by time, a call before a return at the same instant. */
function buildList<I, O>(ops: readonly Operation<I, O>[]): Entry<I, O> {
  const entries: Entry<I, O>[] = [];
  ops.forEach((op, slot) => {
    const call: Entry<I, O> = { op, slot, isCall: true, timeMs: op.callMs, match: null, prev: null, next: null };
    const ret: Entry<I, O> = { op, slot, isCall: false, timeMs: op.output === null ? Infinity : op.returnMs, match: null, prev: null, next: null };
    call.match = ret;
    entries.push(call, ret);
  });
  // Ties: calls first, so operations that touch in time count as concurrent (the
  // permissive reading; a clock tick cannot order them). Then by slot, for determinism.
  entries.sort((a, b) => a.timeMs - b.timeMs || Number(!a.isCall) - Number(!b.isCall) || a.slot - b.slot);
  const head: Entry<I, O> = { op: ops[0]!, slot: -1, isCall: false, timeMs: -Infinity, match: null, prev: null, next: null };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

/** Takes a call and its return out of the list (a call always has its return after it). */
function lift<I, O>(call: Entry<I, O>): void {
  call.prev!.next = call.next;
  call.next!.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Puts them back, in the reverse order of lift(). */
function unlift<I, O>(call: Entry<I, O>): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}
