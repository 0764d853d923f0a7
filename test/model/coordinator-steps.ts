// The coordinator's side of the model: entries committing or being dropped,
// leaders running the protocol (through the real rules), crashing, pausing,
// being deposed and elected; the client; the deadline; the whole cluster
// freezing. Each function returns the steps enabled in a state.
import type { VoteEntry } from '../../src/tx/commands.js';
import type { DeliverResult, PrepareResult } from '../../src/tx/participant-client.js';
import { DEADLINE_BEFORE_COMMIT_REQUEST, type Conclusion } from '../../src/tx/protocol-rules.js';
import type { TxCommand } from '../../src/tx/commands.js';
import type { TxRecord } from '../../src/tx/types.js';
import { oneShotCommand, oneShotRecord } from '../../src/tx/one-shot.js';
import {
  addMsg,
  awaits,
  memoryOf,
  oneShotSpec,
  pending,
  removeMsgAt,
  replaceAt,
  request,
  runCall,
  TX_ID,
  type Leader,
  type Msg,
  type Run,
  type State,
} from './model.js';
import { clusterServes, nowMs, type Ctx, type Step } from './step.js';

/** Every coordinator-side step enabled in `s`; `healed` leaves out the faults. */
export function coordinatorSteps(ctx: Ctx, s: State, healed: boolean): Step[] {
  const out: Step[] = [];
  logSteps(ctx, s, healed, out);
  s.leaders.forEach((l, i) => leaderSteps(ctx, s, i, l, healed, out));
  clusterSteps(ctx, s, healed, out);
  return out;
}

// ---- the log ------------------------------------------------------------------

function logSteps(ctx: Ctx, s: State, healed: boolean, out: Step[]): void {
  const first = s.pending[0];
  if (first !== undefined && clusterServes(s)) out.push(commitEntry(ctx, s, first));
  if (healed || s.frozen) return;
  // The newest leader's log lacks an older term's entries from some point on.
  s.pending.forEach((p, i) => {
    if (p.term >= s.term) return;
    const dropped = s.pending.filter((q, j) => j >= i && q.term < s.term);
    const kept = s.pending.filter((q, j) => j < i || q.term >= s.term);
    // A leader whose proposal is dropped is a deposed one: it steps down.
    const leaders = s.leaders.filter((l) => !(dropped.some((d) => d.origin === 'run' && d.term === l.term) && l.run.k === 'proposed'));
    out.push({
      label: `the term-${s.term} leader's log lacks ${dropped.map((d) => describeCmd(d.cmd)).join(', ')}: dropped`,
      state: { ...s, pending: kept, leaders },
    });
  });
}

function commitEntry(ctx: Ctx, s: State, entry: State['pending'][number]): Step {
  const label = `entry committed: ${describeCmd(entry.cmd)} (term ${entry.term}, ${entry.origin})`;
  const last = s.hist[s.hist.length - 1]!;
  let next: number;
  try {
    next = ctx.rules.apply(ctx.oracle, last, entry.cmd, entry.term);
  } catch (e) {
    return { label, state: s, violation: { kind: 'apply-crashed', message: `apply() threw on ${describeCmd(entry.cmd)}: ${String(e)}` } };
  }
  const hist = next === last ? s.hist : [...s.hist, next];
  const leaders = s.leaders.map((l) => {
    if (!l.running || l.term !== s.term || l.view < s.hist.length - 1) return l;
    // The newest leader, caught up, applies the entry as it commits (a lagging or deposed one catches up in steps of its own).
    const view = hist.length - 1;
    // Its proposal is in: proposeTx resolves after the local apply.
    if (entry.origin === 'run' && entry.term === l.term && l.run.k === 'proposed') return { ...l, view, run: IDLE };
    return { ...l, view, run: afterApply(ctx, l.run, hist[view]!) };
  });
  return { label, state: { ...s, hist, pending: s.pending.slice(1), leaders } };
}

// ---- one leader -----------------------------------------------------------------

const IDLE: Run = { k: 'idle' };

function leaderSteps(ctx: Ctx, s: State, li: number, l: Leader, healed: boolean, out: Step[]): void {
  const who = `leader t${l.term}`;
  if (l.term < s.term) return deposedSteps(ctx, s, li, l, out);
  if (!healed && s.budget.leaderCrashes > 0) {
    out.push({
      label: `${who} crashes`,
      state: {
        ...s,
        leaders: s.leaders.filter((_, i) => i !== li),
        msgs: dropRepliesTo(s.msgs, l.term),
        budget: { ...s.budget, leaderCrashes: s.budget.leaderCrashes - 1 },
      },
    });
  }
  if (!healed && s.budget.leaderPauses > 0 && l.running) {
    out.push({
      label: `${who} pauses`,
      state: {
        ...s,
        leaders: replaceAt(s.leaders, li, { ...l, running: false }),
        budget: { ...s.budget, leaderPauses: s.budget.leaderPauses - 1 },
      },
    });
  }
  if (!l.running) {
    if (!s.frozen) out.push({ label: `${who} resumes`, state: { ...s, leaders: replaceAt(s.leaders, li, { ...l, running: true }) } });
    return;
  }
  if (s.frozen) return;
  if (l.run.k === 'proposed' && !s.pending.some((p) => p.origin === 'run' && p.term === l.term)) {
    out.push({
      label: `${who} learns its proposal was applied or dropped`,
      state: { ...s, leaders: replaceAt(s.leaders, li, { ...l, run: IDLE }) },
    });
  }
  const set = (next: Leader, extra: Partial<State> = {}): State => ({ ...s, ...extra, leaders: replaceAt(s.leaders, li, next) });
  // Applies the next committed entry; a run whose phase no longer matches the state starts over.
  if (l.view < s.hist.length - 1) {
    const view = l.view + 1;
    out.push({ label: `${who} applies committed entry ${view}`, state: set({ ...l, view, run: afterApply(ctx, l.run, s.hist[view]!) }) });
  }
  const tx = runRecord(ctx, s, l);
  // Nothing recorded and nothing in memory: a new leader has nothing to drive (presumed abort).
  if (tx === null) return;
  const now = nowMs(s);
  if (ctx.rules.sweepAction(tx, now) === 'expire' && !s.pending.some((p) => p.origin === 'sweep' && p.term === l.term)) {
    const cmd: TxCommand = {
      type: 'decided',
      txId: TX_ID,
      decision: 'abort',
      votes: [],
      decidedAt: now,
      reason: DEADLINE_BEFORE_COMMIT_REQUEST,
    };
    const proposed = propose(s, l, cmd, 'sweep');
    if (proposed !== null)
      out.push({ label: `${who}'s sweep: active past the deadline, proposes abort`, state: { ...s, pending: proposed } });
  }
  if (l.run.k === 'idle') startStep(ctx, s, li, l, tx, out);
  else runSteps(ctx, s, li, l, tx, out);
}

/**
 * A leader paused while a newer one was elected (a leader is deposed only so:
 * elections need the current one stopped). Resumed, it still believes it
 * leads: it makes the calls its run would make next, with its old term, from
 * its old view (entries committed since reach it only with news that deposes
 * it). Whatever it concludes from the answers ends in a proposal, and
 * replicating that deposes it (it cannot commit: a majority has moved on). So
 * its whole remaining effect is those calls, and the step ends with it
 * stepping down; the calls stay in flight, to be delivered, duplicated, lost
 * or refused by the term fence. Or it learns of the newer term first, having
 * sent nothing.
 */
function deposedSteps(ctx: Ctx, s: State, li: number, l: Leader, out: Step[]): void {
  const who = `leader t${l.term}`;
  const rest = s.leaders.filter((_, i) => i !== li);
  out.push({ label: `${who} learns of term ${s.term} and steps down`, state: { ...s, leaders: rest } });
  if (s.frozen) return;
  const tx = runRecord(ctx, s, l);
  if (tx === null) return;
  const calls = deposedCalls(ctx, s, l, tx);
  if (calls.length === 0) return;
  let msgs: Msg[] = [...s.msgs];
  for (const m of calls) msgs = addMsg(msgs, m);
  const what = calls.map((m) => `${m.c} to ${tx.participants[m.p]!.name}`).join(', ');
  out.push({
    label: `${who} resumes, deposed without knowing it: sends ${what} with term ${l.term}, then steps down`,
    state: { ...s, leaders: rest, msgs },
  });
}

function deposedCalls(ctx: Ctx, s: State, l: Leader, tx: TxRecord): Msg[] {
  const run = l.run;
  const inFlight = (p: number, c: Msg['c']): boolean => s.msgs.some((m) => m.k === 'req' && m.t === l.term && m.p === p && m.c === c);
  if (run.k === 'idle') {
    const next = ctx.rules.nextStep(tx, nowMs(s));
    if (next.kind !== 'call') return [];
    return next.participants
      .map((name) => tx.participants.findIndex((p) => p.name === name))
      .flatMap((p) => (inFlight(p, next.call) ? [] : [request(l.term, p, next.call)]));
  }
  const call = runCall(run);
  if (call === null) return [];
  return tx.participants.flatMap((_, p) => (awaits(run, p) && !inFlight(p, call) ? [request(l.term, p, call)] : []));
}

/** The run reads its view and does what nextStep() says. */
function startStep(ctx: Ctx, s: State, li: number, l: Leader, tx: TxRecord, out: Step[]): void {
  const who = `leader t${l.term}`;
  const next = ctx.rules.nextStep(tx, nowMs(s));
  const index = (name: string): number => tx.participants.findIndex((p) => p.name === name);
  switch (next.kind) {
    case 'none':
      return;
    case 'decide': {
      out.push({ label: `${who} (view: ${tx.state}) decides ${next.decision}: ${next.reason}`, state: conclude(ctx, s, li, l, next) });
      return;
    }
    case 'call': {
      const targets = next.participants.map(index);
      let msgs: Msg[] = [...s.msgs];
      // A call still in flight from an earlier round is the same call (the SDK dedupes it): one copy is enough.
      for (const p of targets)
        if (!msgs.some((m) => m.k === 'req' && m.t === l.term && m.p === p && m.c === next.call))
          msgs = addMsg(msgs, request(l.term, p, next.call));
      const n = tx.participants.length;
      const deadline = next.deadlineAt !== null;
      let run: Run;
      if (next.call === 'prepare') run = { k: 'prepare', votes: Array<VoteEntry | null>(n).fill(null), deadline };
      else if (next.call === 'precommit') run = { k: 'precommit', answers: Array(n).fill(null), deadline };
      else
        run = {
          k: 'phase2',
          call: next.call,
          waiting: tx.participants.map((_, i) => targets.includes(i)),
          abandoned: tx.participants.map(() => false),
        };
      if (run.k === 'phase2' && targets.length === 0) {
        out.push({
          label: `${who} completes (nobody left to call)`,
          state: proposeRun(ctx, s, li, l, ctx.rules.completionCommand(TX_ID, [], nowMs(s))),
        });
        return;
      }
      out.push({
        label: `${who} (view: ${tx.state}) sends ${next.call} to ${next.participants.join(',')}`,
        state: { ...s, msgs, leaders: replaceAt(s.leaders, li, { ...l, run }) },
      });
      return;
    }
  }
}

/** A run waiting on participants: their answers, retries after a loss, giving up (prepare), the deadline. */
function runSteps(ctx: Ctx, s: State, li: number, l: Leader, tx: TxRecord, out: Step[]): void {
  const run = l.run;
  const call = runCall(run);
  if (call === null) return;
  const who = `leader t${l.term}`;
  const who_ = tx.participants.map((p) => p.name);
  const waitingOn = (p: number): boolean => awaits(run, p);
  s.msgs.forEach((m, mi) => {
    if (m.k !== 'rep' || m.t !== l.term || m.c !== call || !waitingOn(m.p)) return;
    const st = answer(ctx, { ...s, msgs: removeMsgAt(s.msgs, mi) }, li, l, tx, m);
    out.push({ label: `${who} gets ${who_[m.p]}'s ${call} answer: ${describeResult(m.r)}`, state: st });
  });
  who_.forEach((name, p) => {
    if (!waitingOn(p) || s.msgs.some((m) => m.t === l.term && m.p === p && m.c === call)) return;
    out.push({ label: `${who} retries ${call} at ${name}`, state: { ...s, msgs: addMsg(s.msgs, request(l.term, p, call)) } });
    if (run.k === 'prepare') {
      const failure: PrepareResult = { kind: 'failure', error: 'prepare failed: timed out' };
      const vote = ctx.rules.voteOfPrepare(name, failure, Number.MAX_SAFE_INTEGER, 1);
      if (vote !== null)
        out.push({ label: `${who} gives up on ${name}'s prepare (attempts exhausted)`, state: recordVote(ctx, s, li, l, tx, p, vote) });
    }
  });
  // abandonAfterMs passes: the abort to a participant that never voted commit is given up (the real rule decides who).
  if (run.k === 'phase2') {
    who_.forEach((name, p) => {
      if (!waitingOn(p) || !ctx.rules.mayAbandon(tx, tx.participants[p]!)) return;
      const next = { ...run, waiting: replaceAt(run.waiting, p, false), abandoned: replaceAt(run.abandoned, p, true) };
      out.push({
        label: `${who}: abandonAfterMs passes, gives up the ${run.call} to ${name}`,
        state: afterPhase2Answer(ctx, s, li, l, tx, next),
      });
    });
  }
  if (s.deadlinePassed && (run.k === 'prepare' || run.k === 'precommit') && run.deadline) {
    const now = nowMs(s);
    const c: Conclusion | null =
      run.k === 'prepare' ? ctx.rules.concludePrepare(tx, run.votes, now) : ctx.rules.concludePrecommit(tx, run.answers, now);
    const st = c === null ? { ...s, leaders: replaceAt(s.leaders, li, { ...l, run: IDLE }) } : conclude(ctx, s, li, l, c);
    out.push({ label: `${who}: the deadline cuts ${run.k} short${c === null ? '' : ` (${describeConclusion(c)})`}`, state: st });
  }
}

function answer(ctx: Ctx, s: State, li: number, l: Leader, tx: TxRecord, m: Extract<Msg, { k: 'rep' }>): State {
  const run = l.run;
  const name = tx.participants[m.p]!.name;
  switch (run.k) {
    case 'prepare': {
      const vote = ctx.rules.voteOfPrepare(name, m.r as PrepareResult, 1, Number.MAX_SAFE_INTEGER);
      return vote === null ? s : recordVote(ctx, s, li, l, tx, m.p, vote);
    }
    case 'precommit': {
      // Answers to precommit, commit and abort are DeliverResults (participant-steps.ts parses them so).
      const a = ctx.rules.precommitAnswerOf(ctx.rules.answerOf('precommit', m.r as DeliverResult));
      if (a === null) return s;
      const answers = replaceAt(run.answers, m.p, a);
      if (!ctx.rules.settlesPrecommit(a) && answers.some((x) => x === null))
        return { ...s, leaders: replaceAt(s.leaders, li, { ...l, run: { ...run, answers } }) };
      const d = ctx.rules.concludePrecommit(tx, answers, nowMs(s));
      if (d === null) return { ...s, leaders: replaceAt(s.leaders, li, { ...l, run: IDLE }) };
      return conclude(ctx, s, li, l, d);
    }
    case 'phase2': {
      if (ctx.rules.answerOf(run.call, m.r as DeliverResult).kind !== 'ack') return s;
      return afterPhase2Answer(ctx, s, li, l, tx, { ...run, waiting: replaceAt(run.waiting, m.p, false) });
    }
    case 'idle':
    case 'proposed':
      return s;
  }
}

/** Waits on the rest, or once nobody is left proposes the completion. */
function afterPhase2Answer(ctx: Ctx, s: State, li: number, l: Leader, tx: TxRecord, run: Extract<Run, { k: 'phase2' }>): State {
  if (run.waiting.some((w) => w)) return { ...s, leaders: replaceAt(s.leaders, li, { ...l, run }) };
  // Everyone this phase called (those not acknowledged in the record it read), as the real run names them.
  const called = tx.participants.map((p, i) => ({ name: p.name, i })).filter(({ i }) => !tx.participants[i]!.acknowledged);
  const acknowledged = called.filter(({ i }) => run.abandoned[i] !== true).map((c) => c.name);
  const abandoned = called.filter(({ i }) => run.abandoned[i] === true).map((c) => c.name);
  return proposeRun(ctx, s, li, l, ctx.rules.completionCommand(TX_ID, acknowledged, nowMs(s), abandoned));
}

function recordVote(ctx: Ctx, s: State, li: number, l: Leader, tx: TxRecord, p: number, vote: VoteEntry): State {
  const run = l.run;
  if (run.k !== 'prepare') return s;
  const votes = replaceAt(run.votes, p, vote);
  if (!ctx.rules.settlesPrepare(vote) && votes.some((v) => v === null))
    return { ...s, leaders: replaceAt(s.leaders, li, { ...l, run: { ...run, votes } }) };
  const c = ctx.rules.concludePrepare(tx, votes, nowMs(s));
  return conclude(ctx, s, li, l, c);
}

/** Proposes the conclusion's entry: for a one-shot transaction in memory, the decided entry that records it (src/tx/one-shot.ts). */
function conclude(ctx: Ctx, s: State, li: number, l: Leader, c: Conclusion): State {
  const mem = memoryOf(l.run);
  if (mem === null || c.kind !== 'decide') return proposeRun(ctx, s, li, l, ctx.rules.conclusionCommand(TX_ID, c, nowMs(s)));
  const proposed = propose(s, l, oneShotCommand(memoryRecord(ctx), c, nowMs(s), mem), 'run');
  if (proposed === null) return { ...s, leaders: s.leaders.filter((_, i) => i !== li) };
  return { ...s, pending: proposed, leaders: replaceAt(s.leaders, li, { ...l, run: { k: 'proposed', mem } }) };
}

const memoryRecords = new Map<string, TxRecord>();

/** The in-memory record a one-shot run prepares from (the real oneShotRecord of the configuration's request). */
export function memoryRecord(ctx: Ctx): TxRecord {
  let tx = memoryRecords.get(ctx.config.name);
  if (tx === undefined) {
    tx = oneShotRecord(oneShotSpec(ctx.config));
    memoryRecords.set(ctx.config.name, tx);
  }
  return tx;
}

/** What a leader's run works from: its in-memory one-shot record while preparing one, else its applied view (null: nothing recorded). */
function runRecord(ctx: Ctx, s: State, l: Leader): TxRecord | null {
  if (l.run.k === 'prepare' && l.run.mem !== undefined) return memoryRecord(ctx);
  return ctx.oracle.record(s.hist[l.view]!);
}

function proposeRun(_ctx: Ctx, s: State, li: number, l: Leader, cmd: TxCommand): State {
  const proposed = propose(s, l, cmd, 'run');
  // A deposed leader's proposal never commits: replicating it tells the leader of
  // the newer term (or CheckQuorum does, cut off from a majority), and it steps down.
  if (proposed === null) return { ...s, leaders: s.leaders.filter((_, i) => i !== li) };
  return { ...s, pending: proposed, leaders: replaceAt(s.leaders, li, { ...l, run: { k: 'proposed' } }) };
}

/** The new pending list, or null when `l` is deposed (a majority has moved on: the entry can never commit). */
function propose(s: State, l: Leader, cmd: TxCommand, origin: 'run' | 'client' | 'sweep'): State['pending'] | null {
  if (l.term !== s.term) return null;
  return [...s.pending, pending(l.term, cmd, origin)];
}

// ---- elections, the client, time, the whole cluster ---------------------------------

function clusterSteps(ctx: Ctx, s: State, healed: boolean, out: Step[]): void {
  const current = s.leaders.find((l) => l.term === s.term && l.running);
  if (!healed && s.budget.elections > 0 && !s.frozen && current === undefined) {
    const term = s.term + 1;
    // At most one deposed leader stays alive: an older one has long heard of the newer terms.
    const keep = s.leaders.filter((l) => l.term === s.term);
    const budget = { ...s.budget, elections: s.budget.elections - 1 };
    const last = s.hist.length - 1;
    const elect = (view: number): State => ({
      ...s,
      term,
      budget,
      leaders: [...keep, { term, running: true, view, run: IDLE }],
      msgs: s.msgs.filter((m) => m.k === 'req' || keep.some((l) => l.term === m.t)),
    });
    out.push({ label: `a leader is elected in term ${term}`, state: elect(last) });
    // A faulty leader keeps its in-memory one-shot transaction when re-elected (the real driver drops it when its term ends).
    const keeper = s.leaders.find((l) => l.run.k === 'prepare' && l.run.mem !== undefined);
    if (!ctx.rules.dropsOneShotOnTermEnd && keeper !== undefined) {
      const base = elect(last);
      out.push({
        label: `leader t${keeper.term} is re-elected in term ${term}, its one-shot transaction still in memory`,
        state: { ...base, leaders: base.leaders.filter((l) => l !== keeper).map((l) => (l.term === term ? { ...l, run: keeper.run } : l)) },
      });
    }
    if (last > 0)
      out.push({ label: `a leader is elected in term ${term}, one committed entry behind in applying`, state: elect(last - 1) });
  }
  if (current !== undefined && !s.frozen) {
    if (!s.commitAsked) {
      out.push({
        label: 'the client asks to commit',
        state: {
          ...s,
          commitAsked: true,
          pending: [...s.pending, pending(current.term, { type: 'commitRequested', txId: TX_ID }, 'client')],
        },
      });
    }
    if (!healed && s.budget.clientAborts > 0) {
      const cmd: TxCommand = {
        type: 'decided',
        txId: TX_ID,
        decision: 'abort',
        votes: [],
        decidedAt: nowMs(s),
        reason: 'abort requested by a client',
      };
      out.push({
        label: 'the client asks to abort',
        state: {
          ...s,
          pending: [...s.pending, pending(current.term, cmd, 'client')],
          budget: { ...s.budget, clientAborts: s.budget.clientAborts - 1 },
        },
      });
    }
  }
  if (ctx.config.deadline && !s.deadlinePassed) out.push({ label: 'the deadline passes', state: { ...s, deadlinePassed: true } });
  if (!healed && s.budget.freezes > 0 && !s.frozen)
    out.push({
      label: 'every coordinator node is paused (SIGSTOP)',
      state: { ...s, frozen: true, budget: { ...s.budget, freezes: s.budget.freezes - 1 } },
    });
  if (s.frozen) out.push({ label: 'every coordinator node resumes (SIGCONT)', state: { ...s, frozen: false } });
}

/** Answers to a leader that is gone can never be delivered: leave them out of the state. */
function dropRepliesTo(msgs: readonly Msg[], term: number): Msg[] {
  return msgs.filter((m) => m.k === 'req' || m.t !== term);
}

/** A run whose phase no longer matches the applied state starts over (the run re-reads the state; the driver cancels an undecided phase). */
function afterApply(ctx: Ctx, run: Run, stateId: number): Run {
  if (run.k === 'proposed' || run.k === 'idle' || memoryOf(run) !== null) return run;
  return phaseState(run) === ctx.oracle.record(stateId)?.state ? run : IDLE;
}

/** The record state a run's phase belongs to. */
function phaseState(run: Run): TxRecord['state'] | null {
  const states = { prepare: 'preparing', precommit: 'precommitted', commit: 'committing', abort: 'aborting' } as const;
  const call = runCall(run);
  return call === null ? null : states[call];
}

function describeCmd(cmd: TxCommand): string {
  switch (cmd.type) {
    case 'decided':
      return `decided ${cmd.decision} (${cmd.reason})`;
    case 'completed':
      return 'completed';
    default:
      return cmd.type;
  }
}

function describeConclusion(c: Conclusion): string {
  return c.kind === 'precommit' ? 'precommit' : `decide ${c.decision}: ${c.reason}`;
}

function describeResult(r: Extract<Msg, { k: 'rep' }>['r']): string {
  if (r.kind === 'vote') return `vote ${r.vote}`;
  if (r.kind === 'ack') return `ack${r.state === null ? '' : ` (${r.state})`}`;
  return r.error;
}
