// The decision code the model checker explores, behind one interface, so a
// faulty variant (faulty-rules.ts, the rules before issue 11) can be swapped
// in to prove the checker catches what they get wrong. `realRules` is nothing
// but the production functions: the state machine's apply (through the
// oracle), the protocol run's rules, the view, and the participant SDK's call
// planning, term fence, inquiry reading and termination rule.
import * as sdk from '../../src/sdk/participant/transitions.js';
import { decideTermination, type Termination, type TerminationTiming } from '../../src/sdk/participant/termination.js';
import { interpretTx, type InquiryResult } from '../../src/sdk/participant/inquiry.js';
import type { CallPath, ParticipantTxRecord as SdkRecord } from '../../src/sdk/participant/types.js';
import type { TxCommand, VoteEntry } from '../../src/tx/commands.js';
import * as run from '../../src/tx/protocol-rules.js';
import * as abandon from '../../src/tx/abandon.js';
import type { TxRecord, TxView } from '../../src/tx/types.js';
import { toView } from '../../src/tx/views.js';
import type { SmOracle } from './oracle.js';

export interface ProtocolRules {
  readonly name: string;
  // ---- coordinator ----
  /** Applies a committed entry of `term` to the cluster's record (state id in, state id out). */
  apply(oracle: SmOracle, state: number, cmd: TxCommand, term: number): number;
  /**
   * A 404 counts as final ("forgotten") only behind the read barrier: the
   * newest leader has committed an entry of its term, so every older entry has
   * committed or never will (src/sdk/participant/inquiry.ts).
   */
  readonly readBarrier: boolean;
  /** A leader drops its in-memory one-shot transactions when its term ends (src/tx/driver.ts). */
  readonly dropsOneShotOnTermEnd: boolean;
  viewOf(tx: TxRecord): TxView;
  nextStep(tx: TxRecord, nowMs: number): run.NextStep;
  sweepAction(tx: TxRecord, nowMs: number): 'drive' | 'expire' | 'none';
  voteOfPrepare: typeof run.voteOfPrepare;
  settlesPrepare: typeof run.settlesPrepare;
  concludePrepare: typeof run.concludePrepare;
  answerOf: typeof run.answerOf;
  precommitAnswerOf: typeof run.precommitAnswerOf;
  settlesPrecommit(answer: run.PrecommitAnswer): boolean;
  /** `nowMs` is unused by the real rule (no deadline at precommitted); the old one read it. */
  concludePrecommit(tx: TxRecord, answers: ReadonlyArray<run.PrecommitAnswer | null>, nowMs: number): run.Decide | null;
  conclusionCommand: typeof run.conclusionCommand;
  completionCommand: typeof run.completionCommand;
  /** Whether phase 2 may give up delivering the abort to a participant (presumed abort). */
  mayAbandon: typeof abandon.mayAbandon;
  // ---- participant (SDK) ----
  planCall(record: SdkRecord | undefined, path: CallPath): sdk.Plan;
  fenceTerm: typeof sdk.fenceTerm;
  assertTransition: typeof sdk.assertTransition;
  interpretTx: typeof interpretTx;
  decideTermination(record: SdkRecord, asked: InquiryResult | null, timing: TerminationTiming): Termination;
}

export const realRules: ProtocolRules = {
  name: 'real',
  apply: (oracle, state, cmd, term) => oracle.apply(state, cmd, term),
  readBarrier: true,
  dropsOneShotOnTermEnd: true,
  viewOf: toView,
  nextStep: run.nextStep,
  sweepAction: run.sweepAction,
  voteOfPrepare: run.voteOfPrepare,
  settlesPrepare: run.settlesPrepare,
  concludePrepare: run.concludePrepare,
  answerOf: run.answerOf,
  precommitAnswerOf: run.precommitAnswerOf,
  settlesPrecommit: run.settlesPrecommit,
  concludePrecommit: (tx, answers) => run.concludePrecommit(tx, answers),
  conclusionCommand: run.conclusionCommand,
  completionCommand: run.completionCommand,
  mayAbandon: abandon.mayAbandon,
  planCall: sdk.planCall,
  fenceTerm: sdk.fenceTerm,
  assertTransition: sdk.assertTransition,
  interpretTx,
  decideTermination,
};

export type { VoteEntry };
