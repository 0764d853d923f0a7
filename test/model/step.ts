// What every step generator shares: the context, the step value, and the
// readings of a state that both sides (coordinator and participants) need.
import type { InquiryResult } from '../../src/sdk/participant/inquiry.js';
import type { TxRecord } from '../../src/tx/types.js';
import { DEADLINE_MS, type ModelConfig, type State } from './model.js';
import type { SmOracle } from './oracle.js';
import type { ProtocolRules } from './rules.js';

export interface Ctx {
  readonly config: ModelConfig;
  readonly rules: ProtocolRules;
  readonly oracle: SmOracle;
  /** What a participant's inquiry reads, per committed record state (the view is pure, so computed once). */
  readonly inquiries: Map<number, InquiryResult>;
}

export type ViolationKind = 'atomicity' | 'validity' | 'decision-stability' | 'fencing' | 'apply-crashed' | 'termination';

export interface Violation {
  readonly kind: ViolationKind;
  readonly message: string;
}

export interface Step {
  readonly label: string;
  readonly state: State;
  /** Set when the step itself broke an invariant (a stale call acted on, apply() throwing). */
  readonly violation?: Violation;
}

/** The coordinators' clock: just before or just after the transaction's deadline. */
export function nowMs(s: State): number {
  return s.deadlinePassed ? DEADLINE_MS + 1 : DEADLINE_MS - 1;
}

/** The cluster's record: the last committed state; null while the log holds none (one-shot). */
export function clusterRecord(ctx: Ctx, s: State): TxRecord | null {
  return ctx.oracle.record(s.hist[s.hist.length - 1]!);
}

/** A leader of the newest term is running and the cluster is not frozen: entries commit, reads answer. */
export function clusterServes(s: State): boolean {
  return !s.frozen && s.leaders.some((l) => l.term === s.term && l.running);
}
