// The wire form of a refusal for removal: the inbound side (raft-routes.ts,
// raft-stream-inbound.ts) answers 410 with the error body
// {"error": {"code": "MEMBER_REMOVED", "message", "appliedIndex"}}, and the
// outbound side (peer-channel.ts, peer-stream.ts) turns that answer back into a
// RemovalNotice for the node (see peer-admission.ts for what it means).
import { ERROR_CODES, RatifyError } from '../errors.js';
import type { NodeId } from '../raft/types.js';
import type { RemovalNotice } from './peer-admission.js';

export const MEMBER_REMOVED_STATUS = ERROR_CODES.MEMBER_REMOVED.status;

export function memberRemovedError(from: NodeId, appliedIndex: number): RatifyError {
  return new RatifyError(
    'MEMBER_REMOVED',
    `sender ${JSON.stringify(from)} was removed from the cluster (this node applied its removal; applied index ${appliedIndex})`,
    { details: { appliedIndex } },
  );
}

/**
 * The notice in a peer's answer, or null when the answer is not a well-formed
 * MEMBER_REMOVED refusal (the body is a peer's word: checked, never trusted to parse).
 */
export function removalNoticeOf(peer: NodeId, status: number, body: string): RemovalNotice | null {
  if (status !== MEMBER_REMOVED_STATUS) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  const error = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
  if (typeof error !== 'object' || error === null) return null;
  const { code, appliedIndex } = error as { code?: unknown; appliedIndex?: unknown };
  if (code !== 'MEMBER_REMOVED' || typeof appliedIndex !== 'number' || !Number.isSafeInteger(appliedIndex) || appliedIndex < 0) return null;
  return { by: peer, appliedIndex };
}
