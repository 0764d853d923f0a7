// An explicit-state model checker for one transaction of the protocol:
// breadth-first over every interleaving of the model's steps (so the first
// violation found has a shortest trace), with the invariants checked after
// every step. Then termination: from every reachable state, heal every fault
// (thaw the cluster, reconnect and restart participants, resume or elect a
// leader) and check that a state where everything finished is still reachable
// with faults off, by a backward search over the healed graph.
import { coordinatorSteps } from './coordinator-steps.js';
import { checkState, isFinished, OutcomeCache } from './invariants.js';
import {
  addMsg,
  awaits,
  createdCommand,
  keyOf,
  NO_FAULTS,
  request,
  runCall,
  TX_ID,
  type ModelConfig,
  type Msg,
  type Run,
  type State,
} from './model.js';
import type { VoteEntry } from '../../src/tx/commands.js';
import { SmOracle } from './oracle.js';
import { participantSteps } from './participant-steps.js';
import type { ProtocolRules } from './rules.js';
import type { CallPath, ParticipantTxState as SdkState } from '../../src/sdk/participant/types.js';
import type { Ctx, Step, Violation } from './step.js';

export interface CheckReport {
  readonly config: string;
  readonly rules: string;
  /** Distinct states reached with faults on. */
  readonly states: number;
  readonly transitions: number;
  /** Distinct states of the healed graph (termination check). */
  readonly healedStates: number;
  readonly depth: number;
  /** Real apply() calls (the oracle memoizes the rest). */
  readonly applies: number;
  readonly elapsedMs: number;
  /** CPU time of this process during the check (wall time is at the mercy of a shared machine). */
  readonly cpuMs: number;
  readonly violation: (Violation & { readonly trace: readonly string[] }) | null;
}

export function checkModel(config: ModelConfig, rules: ProtocolRules, statesMax = 5_000_000): CheckReport {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const ctx: Ctx = { config, rules, oracle: new SmOracle(), inquiries: new Map() };
  const outcomes = new OutcomeCache();
  const init = initialState(ctx);
  const parent: number[] = [-1];
  // Labels repeat across states: each state keeps the number of its step's label.
  const labelIds = new Map<string, number>([['', 0]]);
  const labelText: string[] = [''];
  const labels: number[] = [0];
  const labelOf = (text: string): number => {
    let id = labelIds.get(text);
    if (id === undefined) {
      id = labelText.length;
      labelIds.set(text, id);
      labelText.push(text);
    }
    return id;
  };
  const depth: number[] = [0];
  const keys = new Map<string, number>([[keyOf(init), 0]]);
  const queue: Array<State | undefined> = [init];
  const heal = new HealedGraph(ctx);
  let transitions = 0;
  const report = (violation: CheckReport['violation']): CheckReport => ({
    config: config.name,
    rules: rules.name,
    states: queue.length,
    transitions,
    healedStates: heal.size(),
    depth: depth[depth.length - 1] ?? 0,
    applies: ctx.oracle.applies,
    elapsedMs: Math.round(performance.now() - started),
    cpuMs: Math.round(process.cpuUsage(cpuStarted).user / 1000),
    violation,
  });
  const traceTo = (id: number): string[] => {
    const out: string[] = [];
    for (let i = id; i > 0; i = parent[i]!) out.push(labelText[labels[i]!]!);
    return out.reverse();
  };
  for (let i = 0; i < queue.length; i++) {
    const s = queue[i]!;
    queue[i] = undefined; // expanded states live on as keys only
    if (config.termination) heal.addRoot(s, i);
    const { steps, crash } = successors(ctx, s, false);
    if (crash !== null) return report({ ...crash, trace: traceTo(i) });
    for (const st of steps) {
      transitions++;
      if (st.violation !== undefined) return report({ ...st.violation, trace: [...traceTo(i), st.label] });
      const key = keyOf(st.state);
      if (keys.has(key)) continue;
      keys.set(key, queue.length);
      parent.push(i);
      labels.push(labelOf(st.label));
      depth.push(depth[i]! + 1);
      queue.push(st.state);
      const v = checkState(ctx, st.state, outcomes);
      if (v !== null) return report({ ...v, trace: traceTo(queue.length - 1) });
      if (queue.length > statesMax) throw new Error(`${config.name}: more than ${statesMax} states; tighten the bounds`);
    }
  }
  if (config.termination) {
    const stuck = heal.explore(statesMax);
    if (stuck !== null) return report({ kind: 'termination', message: stuck.message, trace: [...traceTo(stuck.origin), ...stuck.trace] });
  }
  return report(null);
}

function initialState(ctx: Ctx): State {
  // (the initial state has no messages, so no answer to tidy away)
  const memory = ctx.config.noCreatedEntry === true;
  const created = ctx.oracle.replay(TX_ID, memory ? [] : [createdCommand(ctx.config)]);
  // One-shot without a created entry: the first leader has the request in memory and sends prepare at once.
  const n = ctx.config.participants;
  const run: Run = memory ? { k: 'prepare', votes: Array<VoteEntry | null>(n).fill(null), deadline: true, mem: 1 } : { k: 'idle' };
  let msgs: Msg[] = [];
  if (memory) for (let p = 0; p < n; p++) msgs = addMsg(msgs, request(1, p, 'prepare'));
  return {
    hist: [created],
    pending: [],
    leaders: [{ term: 1, running: true, view: 0, run }],
    term: 1,
    frozen: false,
    deadlinePassed: false,
    commitAsked: ctx.config.oneShot,
    msgs,
    parts: Array.from({ length: ctx.config.participants }, () => ({ rec: null, hi: 0, cut: false })),
    budget: ctx.config.bounds,
  };
}

/** Every step enabled in `s`; a step generator that throws (the SDK's assertTransition, say) is a crash of the code under test. */
export function successors(ctx: Ctx, s: State, healed: boolean): { steps: Step[]; crash: Violation | null } {
  try {
    const steps = [...coordinatorSteps(ctx, s, healed), ...participantSteps(ctx, s, healed)];
    return { steps: steps.map((st) => ({ ...st, state: withoutDeadMessages(ctx, st.state) })), crash: null };
  } catch (e) {
    return {
      steps: [],
      crash: { kind: 'apply-crashed', message: `the code under test threw: ${e instanceof Error ? e.message : String(e)}` },
    };
  }
}

/**
 * Messages that can no longer change anything are left out of the state, which
 * keeps it small without losing a behaviour:
 * - an answer no one waits for: an HTTP answer belongs to its request, so once
 *   the leader is gone or deposed, or its run left the phase (or has that
 *   participant's answer already), it is delivered to nobody;
 * - a call from a term lower than one its participant has seen, which the
 *   SDK's term fence refuses. Its refusal reads to the caller like a lost
 *   call (retry or give up, both steps of their own). Only calls the real fence
 *   refuses are dropped: were it to accept one, the call stays, is delivered,
 *   and the fencing invariant reports it;
 * - a call no one waits for the answer of, that can change nothing where it
 *   goes (noOpForever): the same as losing it.
 */
function withoutDeadMessages(ctx: Ctx, s: State): State {
  const awaited = (t: number, p: number, c: CallPath): boolean => {
    // A deposed leader makes no use of answers (deposedSteps).
    const l = s.leaders.find((x) => x.term === t);
    return l !== undefined && l.term === s.term && runCall(l.run) === c && awaits(l.run, p);
  };
  const alive = (m: State['msgs'][number]): boolean => {
    if (m.k === 'rep') return awaited(m.t, m.p, m.c);
    const part = s.parts[m.p]!;
    if (ctx.rules.fenceTerm(part.hi, m.t) === null) return false;
    return m.t > part.hi || awaited(m.t, m.p, m.c) || !noOpForever(part.rec?.state, m.c);
  };
  return s.msgs.every(alive) ? s : { ...s, msgs: s.msgs.filter(alive) };
}

/**
 * A call that changes nothing at a participant whose record is this far along,
 * now or later (records only move forward): any call once it finished, a
 * repeated prepare once it voted commit, a repeated precommit once it is
 * precommitted. Its delivery would only answer (to nobody, when no one waits)
 * and restart the participant's quiet period, which a loss of the call does not
 * do; dropping it keeps the behaviours where it is lost.
 */
function noOpForever(state: SdkState | undefined, c: CallPath): boolean {
  if (state === 'committed' || state === 'aborted') return true;
  if (c === 'prepare') return state === 'prepared' || state === 'precommitted';
  return c === 'precommit' && state === 'precommitted';
}

/** Every fault healed: the cluster running with a leader of the newest term (a new one if needed), every participant connected, no more faults. */
export function healed(s: State): State {
  const current = s.leaders.filter((l) => l.term === s.term).map((l) => ({ ...l, running: true }));
  const term = current.length > 0 ? s.term : s.term + 1;
  const leaders = current.length > 0 ? current : [{ term, running: true, view: s.hist.length - 1, run: { k: 'idle' } as const }];
  return {
    ...s,
    term,
    leaders,
    frozen: false,
    msgs: s.msgs.filter((m) => m.k === 'req' || leaders.some((l) => l.term === m.t)),
    parts: s.parts.map((p) => (p.cut ? { ...p, cut: false } : p)),
    budget: NO_FAULTS,
  };
}

/** The states reachable from healed ones with faults off, and the backward search for a finished state. */
class HealedGraph {
  private readonly keys = new Map<string, number>();
  private readonly states: Array<State | undefined> = [];
  private readonly succ: number[][] = [];
  private readonly parent: number[] = [];
  private readonly labels: string[] = [];
  /** The main-graph state a root was healed from. */
  private readonly origin: number[] = [];
  private readonly finished: number[] = [];

  constructor(private readonly ctx: Ctx) {}

  size(): number {
    return this.states.length;
  }

  addRoot(s: State, mainId: number): void {
    this.add(withoutDeadMessages(this.ctx, healed(s)), -1, 'every fault healed', mainId);
  }

  /** Null when every healed state can still finish; else the first that cannot, with how it was reached. */
  explore(statesMax: number): { origin: number; trace: string[]; message: string } | null {
    for (let i = 0; i < this.states.length; i++) {
      const s = this.states[i]!;
      this.states[i] = undefined;
      const { steps, crash } = successors(this.ctx, s, true);
      if (crash !== null) return { ...this.traceTo(i), message: crash.message };
      this.succ[i] = steps.map((st) => this.add(st.state, i, st.label, this.origin[i]!));
      if (this.states.length > statesMax) throw new Error(`more than ${statesMax} healed states; tighten the bounds`);
    }
    const canFinish = new Uint8Array(this.states.length);
    const preds: number[][] = Array.from({ length: this.states.length }, () => []);
    this.succ.forEach((next, i) => next.forEach((j) => preds[j]!.push(i)));
    const work = this.finished.slice();
    for (const i of work) canFinish[i] = 1;
    while (work.length > 0) {
      for (const p of preds[work.pop()!]!) {
        if (canFinish[p] === 0) {
          canFinish[p] = 1;
          work.push(p);
        }
      }
    }
    const stuck = canFinish.indexOf(0);
    if (stuck === -1) return null;
    return {
      ...this.traceTo(stuck),
      message: 'after healing every fault, no sequence of steps finishes every participant and the cluster',
    };
  }

  private add(s: State, parent: number, label: string, origin: number): number {
    const key = keyOf(s);
    const known = this.keys.get(key);
    if (known !== undefined) return known;
    const id = this.states.length;
    this.keys.set(key, id);
    this.states.push(s);
    this.parent.push(parent);
    this.labels.push(label);
    this.origin.push(origin);
    if (isFinished(this.ctx, s)) this.finished.push(id);
    return id;
  }

  private traceTo(id: number): { origin: number; trace: string[] } {
    const out: string[] = [];
    let i = id;
    for (; this.parent[i]! !== -1; i = this.parent[i]!) out.push(this.labels[i]!);
    out.push(this.labels[i]!);
    return { origin: this.origin[i]!, trace: out.reverse() };
  }
}
