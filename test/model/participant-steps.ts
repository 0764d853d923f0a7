// The participants' side of the model and the network: a call delivered (the
// SDK's term fence and planCall decide what it does), lost or duplicated; a
// participant crashing inside its prepare handler, or after acting and before
// answering, and restarting with its durable record; its background resolver
// asking the cluster and applying decideTermination; being cut off from every
// coordinator node (calls to it and its inquiries fail).
import { ERROR_CODES } from '../../src/errors.js';
import type { InquiryResult } from '../../src/sdk/participant/inquiry.js';
import type { Plan } from '../../src/sdk/participant/transitions.js';
import {
  isInDoubt,
  type CallPath,
  type ParticipantTxRecord as SdkRecord,
  type ParticipantTxState as SdkState,
} from '../../src/sdk/participant/types.js';
import { deliverResultOf, prepareResultOf, type DeliverResult, type PrepareResult } from '../../src/tx/participant-client.js';
import {
  addMsg,
  describeMsg,
  memoryOf,
  names,
  removeMsgAt,
  replaceAt,
  reply,
  RESOLVE_AFTER_MS,
  THREE_PC_TIMEOUT_MS,
  TX_ID,
  type Msg,
  type Part,
  type State,
} from './model.js';
import { clusterRecord, clusterServes, type Ctx, type Step } from './step.js';
import { memoryRecord } from './coordinator-steps.js';

const ABORT_REASON = 'no';

export function participantSteps(ctx: Ctx, s: State, healed: boolean): Step[] {
  const out: Step[] = [];
  const who = names(s.parts.length);
  s.msgs.forEach((m, mi) => {
    if (!healed && s.budget.duplicates > 0)
      out.push({
        label: `the network duplicates ${describeMsg(m, who)}`,
        state: { ...s, msgs: addMsg(s.msgs, m), budget: { ...s.budget, duplicates: s.budget.duplicates - 1 } },
      });
    if (!healed && s.budget.losses > 0)
      out.push({
        label: `the network loses ${describeMsg(m, who)}`,
        state: { ...s, msgs: removeMsgAt(s.msgs, mi), budget: { ...s.budget, losses: s.budget.losses - 1 } },
      });
    if (m.k === 'req') deliverySteps(ctx, s, m, mi, who[m.p]!, healed, out);
  });
  s.parts.forEach((p, i) => partSteps(ctx, s, i, p, who[i]!, healed, out));
  return out;
}

function deliverySteps(ctx: Ctx, s: State, m: Extract<Msg, { k: 'req' }>, mi: number, name: string, healed: boolean, out: Step[]): void {
  const part = s.parts[m.p]!;
  if (part.cut) return;
  const rest = removeMsgAt(s.msgs, mi);
  const crash = !healed && s.budget.participantCrashes > 0 ? { ...s.budget, participantCrashes: s.budget.participantCrashes - 1 } : null;
  for (const h of handle(ctx, s, part, m, name)) {
    // An answer to a leader that is gone can never be delivered: it is left out.
    const msgs = s.leaders.some((l) => l.term === m.t) ? addMsg(rest, reply(m.t, m.p, m.c, h.result)) : rest;
    const acted = h.part.rec !== part.rec; // execute() builds a new record only when it changes one
    const stale = m.t < part.hi && acted;
    const violation = stale
      ? { violation: { kind: 'fencing' as const, message: `${name} acted on a ${m.c} from term ${m.t} after seeing term ${part.hi}` } }
      : {};
    out.push({
      label: `${name} handles ${m.c} from term ${m.t}: ${h.what}`,
      state: { ...s, msgs, parts: replaceAt(s.parts, m.p, h.part) },
      ...violation,
    });
    // It acts, makes the result durable, and dies before the answer leaves (then restarts).
    if (crash !== null && acted) {
      out.push({
        label: `${name} handles ${m.c} from term ${m.t} (${h.what}), crashes before answering and restarts`,
        state: { ...s, msgs: rest, parts: replaceAt(s.parts, m.p, h.part), budget: crash },
        ...violation,
      });
    }
  }
  // The process dies inside the user's prepare handler: the intent record (`preparing`) is durable, no answer leaves.
  if (
    crash !== null &&
    m.c === 'prepare' &&
    ctx.rules.fenceTerm(part.hi, m.t) !== null &&
    ctx.rules.planCall(part.rec ?? undefined, 'prepare').kind === 'run-prepare'
  ) {
    const rec: SdkRecord = {
      txId: TX_ID,
      participant: name,
      state: 'preparing',
      protocol: ctx.config.protocol,
      payload: null,
      vote: null,
      reason: null,
      preparedTerm: m.t,
      updatedAtMs: 0,
    };
    out.push({
      label: `${name} crashes inside its prepare handler (term ${m.t}) and restarts`,
      state: { ...s, msgs: rest, parts: replaceAt(s.parts, m.p, { ...part, rec, hi: m.t }), budget: crash },
    });
  }
}

interface Handled {
  readonly part: Part;
  readonly result: PrepareResult | DeliverResult;
  readonly what: string;
}

/** ParticipantCore.dispatch: fence, plan from the durable record, act, answer. */
function handle(ctx: Ctx, s: State, part: Part, m: Extract<Msg, { k: 'req' }>, name: string): Handled[] {
  const highest = ctx.rules.fenceTerm(part.hi, m.t);
  if (highest === null) {
    return [{ part, result: answerOf(m.c, ERROR_CODES.STALE_TERM.status, { error: { code: 'STALE_TERM' } }), what: 'refused: STALE_TERM' }];
  }
  const touched: Part = highest === part.hi ? part : { ...part, hi: highest };
  const plan = ctx.rules.planCall(part.rec ?? undefined, m.c);
  return execute(ctx, s, touched, plan, m, name);
}

function execute(ctx: Ctx, s: State, part: Part, plan: Plan, m: Extract<Msg, { k: 'req' }>, name: string): Handled[] {
  const rec = part.rec;
  const ack = (next: SdkRecord): Handled => ({
    part: { ...part, rec: next },
    result: answerOf(m.c, 200, { ok: true, state: next.state }),
    what: `ack (${next.state})`,
  });
  switch (plan.kind) {
    case 'run-prepare': {
      const votes: Array<'commit' | 'abort'> = ['commit'];
      if (m.p >= s.parts.length - ctx.config.abortVoters) votes.push('abort');
      return votes.map((vote) => {
        const state: SdkState = vote === 'commit' ? 'prepared' : 'aborted';
        ctx.rules.assertTransition('none', 'preparing', TX_ID);
        ctx.rules.assertTransition('preparing', state, TX_ID);
        const next: SdkRecord = {
          ...blank(name),
          state,
          protocol: ctx.config.protocol,
          vote,
          reason: vote === 'abort' ? ABORT_REASON : null,
          preparedTerm: m.t,
        };
        const body = vote === 'commit' ? { vote } : { vote, reason: ABORT_REASON };
        return { part: { ...part, rec: next }, result: answerOf('prepare', 200, body), what: `votes ${vote}` };
      });
    }
    case 'abort-interrupted': {
      const next = advance(ctx, rec!, 'aborted', 'participant restarted during prepare');
      return [
        {
          part: { ...part, rec: next },
          result: answerOf('prepare', 200, { vote: 'abort', reason: next.reason }),
          what: 'aborts the interrupted prepare',
        },
      ];
    }
    case 'reply-vote':
      return [{ part, result: answerOf('prepare', 200, plan.vote), what: `replays its vote ${plan.vote.vote}` }];
    case 'run-precommit':
      return [ack(advance(ctx, rec!, 'precommitted'))];
    case 'run-commit':
      return [ack(advance(ctx, rec!, 'committed'))];
    case 'run-abort':
      return [ack(advance(ctx, rec!, 'aborted'))];
    case 'record-abort': {
      ctx.rules.assertTransition('none', 'aborted', TX_ID);
      return [ack({ ...blank(name), state: 'aborted', reason: 'aborted before prepare' })];
    }
    case 'ack':
      return [{ part, result: answerOf(m.c, 200, { ok: true, state: rec!.state }), what: `ack (${rec!.state})` }];
    case 'refuse':
      return [
        { part, result: answerOf(m.c, ERROR_CODES[plan.code].status, { error: { code: plan.code } }), what: `refused: ${plan.code}` },
      ];
  }
}

function advance(ctx: Ctx, rec: SdkRecord, to: 'precommitted' | 'committed' | 'aborted', reason?: string): SdkRecord {
  ctx.rules.assertTransition(rec.state, to, rec.txId);
  return { ...rec, state: to, reason: reason ?? rec.reason };
}

/** What the coordinator's HTTP client makes of an answer (the real parsers). */
function answerOf(c: CallPath, status: number, body: unknown): PrepareResult | DeliverResult {
  return c === 'prepare' ? prepareResultOf(status, body) : deliverResultOf(c, status, body);
}

/** The base of a new record (the SDK's shape; payload and clock are constant in the model). */
function blank(name: string): SdkRecord {
  return {
    txId: TX_ID,
    participant: name,
    state: 'preparing',
    protocol: null,
    payload: null,
    vote: null,
    reason: null,
    preparedTerm: null,
    updatedAtMs: 0,
  };
}

// ---- one participant ----------------------------------------------------------------

function partSteps(ctx: Ctx, s: State, i: number, p: Part, name: string, healed: boolean, out: Step[]): void {
  const set = (next: Part, budget = s.budget): State => ({ ...s, parts: replaceAt(s.parts, i, next), budget });
  if (!healed && !p.cut && s.budget.cuts > 0)
    out.push({
      label: `${name} is cut off from every coordinator node`,
      state: set({ ...p, cut: true }, { ...s.budget, cuts: s.budget.cuts - 1 }),
    });
  if (p.cut) out.push({ label: `${name} can reach the cluster again`, state: set({ ...p, cut: false }) });
  const rec = p.rec;
  if (rec === null || !isInDoubt(rec.state)) return;
  resolveStep(ctx, s, i, p, rec, name, out);
}

/**
 * One resolver pass over the record (resolver.ts): ask, then decideTermination().
 * When no node is reachable, the pass may come after a whole threePcTimeoutMs of
 * such inquiries (model.ts: any timing); one that comes sooner only waits.
 */
function resolveStep(ctx: Ctx, s: State, i: number, p: Part, rec: SdkRecord, name: string, out: Step[]): void {
  const asked: InquiryResult | null =
    rec.state === 'preparing' ? null : p.cut || s.frozen ? { kind: 'unreachable', errors: ['timed out'] } : inquiry(ctx, s, rec);
  const unreachableForMs = asked?.kind === 'unreachable' ? THREE_PC_TIMEOUT_MS : null;
  const t = ctx.rules.decideTermination(rec, asked, {
    unreachableForMs,
    threePcTimeoutMs: THREE_PC_TIMEOUT_MS,
    resolveAfterMs: RESOLVE_AFTER_MS,
  });
  if (t.kind === 'wait') return;
  const next: Part = { ...p, rec: t.kind === 'commit' ? advance(ctx, rec, 'committed') : advance(ctx, rec, 'aborted', t.why) };
  const after = asked?.kind === 'unreachable' ? ` after ${THREE_PC_TIMEOUT_MS} ms with no node reachable` : '';
  out.push({ label: `${name}'s resolver${after}: ${t.kind} (${t.source}): ${t.why}`, state: { ...s, parts: replaceAt(s.parts, i, next) } });
}

/**
 * GET /v1/transactions/{id} on some node: a linearizable read of the committed
 * record, as the SDK reads it. When the log holds no record (a one-shot
 * transaction not recorded yet), the newest leader answers from memory if it
 * holds the transaction (`preparing`: ask again); else 404, which the SDK's
 * inquiry (inquiry.ts askOne, mirrored here) turns into `forgotten` only once
 * it saw a leader of a newer term than its prepare's, and read 404 again,
 * behind that leader's read barrier.
 */
function inquiry(ctx: Ctx, s: State, rec: SdkRecord): InquiryResult {
  if (!clusterServes(s)) return { kind: 'unavailable', errors: ['503 NO_LEADER'] };
  const id = s.hist[s.hist.length - 1]!;
  if (clusterRecord(ctx, s) === null) return notRecorded(ctx, s, rec);
  let read = ctx.inquiries.get(id);
  if (read === undefined) {
    read = ctx.rules.interpretTx({ status: 200, body: ctx.rules.viewOf(clusterRecord(ctx, s)!) });
    ctx.inquiries.set(id, read);
  }
  return read;
}

function notRecorded(ctx: Ctx, s: State, rec: SdkRecord): InquiryResult {
  const current = s.leaders.find((l) => l.term === s.term && l.running);
  if (current !== undefined && memoryOf(current.run) !== null)
    return ctx.rules.interpretTx({ status: 200, body: ctx.rules.viewOf(memoryRecord(ctx)) });
  const first = ctx.rules.interpretTx({ status: 404, body: { error: { code: 'TX_NOT_FOUND' } } });
  if (first.kind !== 'unknown' || rec.preparedTerm === null || s.term <= rec.preparedTerm) return first;
  // The barrier: the newest leader serves reads once it has committed an entry of its term, after which an older entry either committed or never will.
  if (ctx.rules.readBarrier && s.pending.some((p) => p.term < s.term))
    return { kind: 'unavailable', errors: ['read barrier not passed yet'] };
  return { kind: 'forgotten' };
}
