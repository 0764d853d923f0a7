// The properties checked after every step (fencing and apply() crashing are
// checked by the step that would break them, in the step generators).
//
// - atomicity: no participant committed while another aborted;
// - validity: a commit anywhere (a participant, or the cluster's outcome)
//   only if every participant voted commit;
// - decision stability: once the cluster's outcome (the view's `outcome`, what
//   clients and participants read) is set, it never changes, and every
//   participant that finished applied that outcome.
import type { Outcome } from '../../src/tx/types.js';
import { memoryOf, names, type State } from './model.js';
import { clusterRecord, type Ctx, type Violation } from './step.js';

export function checkState(ctx: Ctx, s: State, outcomes: OutcomeCache): Violation | null {
  const who = names(s.parts.length);
  const committed = who.filter((_, i) => s.parts[i]!.rec?.state === 'committed');
  const aborted = who.filter((_, i) => s.parts[i]!.rec?.state === 'aborted');
  if (committed.length > 0 && aborted.length > 0) {
    return { kind: 'atomicity', message: `${committed.join(',')} committed while ${aborted.join(',')} aborted` };
  }
  const history = s.hist.map((id) => outcomes.of(ctx, id));
  if (committed.length > 0 || history.includes('committed')) {
    const noCommitVote = who.filter((_, i) => s.parts[i]!.rec?.vote !== 'commit');
    if (noCommitVote.length > 0) return { kind: 'validity', message: `a commit although ${noCommitVote.join(',')} did not vote commit` };
  }
  const first = history.find((o) => o !== null) ?? null;
  const changed = first === null ? -1 : history.findIndex((o, i) => i > history.indexOf(first) && o !== first);
  if (changed !== -1)
    return { kind: 'decision-stability', message: `the cluster's outcome went from ${first} to ${String(history[changed])}` };
  const now = history[history.length - 1] ?? null;
  if (now !== null) {
    const other = now === 'committed' ? aborted : committed;
    if (other.length > 0)
      return { kind: 'decision-stability', message: `the cluster's outcome is ${now} but ${other.join(',')} applied the other` };
  }
  return null;
}

/** Every participant finished, and so did the cluster: nothing left in doubt anywhere. */
export function isFinished(ctx: Ctx, s: State): boolean {
  const partsDone = s.parts.every((p) => p.rec === null || p.rec.state === 'committed' || p.rec.state === 'aborted');
  const tx = clusterRecord(ctx, s);
  // Never recorded (one-shot): finished once nothing can record it any more and nobody is in doubt (presumed abort).
  if (tx === null) return partsDone && s.pending.length === 0 && !s.leaders.some((l) => memoryOf(l.run) !== null);
  if (tx.state !== 'committed' && tx.state !== 'aborted') return false;
  return partsDone;
}

/** The view's outcome per record state, computed once per state. */
export class OutcomeCache {
  private readonly known = new Map<number, Outcome | null>();

  of(ctx: Ctx, id: number): Outcome | null {
    let o = this.known.get(id);
    if (o === undefined) {
      const tx = ctx.oracle.record(id);
      o = tx === null ? null : ctx.rules.viewOf(tx).outcome;
      this.known.set(id, o);
    }
    return o;
  }
}
