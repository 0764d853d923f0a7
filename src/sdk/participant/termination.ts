// What an in-doubt participant does when it has waited long enough: a pure
// decision from the record, what the cluster said (null when there are no
// coordinator urls to ask) and how long the cluster has been out of reach.
// See inquiry.ts for why `forgotten` is safe to abort.
//
// The rules, for both protocols:
// - `preparing` (we died inside prepare and never answered): abort. No commit
//   can depend on a vote nobody received.
// - Otherwise ask the cluster and follow its outcome: the replicated log is the
//   single source of truth while any node answers.
// - `prepared` never decides on its own, in 2PC and in 3PC alike: a commit
//   vote is a promise, and another participant may already be precommitted
//   (whose outcome can only be commit). It waits, asking again, however long
//   that takes: cooperative termination.
// - 3PC `precommitted`: the coordinator wrote precommitted to the log before
//   calling us, and from then on the outcome can only be commit
//   (src/tx/transitions.ts). So when no coordinator node can be reached for a
//   whole threePcTimeoutMs (the whole cluster is down or frozen, or we are cut
//   off from it), we commit on our own. That is safe whether the cluster is gone
//   or carries on without us, and it is what 3PC buys over 2PC here: a
//   precommitted participant does not block when the whole cluster is gone.
//
// An earlier version also aborted a prepared 3PC participant on its timeout,
// and its coordinator could still abort a precommitted transaction: together
// they split outcomes (README "3PC"). The model checker (test/model/) explores
// these rules against the coordinator's.
//
// A node that answers with an error (503 NO_LEADER during an election or
// without quorum) counts as reached: the log still exists and will decide.
import { assertNever } from '../../util/assert-never.js';
import type { InquiryResult } from './inquiry.js';
import type { ParticipantTxRecord } from './types.js';

/** `source` tells the user's handler (and the logs) what settled the question. */
type Act = { readonly why: string; readonly source: 'resolver' | 'timeout' | 'recovery' };

export type Termination =
  | ({ readonly kind: 'commit' } & Act)
  | ({ readonly kind: 'abort' } & Act)
  /** Ask again after `retryAfterMs`. */
  | { readonly kind: 'wait'; readonly why: string; readonly retryAfterMs: number };

export interface TerminationTiming {
  /**
   * How long inquiries about this record have reached no coordinator node,
   * counted from the first failed one of an unbroken run; null when the last
   * inquiry reached a node or none was made.
   */
  readonly unreachableForMs: number | null;
  readonly threePcTimeoutMs: number;
  readonly resolveAfterMs: number;
}

export function decideTermination(record: ParticipantTxRecord, asked: InquiryResult | null, timing: TerminationTiming): Termination {
  if (record.state === 'preparing') {
    // We never answered this prepare (the process died inside it), so no commit
    // can depend on us: abort and let the user's abort handler clean up.
    return { kind: 'abort', why: 'participant restarted during prepare', source: 'recovery' };
  }
  const followed = followCluster(asked);
  if (followed !== null) return followed;
  if (record.protocol === '3pc') return threePcFallback(record, asked, timing);
  return { kind: 'wait', why: waitReason(asked), retryAfterMs: timing.resolveAfterMs };
}

/** The cluster's answer, when it settles the question for either protocol. */
function followCluster(asked: InquiryResult | null): Termination | null {
  if (asked === null) return null;
  switch (asked.kind) {
    case 'decided':
      return asked.outcome === 'committed'
        ? { kind: 'commit', why: 'the cluster decided commit', source: 'resolver' }
        : { kind: 'abort', why: 'the cluster decided abort', source: 'resolver' };
    case 'forgotten':
      return { kind: 'abort', why: 'the cluster has no such transaction under a newer leader (presumed abort)', source: 'resolver' };
    case 'undecided':
    case 'unknown':
    case 'unavailable':
    case 'unreachable':
      return null;
    default:
      return assertNever(asked);
  }
}

/** 3PC with the outcome still open: a precommitted record commits once the cluster has been out of reach for a whole window; a prepared one waits. */
function threePcFallback(record: ParticipantTxRecord, asked: InquiryResult | null, timing: TerminationTiming): Termination {
  if (record.state !== 'precommitted') {
    return {
      kind: 'wait',
      why: `${waitReason(asked)}; prepared but not precommitted, so only the cluster can decide`,
      retryAfterMs: timing.resolveAfterMs,
    };
  }
  // No coordinator urls: there is nobody to ask, so the window is the quiet
  // period itself (threePcTimeoutMs since the last coordinator call).
  if (asked === null) return commitOnTimeout(`no coordinator urls and no coordinator call for ${timing.threePcTimeoutMs} ms`);
  if (asked.kind !== 'unreachable') return { kind: 'wait', why: waitReason(asked), retryAfterMs: timing.resolveAfterMs };
  const forMs = timing.unreachableForMs ?? 0;
  if (forMs >= timing.threePcTimeoutMs) return commitOnTimeout(`no coordinator node reachable for ${forMs} ms`);
  return {
    kind: 'wait',
    why: `no coordinator node reachable for ${forMs} ms; a precommitted participant commits after ${timing.threePcTimeoutMs} ms`,
    // Ask again within the window, and once more right at its end.
    retryAfterMs: Math.max(1, Math.min(timing.resolveAfterMs, timing.threePcTimeoutMs - forMs)),
  };
}

/** 3PC's timeout rule after precommit: every vote was commit and the outcome can only be commit. */
function commitOnTimeout(why: string): Termination {
  return { kind: 'commit', why: `3PC timeout after precommit: ${why}`, source: 'timeout' };
}

function waitReason(asked: InquiryResult | null): string {
  if (asked === null) return 'no coordinator urls to ask; waiting for the coordinator';
  switch (asked.kind) {
    case 'undecided':
      return `the cluster has not decided yet (state ${asked.state})`;
    case 'unknown':
      return 'the cluster does not know the transaction yet and no newer leader was seen';
    case 'unavailable':
      return `cluster nodes answered but could not tell: ${asked.errors.join('; ')}`;
    case 'unreachable':
      return `no cluster node answered: ${asked.errors.join('; ')}`;
    case 'decided':
    case 'forgotten':
      return 'settled';
    default:
      return assertNever(asked);
  }
}
