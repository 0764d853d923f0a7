// Whose answer is this? Cooperative termination only acts on an answer from the
// cluster that prepared the record, and only presumes abort on a 404 that the
// cluster marks as authoritative.
//
// - Scope. A record keeps the cluster id and incarnation its prepare call named
//   (`preparedBy`). Every node names both on every reply (src/http/cluster-identity.ts).
//   Another cluster (coordinatorUrls pointing at cluster A while B prepared the
//   record, both sharing this participant), or a rebuilt incarnation of the
//   same cluster, has never seen the transaction and answers 404: reading that
//   as "forgotten, so abort" would split the outcome if the real coordinator
//   decided commit. Its terms also order a different log, so its "newer leader"
//   proves nothing about ours. So an answer from another scope, or one that names
//   none, counts as if that node were unreachable: we keep asking, and only the
//   3PC timeout rule after precommit (always safe: the outcome can only be
//   commit) may end the wait. Records from before scopes (no `preparedBy`) take
//   any answer, as before.
// - Visibility. With --own-transactions-only a `client` token sees only the
//   transactions it created, so its 404 may mean "not yours". Nodes mark every
//   transaction reply `x-ratify-tx-visibility: all | own`; a 404 marked `own` is
//   no evidence either way and counts as unreachable too. A reply without the
//   header comes from a node older than the header, which never filtered by
//   principal for the records that lack a scope; scoped records only come from
//   newer clusters, which always send it.
import { CLUSTER_HEADER, INCARNATION_HEADER } from './signature.js';

/** The cluster incarnation that prepared a record, from its prepare call's headers. */
export interface ClusterScope {
  readonly clusterId: string;
  readonly incarnation: string;
}

export const TX_VISIBILITY_HEADER = 'x-ratify-tx-visibility';

export type ReplyHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Why a reply is not from `expected`'s cluster incarnation; null when it is (or when the record has no scope). */
export function scopeMismatch(expected: ClusterScope | null, headers: ReplyHeaders | undefined): string | null {
  if (expected === null) return null;
  const clusterId = one(headers?.[CLUSTER_HEADER]);
  const incarnation = one(headers?.[INCARNATION_HEADER]);
  if (clusterId === expected.clusterId && incarnation === expected.incarnation) return null;
  return `answered as cluster ${clusterId ?? '(none)'} incarnation ${incarnation ?? '(none)'}, but ${expected.clusterId} incarnation ${expected.incarnation} prepared this transaction`;
}

/** Whether a 404 TX_NOT_FOUND means the cluster has no such transaction, rather than that we may not see it. */
export function notFoundIsAuthoritative(headers: ReplyHeaders | undefined): boolean {
  return one(headers?.[TX_VISIBILITY_HEADER]) !== 'own';
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
