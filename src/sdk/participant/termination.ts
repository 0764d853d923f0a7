// What an in-doubt participant does when it has waited long enough: a pure
// decision from the record and what the cluster said (null when there are no
// coordinator urls to ask). See inquiry.ts for why `forgotten` is safe to abort.
import { assertNever } from '../../raft/types.js';
import type { InquiryResult } from './inquiry.js';
import type { TxRecord } from './types.js';

/** `source` tells the user's handler (and the logs) what settled the question. */
type Act = { readonly why: string; readonly source: 'resolver' | 'timeout' | 'recovery' };

export type Termination =
  | ({ readonly kind: 'commit' } & Act)
  | ({ readonly kind: 'abort' } & Act)
  /** 3PC: the cluster has replicated precommitted, so join it rather than abort. */
  | ({ readonly kind: 'precommit' } & Act)
  | { readonly kind: 'wait'; readonly why: string };

export function decideTermination(record: TxRecord, asked: InquiryResult | null): Termination {
  if (record.state === 'preparing') {
    // We never answered this prepare (the process died inside it), so no commit
    // can depend on us: abort and let the user's abort handler clean up.
    return { kind: 'abort', why: 'participant restarted during prepare', source: 'recovery' };
  }
  const followed = followCluster(asked);
  if (followed !== null) return followed;
  if (record.protocol === '3pc') return threePcTimeoutRule(record, asked);
  return { kind: 'wait', why: waitReason(asked) };
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
    case 'unreachable':
      return null;
    default:
      return assertNever(asked);
  }
}

/**
 * Classic 3PC termination: a participant that reached precommitted knows every
 * vote was commit, so on timeout it commits; one that did not may not assume so,
 * and aborts. If the cluster says it has replicated precommitted, we were about to
 * hear precommit: join it instead of aborting.
 */
function threePcTimeoutRule(record: TxRecord, asked: InquiryResult | null): Termination {
  if (record.state === 'precommitted') return { kind: 'commit', why: '3PC timeout after precommit', source: 'timeout' };
  if (asked?.kind === 'undecided' && asked.state === 'precommitted') {
    return { kind: 'precommit', why: 'the cluster has replicated precommitted', source: 'resolver' };
  }
  return { kind: 'abort', why: '3PC timeout before precommit', source: 'timeout' };
}

function waitReason(asked: InquiryResult | null): string {
  if (asked === null) return 'no coordinator urls to ask; waiting for the coordinator';
  switch (asked.kind) {
    case 'undecided':
      return `the cluster has not decided yet (state ${asked.state})`;
    case 'unknown':
      return 'the cluster does not know the transaction yet and no newer leader was seen';
    case 'unreachable':
      return `no cluster node answered: ${asked.errors.join('; ')}`;
    case 'decided':
    case 'forgotten':
      return 'settled';
    default:
      return assertNever(asked);
  }
}
