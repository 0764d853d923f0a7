// Why a transaction was decided as it was, as a stable code for the view (and
// for scripts and the dashboard) beside the decision entry's own sentence.
//
// The code is read off the replicated `decided` entry's reason and the
// transaction's participant names, so every node derives the same code from
// the same log, old entries included; nothing new is replicated. A reason
// this does not know (a newer version's) is `other`, with its sentence intact.
// test/tx/decision-reason.test.ts drives each path and checks its code, so a
// reworded reason fails there rather than turning into `other` unnoticed.

export type DecisionReasonCode =
  /** 2PC: every participant voted commit. */
  | 'all-voted-commit'
  /** 3PC: every participant answered precommit (some may have refused it against the protocol: the sentence says so). */
  | 'all-acknowledged-precommit'
  /** A participant voted abort (its own reason, if it gave one, is in the message). */
  | 'participant-voted-abort'
  /** A participant's prepare kept failing (no answer, an error status): counted as an abort vote. */
  | 'participant-failed'
  /** 3PC, entries of versions before precommitted became irrevocable: a participant had aborted on its own timeout before precommit reached it. */
  | 'participant-aborted-on-own'
  /** 3PC: a participant had already committed after precommit (on its own timeout, or told so by the cluster). */
  | 'participant-committed-on-own'
  /** The transaction's deadline passed first (before commit was requested, before every vote, or before every precommit acknowledgement). */
  | 'deadline'
  /** A client asked to abort. */
  | 'client-abort'
  | 'other';

export const DECISION_REASON_CODES: readonly DecisionReasonCode[] = [
  'all-voted-commit',
  'all-acknowledged-precommit',
  'participant-voted-abort',
  'participant-failed',
  'participant-aborted-on-own',
  'participant-committed-on-own',
  'deadline',
  'client-abort',
  'other',
];

export interface DecisionReason {
  readonly code: DecisionReasonCode;
  /** The decision entry's own sentence. */
  readonly message: string;
  /** The participant whose answer decided it, for the participant-* codes. */
  readonly participant?: string;
}

const EXACT: ReadonlyMap<string, DecisionReasonCode> = new Map([
  ['every participant voted commit', 'all-voted-commit'],
  ['every participant acknowledged precommit', 'all-acknowledged-precommit'],
  ['abort requested by a client', 'client-abort'],
]);

/** After "participant <name> ": what the protocol run writes for each participant-* code. */
const AFTER_NAME: ReadonlyArray<readonly [RegExp, DecisionReasonCode]> = [
  [/^voted abort(: |$)/, 'participant-voted-abort'],
  [/^(prepare |refused by the participant URL policy)/, 'participant-failed'],
  [/^had aborted on its own/, 'participant-aborted-on-own'],
  [/^had (already committed|committed on its own)/, 'participant-committed-on-own'],
];

export function decisionReason(message: string, participantNames: readonly string[]): DecisionReason {
  const exact = EXACT.get(message);
  if (exact !== undefined) return { code: exact, message };
  if (message.startsWith('deadline passed')) return { code: 'deadline', message };
  // A precommit refused by a participant that aborted on its own is a protocol violation; the outcome stays commit.
  if (message.startsWith('every participant answered precommit;')) return { code: 'all-acknowledged-precommit', message };
  // The longest name that fits: names are free text, and one may start with another.
  const named = participantNames.filter((n) => message.startsWith(`participant ${n} `)).sort((a, b) => b.length - a.length)[0];
  if (named !== undefined) {
    const rest = message.slice(`participant ${named} `.length);
    for (const [pattern, code] of AFTER_NAME) if (pattern.test(rest)) return { code, message, participant: named };
  }
  return { code: 'other', message };
}
