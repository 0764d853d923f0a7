// What an in-doubt participant does when it has waited long enough: a pure
// decision from the record, what the cluster said (null when there are no
// coordinator urls to ask) and how long the cluster has been out of reach.
// See inquiry.ts for why `forgotten` is safe to abort.
//
// Cooperative termination comes FIRST, for both protocols; the 3PC timeout rule
// is a fallback used only when no coordinator node can be reached for a whole
// timeout window. Why:
//
// - The coordinator is a Raft-replicated log. While any of its nodes answers,
//   that log is the single source of truth: the outcome is the first decision
//   entry committed for the transaction, and nothing else.
// - The 3PC timeout rule (commit on timeout after precommit, abort on timeout
//   before it) is what 3PC prescribes for a coordinator that is GONE. Applied
//   while the coordinator is merely slow it breaks atomicity, because in an
//   asynchronous network a late message looks exactly like a lost one. Example:
//   we are precommitted and commit on our timer, while another participant's
//   precommit is still being retried; it aborts on ITS timer, or the deadline
//   passes, and the coordinator (correctly, nobody has been told commit)
//   decides abort. One transaction, two outcomes.
// - So while a node answers and the outcome is open, we wait, however long
//   that takes; the coordinator always reaches a decision (it aborts at the
//   transaction's deadline) and we follow it.
// - Only when every inquiry has failed to reach any node for a full
//   threePcTimeoutMs do we apply the rule: then there is nothing else to go on,
//   which is 3PC's own premise. This remains unsafe if we are merely cut off (a
//   partition between us and every node while the cluster carries on): that is
//   the price 3PC's timeout rule always carries; 2PC never takes it and blocks
//   instead.
// - A node that answers with an error (503 NO_LEADER during an election or
//   without quorum) counts as reached: the log still exists and will decide.
import { assertNever } from '../../raft/types.js';
import type { InquiryResult } from './inquiry.js';
import type { TxRecord } from './types.js';

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

export function decideTermination(record: TxRecord, asked: InquiryResult | null, timing: TerminationTiming): Termination {
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

/** 3PC with the outcome still open: wait while the cluster is reachable, apply the timeout rule once it has not been for a whole window. */
function threePcFallback(record: TxRecord, asked: InquiryResult | null, timing: TerminationTiming): Termination {
  // No coordinator urls: there is nobody to ask, so the window is the quiet
  // period itself (threePcTimeoutMs since the last coordinator call).
  if (asked === null) return timeoutRule(record, `no coordinator urls and no coordinator call for ${timing.threePcTimeoutMs} ms`);
  if (asked.kind !== 'unreachable') return { kind: 'wait', why: waitReason(asked), retryAfterMs: timing.resolveAfterMs };
  const forMs = timing.unreachableForMs ?? 0;
  if (forMs >= timing.threePcTimeoutMs) return timeoutRule(record, `no coordinator node reachable for ${forMs} ms`);
  return {
    kind: 'wait',
    why: `no coordinator node reachable for ${forMs} ms; the 3PC timeout rule applies after ${timing.threePcTimeoutMs} ms`,
    // Ask again within the window, and once more right at its end.
    retryAfterMs: Math.max(1, Math.min(timing.resolveAfterMs, timing.threePcTimeoutMs - forMs)),
  };
}

/**
 * Classic 3PC termination: a participant that reached precommitted knows every
 * vote was commit, so it commits; one that did not may not assume so, and aborts.
 */
function timeoutRule(record: TxRecord, why: string): Termination {
  if (record.state === 'precommitted') return { kind: 'commit', why: `3PC timeout after precommit: ${why}`, source: 'timeout' };
  return { kind: 'abort', why: `3PC timeout before precommit: ${why}`, source: 'timeout' };
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
